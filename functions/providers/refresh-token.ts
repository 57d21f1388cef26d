/** The `refresh_token` grant (RFC 6749 §6), rotation-aware. */
import * as oauth from 'oauth4webapi';
import type { ProviderConfig } from '../core/config.js';
import type { Credentials, IssuedToken } from '../core/types.js';
import { BaseProvider } from './base.js';
import {
  clientAuthentication,
  credentialValues,
  parseOAuthTokenResponse,
  requireCredential,
  sendTokenRequest,
} from './oauth.js';
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
  const { refreshToken, ...token } = parseOAuthTokenResponse(response, {
    ...context,
    sensitive: [...(context.sensitive ?? []), context.sentRefreshToken],
  });
  return refreshToken === undefined || refreshToken === context.sentRefreshToken
    ? token
    : { ...token, refreshToken };
}

/**
 * Trades the stored refresh token for a new access token. A confidential client (with `clientSecret`)
 * authenticates per `clientAuth`; a public client (no `clientSecret`) sends `client_id` in the body
 * (RFC 6749 §3.2.1).
 */
export class RefreshTokenProvider extends BaseProvider<RefreshTokenProviderConfig> {
  async requestToken(input: {
    readonly credentials: Credentials;
    readonly signal: AbortSignal;
  }): Promise<IssuedToken> {
    const config = this.config;
    const { credentials } = input;
    const clientId = requireCredential(credentials, 'clientId', config);
    const refreshToken = requireCredential(credentials, 'refreshToken', config);
    const secret = credentials.clientSecret;
    // An empty string counts as absent: the operator left the field blank for a public client.
    const clientSecret = typeof secret === 'string' && secret !== '' ? secret : undefined;
    const clientAuth = clientAuthentication(config, clientSecret);
    const additionalParameters = new URLSearchParams();
    if (config.scope !== undefined) additionalParameters.set('scope', config.scope);
    const response = await sendTokenRequest({
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
    return parseRefreshTokenResponse(response, {
      now: this.clock.now(),
      sensitive: credentialValues(credentials),
      sentRefreshToken: refreshToken,
    });
  }
}
