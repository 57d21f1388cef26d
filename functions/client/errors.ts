/**
 * The client's one error class. Every failure has a stable `code`; no message ever contains a
 * token (messages name the provider, the secret, the HTTP status — never a value read from a secret).
 */

/**
 * Codes raised by the client itself. Errors answered by the read function carry that function's own
 * `code` (e.g. `forbidden`, `token_unavailable`, `refresh_rate_limited`), or `http_<status>` when its
 * body is not the documented `{ code, message }`.
 */
export type TokenClientErrorCode =
  /** The options are incomplete or invalid (thrown by the factories, at cold start). */
  | 'invalid_options'
  /** The provider name is not `[a-z0-9-]{1,64}`. */
  | 'invalid_provider_name'
  /** The token secret still holds the placeholder the stack created: no refresh has succeeded yet. */
  | 'token_not_ready'
  /** The stored or served token has expired; an expired token is never returned. */
  | 'token_expired'
  /** The token secret, or the read function's answer, is not a token record of the documented shape. */
  | 'invalid_token_record'
  /** The record names another provider (a misconfigured secret name): it is not served. */
  | 'provider_mismatch'
  /** Secrets Manager: the token secret does not exist (or has no `AWSCURRENT` version). */
  | 'secret_not_found'
  /** DynamoDB (source `dynamodb`): the token table does not exist (wrong name or region). */
  | 'table_not_found'
  /** Secrets Manager or DynamoDB: the caller may not read (or decrypt) the token. */
  | 'access_denied'
  /** The source could not be reached or failed (network, timeout, throttling, 5xx of Secrets Manager). */
  | 'read_failed';

/** Why no token could be returned. */
export class TokenClientError extends Error {
  override readonly name = 'TokenClientError';
  /** Stable: branch on this, not on the message. */
  readonly code: TokenClientErrorCode | (string & {});
  /** The HTTP status of the read function's answer, when there was one. */
  readonly status: number | undefined;
  /** How long the server asked the caller to wait (`Retry-After`), in seconds. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    message: string,
    code: TokenClientErrorCode | (string & {}),
    details: {
      readonly status?: number;
      readonly retryAfterSeconds?: number;
      readonly cause?: unknown;
    } = {},
  ) {
    super(message);
    this.code = code;
    this.status = details.status;
    this.retryAfterSeconds = details.retryAfterSeconds;
    if (details.cause !== undefined) {
      // Non-enumerable, so that a logger serialising the error never dumps a raw SDK error or response.
      Object.defineProperty(this, 'cause', { value: details.cause, enumerable: false, writable: true });
    }
  }
}
