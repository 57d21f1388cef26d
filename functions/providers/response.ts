/**
 * Pure pieces shared by the response validators of every grant: the plain response value, JSON access,
 * lifetime checks and the classification of error responses into stable codes.
 *
 * Nothing here touches the network, so every rule is tested with plain values.
 */
import { MAX_RETRY_AFTER_SECONDS, parseRetryAfter } from '../client/retry-after.js';
import { ProviderError } from '../core/errors.js';
import { quoteServerText, type Redactor } from './redact.js';

/** A token endpoint's answer as a plain value: what every response validator takes. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Headers | Readonly<Record<string, string>>;
  /** The body as text (at most {@link MAX_BODY_BYTES} of it). */
  readonly bodyText: string;
}

/** What a response validator needs besides the response. */
export interface ParseContext {
  /** Epoch ms, for `Retry-After` dates and absolute expiries. Default: `Date.now()`. */
  readonly now?: number;
  /**
   * Values that must never appear in a message (the credential values sent). Tokens found in the
   * response are added by the validator itself.
   */
  readonly sensitive?: Iterable<unknown>;
}

/** Longest token lifetime accepted: one year. Anything longer is a unit mistake (ms instead of s). */
export const MAX_LIFETIME_SECONDS = 31_536_000;

/** The most of a response body that is read; a token response is a few hundred bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** RFC 6749 §5.2 (and RFC 8707 `invalid_target`) errors retrying cannot fix: code = the error. */
export const PERMANENT_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_request',
  'invalid_target',
  'access_denied',
]);

/** Errors that say "later" (RFC 6749 §4.1.2.1 / RFC 8628 §3.5 reused by servers at the token endpoint). */
export const TRANSIENT_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  'temporarily_unavailable',
  'server_error',
  'slow_down',
]);

const MAX_CODE_LENGTH = 64;

export function toHeaders(headers: RawResponse['headers']): Headers {
  return headers instanceof Headers ? headers : new Headers(headers);
}

export function isSuccessStatus(status: number): boolean {
  return status >= 200 && status <= 299;
}

/** A non-array JSON object. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The parsed body, or `undefined` when it is not JSON (HTML error page, truncated body, empty body). */
export function parseJsonBody(bodyText: string): unknown {
  try {
    return JSON.parse(bodyText) as unknown;
  } catch {
    // The SyntaxError is dropped on purpose: its message quotes the body, which may hold a token.
    return undefined;
  }
}

/** The value at a dot path such as `data.token` (own properties and array indexes only). */
export function valueAtPath(root: unknown, path: string): unknown {
  let node = root;
  for (const segment of path.split('.')) {
    if (Array.isArray(node) && /^\d+$/.test(segment)) {
      node = node[Number(segment)];
    } else if (isJsonObject(node) && Object.hasOwn(node, segment)) {
      node = node[segment];
    } else {
      return undefined;
    }
  }
  return node;
}

