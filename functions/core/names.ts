/**
 * The names of what the stack creates and of what the functions, the CLI and local mode look up, in
 * one place: the construct (`infra/`) names the resources with these, the adapters
 * (`functions/aws`), the CLI (`functions/cli`) and local mode (`functions/local`) find them with
 * these. No AWS SDK import and no I/O, so that `cdk synth` loads this file instead of an SDK client.
 *
 * Secret names and the construct's derived names are part of a deployment's public contract
 * (test/infra/logical-ids.test.ts pins them): changing one replaces or orphans a user's resource.
 *
 * The consumer library (`functions/client`, built on its own with `rootDir` `functions/client`)
 * keeps its own copy of {@link tokenSecretName}.
 */
import { createHash } from 'node:crypto';

/** The secret prefix when the configuration names none (the config schema's default). */
export const DEFAULT_SECRET_PREFIX = 'token-refresher';

/** What a provider's secret holds: the token consumers read, or the client credentials. */
export type SecretKind = 'token' | 'credentials';

/** `<secretPrefix>/<provider>/<kind>`: the name of a secret the stack creates for a provider. */
export function secretName(secretPrefix: string, provider: string, kind: SecretKind): string {
  return `${secretPrefix}/${provider}/${kind}`;
}

/** The name of a provider's token secret: `<secretPrefix>/<provider>/token`. */
export function tokenSecretName(secretPrefix: string, provider: string): string {
  return secretName(secretPrefix, provider, 'token');
}

/** The name of a provider's credentials secret when the stack creates it: `<secretPrefix>/<provider>/credentials`. */
export function credentialsSecretName(secretPrefix: string, provider: string): string {
  return secretName(secretPrefix, provider, 'credentials');
}

/**
 * The IAM pattern of the random suffix Secrets Manager appends to a secret's name in its ARN
 * (`-` and six characters).
 */
export const SECRET_ARN_SUFFIX_PATTERN = '-??????';

/**
 * `<secretPrefix>/*\/<kind>-??????`: the ARN resource name that matches every token (or credentials)
 * secret of a prefix, and no secret of the other kind.
 */
export function secretArnNamePattern(secretPrefix: string, kind: SecretKind): string {
  return `${secretPrefix}/*/${kind}${SECRET_ARN_SUFFIX_PATTERN}`;
}

/**
 * The value the stack puts in a secret it creates, before the first token is written or before the
 * operator fills in the credentials. Any value that is not a valid record counts as "not set" too.
 */
export const PLACEHOLDER_SECRET_STRING = '{"status":"pending"}';

/** EventBridge Scheduler schedule names are at most 64 characters. */
export const MAX_SCHEDULE_NAME_LENGTH = 64;

/** The prefix of a provider's one-time (precise) schedule: `next-<provider>`. */
export const NEXT_RUN_SCHEDULE_PREFIX = 'next-';

/** The one-time schedule's name for a provider: `next-<provider>`, hashed when too long. */
export function nextRunScheduleName(provider: string): string {
  const name = `${NEXT_RUN_SCHEDULE_PREFIX}${provider}`;
  if (name.length <= MAX_SCHEDULE_NAME_LENGTH) return name;
  const hash = createHash('sha256').update(provider).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_SCHEDULE_NAME_LENGTH - 9)}-${hash}`;
}

/**
 * A physical name the construct derives from its unique path: the path's unique name cut to
 * `maxBaseLength` characters, then `suffix` (CDK `Names.uniqueResourceName`, separator `-`).
 */
export interface DerivedName {
  readonly maxBaseLength: number;
  readonly suffix: string;
}

/**
 * The schedule group of the recurring and the one-time schedules (at most 64 characters). Explicit,
 * so that IAM statements and cdk-nag acknowledgements can name it.
 */
export const SCHEDULE_GROUP_NAME: DerivedName = { maxBaseLength: 52, suffix: '-schedules' };

/**
 * The refresh function (at most 64 characters). Explicit, so that its own ARN can reach its
 * environment (the target of the one-time schedules) without a reference to itself.
 */
export const REFRESH_FUNCTION_NAME: DerivedName = { maxBaseLength: 56, suffix: '-refresh' };

/** The state/lock table's partition key (S): the provider's name. */
export const STATE_TABLE_PARTITION_KEY = 'provider';

/** The state/lock table's TTL attribute (N, epoch seconds). */
export const STATE_TABLE_TTL_ATTRIBUTE = 'ttl';

/**
 * The DynamoDB token store's table (`tokenStore: "dynamodb"`, functions/aws/dynamodb-token-store.ts),
 * created only when a provider uses it (at most 255 characters). Explicit, so that a consumer's
 * `GetItem` and its IAM statement can name it without a reference to this stack.
 */
export const TOKEN_TABLE_NAME: DerivedName = { maxBaseLength: 64, suffix: '-tokens' };

/** The token table's partition key (S): the provider's name, which `dynamodb:LeadingKeys` restricts. */
export const TOKEN_TABLE_PARTITION_KEY = 'provider';

/** Output keys of the `TokenRefresher` stack (infra/stack.ts) that the CLI reads. */
export const STACK_OUTPUTS = {
  tableName: 'StateTableName',
  secretPrefix: 'SecretPrefix',
  /** A JSON array of names; split over `ProviderNames2`, `ProviderNames3`, ... when long. */
  providerNames: 'ProviderNames',
  refreshFunctionName: 'RefreshFunctionName',
  /** The DynamoDB token table, when a provider has `tokenStore: "dynamodb"` (the client's `tableName`). */
  tokenTableName: 'TokenTableName',
} as const;
