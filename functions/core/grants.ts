/**
 * What each grant can do, declared once beside the config schema and read by the engine, the
 * providers and the construct, so that no module decides "this grant rotates a credential" by
 * comparing grant names.
 */
import type { ClientAuthMethod, JwtBearerPreset, ProviderConfig } from './config.js';

export type Grant = ProviderConfig['grant'];

/** The capabilities of one grant type. */
export interface GrantCapabilities {
  /**
   * The provider may return a new credential (a rotated refresh token) that replaces the stored one:
   * the engine stores it before anything else, reads the credentials with recovery of an
   * interrupted write, and never replays a call whose outcome is unknown; the construct lets the
   * refresh function write the credentials secret.
   */
  readonly rotatesCredential: boolean;
  /** The config may name an `audience` to send with the token request. */
  readonly supportsAudience: boolean;
  /**
   * The credentials fields the grant cannot work without, whatever the client authentication (and
   * besides those a template or a preset names): the provider refuses credentials lacking one with
   * `credentials_invalid`, naming the field. {@link requiredCredentialsOf} adds the others.
   */
  readonly requiredCredentials: readonly string[];
  /**
   * Whether the grant authenticates the client at the token endpoint per `clientAuth`: `required`
   * (the credentials of the method must be there), `optional` (a public client sends only its
   * `client_id` when the secret is absent; `private_key_jwt` still needs its key) or `none` (the
   * grant has no `clientAuth`).
   */
  readonly clientAuthentication: 'required' | 'optional' | 'none';
}

/** The credentials field each client authentication method signs or authenticates with. */
export const CLIENT_AUTH_CREDENTIALS = {
  client_secret_basic: ['clientSecret'],
  client_secret_post: ['clientSecret'],
  // A PEM or JWK private key; `kid` is optional.
  private_key_jwt: ['privateKey'],
} as const satisfies Readonly<Record<ClientAuthMethod, readonly string[]>>;

/**
 * The credentials fields of a `jwt_bearer` provider: the generic grant signs with `privateKey`; a
 * preset reads its key file's own field names (Google's service-account JSON key, stored as it is).
 */
export const JWT_BEARER_CREDENTIALS = {
  generic: ['privateKey'],
  google_service_account: ['client_email', 'private_key'],
} as const satisfies Readonly<Record<JwtBearerPreset | 'generic', readonly string[]>>;

export const GRANT_CAPABILITIES = {
  client_credentials: {
    rotatesCredential: false,
    supportsAudience: true,
    requiredCredentials: ['clientId'],
    clientAuthentication: 'required',
  },
  refresh_token: {
    rotatesCredential: true,
    supportsAudience: false,
    requiredCredentials: ['clientId', 'refreshToken'],
    clientAuthentication: 'optional',
  },
  http: {
    rotatesCredential: false,
    supportsAudience: false,
    requiredCredentials: [],
    clientAuthentication: 'none',
  },
  jwt_bearer: {
    rotatesCredential: false,
    supportsAudience: false,
    // The key's field depends on the preset: see JWT_BEARER_CREDENTIALS.
    requiredCredentials: [],
    clientAuthentication: 'none',
  },
  github_app: {
    rotatesCredential: false,
    supportsAudience: false,
    requiredCredentials: ['privateKey'],
    clientAuthentication: 'none',
  },
} as const satisfies Readonly<Record<Grant, GrantCapabilities>>;

/** The credentials fields grant `G` cannot work without, as a type. */
export type RequiredCredential<G extends Grant> =
  (typeof GRANT_CAPABILITIES)[G]['requiredCredentials'][number];

/** The capabilities of a provider's grant. */
export function capabilitiesOf(config: Pick<ProviderConfig, 'grant'>): GrantCapabilities {
  return GRANT_CAPABILITIES[config.grant];
}

/**
 * Every credentials field a provider cannot work without, in the order they are checked: the grant's
 * own ({@link GrantCapabilities.requiredCredentials}), then its preset's, then its client
 * authentication's ({@link CLIENT_AUTH_CREDENTIALS}; a public `refresh_token` client needs no secret).
 */
export function requiredCredentialsOf(config: ProviderConfig): readonly string[] {
  const capabilities = capabilitiesOf(config);
  const fields: string[] = [...capabilities.requiredCredentials];
  if (config.grant === 'jwt_bearer') fields.push(...JWT_BEARER_CREDENTIALS[config.preset ?? 'generic']);
  if (config.grant === 'client_credentials' || config.grant === 'refresh_token') {
    const { clientAuth } = config;
    if (capabilities.clientAuthentication === 'required' || clientAuth === 'private_key_jwt') {
      fields.push(...CLIENT_AUTH_CREDENTIALS[clientAuth]);
    }
  }
  return fields;
}
