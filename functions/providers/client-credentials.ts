/** The `client_credentials` grant (RFC 6749 §4.4). */
import * as oauth from 'oauth4webapi';
import type { ProviderConfig } from '../core/config.js';
import { capabilitiesOf } from '../core/grants.js';
import type { Credentials, IssuedToken } from '../core/types.js';
import { BaseProvider } from './base.js';
import { tokenEndpointAuth } from './client-auth.js';
import { credentialValues, requireGrantCredentials } from './credentials.js';
import { parseOAuthTokenResponse, sendTokenRequest } from './oauth.js';
import type { ParseContext, RawResponse } from './response.js';

export type ClientCredentialsProviderConfig = Extract<ProviderConfig, { grant: 'client_credentials' }>;

/**
 * Validate a client_credentials token response: {@link parseOAuthTokenResponse}, except that a refresh
 * token is dropped (RFC 6749 §4.4.3: it should not be issued, and this grant never uses one).
 */
export function parseClientCredentialsResponse(
  response: RawResponse,
  context: ParseContext = {},
): IssuedToken {
  const { refreshToken: _ignored, ...token } = parseOAuthTokenResponse(response, context);
  return token;
}

/**
 * Asks for a token with the client's own credentials. Sends `scope`, `audience` and `resource`
 * (RFC 8707) when configured; authenticates with `client_secret_basic`, `client_secret_post` or
 * `private_key_jwt`.
 */
export class ClientCredentialsProvider extends BaseProvider<ClientCredentialsProviderConfig> {
  async requestToken(input: {
    readonly credentials: Credentials;
    readonly signal: AbortSignal;
  }): Promise<IssuedToken> {
    const config = this.config;
    const { clientId } = requireGrantCredentials(input.credentials, config);
    const parameters = new URLSearchParams();
    if (config.scope !== undefined) parameters.set('scope', config.scope);
    if (capabilitiesOf(config).supportsAudience && config.audience !== undefined) {
      parameters.set('audience', config.audience);
    }
    if (config.resource !== undefined) parameters.set('resource', config.resource);
    const { clientAuth, sent } = await tokenEndpointAuth(config, input.credentials, this.clock);
    const response = await sendTokenRequest({
      config,
      clientId,
      signal: input.signal,
      fetch: this.fetch,
      send: ({ as, client, options }) =>
        oauth.clientCredentialsGrantRequest(as, client, clientAuth, parameters, options),
    });
    return parseClientCredentialsResponse(response, {
      now: this.clock.now(),
      sensitive: [...credentialValues(input.credentials), ...sent],
    });
  }
}
