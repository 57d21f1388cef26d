/**
 * The provider configuration's one zod schema, applied by the CDK app at synth time, by `npm start`
 * and by the CLI, so a bad config fails with a message that names the provider and field. The
 * construct delivers its output (defaults applied, durations in seconds) to the functions, which
 * check only its shape (`deployed-config.ts`, generated from this schema by `npm run generate`):
 * the Lambda bundles carry no zod. Constants and types live in `config.ts`.
 */
import * as z from 'zod';
import {
  CLIENT_AUTH_METHODS,
  ConfigError,
  DEFAULT_GITHUB_API_BASE_URL,
  DEFAULT_REQUEST_TIMEOUT_SECONDS,
  DEFAULT_ROTATING_REQUEST_TIMEOUT_SECONDS,
  JWT_BEARER_PRESETS,
  MAX_ASSERTION_LIFETIME_SECONDS,
  MAX_REQUEST_TIMEOUT_SECONDS,
  MIN_ASSERTION_LIFETIME_SECONDS,
  MIN_EXPECTED_LIFETIME_SECONDS,
  MIN_REFRESH_BEFORE_SECONDS,
  MIN_REQUEST_TIMEOUT_SECONDS,
  PROVIDER_NAME_PATTERN,
  type RefresherConfig,
  TOKEN_STORES,
} from './config.js';
import { iamRoleArnProblem } from './iam-arn.js';
import { DEFAULT_ON_DEMAND_REFRESHES_PER_HOUR, onDemandRefreshesPerHourProblem } from './on-demand-config.js';

export type {
  ProviderConfig,
  ProviderConfigInput,
  RefresherConfig,
  RefresherConfigInput,
} from './config.js';

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** What a duration is after parsing: whole seconds. */
const secondsSchema = z.number().int().nonnegative();

/**
 * A duration in seconds: a non-negative number of seconds, or a string such as `"90s"`, `"5m"`, `"1h"`.
 * The string's seconds are piped through {@link secondsSchema}, so that the output is describable
 * (the functions' shape check is generated from the output).
 */
export const durationSchema = z.union([
  secondsSchema,
  z
    .string()
    .regex(/^\d+(s|m|h|d)$/, 'must be a number of seconds or a string like "90s", "5m", "1h", "1d"')
    .transform((text) => {
      const unit = text.slice(-1);
      return Number(text.slice(0, -1)) * (DURATION_UNITS[unit] ?? 1);
    })
    .pipe(secondsSchema),
]);

const providerNameSchema = z
  .string()
  .regex(PROVIDER_NAME_PATTERN, 'must match [a-z0-9-]{1,64} (lower-case letters, digits and dashes)');

/** http(s) URL; plain http only for loopback hosts (local development and tests). */
const tokenUrlSchema = z.url({ protocol: /^https?$/ }).refine(
  (value) => {
    const url = new URL(value);
    return url.protocol === 'https:' || ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  },
  { message: 'must use https (plain http is allowed only for 127.0.0.1/localhost)' },
);

const scheduleSchema = z
  .string()
  .regex(
    /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$/,
    'must be an EventBridge Scheduler expression such as "rate(5 minutes)" or "cron(0/5 * * * ? *)"',
  );

/**
 * A consumer: an IAM role ARN in the grammar the read function's access policy applies
 * (`iam-arn.ts`), so that no accepted ARN fails the read function at cold start.
 */
