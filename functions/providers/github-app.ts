/**
 * The `github_app` grant: an installation access token of a GitHub App.
 *
 * 1. The app JWT, signed RS256 with the app's private key (credentials `privateKey`, the PEM GitHub
 *    hands out): `iss` = `appId`, `iat` backdated {@link APP_JWT_BACKDATE_SECONDS} against clock drift
 *    (as GitHub recommends), `exp` {@link APP_JWT_LIFETIME_SECONDS} after now (GitHub refuses more than
 *    10 minutes).
 * 2. `POST {apiBaseUrl}/app/installations/{installationId}/access_tokens` with that JWT as bearer and,
 *    when configured, `repositories` and `permissions` to narrow the token.
 * 3. The answer `{ token, expires_at }` (HTTP 201) becomes the token; its expiry is `expires_at`.
 *
 * Errors: 401 (the app JWT was refused: wrong app id or key, or a clock far off) is
 * `invalid_client`, permanent; 403 with an exhausted rate limit (`x-ratelimit-remaining: 0`) or a
 * `Retry-After` is `rate_limited`, transient; other 4xx are `http_<status>`, permanent (404: no such
 * installation; 422: more repositories or permissions than the installation has); 429, 408 and 5xx
 * are transient. GitHub's `message` is quoted redacted, at most 200 characters.
 */
import type { ProviderConfig } from '../core/config.js';
import { CredentialsError, ProviderError } from '../core/errors.js';
import type { Credentials, IssuedToken } from '../core/types.js';
import { BaseProvider } from './base.js';
import { credentialValues, requireGrantCredentials } from './credentials.js';
import { createRedactor, quoteServerText } from './redact.js';
import {
  checkExpiresAt,
  classifyErrorResponse,
  isJsonObject,
  isSuccessStatus,
  malformedResponse,
  type ParseContext,
  parseJsonBody,
  parseRetryAfter,
  type RawResponse,
  toHeaders,
} from './response.js';
import { importSigningKey, signJwt } from './signing-key.js';
import { guardedFetch, readResponse } from './transport.js';

export type GitHubAppProviderConfig = Extract<ProviderConfig, { grant: 'github_app' }>;

/** `iat` this far in the past: GitHub's recommendation against clock drift. */
export const APP_JWT_BACKDATE_SECONDS = 60;
/** `exp` this far ahead of now: under GitHub's 10-minute maximum, with a minute to spare for drift. */
export const APP_JWT_LIFETIME_SECONDS = 540;
/** The REST API version the request is written for. */
export const GITHUB_API_VERSION = '2022-11-28';

/** The installation-token endpoint of an API base URL (a trailing slash is tolerated). */
export function installationTokenUrl(
  config: Pick<GitHubAppProviderConfig, 'apiBaseUrl' | 'installationId'>,
): string {
  return `${config.apiBaseUrl.replace(/\/+$/, '')}/app/installations/${encodeURIComponent(config.installationId)}/access_tokens`;
}

/**
 * Validate the installation-token answer. Pure: no network, no clock unless `context.now` is omitted.
 * @throws ProviderError (see the module comment)
 */
export function parseInstallationTokenResponse(
  response: RawResponse,
  context: ParseContext = {},
): IssuedToken {
  const now = context.now ?? Date.now();
  const body = parseJsonBody(response.bodyText);
  const sensitive = [...(context.sensitive ?? [])];
  if (isJsonObject(body)) sensitive.push(body.token);
  const redact = createRedactor(sensitive);
  const { status } = response;
  if (!isSuccessStatus(status)) throw classifyGitHubError(response, body, { now, redact });
  if (!isJsonObject(body)) throw malformedResponse('the body is not a JSON object', status);
  const token = body.token;
  if (typeof token !== 'string' || token === '') {
    throw malformedResponse('"token" is missing or not a non-empty string', status);
  }
  const expiresAt = checkExpiresAt(body.expires_at, 'expires_at', status, now);
  if (expiresAt === undefined) throw malformedResponse('"expires_at" is missing', status);
  return { accessToken: token, tokenType: 'Bearer', expiresAt };
}

