/**
 * The caller proof, checked before anything is sent (HashiCorp Vault's AWS IAM auth method,
 * `builtin/credential/aws/path_login.go`, is the model). A proof is base64 of
 * `{ method, url, body, headers }`: an `sts:GetCallerIdentity` request the caller signed and did not
 * send. The read function sends it to STS and believes the ARN STS answers with; before that, this
 * module makes sure the request is nothing but that call, to the one STS endpoint this read function
 * trusts, signed for this read function, and recent:
 *
 * - `method` is `POST`; `url` is exactly the configured STS endpoint (regional
 *   `https://sts.<region>.amazonaws.com/` on AWS): no other host, scheme, port, path or query, so the
 *   read function can be made to call nothing else;
 * - `body` is exactly `Action=GetCallerIdentity&Version=2011-06-15`;
 * - `headers` are only the ones such a signed request has; `host` is the endpoint's; the
 *   `x-token-refresher-server-id` header equals this read function's name and is among the
 *   `SignedHeaders` of the `Authorization` header, which must list every header sent (nothing
 *   unsigned rides along);
 * - the signature's scope is `<date>/<region>/sts/aws4_request`, and `x-amz-date` is at most
 *   {@link PROOF_MAX_AGE_MS} old (AWS itself refuses a signed request 5 minutes after its date).
 *
 * Pure: no I/O; messages name the field and the fix and never contain a signature or a session token.
 */
import { createHash } from 'node:crypto';
import { type JsonShape, shapeParser } from '../core/json-shape.js';
import { quote } from './quote.js';

/** Where a Function URL request carries the proof (the client's `CALLER_PROOF_HEADER`). */
export const CALLER_PROOF_HEADER = 'x-token-refresher-proof';
/** Where a direct Invoke payload carries it. */
export const CALLER_PROOF_FIELD = 'callerProof';
/** The signed header naming the read function a proof is for (the client's `SERVER_ID_HEADER`). */
export const SERVER_ID_HEADER = 'x-token-refresher-server-id';
export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
/** A proof is a few KB (the session token is most of it); anything much larger is refused unread. */
export const MAX_CALLER_PROOF_CHARS = 8 * 1024;
/** As AWS: a signed request is accepted up to 5 minutes after its date ... */
export const PROOF_MAX_AGE_MS = 5 * 60_000;
/** ... and up to 5 minutes before it (clock skew). */
export const PROOF_MAX_SKEW_MS = 5 * 60_000;

/** The headers a signed GetCallerIdentity request may carry; `authorization` signs all the others. */
const ALLOWED_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'content-type',
  'host',
  'x-amz-content-sha256',
  'x-amz-date',
  'x-amz-security-token',
  SERVER_ID_HEADER,
]);
const REQUIRED_HEADERS = ['authorization', 'content-type', 'host', 'x-amz-date', SERVER_ID_HEADER] as const;
const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]{16,128})\/(\d{8})\/([a-z0-9-]{1,32})\/sts\/aws4_request, ?SignedHeaders=([a-z0-9;-]{1,512}), ?Signature=[0-9a-f]{64}$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const CONTENT_TYPE = /^application\/x-www-form-urlencoded(; ?charset=utf-8)?$/i;
/** Visible ASCII and spaces: nothing that could split a header. */
const HEADER_VALUE = /^[\x20-\x7e]{1,4096}$/;

/** What the read function expects of every proof. */
export interface ProofExpectations {
  /** The STS endpoint it trusts, e.g. `https://sts.eu-west-1.amazonaws.com/`. */
  readonly stsEndpoint: URL;
  /** The region of that endpoint (the signature's scope). */
  readonly region: string;
  /** This read function's name. */
  readonly serverId: string;
}

/** A proof that passed every check and may be sent to STS. */
export interface CheckedProof {
  /** When it was signed (epoch ms, from `x-amz-date`). */
  readonly signedAt: number;
  /** What to send, to {@link ProofExpectations.stsEndpoint}. */
  readonly request: {
    readonly url: string;
    readonly body: string;
    /** Every header but `host` (fetch sets it from the URL, which has the same host). */
    readonly headers: Readonly<Record<string, string>>;
  };
}

/** Codes of a refused proof; each is a 401 with its own message. */
export type ProofProblemCode = 'invalid_caller_proof' | 'caller_proof_wrong_server' | 'caller_proof_expired';

export type ProofCheck =
  | { readonly ok: true; readonly proof: CheckedProof }
  | { readonly ok: false; readonly code: ProofProblemCode; readonly message: string };

