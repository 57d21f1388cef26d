/**
 * How an OAuth client authenticates at the token endpoint (`clientAuth`): with its secret
 * (`client_secret_basic`, `client_secret_post`; RFC 6749 §2.3.1) or with a client assertion signed by
 * its private key (`private_key_jwt`; RFC 7523 §2.2 and §3, OpenID Connect Core §9).
 *
 * The assertion is built and signed by oauth4webapi (`PrivateKeyJwt`) with the key imported in
 * `signing-key.ts`: `iss` = `sub` = the client id, `aud` = the token endpoint URL (RFC 7523 §3: the
 * token endpoint identifies the server), a random `jti` per request, `iat`/`nbf` from the injected
 * clock and `exp` {@link CLIENT_ASSERTION_LIFETIME_SECONDS} later. Every assertion sent is kept in
 * {@link TokenEndpointAuth.sent} so that the response validator redacts it from anything the server
 * echoes: it is a credential for its lifetime.
 */
import * as oauth from 'oauth4webapi';
import type { ProviderConfig } from '../core/config.js';
import type { Clock } from '../core/ports.js';
import type { Credentials } from '../core/types.js';
import { requireCredential } from './credentials.js';
import { clientAuthentication } from './oauth.js';
import { importSigningKey } from './signing-key.js';

/** How long a client assertion is valid: one request's worth, as oauth4webapi's default. */
export const CLIENT_ASSERTION_LIFETIME_SECONDS = 60;

type OAuthProviderConfig = Extract<ProviderConfig, { grant: 'client_credentials' | 'refresh_token' }>;

/** The client authentication of one token request, and the signed assertions it sent. */
export interface TokenEndpointAuth {
  readonly clientAuth: oauth.ClientAuth;
  /** Client assertions signed for the request (filled when the request is built): secrets. */
  readonly sent: readonly string[];
}

/**
 * The client authentication the provider's `clientAuth` names, with the credentials it needs (already
 * checked by `requireGrantCredentials`). A public `refresh_token` client (no `clientSecret`, or an
 * empty one) sends only its `client_id`.
 * @throws CredentialsError `credentials_invalid` for a missing or unusable key
 */
export async function tokenEndpointAuth(
  config: OAuthProviderConfig,
  credentials: Credentials,
  clock: Clock,
): Promise<TokenEndpointAuth> {
  if (config.clientAuth === 'private_key_jwt') return privateKeyJwtAuth(config, credentials, clock);
  const secret = credentials.clientSecret;
  // An empty string counts as absent: the operator left the field blank for a public client.
  const clientSecret = typeof secret === 'string' && secret !== '' ? secret : undefined;
  return { clientAuth: clientAuthentication(config, clientSecret), sent: [] };
}

/** `private_key_jwt` with the credentials' `privateKey` (PEM or JWK) and optional `kid`. */
async function privateKeyJwtAuth(
  config: OAuthProviderConfig,
  credentials: Credentials,
  clock: Clock,
): Promise<TokenEndpointAuth> {
  const privateKey = requireCredential(credentials, 'privateKey', config);
  const kid = credentials.kid;
  const signingKey = await importSigningKey(privateKey, {
    provider: config.name,
    field: 'privateKey',
    ...(typeof kid === 'string' && kid !== '' ? { kid } : {}),
  });
  const audience = new URL(config.tokenUrl).href;
  const signer = oauth.PrivateKeyJwt(
    { key: signingKey.key, ...(signingKey.kid === undefined ? {} : { kid: signingKey.kid }) },
    {
      [oauth.modifyAssertion]: (_header, payload) => {
        const issuedAt = Math.floor(clock.now() / 1000);
        payload.aud = audience;
        payload.iat = issuedAt;
        payload.nbf = issuedAt;
        payload.exp = issuedAt + CLIENT_ASSERTION_LIFETIME_SECONDS;
      },
    },
  );
  const sent: string[] = [];
  const clientAuth: oauth.ClientAuth = async (as, client, body, headers) => {
    await signer(as, client, body, headers);
    const assertion = body.get('client_assertion');
    if (assertion !== null) sent.push(assertion);
  };
  return { clientAuth, sent };
}
