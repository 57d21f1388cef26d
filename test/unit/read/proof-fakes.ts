/**
 * Caller proofs for tests, made by the client's own signer (`CallerProofSigner` over
 * `@smithy/signature-v4`), and a fake STS that checks their signatures the way STS does: it knows the
 * secret of each access key, signs the same request again and compares. Tampered proofs are made by
 * editing a signed one without signing it again.
 */
import { SignatureV4 } from '@smithy/signature-v4';
import { CallerProofSigner } from '../../../functions/client/caller-proof.js';
import { NodeSha256 } from '../../../functions/client/sha256.js';
import type { SendToSts, StsAnswer } from '../../../functions/read/caller-identity.js';

export const REGION = 'eu-west-1';
export const STS_ENDPOINT = 'https://sts.eu-west-1.amazonaws.com/';
export const SERVER_ID = 'prod-TokensReadFunction-Q1w2E3';

export interface TestCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

/** A consumer's role session: its credentials and the ARN STS answers for them. */
export interface Principal {
  readonly credentials: TestCredentials;
  readonly arn: string;
}

export function principal(role: string, account = '123456789012', id = role): Principal {
  const key = id
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, '')
    .padEnd(16, 'X')
    .slice(0, 16);
  return {
    credentials: {
      accessKeyId: `ASIA${key}`,
      secretAccessKey: `secret-of-${id}-wJalrXUtnFEMI`,
      sessionToken: `session-token-of-${id}-FwoGZXIvYXdzE`,
    },
    arn: `arn:aws:sts::${account}:assumed-role/${role}/${id}-session`,
  };
}

function stsSigner(credentials: TestCredentials, region = REGION): SignatureV4 {
  return new SignatureV4({ service: 'sts', region, credentials, sha256: NodeSha256 });
}

/** A proof signed now (or at `at`) by `who`, for `serverId`, addressed to `stsEndpoint`. */
export async function signProof(
  who: Principal,
  options: { at: number; serverId?: string; stsEndpoint?: string; region?: string },
): Promise<string> {
  const signer = stsSigner(who.credentials, options.region);
  const proofs = new CallerProofSigner({
    stsEndpoint: new URL(options.stsEndpoint ?? STS_ENDPOINT),
    serverId: options.serverId ?? SERVER_ID,
    sign: (request, signing) => signer.sign(request, signing),
    now: () => options.at,
  });
  return (await proofs.proof()).proof;
}

/** A raw proof request, signed with SigV4 exactly as given (for proofs the client would never make). */
export async function signRaw(
  who: Principal,
  request: { method: string; url: string; body: string; headers: Record<string, string>; at: number },
  unsignedHeaders: Record<string, string> = {},
): Promise<string> {
  const url = new URL(request.url);
  const signed = await stsSigner(who.credentials).sign(
    {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === '' ? {} : { port: Number(url.port) }),
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { host: url.host, ...request.headers },
      body: request.body,
    },
    { signingDate: new Date(request.at) },
  );
  return encode({
    method: request.method,
    url: request.url,
    body: request.body,
    headers: { ...signed.headers, ...unsignedHeaders },
  });
}

export interface ProofFields {
  method: string;
  url: string;
  body: string;
  headers: Record<string, string>;
}

export function decode(proof: string): ProofFields {
  return JSON.parse(Buffer.from(proof, 'base64').toString('utf8')) as ProofFields;
}

export function encode(fields: unknown): string {
  return Buffer.from(JSON.stringify(fields), 'utf8').toString('base64');
}

/** A signed proof with `edit` applied afterwards (the signature no longer covers the change). */
export function tamper(proof: string, edit: (fields: ProofFields) => void): string {
  const fields = decode(proof);
  edit(fields);
  return encode(fields);
}

/**
 * STS for tests: answers GetCallerIdentity for the principals it knows, after checking the signature
 * with the principal's secret (as STS does); refuses a wrong signature or an unknown key.
 */
export class FakeSts {
  readonly calls: { url: string; headers: Record<string, string>; body: string }[] = [];
  /** When set, every call answers this (an outage, throttling). */
  outage: StsAnswer | undefined;
  readonly #principals = new Map<string, Principal>();

  constructor(principals: readonly Principal[]) {
    for (const each of principals) this.#principals.set(each.credentials.accessKeyId, each);
  }

  readonly send: SendToSts = async (request) => {
    this.calls.push({ url: request.url, headers: { ...request.headers }, body: request.body });
    if (this.outage !== undefined) return this.outage;
    const authorization = request.headers.authorization ?? '';
    const keyId = /Credential=([A-Z0-9]+)\//.exec(authorization)?.[1] ?? '';
    const known = this.#principals.get(keyId);
    if (known === undefined) return { kind: 'refused', stsCode: 'InvalidClientTokenId' };
    const amzDate = request.headers['x-amz-date'] ?? '';
    const at = Date.parse(
      amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    const url = new URL(request.url);
    const { authorization: _a, 'x-amz-security-token': _t, ...headers } = request.headers;
    const again = await stsSigner(known.credentials).sign(
      {
        method: 'POST',
        protocol: url.protocol,
        hostname: url.hostname,
        path: url.pathname,
        query: {},
        headers: { host: url.host, ...headers },
        body: request.body,
      },
      { signingDate: new Date(at) },
    );
    return again.headers.authorization === authorization
      ? { kind: 'identity', arn: known.arn }
      : { kind: 'refused', stsCode: 'SignatureDoesNotMatch' };
  };
}
