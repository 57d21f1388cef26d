/**
 * The local caller of `npm start`: a consumer identity on the emulator, so that local reads carry a
 * caller proof as they do on AWS. At start it assumes {@link LOCAL_CALLER_ROLE} on moto's STS (moto
 * answers GetCallerIdentity per access key: the plain `testing` key is `arn:aws:sts::123456789012:user/moto`,
 * not a role; an assumed role's key is `arn:aws:sts::000000000000:assumed-role/token-refresher-local-caller/local`,
 * which the local providers list), then writes, in `.token-refresher/` (0600):
 *
 * - `local-caller.json`: the read-function client's options (`url`, `functionName`, `region`,
 *   `stsEndpoint`, `credentials`), so `createReadFunctionTokenClient(JSON.parse(<file>))` reads locally;
 * - `caller-proof.header`: one `x-token-refresher-proof: <proof>` line for `curl -H @<file>`, signed
 *   again every 4 minutes (a proof is accepted for 5).
 *
 * moto does not check signatures: locally a proof shows which emulator key signed it, nothing more.
 * Everything that can reach 127.0.0.1 can read the emulator itself anyway.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentials } from '../aws/client-config.js';
import { CALLER_PROOF_HEADER, CallerProofSigner, PROOF_REUSE_MS } from '../client/caller-proof.js';
import { NodeSha256 } from '../client/sha256.js';
import { PRIVATE_FILE_MODE } from './persistence.js';
import { LOCAL_CALLER_ROLE, LOCAL_READ_FUNCTION_NAME } from './read-server.js';
import { LOCAL_AWS_CREDENTIALS } from './session.js';

/** In `.token-refresher/`: the client options of the local caller. */
export const LOCAL_CALLER_FILE = 'local-caller.json';
/** In `.token-refresher/`: a current proof as a curl header line. */
export const LOCAL_PROOF_HEADER_FILE = 'caller-proof.header';

/** What `createReadFunctionTokenClient` needs to read from the local service as the local caller. */
export interface LocalCallerOptions {
  readonly url: string;
  readonly functionName: string;
  readonly region: string;
  readonly stsEndpoint: string;
  readonly credentials: Required<AwsCredentials>;
}

export interface LocalCaller {
  readonly options: LocalCallerOptions;
  /** A proof for a request right now (what the header file holds). */
  proof(): Promise<string>;
  /** Stops re-signing and removes both files. */
  stop(): void;
}

/** Assume a role on the emulator's STS (moto lets any key assume any role ARN, existing or not). */
export async function assumeEmulatorRole(input: {
  readonly stsEndpoint: string;
  readonly region: string;
  readonly roleArn: string;
  readonly sessionName: string;
}): Promise<Required<AwsCredentials>> {
  const endpoint = new URL(input.stsEndpoint);
  const body = new URLSearchParams({
    Action: 'AssumeRole',
    Version: '2011-06-15',
    RoleArn: input.roleArn,
    RoleSessionName: input.sessionName,
  }).toString();
  const signer = new SignatureV4({
    service: 'sts',
    region: input.region,
    credentials: LOCAL_AWS_CREDENTIALS,
    sha256: NodeSha256,
  });
  const signed = await signer.sign({
    method: 'POST',
    protocol: endpoint.protocol,
    hostname: endpoint.hostname,
    port: Number(endpoint.port),
    path: '/',
    query: {},
    headers: { host: endpoint.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
  });
  const { host: _host, ...headers } = signed.headers;
  const response = await fetch(new URL('/', endpoint), { method: 'POST', headers, body });
  const text = await response.text();
  const field = (name: string) => new RegExp(`<${name}>([^<]+)</${name}>`).exec(text)?.[1];
  const [accessKeyId, secretAccessKey, sessionToken] = ['AccessKeyId', 'SecretAccessKey', 'SessionToken'].map(
    field,
  );
  if (!response.ok || !accessKeyId || !secretAccessKey || !sessionToken) {
    throw new Error(
      `The emulator's STS did not let the caller assume ${input.roleArn} (HTTP ${response.status})`,
    );
  }
  return { accessKeyId, secretAccessKey, sessionToken };
}

/** Assume {@link LOCAL_CALLER_ROLE} on the emulator's STS: the local caller's credentials. */
export function assumeLocalCallerRole(
  stsEndpoint: string,
  region: string,
): Promise<Required<AwsCredentials>> {
  return assumeEmulatorRole({ stsEndpoint, region, roleArn: LOCAL_CALLER_ROLE, sessionName: 'local' });
}

/** Assume the role, write both files, and keep the proof file current until {@link LocalCaller.stop}. */
export async function startLocalCaller(input: {
  readonly dir: string;
  readonly readUrl: string;
  readonly awsEndpoint: string;
  readonly region: string;
}): Promise<LocalCaller> {
  const stsEndpoint = new URL('/', input.awsEndpoint).href;
  const credentials = await assumeLocalCallerRole(stsEndpoint, input.region);
  const options: LocalCallerOptions = {
    url: input.readUrl,
    functionName: LOCAL_READ_FUNCTION_NAME,
    region: input.region,
    stsEndpoint,
    credentials,
  };
  const signer = new SignatureV4({ service: 'sts', region: input.region, credentials, sha256: NodeSha256 });
  const proofs = new CallerProofSigner({
    stsEndpoint: new URL(stsEndpoint),
    serverId: LOCAL_READ_FUNCTION_NAME,
    sign: (request, signing) => signer.sign(request, signing),
    now: () => Date.now(),
  });
  const callerFile = join(input.dir, LOCAL_CALLER_FILE);
  const headerFile = join(input.dir, LOCAL_PROOF_HEADER_FILE);
  writeFileSync(callerFile, `${JSON.stringify(options, null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
  const writeProof = async () => {
    const { proof } = await proofs.proof();
    writeFileSync(headerFile, `${CALLER_PROOF_HEADER}: ${proof}\n`, { mode: PRIVATE_FILE_MODE });
  };
  await writeProof();
  const timer = setInterval(() => void writeProof().catch(() => undefined), PROOF_REUSE_MS);
  timer.unref();
  return {
    options,
    proof: async () => (await proofs.proof()).proof,
    stop: () => {
      clearInterval(timer);
      rmSync(callerFile, { force: true });
      rmSync(headerFile, { force: true });
    },
  };
}
