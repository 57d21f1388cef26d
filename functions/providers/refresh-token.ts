/** The `refresh_token` grant (RFC 6749 §6), rotation-aware. */
import * as oauth from 'oauth4webapi';
import type { ProviderConfig } from '../core/config.js';
import { ProviderError } from '../core/errors.js';
import type { Credentials, IssuedToken } from '../core/types.js';
import { BaseProvider } from './base.js';
import { tokenEndpointAuth } from './client-auth.js';
import { credentialValues, requireGrantCredentials } from './credentials.js';
import { parseOAuthTokenResponse, sendTokenRequest } from './oauth.js';
import type { ParseContext, RawResponse } from './response.js';

export type RefreshTokenProviderConfig = Extract<ProviderConfig, { grant: 'refresh_token' }>;

/**
 * Validate a refresh_token response: {@link parseOAuthTokenResponse}, with `refreshToken` set only when
 * the server rotated it, i.e. returned one different from `sentRefreshToken`. When the server returns
 * none (or the same one), the old refresh token stays valid and the engine keeps it (RFC 6749 §6).
 */
export function parseRefreshTokenResponse(
  response: RawResponse,
  context: ParseContext & { readonly sentRefreshToken: string },
): IssuedToken {
  let parsed: IssuedToken;
  try {
    parsed = parseOAuthTokenResponse(response, {
      ...context,
      sensitive: [...(context.sensitive ?? []), context.sentRefreshToken],
    });
  } catch (error) {
    // The same refresh token sent back is no rotation: nothing new to store.
    if (error instanceof ProviderError && error.rotatedRefreshToken === context.sentRefreshToken) {
      throw error.withoutRotatedRefreshToken();
    }
    throw error;
  }
  const { refreshToken, ...token } = parsed;
  return refreshToken === undefined || refreshToken === context.sentRefreshToken
    ? token
    : { ...token, refreshToken };
}

/**
 * Trades the stored refresh token for a new access token. A confidential client (with `clientSecret`,
 * or with `privateKey` for `private_key_jwt`) authenticates per `clientAuth`; a public client (no
 * `clientSecret`) sends `client_id` in the body (RFC 6749 §3.2.1).
 */
export class RefreshTokenProvider extends BaseProvider<RefreshTokenProviderConfig> {
  async requestToken(input: {
    readonly credentials: Credentials;
    readonly signal: AbortSignal;
  }): Promise<IssuedToken> {
    const config = this.config;
    const { credentials } = input;
    const { clientId, refreshToken } = requireGrantCredentials(credentials, config);
    const { clientAuth, sent } = await tokenEndpointAuth(config, credentials, this.clock);
    const additionalParameters = new URLSearchParams();
    if (config.scope !== undefined) additionalParameters.set('scope', config.scope);
    let response: RawResponse;
    try {
      response = await sendTokenRequest({
        config,
        clientId,
        signal: input.signal,
        fetch: this.fetch,
        send: ({ as, client, options }) =>
          oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, {
            ...options,
            additionalParameters,
          }),
      });
    } catch (error) {
      throw rotationOutcomeUnknown(error);
    }
    return parseRefreshTokenResponse(response, {
      now: this.clock.now(),
      sensitive: [...credentialValues(credentials), ...sent],
      sentRefreshToken: refreshToken,
    });
  }
}

/**
 * A refresh_token request that may have reached the server but got no answer (a timeout, a
 * connection lost after sending) becomes `rotation_outcome_unknown`, permanent: the server may have
 * rotated the refresh token into the void, and a strict server (OAuth 2.0 Security BCP §4.14.2)
 * revokes the whole grant, access tokens included, when the spent one is replayed. So nothing
 * replays it automatically: the current access token keeps being served until it expires, the
 * failure pages at once, and an operator decides (a forced refresh replays the refresh token once,
 * which works when the server never processed the call or grants a reuse period; see
 * docs/troubleshooting.md, "rotation_outcome_unknown").
 * Errors with a known outcome (an HTTP answer, a refused connection) pass through unchanged.
 */
export function rotationOutcomeUnknown(error: unknown): unknown {
  if (!(error instanceof ProviderError) || error.details.outcomeUnknown !== true) return error;
  return new ProviderError(
    `The refresh_token request got no answer (${error.code}) but may have reached the token endpoint, ` +
      'which may have rotated the refresh token; not replaying it automatically. Force a refresh to ' +
      'try the stored refresh token once, or re-seed it',
    'rotation_outcome_unknown',
    'permanent',
    { ...error.details, cause: error },
  );
}
