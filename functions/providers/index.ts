/**
 * Token endpoint clients, one per grant type, all behind the core's {@link Provider} interface.
 *
 * Every network operation is a pair: a provider class makes the request, a pure function validates the
 * response from a plain {@link RawResponse} (`parseClientCredentialsResponse`,
 * `parseRefreshTokenResponse`, `parseHttpTokenResponse`, all built on `parseOAuthTokenResponse` or its
 * helpers), so every rule below is tested without a network.
 *
 * Error codes (`ProviderError.code`; `CredentialsError` for credentials):
 *
 * | code | kind | when |
 * |---|---|---|
 * | `credentials_invalid` | permanent | a field the grant needs (or a placeholder names) is missing/empty; a private key that cannot sign (encrypted, public, too short, unreadable) |
 * | `invalid_client`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type`, `invalid_scope`, `invalid_request`, `invalid_target`, `access_denied` | permanent | RFC 6749 §5.2 / RFC 8707 error body, any status |
 * | `temporarily_unavailable`, `server_error`, `slow_down` | transient | error body, any status; `Retry-After` honoured |
 * | `oauth_<error>` (lower-cased, `-` as `_`) | transient for 5xx/429/408, else permanent | unknown `error` of one to four words of letters, at most 40 characters, holding no value sent |
 * | `oauth_error` | transient for 5xx/429/408, else permanent | any other `error` string (free text never becomes a code) |
 * | `rate_limited` | transient | 429 without error body; `retryAfterSeconds` from `Retry-After` |
 * | `http_<status>` | transient for 5xx and 408, permanent for other 4xx and 3xx | no error body |
 * | `malformed_response` | transient | 2xx that is not a JSON object, or lacks the token |
 * | `invalid_lifetime` | transient | `expires_in` not a number (or digit string) in (0, 1 year]; expiry date not in (now, now + 1 year] |
 * | `unsupported_token_type` | permanent | OAuth `token_type` other than Bearer/DPoP (RFC 6749 §7.1) |
 * | `network_error` | transient | fetch rejected (refused, reset, DNS, body cut short) |
 * | `timeout` | transient | the abort signal fired, before the response or while reading the body |
 * | `request_invalid` | permanent | the request could not be built (invalid header after substitution) |
 *
 * Messages name the field or code and the HTTP status, quote at most 200 characters of a redacted
 * `error_description`, and never contain a credential value or a token. Raw bodies are kept nowhere
 * on the error, not even as `cause` (Powertools' Logger serialises `cause` whether enumerable or not).
 */
import type { ProviderConfig } from '../core/config.js';
import { type Clock, type Provider, systemClock } from '../core/ports.js';
import { ClientCredentialsProvider } from './client-credentials.js';
import { GitHubAppProvider } from './github-app.js';
import { HttpProvider } from './http.js';
import { JwtBearerProvider } from './jwt-bearer.js';
import { RefreshTokenProvider } from './refresh-token.js';
import type { FetchFunction } from './transport.js';

export {
  CLIENT_ASSERTION_LIFETIME_SECONDS,
  type TokenEndpointAuth,
  tokenEndpointAuth,
} from './client-auth.js';
export {
  ClientCredentialsProvider,
  type ClientCredentialsProviderConfig,
  parseClientCredentialsResponse,
} from './client-credentials.js';
export {
  APP_JWT_BACKDATE_SECONDS,
  APP_JWT_LIFETIME_SECONDS,
  GitHubAppProvider,
  type GitHubAppProviderConfig,
  installationTokenUrl,
  parseInstallationTokenResponse,
} from './github-app.js';
export {
  HttpProvider,
  type HttpProviderConfig,
  type HttpResponseConfig,
  parseHttpTokenResponse,
  substitutePlaceholders,
} from './http.js';
export { JWT_BEARER_GRANT_TYPE, JwtBearerProvider, type JwtBearerProviderConfig } from './jwt-bearer.js';
export { parseOAuthTokenResponse } from './oauth.js';
export { createRedactor, quoteServerText, REDACTED, type Redactor } from './redact.js';
export {
  parseRefreshTokenResponse,
  RefreshTokenProvider,
  type RefreshTokenProviderConfig,
} from './refresh-token.js';
export {
  classifyErrorResponse,
  MAX_BODY_BYTES,
  MAX_LIFETIME_SECONDS,
  MAX_RETRY_AFTER_SECONDS,
  type ParseContext,
  PERMANENT_OAUTH_ERRORS,
  parseRetryAfter,
  type RawResponse,
  TRANSIENT_OAUTH_ERRORS,
} from './response.js';
export { importSigningKey, MIN_RSA_MODULUS_BITS, type SigningKey, signJwt } from './signing-key.js';
export type { FetchFunction } from './transport.js';

/** What {@link createProvider} may be given besides the config. */
export interface CreateProviderOptions {
  /** The fetch to use. Default: the global `fetch`. */
  readonly fetch?: FetchFunction;
  /** For `Retry-After` dates and absolute expiries. Default: the system clock. */
  readonly clock?: Clock;
}

/** The {@link Provider} for a validated provider entry. Fits the core's `ProviderFactory`. */
export function createProvider(config: ProviderConfig, options: CreateProviderOptions = {}): Provider {
  const dependencies = {
    clock: options.clock ?? systemClock,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  switch (config.grant) {
    case 'client_credentials':
      return new ClientCredentialsProvider(config, dependencies);
    case 'refresh_token':
      return new RefreshTokenProvider(config, dependencies);
    case 'http':
      return new HttpProvider(config, dependencies);
    case 'jwt_bearer':
      return new JwtBearerProvider(config, dependencies);
    case 'github_app':
      return new GitHubAppProvider(config, dependencies);
    default: {
      const unknown: never = config;
      throw new Error(`Unsupported grant ${JSON.stringify((unknown as { grant?: unknown }).grant)}`);
    }
  }
}