const roleArnSchema = z.string().superRefine((value, ctx) => {
  const problem = iamRoleArnProblem(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const secretArnSchema = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+$/,
    'must be a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)',
  );

const commonFields = {
  name: providerNameSchema,
  /** Where the token lives. Default `secrets-manager`; `dynamodb` for tokens refreshed under every 10 min. */
  tokenStore: z.enum(TOKEN_STORES).default('secrets-manager'),
  /** An existing credentials secret; default: the stack creates `<prefix>/<name>/credentials`. */
  credentialsSecretArn: secretArnSchema.optional(),
  /** Lead time before expiry. Default 5 min; never below 1 min; at most half the token lifetime. */
  refreshBefore: durationSchema.default(300),
  /**
   * The lifetime the provider's tokens have. Used when a response has no `expires_in`, and at synth
   * time to check the Secrets Manager write rate. Default 1 h; at least 60 s.
   */
  expectedLifetime: durationSchema.default(3600),
  /** The safety-net cadence of the recurring schedule. Default `rate(5 minutes)`. */
  schedule: scheduleSchema.default('rate(5 minutes)'),
  /**
   * Timeout of one call to the token endpoint. Default 10 s (30 s for `refresh_token`, see
   * {@link DEFAULT_ROTATING_REQUEST_TIMEOUT_SECONDS}); between 1 s and 60 s.
   */
  requestTimeout: durationSchema.default(DEFAULT_REQUEST_TIMEOUT_SECONDS),
  /** IAM role ARNs allowed to read this provider's token through the read function. */
  consumers: z.array(roleArnSchema).default([]),
  /**
   * On-demand refreshes (a consumer reports its token was refused) happen at most once per this
   * interval per provider: the current token must be at least this old. Default 1 min; 10 s–1 h.
   */
  onDemandRefreshInterval: durationSchema.default(60),
  /**
   * At most this many refreshes per hour may be caused by reports of a refused token, per provider
   * (durable across containers). Default 4; 1–60; at most 6 for a grant that rotates its refresh
   * token, and at most 6 for any grant at synth time (Secrets Manager's write rate).
   */
  onDemandRefreshesPerHour: z.number().int().default(DEFAULT_ON_DEMAND_REFRESHES_PER_HOUR),
};

const oauthFields = {
  tokenUrl: tokenUrlSchema,
  /** How the client authenticates at the token endpoint. */
  clientAuth: z.enum(CLIENT_AUTH_METHODS).default('client_secret_basic'),
  /** Space-separated scopes to request. */
  scope: z.string().min(1).optional(),
};

/** `client_credentials`: RFC 6749 §4.4. */
export const clientCredentialsProviderSchema = z.object({
  ...commonFields,
  grant: z.literal('client_credentials'),
  ...oauthFields,
  /** Audience (sent as `audience`, as Auth0 and Okta expect). */
  audience: z.string().min(1).optional(),
  /** Resource indicator (RFC 8707, sent as `resource`). */
  resource: z.url().optional(),
});

/** `refresh_token`: RFC 6749 §6, rotation-aware. */
export const refreshTokenProviderSchema = z.object({
  ...commonFields,
  /** Default 30 s: a timed-out rotating call cannot be repeated safely (see the constant). */
  requestTimeout: durationSchema.default(DEFAULT_ROTATING_REQUEST_TIMEOUT_SECONDS),
  grant: z.literal('refresh_token'),
  ...oauthFields,
});

/** Dot-separated path into a JSON response, e.g. `data.token`. */
const jsonPathSchema = z
  .string()
  .regex(/^[\w-]+(\.[\w-]+)*$/, 'must be a dot-separated path such as "data.token"');

/** `http`: a custom JSON token endpoint. */
export const httpProviderSchema = z.object({
  ...commonFields,
  grant: z.literal('http'),
  request: z.object({
    method: z.enum(['GET', 'POST', 'PUT']).default('POST'),
    url: tokenUrlSchema,
    /** Header values may use `{{credentials.<field>}}` placeholders. */
    headers: z.record(z.string(), z.string()).default({}),
    /** JSON body; string values may use `{{credentials.<field>}}` placeholders. */
    body: z.record(z.string(), z.unknown()).optional(),
  }),
  response: z.object({
    /** Where the access token is. Default `access_token`. */
    tokenPath: jsonPathSchema.default('access_token'),
    /** Where the lifetime in seconds is, e.g. `expires_in`. */
    expiresInPath: jsonPathSchema.optional(),
    /** Where an absolute expiry (ISO-8601 or epoch seconds) is, e.g. `expires_at`. */
    expiresAtPath: jsonPathSchema.optional(),
    /** Where the token type is; default `Bearer` when absent. */
    tokenTypePath: jsonPathSchema.optional(),
  }),
});

/**
 * `jwt_bearer`: RFC 7523 §2.1, a JWT signed with the private key of the credentials secret is the
 * grant. Without a preset the config names the claims; the `google_service_account` preset takes them
 * from the service account's JSON key file, stored in the credentials secret as it is.
 */
export const jwtBearerProviderSchema = z
  .object({
    ...commonFields,
    grant: z.literal('jwt_bearer'),
    tokenUrl: tokenUrlSchema,
    /** Space-separated scopes: a `scope` parameter, or the `scope` claim with the Google preset. */
    scope: z.string().min(1).optional(),
    /** Where the assertion's issuer and key come from; none: `assertion.issuer` and `privateKey`. */
    preset: z.enum(JWT_BEARER_PRESETS).optional(),
    /** The claims of the assertion (RFC 7523 §3). */
    assertion: z
      .object({
        /** `iss`. Required without a preset; the Google preset uses the key file's `client_email`. */
        issuer: z.string().min(1).optional(),
        /** `sub`. Default: the issuer (with the Google preset: none, unless you set a user to act as). */
        subject: z.string().min(1).optional(),
        /** `aud`. Default: `tokenUrl`. */
        audience: z.string().min(1).optional(),
        /** How long the assertion is valid (`exp` − `iat`). Default 5 min; 10 s – 1 h. */
        lifetime: durationSchema.default(300),
      })
      .prefault({}),
  })
  .superRefine((provider, ctx) => {
    const { issuer, lifetime } = provider.assertion;
    if (provider.preset === undefined && issuer === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['assertion', 'issuer'],
        message:
          'is required (the "iss" of the signed assertion, often the client id the server gave you), ' +
          'unless "preset" is "google_service_account"',
      });
    }
    if (provider.preset !== undefined && issuer !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['assertion', 'issuer'],
        message: `must not be set with preset "${provider.preset}", which takes it from the key file's "client_email"; remove it`,
      });
    }
    if (lifetime < MIN_ASSERTION_LIFETIME_SECONDS || lifetime > MAX_ASSERTION_LIFETIME_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['assertion', 'lifetime'],
        message: `is ${lifetime} s; it must be between ${MIN_ASSERTION_LIFETIME_SECONDS} s and ${MAX_ASSERTION_LIFETIME_SECONDS} s (1 h)`,
      });
    }
  });

