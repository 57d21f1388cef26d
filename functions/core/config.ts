/**
 * The provider configuration's constants, types and pure helpers. The zod schema itself (synth time,
 * `npm start` and the CLI) is `config-schema.ts`; this module imports no zod, so that the Lambda
 * bundles, which only check the already-normalized configuration the construct delivers
 * (`deployed-config.ts`), do not carry it. The types are the schema's output, imported as types only.
 */
import type * as z from 'zod';
import type { providerConfigSchema, refresherConfigSchema } from './config-schema.js';

/** `[a-z0-9-]{1,64}`: secret names and metric dimensions derive from it. */
export const PROVIDER_NAME_PATTERN = /^[a-z0-9-]{1,64}$/;

/**
 * Secrets Manager asks that a secret not be written more often than about once every 10 minutes,
 * sustained (every write is a version; versions younger than 24 h are never pruned).
 */
export const MIN_SECRET_WRITE_INTERVAL_SECONDS = 600;

/** The lead time is never less than this, whatever the config says. */
export const MIN_REFRESH_BEFORE_SECONDS = 60;

/**
 * The shortest `expectedLifetime`: 60 s tokens exist (and a provider that omits `expires_in` must be
 * describable, or its tokens are recorded as living longer than they do). Their lead time is half the
 * lifetime, 30 s ({@link effectiveRefreshBefore}).
 */
export const MIN_EXPECTED_LIFETIME_SECONDS = 60;

/** Default `requestTimeout` of the grants that can repeat a call safely. */
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 10;

/**
 * Default `requestTimeout` of `refresh_token` grants. A rotating call that times out cannot be
 * repeated safely: the server may have rotated the refresh token after the client gave up, and
 * replaying the spent one revokes the whole family (OAuth 2.0 Security BCP §4.14.2). A longer wait
 * makes "outcome unknown" rarer; 30 s keeps the refresh function's timeout at its 60 s minimum.
 */
export const DEFAULT_ROTATING_REQUEST_TIMEOUT_SECONDS = 30;

/** `requestTimeout` bounds (seconds). */
export const MIN_REQUEST_TIMEOUT_SECONDS = 1;
export const MAX_REQUEST_TIMEOUT_SECONDS = 60;

/** Where a token lives: the token secret, or a token table item (docs/limits.md, "Short-lived tokens"). */
export const TOKEN_STORES = ['secrets-manager', 'dynamodb'] as const;
export type TokenStoreKind = (typeof TOKEN_STORES)[number];

/**
 * How an OAuth client authenticates at the token endpoint: with its secret (RFC 6749 §2.3.1), or with
 * a JWT signed by its private key (`private_key_jwt`, RFC 7523 §2.2 as OpenID Connect Core §9 names it).
 */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** The presets of the `jwt_bearer` grant: where the assertion's fields come from. */
export const JWT_BEARER_PRESETS = ['google_service_account'] as const;
export type JwtBearerPreset = (typeof JWT_BEARER_PRESETS)[number];

/** Bounds of `assertion.lifetime` (seconds): Google accepts at most 1 h. */
export const MIN_ASSERTION_LIFETIME_SECONDS = 10;
export const MAX_ASSERTION_LIFETIME_SECONDS = 3600;

/** GitHub's REST API; a GitHub Enterprise Server's is `https://<host>/api/v3`. */
export const DEFAULT_GITHUB_API_BASE_URL = 'https://api.github.com';

/** The lead time actually used for a token of the given lifetime (seconds). */
export function effectiveRefreshBefore(refreshBeforeSeconds: number, lifetimeSeconds: number): number {
  return Math.min(Math.max(refreshBeforeSeconds, MIN_REFRESH_BEFORE_SECONDS), lifetimeSeconds / 2);
}

/** A validated provider entry. */
export type ProviderConfig = z.output<typeof providerConfigSchema>;
/** A provider entry as a user writes it (defaults not yet applied). */
export type ProviderConfigInput = z.input<typeof providerConfigSchema>;
export type GrantType = ProviderConfig['grant'];

/** A validated configuration: defaults applied, durations in seconds, GitHub ids as strings. */
export type RefresherConfig = z.output<typeof refresherConfigSchema>;
/** A configuration as a user writes it. */
export type RefresherConfigInput = z.input<typeof refresherConfigSchema>;

/** Raised when a configuration does not validate; the message lists every problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  constructor(
    message: string,
    readonly problems: readonly string[],
  ) {
    super(message);
  }
}

/** The deploy-only check (`cdk synth`): its home is `write-rate.ts`. */
export { secretsManagerWriteRateProblems } from './write-rate.js';