/** A GitHub error answer as a {@link ProviderError}. */
function classifyGitHubError(
  response: RawResponse,
  body: unknown,
  context: { readonly now: number; readonly redact: (text: string) => string },
): ProviderError {
  const { status } = response;
  const headers = toHeaders(response.headers);
  const message = isJsonObject(body) && typeof body.message === 'string' ? body.message : undefined;
  const said = message === undefined ? '' : ` ("${quoteServerText(message, context.redact)}")`;
  if (status === 401) {
    return new ProviderError(
      `GitHub answered HTTP 401${said}: the app JWT was refused. Fix: check appId and the app's private key ` +
        'in the credentials secret (privateKey), and that the clock is right',
      'invalid_client',
      'permanent',
      { status },
    );
  }
  if (status === 403 && (headers.get('x-ratelimit-remaining') === '0' || headers.has('retry-after'))) {
    const retryAfterSeconds = rateLimitResetSeconds(headers, context.now);
    return new ProviderError(
      `GitHub answered HTTP 403${said}: rate limited${retryAfterSeconds === undefined ? '' : `; retry after ${retryAfterSeconds} s`}`,
      'rate_limited',
      'transient',
      { status, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) },
    );
  }
  const classified = classifyErrorResponse(response, body, context);
  if (message === undefined) return classified;
  return new ProviderError(
    `${classified.message}${said}`,
    classified.code,
    classified.kind,
    classified.details,
  );
}

/** When the rate limit ends: `Retry-After`, else `x-ratelimit-reset` (epoch seconds). */
function rateLimitResetSeconds(headers: Headers, now: number): number | undefined {
  const retryAfter = parseRetryAfter(headers.get('retry-after'), now);
  if (retryAfter !== undefined) return retryAfter;
  const reset = Number(headers.get('x-ratelimit-reset'));
  if (!Number.isInteger(reset) || reset * 1000 <= now) return undefined;
  // At most an hour: GitHub's primary limit resets hourly.
  return Math.min(Math.ceil(reset - now / 1000), 3600);
}

/** Requests an installation access token; see the module comment. */
export class GitHubAppProvider extends BaseProvider<GitHubAppProviderConfig> {
  async requestToken(input: {
    readonly credentials: Credentials;
    readonly signal: AbortSignal;
  }): Promise<IssuedToken> {
    const { credentials, signal } = input;
    const config = this.config;
    const { privateKey } = requireGrantCredentials(credentials, config);
    const signingKey = await importSigningKey(privateKey, { provider: config.name, field: 'privateKey' });
    if (signingKey.alg !== 'RS256') {
      throw new CredentialsError(
        `Credentials field "privateKey" of provider "${config.name}" is not an RSA key; GitHub signs app JWTs with RS256 only. ` +
          "Fix: put the private key generated in the GitHub App's settings (a .pem file) in privateKey",
      );
    }
    const now = Math.floor(this.clock.now() / 1000);
    const appJwt = await signJwt(
      { key: signingKey.key, alg: 'RS256' },
      { iss: config.appId, iat: now - APP_JWT_BACKDATE_SECONDS, exp: now + APP_JWT_LIFETIME_SECONDS },
    );
    const narrowing = {
      ...(config.repositories === undefined ? {} : { repositories: config.repositories }),
      ...(config.permissions === undefined ? {} : { permissions: config.permissions }),
    };
    const hasBody = Object.keys(narrowing).length > 0;
    const send = guardedFetch(this.fetch, signal);
    const response = await send(installationTokenUrl(config), {
      method: 'POST',
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${appJwt}`,
        'user-agent': 'token-refresher',
        'x-github-api-version': GITHUB_API_VERSION,
        ...(hasBody ? { 'content-type': 'application/json' } : {}),
      },
      ...(hasBody ? { body: JSON.stringify(narrowing) } : {}),
      redirect: 'manual',
      signal,
    });
    const raw = await readResponse(response, signal);
    return parseInstallationTokenResponse(raw, {
      now: this.clock.now(),
      sensitive: [...credentialValues(credentials), appJwt],
    });
  }
}