/** The decoded proof's JSON: these four fields and nothing else (checked by `core/json-shape.ts`). */
export const PROOF_SCHEMA = {
  type: 'object',
  properties: {
    method: { type: 'string' },
    url: { type: 'string', maxLength: 2048 },
    body: { type: 'string', maxLength: 1024 },
    headers: {
      type: 'object',
      propertyNames: { type: 'string', maxLength: 64 },
      additionalProperties: { type: 'string' },
    },
  },
  required: ['method', 'url', 'body', 'headers'],
  additionalProperties: false,
} as const satisfies JsonShape;

/** What {@link PROOF_SCHEMA} guarantees. */
interface ProofFields {
  readonly method: string;
  readonly url: string;
  readonly body: string;
  readonly headers: Record<string, string>;
}

const proofShape = shapeParser<ProofFields>(PROOF_SCHEMA, 'proof');

const HOW = 'build it as docs/read-function.md "Caller proof" shows (the client library does)';

function refuse(code: ProofProblemCode, message: string): ProofCheck {
  return { ok: false, code, message };
}

function invalid(message: string): ProofCheck {
  return refuse('invalid_caller_proof', `The caller proof ${message}; ${HOW}`);
}

/** The key a checked proof is remembered by: the SHA-256 of its encoded form. */
export function proofHash(encoded: string): string {
  return createHash('sha256').update(encoded, 'utf8').digest('hex');
}

/** Decode and check a proof; nothing is sent anywhere. */
export function checkCallerProof(encoded: string, expected: ProofExpectations, now: number): ProofCheck {
  if (encoded.length > MAX_CALLER_PROOF_CHARS) {
    return invalid(`has ${encoded.length} characters; at most ${MAX_CALLER_PROOF_CHARS} are accepted`);
  }
  const fields = decode(encoded);
  if (fields === undefined) {
    return invalid('is not base64 of a JSON object {"method","url","body","headers"}');
  }
  const headers = lowerCased(fields.headers);
  if (headers === undefined)
    return invalid('names a header twice or has a header value that is not printable ASCII');
  const shape = checkRequestShape(fields, headers, expected);
  if (shape !== undefined) return shape;
  const signature = checkSignature(headers, expected);
  if (!signature.ok) return signature;
  const dated = checkDate(headers['x-amz-date'] ?? '', signature.scopeDate, now);
  if (!dated.ok) return dated;
  const { host: _host, ...sent } = headers;
  return {
    ok: true,
    proof: {
      signedAt: dated.signedAt,
      request: { url: expected.stsEndpoint.href, body: fields.body, headers: sent },
    },
  };
}

