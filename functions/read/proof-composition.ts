/**
 * The read function's {@link CallerIdentityVerifier}, from its environment: proofs must name this
 * function (`AWS_LAMBDA_FUNCTION_NAME`) and go to STS in its region (`AWS_REGION`), or to the STS an
 * `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL` names (the emulator, locally and in tests).
 */
import type { AwsClientConfig } from '../aws/client-config.js';
import { stsProofSender } from '../aws/sts-proof.js';
import { nodeStsProofSender } from '../aws/sts-proof-http.js';
import { type ReadEnvironment, RUNTIME_ENV } from '../core/env.js';
import type { Clock, Logger } from '../core/ports.js';
import { CallerIdentityVerifier } from './caller-identity.js';
import type { CallerProofs } from './identify.js';

export interface CallerProofCompositionOptions {
  readonly environment: ReadEnvironment;
  readonly clientConfig: AwsClientConfig;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Overrides the environment's STS endpoint (tests). */
  readonly stsEndpoint?: string;
  /** Overrides `AWS_LAMBDA_FUNCTION_NAME` (tests, the local runner). */
  readonly serverId?: string;
  /** A `fetch` to call STS with (tests count the calls). @default none: `node:http(s)` (sts-proof-http.ts) */
  readonly stsFetch?: typeof fetch;
}

/** STS in a region: `https://sts.<region>.amazonaws.com/` (`.com.cn` in China), as the client builds it. */
export function regionalStsEndpoint(region: string): string {
  return `https://sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}/`;
}

/**
 * The endpoint as an origin with path `/`: https, or http on loopback (the emulator).
 * @throws Error naming the variable when it is anything else (a deploy mistake, caught at cold start)
 */
export function trustedStsEndpoint(value: string): URL {
  const url = URL.canParse(value) ? new URL(value) : undefined;
  const loopback = url?.hostname === '127.0.0.1' || url?.hostname === 'localhost';
  if (
    url === undefined ||
    !(url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) ||
    url.username !== '' ||
    url.search !== '' ||
    !['', '/'].includes(url.pathname)
  ) {
    throw new Error(
      `${RUNTIME_ENV.stsEndpoint} (or ${RUNTIME_ENV.endpoint}) must be an https origin such as ` +
        'https://sts.eu-west-1.amazonaws.com (http only on 127.0.0.1/localhost); unset it to use STS in AWS_REGION',
    );
  }
  return new URL(`${url.origin}/`);
}

/**
 * The verifier, or (outside Lambda, without a function name or region) one that refuses every proof
 * with 503 and logs why once.
 */
export function callerProofVerifier(options: CallerProofCompositionOptions): CallerProofs {
  const { environment, clientConfig, clock, logger } = options;
  const serverId = options.serverId ?? environment.functionName;
  const region = clientConfig.region ?? environment.region;
  const endpoint =
    options.stsEndpoint ??
    environment.stsEndpoint ??
    clientConfig.endpoint ??
    (region === undefined ? undefined : regionalStsEndpoint(region));
  if (serverId === undefined || region === undefined || endpoint === undefined) {
    const missing = serverId === undefined ? RUNTIME_ENV.functionName : RUNTIME_ENV.region;
    let logged = false;
    return {
      identify: async () => {
        // Once per container, when a proof arrives: a test or local setup without proofs stays quiet.
        if (!logged) logger.error('Caller proofs cannot be checked', { missing });
        logged = true;
        return cannotCheck(missing);
      },
    };
  }
  return new CallerIdentityVerifier({
    expectations: { stsEndpoint: trustedStsEndpoint(endpoint), region, serverId },
    // node:http by default: Node's fetch would be loaded on the first proof, after every cold start.
    send: options.stsFetch === undefined ? nodeStsProofSender() : stsProofSender({ fetch: options.stsFetch }),
    clock,
  });
}

function cannotCheck(missing: string) {
  return {
    ok: false,
    status: 503,
    code: 'identity_unavailable',
    message: `This read function cannot check caller proofs: ${missing} is not set (Lambda sets it)`,
    detail: `${missing} not set`,
  } as const;
}
