/**
 * What each grant can do, declared once beside the config schema and read by the engine, the
 * providers and the construct, so that no module decides "this grant rotates a credential" by
 * comparing grant names.
 */
import type { ProviderConfig } from './config.js';

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
   * The credentials fields the grant cannot work without (besides those a template names): the
   * provider refuses credentials lacking one with `credentials_invalid`, naming the field.
   */
  readonly requiredCredentials: readonly string[];
}

export const GRANT_CAPABILITIES = {
  client_credentials: {
    rotatesCredential: false,
    supportsAudience: true,
    requiredCredentials: ['clientId', 'clientSecret'],
  },
  refresh_token: {
    rotatesCredential: true,
    supportsAudience: false,
    requiredCredentials: ['clientId', 'refreshToken'],
  },
  http: {
    rotatesCredential: false,
    supportsAudience: false,
    requiredCredentials: [],
  },
} as const satisfies Readonly<Record<Grant, GrantCapabilities>>;

/** The credentials fields grant `G` cannot work without, as a type. */
export type RequiredCredential<G extends Grant> =
  (typeof GRANT_CAPABILITIES)[G]['requiredCredentials'][number];

/** The capabilities of a provider's grant. */
export function capabilitiesOf(config: Pick<ProviderConfig, 'grant'>): GrantCapabilities {
  return GRANT_CAPABILITIES[config.grant];
}