function decode(encoded: string): ProofFields | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return undefined;
  try {
    const parsed = proofShape.safeParse(JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function lowerCased(headers: Record<string, string>): Record<string, string> | undefined {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toLowerCase();
    if (key in result || !HEADER_VALUE.test(value)) return undefined;
    result[key] = value;
  }
  return result;
}

/** Method, URL, body and header set: only GetCallerIdentity, only to the trusted endpoint. */
function checkRequestShape(
  fields: ProofFields,
  headers: Record<string, string>,
  expected: ProofExpectations,
): ProofCheck | undefined {
  if (fields.method !== 'POST') return invalid(`method must be POST, not ${quote(fields.method, 10)}`);
  const endpoint = expected.stsEndpoint.href;
  if (fields.url !== endpoint) {
    return invalid(
      `url must be ${endpoint} (the STS endpoint this read function trusts), not ${quote(fields.url)}`,
    );
  }
  if (!isGetCallerIdentity(fields.body)) return invalid(`body must be ${GET_CALLER_IDENTITY_BODY}`);
  const unexpected = Object.keys(headers).find((name) => !ALLOWED_HEADERS.has(name));
  if (unexpected !== undefined) return invalid(`has the header ${quote(unexpected, 64)}, which it may not`);
  const missing = REQUIRED_HEADERS.find((name) => headers[name] === undefined);
  if (missing === SERVER_ID_HEADER) return wrongServer(undefined, expected);
  if (missing !== undefined) return invalid(`has no ${missing} header`);
  if (headers.host !== expected.stsEndpoint.host) {
    return invalid(`host header must be ${expected.stsEndpoint.host}, not ${quote(headers.host ?? '')}`);
  }
  if (!CONTENT_TYPE.test(headers['content-type'] ?? '')) {
    return invalid('content-type must be application/x-www-form-urlencoded; charset=utf-8');
  }
  const payloadHash = headers['x-amz-content-sha256'];
  if (payloadHash !== undefined && payloadHash !== createHash('sha256').update(fields.body).digest('hex')) {
    return invalid('x-amz-content-sha256 is not the SHA-256 of its body');
  }
  if (headers[SERVER_ID_HEADER] !== expected.serverId)
    return wrongServer(headers[SERVER_ID_HEADER], expected);
  return undefined;
}

/** Exactly `Action=GetCallerIdentity` and `Version=2011-06-15`, each once, in any order. */
function isGetCallerIdentity(body: string): boolean {
  const params = [...new URLSearchParams(body)];
  const action = params.filter(([name]) => name === 'Action');
  const version = params.filter(([name]) => name === 'Version');
  return (
    params.length === 2 &&
    action.length === 1 &&
    action[0]?.[1] === 'GetCallerIdentity' &&
    version.length === 1 &&
    version[0]?.[1] === '2011-06-15'
  );
}

function wrongServer(given: string | undefined, expected: ProofExpectations): ProofCheck {
  const got = given === undefined ? 'has none' : `names ${quote(given, 64)}`;
  return refuse(
    'caller_proof_wrong_server',
    `The caller proof must be made for this read function: its signed ${SERVER_ID_HEADER} header must be ` +
      `${quote(expected.serverId, 64)}, and it ${got}; pass functionName: ${quote(expected.serverId, 64)} to the client`,
  );
}

/** The `Authorization` header: SigV4 for STS in the endpoint's region, every sent header signed. */
function checkSignature(
  headers: Record<string, string>,
  expected: ProofExpectations,
): { readonly ok: true; readonly scopeDate: string } | Extract<ProofCheck, { ok: false }> {
  const match = AUTHORIZATION.exec(headers.authorization ?? '');
  if (match === null) {
    return {
      ok: false,
      code: 'invalid_caller_proof',
      message: `The caller proof's authorization header is not a SigV4 signature for STS; ${HOW}`,
    };
  }
  const [, , scopeDate = '', region, signedList = ''] = match;
  if (region !== expected.region) {
    return {
      ok: false,
      code: 'invalid_caller_proof',
      message: `The caller proof is signed for region ${quote(region ?? '', 32)}; it must be signed for ${expected.region}, the region of ${expected.stsEndpoint.href}`,
    };
  }
  const signed = signedList.split(';');
  const sent = Object.keys(headers)
    .filter((name) => name !== 'authorization')
    .sort();
  if (!signed.includes(SERVER_ID_HEADER)) {
    return {
      ok: false,
      code: 'caller_proof_wrong_server',
      message: `The caller proof's ${SERVER_ID_HEADER} header is not signed (not in SignedHeaders); ${HOW}`,
    };
  }
  if (signed.join(';') !== sent.join(';')) {
    return {
      ok: false,
      code: 'invalid_caller_proof',
      message: `The caller proof's SignedHeaders must list exactly the headers it carries (${sent.join(';')}); ${HOW}`,
    };
  }
  return { ok: true, scopeDate };
}

/** `x-amz-date` well-formed, on the signature's scope date, and recent. */
function checkDate(
  amzDate: string,
  scopeDate: string,
  now: number,
): { readonly ok: true; readonly signedAt: number } | Extract<ProofCheck, { ok: false }> {
  const match = AMZ_DATE.exec(amzDate);
  const signedAt = match === null ? Number.NaN : Date.parse(amzDate.replace(AMZ_DATE, '$1-$2-$3T$4:$5:$6Z'));
  if (Number.isNaN(signedAt) || amzDate.slice(0, 8) !== scopeDate) {
    return {
      ok: false,
      code: 'invalid_caller_proof',
      message: `The caller proof's x-amz-date must be YYYYMMDDTHHMMSSZ, on the date of its signature's scope; ${HOW}`,
    };
  }
  if (now - signedAt > PROOF_MAX_AGE_MS || signedAt - now > PROOF_MAX_SKEW_MS) {
    return {
      ok: false,
      code: 'caller_proof_expired',
      message:
        `The caller proof was signed at ${new Date(signedAt).toISOString()}; it is accepted for ` +
        `${PROOF_MAX_AGE_MS / 60_000} minutes, so sign a new one (the client does; check this host's clock)`,
    };
  }
  return { ok: true, signedAt };
}
