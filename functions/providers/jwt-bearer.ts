/**
 * The `jwt_bearer` grant (RFC 7523 §2.1): a JWT signed with the provider's private key is the grant
 * (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`).
 *
 * Claims (RFC 7523 §3): `iss` and `sub` (default: the issuer) from `assertion`, `aud` =
 * `assertion.audience` or the token endpoint URL, `iat` from the injected clock, `exp` =
 * `iat` + `assertion.lifetime`, and a random `jti` per request.
 *
 * The `google_service_account` preset reads the service account's JSON key file, stored in the
 * credentials secret as Google hands it out: `client_email` is `iss`, `private_key` the key,
 * `private_key_id` the `kid`, and the scopes travel as the `scope` claim (as Google's OAuth 2.0
 * server-to-server flow asks); `sub` is set only when `assertion.subject` names a user to act as
 * (domain-wide delegation).
 *
 * No client authentication is sent (RFC 7523 §3.1 makes it optional); a `clientId` in the generic
 * grant's credentials is sent as `client_id` for servers that identify the client that way.
 */
import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';
import type { ProviderConfig } from '../core/config.js';
import { CredentialsError } from '../core/errors.js';
import type { Credentials, IssuedToken } from '../core/types.js';
import { BaseProvider } from './base.js';
import { credentialValues, requireCredential, requireGrantCredentials } from './credentials.js';
import { parseOAuthTokenResponse } from './oauth.js';
import { importSigningKey, type SigningKey, signJwt } from './signing-key.js';
import { guardedFetch, readResponse } from './transport.js';

export type JwtBearerProviderConfig = Extract<ProviderConfig, { grant: 'jwt_bearer' }>;

/** RFC 7523 §2.1. */
export const JWT_BEARER_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** The assertion's signing key, its claims, and the form parameters besides it. */
interface AssertionPlan {
  readonly signingKey: SigningKey;
  readonly claims: JWTPayload;
  readonly parameters: Readonly<Record<string, string>>;
}

/** Requests a token with a signed JWT assertion as the grant; see the module comment. */
export class JwtBearerProvider extends BaseProvider<JwtBearerProviderConfig> {
  async requestToken(input: {
    readonly credentials: Credentials;
    readonly signal: AbortSignal;
  }): Promise<IssuedToken> {
    const { credentials, signal } = input;
    const config = this.config;
    requireGrantCredentials(credentials, config);
    const issuedAt = Math.floor(this.clock.now() / 1000);
    const plan =
      config.preset === 'google_service_account'
        ? await googleServiceAccountPlan(config, credentials)
        : await genericPlan(config, credentials);
    const assertion = await signJwt(plan.signingKey, {
      ...plan.claims,
      aud: config.assertion.audience ?? config.tokenUrl,
      iat: issuedAt,
      exp: issuedAt + config.assertion.lifetime,
      jti: randomUUID(),
    });
    const body = new URLSearchParams({ grant_type: JWT_BEARER_GRANT_TYPE, assertion, ...plan.parameters });
    const send = guardedFetch(this.fetch, signal);
    const response = await send(config.tokenUrl, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
      body,
      redirect: 'manual',
      signal,
    });
    const raw = await readResponse(response, signal);
    // This grant never uses a refresh token: one in the answer is dropped, as for client_credentials.
    const { refreshToken: _ignored, ...token } = parseOAuthTokenResponse(raw, {
      now: this.clock.now(),
      sensitive: [...credentialValues(credentials), assertion],
    });
    return token;
  }
}

/** The generic grant: `iss`/`sub` from the config, the key from `privateKey` (and `kid`). */
async function genericPlan(
  config: JwtBearerProviderConfig,
  credentials: Credentials,
): Promise<AssertionPlan> {
  const issuer = config.assertion.issuer;
  // The schema requires `assertion.issuer` without a preset; this guards a config built by hand.
  if (issuer === undefined) {
    throw new CredentialsError(
      `Provider "${config.name}" has no assertion.issuer; set it in the configuration`,
    );
  }
  const kid = credentials.kid;
  const signingKey = await importSigningKey(requireCredential(credentials, 'privateKey', config), {
    provider: config.name,
    field: 'privateKey',
    ...(typeof kid === 'string' && kid !== '' ? { kid } : {}),
  });
  const clientId = credentials.clientId;
  return {
    signingKey,
    claims: { iss: issuer, sub: config.assertion.subject ?? issuer },
    parameters: {
      ...(config.scope === undefined ? {} : { scope: config.scope }),
      ...(typeof clientId === 'string' && clientId !== '' ? { client_id: clientId } : {}),
    },
  };
}

/** The Google preset: the service-account key file's fields, read as they are. */
async function googleServiceAccountPlan(
  config: JwtBearerProviderConfig,
  credentials: Credentials,
): Promise<AssertionPlan> {
  const fix = "store the service account's JSON key file as it is in the credentials secret";
  if (credentials.type !== undefined && credentials.type !== 'service_account') {
    throw new CredentialsError(
      `Credentials of provider "${config.name}" hold a key file whose "type" is not "service_account"; ` +
        `the google_service_account preset needs a service account key. Fix: ${fix}`,
    );
  }
  const tokenUri = credentials.token_uri;
  if (tokenUri !== undefined && tokenUri !== config.tokenUrl) {
    throw new CredentialsError(
      `The key file of provider "${config.name}" names "token_uri" ${JSON.stringify(tokenUri)}, but tokenUrl is ` +
        `${JSON.stringify(config.tokenUrl)}. Fix: set tokenUrl to the key file's token_uri`,
    );
  }
  const kid = credentials.private_key_id;
  const signingKey = await importSigningKey(requireCredential(credentials, 'private_key', config), {
    provider: config.name,
    field: 'private_key',
    ...(typeof kid === 'string' && kid !== '' ? { kid } : {}),
  });
  const { subject } = config.assertion;
  return {
    signingKey,
    claims: {
      iss: requireCredential(credentials, 'client_email', config),
      ...(subject === undefined ? {} : { sub: subject }),
      ...(config.scope === undefined ? {} : { scope: config.scope }),
    },
    parameters: {},
  };
}
