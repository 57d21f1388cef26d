/**
 * Errors of the refresh engine. Each has a stable `code`; none carries a token, refresh token or
 * client secret in its message. Adapters translate SDK exceptions into these.
 */

/** Whether retrying later can help. */
export type FailureKind = 'transient' | 'permanent';

/**
 * What an error code looks like: lower-case snake case, at most 64 characters. Codes are stored in the
 * state table (`lastErrorCode`), published in state-change events, used as log fields and quoted in
 * the read function's answers, so none may carry free text.
 */
export const ERROR_CODE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/** The code given to an error constructed with a code that is not of {@link ERROR_CODE_PATTERN}. */
export const MALFORMED_CODE_REPLACEMENT = 'internal_error';

/**
 * `code` if it is of {@link ERROR_CODE_PATTERN}, else {@link MALFORMED_CODE_REPLACEMENT}: the last
 * guard against server text becoming a code (the providers already map unknown OAuth errors to
 * well-formed codes; a bug or a new grant must not reopen the path).
 */
export function checkedErrorCode(code: string): string {
  return ERROR_CODE_PATTERN.test(code) ? code : MALFORMED_CODE_REPLACEMENT;
}

/** Base class: a stable code, a kind, and the original error as a non-enumerable `cause`. */
export class RefresherError extends Error {
  override readonly name: string = 'RefresherError';
  /** Always of {@link ERROR_CODE_PATTERN} (see {@link checkedErrorCode}). */
  readonly code: string;
  constructor(
    message: string,
    code: string,
    readonly kind: FailureKind,
    options?: { cause?: unknown },
  ) {
    super(message);
    this.code = checkedErrorCode(code);
    if (options?.cause !== undefined) {
      // Non-enumerable so that a logger serialising the error never dumps a raw response.
      Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false, writable: true });
    }
  }
}

/** The token endpoint failed or answered with something that is not a usable token. */
export class ProviderError extends RefresherError {
  override readonly name = 'ProviderError';
  constructor(
    message: string,
    code: string,
    kind: FailureKind,
    details: {
      /** HTTP status, when there was a response. */
      readonly status?: number;
      /** Seconds the server asked us to wait (`Retry-After`). */
      readonly retryAfterSeconds?: number;
      /**
       * The request may have reached the server although no answer came back (a timeout, a
       * connection lost after sending): whatever the server did with it is unknown.
       */
      readonly outcomeUnknown?: boolean;
      /**
       * A new refresh token found in a 2xx answer that was unusable otherwise: the server rotated,
       * so the refresh token sent is spent and this one must be stored all the same.
       */
      readonly rotatedRefreshToken?: string;
      readonly cause?: unknown;
    } = {},
  ) {
    super(message, code, kind, { cause: details.cause });
    // `cause` lives on the error itself (non-enumerable), never in the enumerable `details`; the
    // rotated refresh token lives in a private field, which no logger or serialiser can reach.
    const { cause: _cause, rotatedRefreshToken, ...visible } = details;
    this.details = visible;
    this.#rotatedRefreshToken = rotatedRefreshToken;
  }
  readonly details: {
    readonly status?: number;
    readonly retryAfterSeconds?: number;
    readonly outcomeUnknown?: boolean;
  };
  readonly #rotatedRefreshToken: string | undefined;

  /** The refresh token a 2xx answer carried besides its unusable parts (see the constructor). */
  get rotatedRefreshToken(): string | undefined {
    return this.#rotatedRefreshToken;
  }

  /** The same error without a rotated refresh token. */
  withoutRotatedRefreshToken(): ProviderError {
    if (this.#rotatedRefreshToken === undefined) return this;
    return new ProviderError(this.message, this.code, this.kind, { ...this.details, cause: this.cause });
  }

  /** The same error, carrying the rotated refresh token of the answer it came from. */
  withRotatedRefreshToken(refreshToken: string | undefined): ProviderError {
    if (refreshToken === undefined) return this;
    return new ProviderError(this.message, this.code, this.kind, {
      ...this.details,
      rotatedRefreshToken: refreshToken,
      cause: this.cause,
    });
  }
}

/**
 * The compare-and-swap write lost: `AWSCURRENT` is no longer on the version read before the provider
 * call, so a newer holder already wrote. The newer token stays.
 */
export class WriteConflictError extends RefresherError {
  override readonly name = 'WriteConflictError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'write_conflict', 'transient', options);
  }
}

/** A store or table call failed (throttling, 5xx, network). */
export class StoreError extends RefresherError {
  override readonly name = 'StoreError';
}

/** The credentials secret is missing fields the grant needs, or still holds its placeholder. */
export class CredentialsError extends RefresherError {
  override readonly name = 'CredentialsError';
  /** The credentials secret's version that holds the unusable value, when the store read it (an id, never a value). */
  readonly credentialsVersionId: string | undefined;
  constructor(
    message: string,
    code = 'credentials_invalid',
    options: { credentialsVersionId?: string } = {},
  ) {
    super(message, code, 'permanent');
    this.credentialsVersionId = options.credentialsVersionId;
  }
}

/** The lease no longer covers the work (a paused holder must not call the provider). */
export class LeaseLostError extends RefresherError {
  override readonly name = 'LeaseLostError';
  constructor(message: string) {
    super(message, 'lease_lost', 'transient');
  }
}

/** Wrap anything thrown into a {@link RefresherError}, keeping known ones as they are. */
export function toRefresherError(error: unknown): RefresherError {
  if (error instanceof RefresherError) return error;
  const name = error instanceof Error ? error.name : typeof error;
  return new RefresherError(`Unexpected error (${name})`, 'internal_error', 'transient', { cause: error });
}