/** A GitHub App's id or client id; a number is piped through it as its digits. */
const appIdSchema = z
  .string()
  .regex(/^(\d{1,20}|Iv[\w.]{1,60})$/, 'must be the app id (digits) or its client id ("Iv…")');
const installationIdSchema = z.string().regex(/^\d{1,20}$/, 'must be the installation id (digits)');

/**
 * `github_app`: an installation access token of a GitHub App (POST
 * `{apiBaseUrl}/app/installations/{installationId}/access_tokens` with an RS256 app JWT).
 */
export const githubAppProviderSchema = z.object({
  ...commonFields,
  grant: z.literal('github_app'),
  /** The app's id (digits) or client id (`Iv…`): the app JWT's `iss`. */
  appId: z.union([z.number().int().positive().transform(String).pipe(appIdSchema), appIdSchema]),
  /** The installation whose token is wanted (in the installation's settings URL). */
  installationId: z.union([
    z.number().int().positive().transform(String).pipe(installationIdSchema),
    installationIdSchema,
  ]),
  /** The REST API root. Default `https://api.github.com`; GitHub Enterprise Server: `https://<host>/api/v3`. */
  apiBaseUrl: tokenUrlSchema.default(DEFAULT_GITHUB_API_BASE_URL),
  /** Restrict the token to these repositories (names, without the owner). Default: all of the installation's. */
  repositories: z
    .array(z.string().regex(/^[\w.-]{1,100}$/, 'must be a repository name without its owner, e.g. "my-repo"'))
    .min(1)
    .max(500)
    .optional(),
  /** Restrict the token to these permissions, e.g. `{ "contents": "read" }`. Default: all of the app's. */
  permissions: z
    .record(
      z.string().regex(/^[a-z_]{1,64}$/, 'must be a permission name such as "contents" or "pull_requests"'),
      z.enum(['read', 'write', 'admin']),
    )
    .optional(),
});