/** How a value is described in a message: numbers as they are, anything else only by its type. */
function describeValue(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a${typeof value === 'object' ? 'n' : ''} ${typeof value}`;
}

/**
 * Transient, like a garbled body: the endpoint answered, but not with a token we can keep. Backoff
 * and the failure alarm apply; a later healthy answer recovers without an operator.
 */
function invalidLifetime(message: string, status: number): ProviderError {
  return new ProviderError(message, 'invalid_lifetime', 'transient', { status });
}

/**
 * Whole seconds written as a JSON string, as Microsoft Entra ID's v1 endpoint and Azure's managed
 * identity endpoint send `expires_in` and `expires_on` (`"3599"`): digits only, no sign, no fraction.
 */
const DECIMAL_SECONDS = /^\d{1,12}$/;

/**
 * A lifetime in seconds (`expires_in`): absent (`undefined`/`null`) is fine; otherwise a finite JSON
 * number, or a string of decimal digits (see {@link DECIMAL_SECONDS}), in (0, 1 year].
 * @throws ProviderError `invalid_lifetime` (transient)
 */
export function checkLifetimeSeconds(value: unknown, field: string, status: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && DECIMAL_SECONDS.test(value)) {
    return checkLifetimeSeconds(Number(value), field, status);
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_LIFETIME_SECONDS) {
    throw invalidLifetime(
      `"${field}" must be a positive number of seconds, at most 1 year (got ${describeValue(value)}; HTTP ${status})`,
      status,
    );
  }
  return value;
}

const ISO_8601_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * An absolute expiry: an ISO-8601 date-time with a zone, or epoch seconds as a JSON number or a string
 * of decimal digits. It must lie after `now` and at most 1 year ahead. Absent (`undefined`/`null`) is
 * fine.
 * @returns epoch ms.
 * @throws ProviderError `invalid_lifetime` (transient)
 */
export function checkExpiresAt(
  value: unknown,
  field: string,
  status: number,
  now: number,
): number | undefined {
  if (value === undefined || value === null) return undefined;
  let expiresAt: number;
  if (typeof value === 'number' && Number.isFinite(value)) {
    expiresAt = value * 1000;
  } else if (typeof value === 'string' && DECIMAL_SECONDS.test(value)) {
    expiresAt = Number(value) * 1000;
  } else if (typeof value === 'string' && ISO_8601_DATE_TIME.test(value)) {
    expiresAt = Date.parse(value);
  } else {
    throw invalidLifetime(
      `"${field}" must be an ISO-8601 date-time with a time zone or a number of epoch seconds (got ${describeValue(value)}; HTTP ${status})`,
      status,
    );
  }
  if (!Number.isFinite(expiresAt) || expiresAt <= now || expiresAt > now + MAX_LIFETIME_SECONDS * 1000) {
    throw invalidLifetime(
      `"${field}" must be in the future and at most 1 year ahead (it is ${Number.isFinite(expiresAt) ? `${Math.round((expiresAt - now) / 1000)} s from now` : 'not a valid date'}; HTTP ${status})`,
      status,
    );
  }
  return expiresAt;
}

// The one Retry-After parser (RFC 9110 §10.2.3), shared with the consumer client.
export { MAX_RETRY_AFTER_SECONDS, parseRetryAfter };

/** Statuses worth retrying when the body says nothing more precise. */
function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/**
 * The form of an unknown `error` kept as a code: one to four words of letters joined by `_` or `-`,
 * as every registered OAuth error is (`invalid_grant`, `use_dpop_nonce`, `request_uri_not_supported`;
 * RFC 6749 §8.5).
 * It lies inside RFC 6749's charset for `error` (§5.2, Appendix A.7: printable ASCII without `"` and
 * `\`). Digits are left out on purpose: they are what request ids, account numbers and secrets are
 * made of.
 */
const BOUNDED_ERROR_FORM = /^[A-Za-z]{2,}(?:[_-][A-Za-z]{2,}){0,3}$/;
const MAX_UNKNOWN_ERROR_LENGTH = 40;

/** The code of an OAuth error body whose `error` is not a well-formed code (free text, a value we sent). */
export const GENERIC_OAUTH_ERROR_CODE = 'oauth_error';

/**
 * The code of an unknown `error` string: `oauth_<error>` lower-cased (a `-` becomes `_`) when it is a
 * well-formed code (the {@link BOUNDED_ERROR_FORM}, at most 40 characters, and none of the values sent
 * in it, in any letter case); otherwise {@link GENERIC_OAUTH_ERROR_CODE}. Free server text never
 * becomes a code: codes are stored in the state table, published in events and quoted to consumers.
 */
export function unknownOAuthErrorCode(error: string, redact: Redactor): string {
  const wellFormed =
    error.length <= MAX_UNKNOWN_ERROR_LENGTH && BOUNDED_ERROR_FORM.test(error) && redact(error) === error;
  return wellFormed ? `oauth_${error.toLowerCase().replaceAll('-', '_')}` : GENERIC_OAUTH_ERROR_CODE;
}

/** The `error` string of an RFC 6749 §5.2 error body, if the body is one. */
export function oauthErrorOf(body: unknown): string | undefined {
  if (!isJsonObject(body) || typeof body.error !== 'string' || body.error.trim() === '') return undefined;
  return body.error;
}

/**
 * Turn an error response (any non-2xx status, or a 2xx whose body is an OAuth error object) into a
 * {@link ProviderError}:
 *
 * - a JSON body with an `error` string (RFC 6749 §5.2): known permanent errors keep their name as code,
 *   `temporarily_unavailable`/`server_error`/`slow_down` are transient, unknown ones become
 *   `oauth_<error>` when well-formed ({@link unknownOAuthErrorCode}), else `oauth_error`, classified
 *   by status. Known names are matched case-insensitively (servers that
 *   shout `INVALID_GRANT` still mean it). The body wins over a `WWW-Authenticate` header: a 401 with
 *   `invalid_client` is permanent `invalid_client`.
 * - otherwise by status: 429 `rate_limited`, 408 and 5xx `http_<status>` (transient), every other
 *   status `http_<status>` (permanent; 3xx included, redirects are never followed).
 *
 * Transient errors carry `retryAfterSeconds` when the response has a valid `Retry-After`.
 */
export function classifyErrorResponse(
  response: RawResponse,
  body: unknown,
  context: { readonly now: number; readonly redact: Redactor },
): ProviderError {
  const { status } = response;
  const error = oauthErrorOf(body);
  const classified =
    error === undefined ? classifyByStatus(status) : classifyOAuthError(error, body, status, context.redact);
  const { code, permanent } = classified;
  let { message } = classified;
  const retryAfterSeconds = permanent
    ? undefined
    : parseRetryAfter(toHeaders(response.headers).get('retry-after'), context.now);
  if (retryAfterSeconds !== undefined) message += `; retry after ${retryAfterSeconds} s`;
  return new ProviderError(message, code, permanent ? 'permanent' : 'transient', {
    status,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
}

/** How an error response is classified, before its `Retry-After`. */
interface ErrorClassification {
  readonly code: string;
  readonly permanent: boolean;
  readonly message: string;
}

/** An RFC 6749 §5.2 `error` string: a known name keeps its kind, an unknown one goes by status. */
function classifyOAuthError(
  error: string,
  body: unknown,
  status: number,
  redact: Redactor,
): ErrorClassification {
  const name = error.trim().toLowerCase();
  const known = PERMANENT_OAUTH_ERRORS.has(name) || TRANSIENT_OAUTH_ERRORS.has(name);
  let message = `Token endpoint answered HTTP ${status} with OAuth error "${quoteServerText(error, redact, MAX_CODE_LENGTH)}"`;
  const description = isJsonObject(body) ? body.error_description : undefined;
  if (typeof description === 'string' && description.trim() !== '') {
    message += `: ${quoteServerText(description, redact)}`;
  }
  return known
    ? { code: name, permanent: PERMANENT_OAUTH_ERRORS.has(name), message }
    : { code: unknownOAuthErrorCode(error, redact), permanent: !isTransientStatus(status), message };
}

/** No OAuth error in the body: 429 `rate_limited`, else `http_<status>`. */
function classifyByStatus(status: number): ErrorClassification {
  if (status === 429) {
    return {
      code: 'rate_limited',
      permanent: false,
      message: 'Token endpoint answered HTTP 429 (rate limited)',
    };
  }
  const redirect = status >= 300 && status <= 399;
  return {
    code: `http_${status}`,
    permanent: !isTransientStatus(status),
    message: redirect
      ? `Token endpoint answered HTTP ${status} (a redirect; redirects are not followed)`
      : `Token endpoint answered HTTP ${status}`,
  };
}

/**
 * A 2xx answer that is not a usable token. Transient: a truncated body, a proxy's or maintenance
 * page's HTML with 200 are passing faults, and stopping every refresh until an operator steps in would
 * let the token expire. A lasting cause (a wrong `accessTokenPath`) fires the failure alarm all the
 * same, with calls spaced by the backoff (at most every 15 minutes).
 */
export function malformedResponse(message: string, status: number): ProviderError {
  return new ProviderError(
    `Token endpoint answered HTTP ${status} but ${message}`,
    'malformed_response',
    'transient',
    {
      status,
    },
  );
}
