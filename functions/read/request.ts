/**
 * Decoding the read function's two kinds of input into one request, or into a problem that names
 * what is wrong and how to fix it. Pure: no I/O, no token values in any message.
 */
import { PROVIDER_NAME_PATTERN } from '../core/config.js';
import { SHA256_HEX_PATTERN, sha256Hex } from '../core/token-hash.js';
import { CALLER_PROOF_FIELD, CALLER_PROOF_HEADER } from './caller-proof.js';
import { quote } from './quote.js';

export { quote };

/** Largest accepted request body (bytes after base64 decoding); tokens are a few KB at most. */
export const MAX_BODY_BYTES = 16 * 1024;

export type ReadRequest =
  | { readonly action: 'get'; readonly provider: string }
  | { readonly action: 'refresh'; readonly provider: string; readonly rejectedTokenSha256: string };

/** A caller mistake: always 4xx. */
export interface RequestProblem {
  readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415;
  readonly code: string;
  readonly message: string;
  /** For 405: the method the route accepts. */
  readonly allow?: string;
}

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: RequestProblem };

/** The parts of a Lambda Function URL event (payload format 2.0) the handler reads. */
export interface FunctionUrlEvent {
  readonly rawPath?: unknown;
  readonly headers?: unknown;
  readonly body?: unknown;
  readonly isBase64Encoded?: unknown;
  readonly requestContext?: {
    readonly http?: { readonly method?: unknown };
    readonly authorizer?: { readonly iam?: { readonly userArn?: unknown } };
  };
}

/** A Function URL request, routed and with its body decoded; authorization comes after. */
export interface UrlRequest {
  readonly request: ReadRequest;
  /**
   * The caller's ARN from `requestContext.authorizer.iam.userArn`, if the event carries one. Believed
   * only with `trustDirectInvoke` (a direct Invoke can carry any event).
   */
  readonly callerArn: string | undefined;
  /** The `x-token-refresher-proof` header, if any. */
  readonly callerProof: string | undefined;
}

/** A direct Invoke payload, decoded. */
export interface InvokeRequest {
  readonly request: ReadRequest;
  /** The payload's `callerProof`, if any. */
  readonly callerProof: string | undefined;
}

const USAGE = 'use GET /tokens/{provider} or POST /tokens/{provider}/refresh';
const GET_ROUTE = /^\/tokens\/([^/]+)$/;
const REFRESH_ROUTE = /^\/tokens\/([^/]+)\/refresh$/;

function problem(
  status: RequestProblem['status'],
  code: string,
  message: string,
  allow?: string,
): { ok: false; problem: RequestProblem } {
  return { ok: false, problem: { status, code, message, ...(allow === undefined ? {} : { allow }) } };
}

function decodeProviderSegment(segment: string): Decoded<string> {
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    return problem(
      400,
      'invalid_provider_name',
      `The provider name in the path is not valid URL encoding; ${USAGE}`,
    );
  }
  return checkProviderName(name, 'The provider name in the path');
}

function checkProviderName(name: string, what: string): Decoded<string> {
  if (!PROVIDER_NAME_PATTERN.test(name)) {
    return problem(
      400,
      'invalid_provider_name',
      `${what} ${quote(name)} is not a provider name: it must match [a-z0-9-]{1,64}`,
    );
  }
  return { ok: true, value: name };
}

/** True for a Function URL event; anything else is a direct Invoke payload. */
export function isFunctionUrlEvent(event: unknown): event is FunctionUrlEvent {
  return typeof event === 'object' && event !== null && 'requestContext' in event;
}

/** Route a Function URL event and decode its body. */
export function decodeUrlEvent(event: FunctionUrlEvent): Decoded<UrlRequest> {
  const method = event.requestContext?.http?.method;
  const path = event.rawPath;
  if (typeof method !== 'string' || typeof path !== 'string') {
    return problem(
      400,
      'invalid_request',
      'The event is not a Lambda Function URL request (payload format 2.0)',
    );
  }
  const userArn = event.requestContext?.authorizer?.iam?.userArn;
  const callerArn = typeof userArn === 'string' && userArn !== '' ? userArn : undefined;
  const callerProof = header(event, CALLER_PROOF_HEADER);

  const getMatch = GET_ROUTE.exec(path);
  const refreshMatch = getMatch === null ? REFRESH_ROUTE.exec(path) : null;
  const segment = getMatch?.[1] ?? refreshMatch?.[1];
  if (segment === undefined) {
    return problem(404, 'not_found', `No route for ${method} ${quote(path)}; ${USAGE}`);
  }
  const expected = getMatch !== null ? 'GET' : 'POST';
  if (method !== expected) {
    return problem(
      405,
      'method_not_allowed',
      `${quote(path)} accepts ${expected} only, not ${method}`,
      expected,
    );
  }
  const provider = decodeProviderSegment(segment);
  if (!provider.ok) return provider;
  if (getMatch !== null) {
    return {
      ok: true,
      value: { request: { action: 'get', provider: provider.value }, callerArn, callerProof },
    };
  }
  const body = decodeRefreshBody(event);
  if (!body.ok) return body;
  return {
    ok: true,
    value: {
      request: { action: 'refresh', provider: provider.value, rejectedTokenSha256: body.value },
      callerArn,
      callerProof,
    },
  };
}

function header(event: FunctionUrlEvent, name: string): string | undefined {
  if (typeof event.headers !== 'object' || event.headers === null) return undefined;
  for (const [key, value] of Object.entries(event.headers)) {
    if (key.toLowerCase() === name && typeof value === 'string') return value;
  }
  return undefined;
}

