/**
 * The consumer the read benchmarks read as: `npm start`'s local caller (functions/local/local-caller.ts),
 * i.e. {@link LOCAL_CALLER_ROLE} assumed on moto's STS, with caller proofs made for a read function
 * named {@link LOCAL_READ_FUNCTION_NAME}. Our read function checks each new proof with one
 * `GetCallerIdentity` on moto, as it does on AWS (issue 15); the Powertools handler trusts the
 * event's `userArn`, which is set to the same caller.
 *
 * Make one per benchmark: `moto.reset()` between benchmarks forgets the assumed role's keys.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalCaller } from '../../functions/local/local-caller.js';
import { LOCAL_CALLER_ROLE, LOCAL_READ_FUNCTION_NAME } from '../../functions/local/read-server.js';
import { CALLER_PROOF_FIELD, CALLER_PROOF_HEADER } from '../../functions/read/caller-proof.js';
import type { BenchContext } from './context.js';

/** What the read benchmarks need of their caller. */
export interface BenchCaller {
  /** The role to list in a provider's `consumers`. */
  readonly role: string;
  /** The caller as STS names it: what a handler that trusts the event reads from `userArn`. */
  readonly arn: string;
  /** The read function name the proofs are made for (`AWS_LAMBDA_FUNCTION_NAME` of the read function). */
  readonly serverId: string;
  /** The assumed role's keys, as a consumer process's environment. */
  readonly environment: Readonly<Record<string, string>>;
  /** A current proof (signed again after 4 minutes, as the client does). */
  proof(): Promise<string>;
  stop(): Promise<void>;
}

/** The local caller's session as moto's STS names it (local-caller.ts). */
const LOCAL_CALLER_ARN = 'arn:aws:sts::000000000000:assumed-role/token-refresher-local-caller/local';

/** Where a Function URL request carries the proof, and where a direct Invoke payload does. */
export { CALLER_PROOF_FIELD, CALLER_PROOF_HEADER };

export async function benchCaller(moto: BenchContext['moto']): Promise<BenchCaller> {
  // startLocalCaller writes the client options and a curl header file; nobody reads them here.
  const dir = await mkdtemp(join(tmpdir(), 'token-refresher-bench-caller-'));
  const caller = await startLocalCaller({
    dir,
    readUrl: 'http://127.0.0.1/',
    awsEndpoint: moto.endpoint,
    region: moto.clientConfig.region,
  });
  const { credentials } = caller.options;
  return {
    role: LOCAL_CALLER_ROLE,
    arn: LOCAL_CALLER_ARN,
    serverId: LOCAL_READ_FUNCTION_NAME,
    environment: {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_SESSION_TOKEN: credentials.sessionToken,
    },
    proof: () => caller.proof(),
    async stop() {
      caller.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
