/**
 * What the client returns, and the checks every source applies to a token before it is cached:
 * pure functions over plain values, so they are tested without a network.
 */
import { TokenClientError } from './errors.js';

/** A provider's access token as the client returns it. Frozen: the cached object is shared. */
export interface ClientToken {
  readonly provider: string;
  /** Send it as `Authorization: <tokenType> <accessToken>`. Never log it. */
  readonly accessToken: string;
  /** Usually `Bearer`. */
  readonly tokenType: string;
  /** When the token stops working: ISO-8601, as stored by the refresher. */
  readonly expiresAt: string;
}

/** The refresher's provider names (its config schema): they become a secret name or a URL path. */
const PROVIDER_NAME_PATTERN = /^[a-z0-9-]{1,64}$/;

/** ISO-8601 date-time with a `Z` or `±hh:mm` offset, as the refresher writes it. */
const ISO_DATE_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** @throws TokenClientError `invalid_provider_name` */
export function assertProviderName(provider: unknown): asserts provider is string {
  if (typeof provider !== 'string' || !PROVIDER_NAME_PATTERN.test(provider)) {
    const shown = typeof provider === 'string' ? JSON.stringify(provider.slice(0, 80)) : typeof provider;
    throw new TokenClientError(
      `${shown} is not a provider name: it must match [a-z0-9-]{1,64}, as in the refresher's configuration`,
      'invalid_provider_name',
    );
  }
}

/**
 * A token of `provider` from a parsed JSON value (the token secret, the read function's answer):
 * `provider`, `accessToken`, `tokenType` and `expiresAt` are checked; other fields are ignored.
 * Expiry is not checked here: the client does it against its clock when it caches the token.
 *
 * @param what - names the value in messages, e.g. `Token secret "token-refresher/github/token"`.
 * @throws TokenClientError `invalid_token_record` (the message names the field) or `provider_mismatch`
 */
export function toClientToken(provider: string, value: unknown, what: string): ClientToken {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${what} is not a JSON object`);
  }
  const record = value as Record<string, unknown>;
  if (typeof record.provider !== 'string' || record.provider === '') {
    throw invalid(`${what}: "provider" must be a non-empty string`);
  }
  if (record.provider !== provider) {
    // A misconfigured secret name or URL: never hand provider A's token to provider B's caller.
    throw new TokenClientError(
      `${what} holds the token of provider ${JSON.stringify(record.provider.slice(0, 64))}, not "${provider}"; ` +
        'check the secret prefix or URL',
      'provider_mismatch',
    );
  }
  if (typeof record.accessToken !== 'string' || record.accessToken === '') {
    throw invalid(`${what}: "accessToken" must be a non-empty string`);
  }
  if (typeof record.tokenType !== 'string' || record.tokenType === '') {
    throw invalid(`${what}: "tokenType" must be a non-empty string`);
  }
  if (
    typeof record.expiresAt !== 'string' ||
    !ISO_DATE_TIME_PATTERN.test(record.expiresAt) ||
    Number.isNaN(Date.parse(record.expiresAt))
  ) {
    throw invalid(`${what}: "expiresAt" must be an ISO-8601 date-time with an offset`);
  }
  return Object.freeze({
    provider: record.provider,
    accessToken: record.accessToken,
    tokenType: record.tokenType,
    expiresAt: record.expiresAt,
  });
}

function invalid(message: string): TokenClientError {
  return new TokenClientError(message, 'invalid_token_record');
}