const REFRESH_BODY_HINT =
  'send {"rejectedTokenSha256":"<hex SHA-256 of the refused token>"} or {"rejectedToken":"<the refused token>"}';

/** The refused token's hash from a refresh body. */
function decodeRefreshBody(event: FunctionUrlEvent): Decoded<string> {
  const contentType = header(event, 'content-type');
  if (contentType !== undefined && !/^application\/json\s*(;|$)/i.test(contentType.trim())) {
    return problem(
      415,
      'unsupported_media_type',
      `The body must be application/json, not ${quote(contentType, 60)}`,
    );
  }
  if (event.body === undefined || event.body === null || event.body === '') {
    return problem(400, 'missing_body', `The refresh request has no body; ${REFRESH_BODY_HINT}`);
  }
  if (typeof event.body !== 'string')
    return problem(400, 'invalid_request', 'The event body is not a string');
  const bytes =
    event.isBase64Encoded === true ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (bytes.length > MAX_BODY_BYTES) {
    return problem(
      413,
      'body_too_large',
      `The body has ${bytes.length} bytes; at most ${MAX_BODY_BYTES} are accepted`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return problem(400, 'invalid_json', `The body is not valid JSON; ${REFRESH_BODY_HINT}`);
  }
  return rejectedTokenHashOf(json, 'body');
}

/** Exactly one of `rejectedTokenSha256` / `rejectedToken`, nothing else. */
function rejectedTokenHashOf(
  json: unknown,
  where: string,
  allowed: readonly string[] = [],
  code = 'invalid_body',
): Decoded<string> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return problem(400, code, `The ${where} must be a JSON object; ${REFRESH_BODY_HINT}`);
  }
  const fields = json as Record<string, unknown>;
  const unknown = Object.keys(fields).filter(
    (key) => !['rejectedToken', 'rejectedTokenSha256', ...allowed].includes(key),
  );
  if (unknown.length > 0) {
    return problem(
      400,
      code,
      `Unknown field ${quote(unknown[0] ?? '', 40)} in the ${where}; ${REFRESH_BODY_HINT}`,
    );
  }
  const { rejectedToken, rejectedTokenSha256 } = fields;
  if (rejectedToken !== undefined && rejectedTokenSha256 !== undefined) {
    return problem(400, code, `Send either rejectedToken or rejectedTokenSha256 in the ${where}, not both`);
  }
  if (rejectedTokenSha256 !== undefined) {
    if (typeof rejectedTokenSha256 !== 'string' || !SHA256_HEX_PATTERN.test(rejectedTokenSha256)) {
      return problem(
        400,
        code,
        `${where}.rejectedTokenSha256 must be 64 lower-case hex characters (the SHA-256 of the refused token)`,
      );
    }
    return { ok: true, value: rejectedTokenSha256 };
  }
  if (rejectedToken !== undefined) {
    if (typeof rejectedToken !== 'string' || rejectedToken.length === 0) {
      return problem(400, code, `${where}.rejectedToken must be a non-empty string (the refused token)`);
    }
    return { ok: true, value: sha256Hex(rejectedToken) };
  }
  return problem(400, 'missing_rejected_token', `The ${where} names no refused token; ${REFRESH_BODY_HINT}`);
}

const INVOKE_HINT =
  'expected {"provider":"<name>","action":"get","callerProof":"<proof>"} or {"provider":"<name>","action":"refresh","rejectedTokenSha256":"<hex>","callerProof":"<proof>"}';

/** Decode a direct Invoke payload and its `callerProof`. */
export function decodeInvokeEvent(event: unknown): Decoded<InvokeRequest> {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    return problem(400, 'invalid_event', `The payload must be a JSON object; ${INVOKE_HINT}`);
  }
  const { [CALLER_PROOF_FIELD]: callerProof, ...fields } = event as Record<string, unknown>;
  if (callerProof !== undefined && typeof callerProof !== 'string') {
    return problem(400, 'invalid_event', `"${CALLER_PROOF_FIELD}" must be a string; ${INVOKE_HINT}`);
  }
  const request = decodeInvokeRequest(fields);
  return request.ok ? { ok: true, value: { request: request.value, callerProof } } : request;
}

function decodeInvokeRequest(fields: Record<string, unknown>): Decoded<ReadRequest> {
  const { provider, action } = fields;
  if (provider === undefined)
    return problem(400, 'invalid_event', `The payload has no "provider"; ${INVOKE_HINT}`);
  if (typeof provider !== 'string')
    return problem(400, 'invalid_event', `"provider" must be a string; ${INVOKE_HINT}`);
  const name = checkProviderName(provider, '"provider"');
  if (!name.ok) return name;
  if (action === undefined || action === 'get') {
    const extra = Object.keys(fields).filter((key) => key !== 'provider' && key !== 'action');
    if (extra.length > 0) {
      return problem(
        400,
        'invalid_event',
        `Unknown field ${quote(extra[0] ?? '', 40)} for action "get"; ${INVOKE_HINT}`,
      );
    }
    return { ok: true, value: { action: 'get', provider: name.value } };
  }
  if (action !== 'refresh') {
    return problem(
      400,
      'invalid_event',
      `"action" must be "get" or "refresh", not ${quote(String(action), 40)}`,
    );
  }
  const hash = rejectedTokenHashOf(fields, 'payload', ['provider', 'action'], 'invalid_event');
  if (!hash.ok) return hash;
  return { ok: true, value: { action: 'refresh', provider: name.value, rejectedTokenSha256: hash.value } };
}