export const providerConfigSchema = z
  .discriminatedUnion(
    'grant',
    [
      clientCredentialsProviderSchema,
      refreshTokenProviderSchema,
      httpProviderSchema,
      jwtBearerProviderSchema,
      githubAppProviderSchema,
    ],
    {
      error: () => 'must be one of "client_credentials", "refresh_token", "http", "jwt_bearer", "github_app"',
    },
  )
  .superRefine((provider, ctx) => {
    if (provider.refreshBefore < MIN_REFRESH_BEFORE_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['refreshBefore'],
        message: `is ${provider.refreshBefore} s; it must be at least ${MIN_REFRESH_BEFORE_SECONDS} s`,
      });
    }
    if (provider.expectedLifetime < MIN_EXPECTED_LIFETIME_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['expectedLifetime'],
        message: `is ${provider.expectedLifetime} s; it must be at least ${MIN_EXPECTED_LIFETIME_SECONDS} s`,
      });
    }
    if (
      provider.requestTimeout < MIN_REQUEST_TIMEOUT_SECONDS ||
      provider.requestTimeout > MAX_REQUEST_TIMEOUT_SECONDS
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['requestTimeout'],
        message: `is ${provider.requestTimeout} s; it must be between ${MIN_REQUEST_TIMEOUT_SECONDS} s and ${MAX_REQUEST_TIMEOUT_SECONDS} s`,
      });
    }
    if (provider.onDemandRefreshInterval < 10 || provider.onDemandRefreshInterval > 3600) {
      ctx.addIssue({
        code: 'custom',
        path: ['onDemandRefreshInterval'],
        message: `is ${provider.onDemandRefreshInterval} s; it must be between 10 s and 1 h (3600 s)`,
      });
    }
    const budgetProblem = onDemandRefreshesPerHourProblem(provider);
    if (budgetProblem !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['onDemandRefreshesPerHour'], message: budgetProblem });
    }
  });

/** The whole configuration file. */
export const refresherConfigSchema = z
  .object({
    /** Prefix of every secret name: `<prefix>/<provider>/token`. Default `token-refresher`. */
    secretPrefix: z
      .string()
      .regex(
        /^[\w+=.@-]+(\/[\w+=.@-]+)*$/,
        'must be a secret-name prefix such as "token-refresher" or "prod/tokens"',
      )
      .default('token-refresher'),
    /**
     * Believe read requests that carry no caller proof: a Function URL event's `userArn`, and a direct
     * Invoke for any provider. Then anyone allowed `lambda:InvokeFunction` on the read function reads
     * every provider's token (docs/read-function.md, "Caller proof"). Default false.
     */
    trustDirectInvoke: z.boolean().default(false),
    providers: z.array(providerConfigSchema).min(1, 'must list at least one provider'),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.providers.forEach((provider, index) => {
      if (seen.has(provider.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['providers', index, 'name'],
          message: `"${provider.name}" is used twice; names must be unique`,
        });
      }
      seen.add(provider.name);
    });
  });

/** Format zod issues as `providers[1] (github).tokenUrl: must use https ...`, one per line. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string[] {
  return issues.map((issue) => `${issuePathLabel(issue.path, input) || 'config'}: ${issue.message}`);
}

/** `providers[1] (github).tokenUrl`: the path, with the `name` of each array item that has one. */
function issuePathLabel(path: readonly PropertyKey[], input: unknown): string {
  let label = '';
  let node: unknown = input;
  for (const segment of path) {
    node = isObject(node) ? node[segment] : undefined;
    if (typeof segment !== 'number') {
      label += label === '' ? String(segment) : `.${String(segment)}`;
      continue;
    }
    label += `[${segment}]`;
    const name = isObject(node) && 'name' in node ? node.name : undefined;
    if (typeof name === 'string') label += ` (${name})`;
  }
  return label;
}

function isObject(value: unknown): value is Record<PropertyKey, unknown> {
  return value !== null && typeof value === 'object';
}

/**
 * Validate a whole configuration. Throws {@link ConfigError} listing every problem, each naming the
 * provider and field.
 */
export function parseRefresherConfig(input: unknown, source = 'configuration'): RefresherConfig {
  const result = refresherConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = formatIssues(result.error.issues, input);
    throw new ConfigError(`Invalid ${source}:\n  - ${problems.join('\n  - ')}`, problems);
  }
  return result.data;
}

/**
 * The configuration as the construct delivers it to the functions (`PROVIDERS_CONFIG`, or the file
 * `PROVIDERS_CONFIG_FILE` names): {@link parseRefresherConfig}'s output as JSON, which the functions
 * check for its shape only (`deployed-config.ts`) and which parses to itself again.
 * @throws ConfigError as {@link parseRefresherConfig}.
 */
export function deployedConfigJson(input: unknown, source = 'providers'): string {
  return JSON.stringify(parseRefresherConfig(input, source));
}
