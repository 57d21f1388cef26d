/**
 * One typed way to read the environment: every problem names the variable, and all problems are
 * reported together at cold start. Pure: the environment comes in as a record, and the configuration
 * file (`PROVIDERS_CONFIG_FILE`) through a reader that the composition roots supply
 * (`functions/runtime/environment.ts`).
 */
import { parseCallerArn } from './access.js';
import { ConfigError, type RefresherConfig } from './config.js';
import { type ConfigParser, parseDeployedConfig } from './deployed-config.js';

/** Environment variables the infrastructure sets on the refresh and read functions. */
export const ENV = {
  /** The state/lock table's name. */
  tableName: 'TABLE_NAME',
  /** The DynamoDB token store's table (set when a provider has `tokenStore: "dynamodb"`). */
  tokenTableName: 'TOKEN_TABLE_NAME',
  /** The whole provider configuration as JSON (small configurations). */
  providersConfig: 'PROVIDERS_CONFIG',
  /** A JSON file with the configuration, relative to the function's code directory (large ones). */
  providersConfigFile: 'PROVIDERS_CONFIG_FILE',
  /** The schedule group of the one-time precise schedules (optional). */
  schedulerGroup: 'SCHEDULER_GROUP',
  /** The role EventBridge Scheduler assumes to invoke the refresh function (optional). */
  schedulerRoleArn: 'SCHEDULER_ROLE_ARN',
  /** The refresh function's own ARN, the target of the precise schedules (optional). */
  refreshFunctionArn: 'REFRESH_FUNCTION_ARN',
  /** The EventBridge bus (name or ARN) for state-change events (optional: none without it). */
  eventBusName: 'EVENT_BUS_NAME',
  /** Read function: the refresh function it invokes for on-demand refreshes (name or ARN). */
  refreshFunctionName: 'REFRESH_FUNCTION_NAME',
  /**
   * Read function (optional): consumers granted in code (`grantReadViaFunction`) on top of the
   * config's `consumers`, as JSON `{ "<provider>": ["arn:aws:iam::<account>:role/<name>", ...] }`.
   */
  extraConsumers: 'EXTRA_CONSUMERS',
} as const;

export interface RefreshEnvironment {
  readonly tableName: string;
  /** Set exactly when a provider has `tokenStore: "dynamodb"`. */
  readonly tokenTableName?: string;
  readonly config: RefresherConfig;
  /** Present only when all three precise-scheduling variables are set. */
  readonly precise?: {
    readonly group: string;
    readonly roleArn: string;
    readonly targetArn: string;
  };
  /** The bus for state-change events; none are published without it. */
  readonly eventBusName?: string;
}

/** Raised at cold start; the message names every missing or invalid variable. */
export class EnvironmentError extends Error {
  override readonly name = 'EnvironmentError';
  readonly code = 'ENVIRONMENT_INVALID';
}

type Env = Readonly<Record<string, string | undefined>>;

/** The text of the file `PROVIDERS_CONFIG_FILE` names; throws when it cannot be read. */
export type ConfigFileReader = (file: string) => string;

/** Where the values that are not in the environment itself come from. */
export interface EnvironmentSources {
  /**
   * Reads `PROVIDERS_CONFIG_FILE`. Without it only `PROVIDERS_CONFIG` (inline JSON) is accepted: the
   * core reads no files.
   */
  readonly readConfigFile?: ConfigFileReader;
  /**
   * How the configuration's JSON is validated. Default {@link parseDeployedConfig}: the shape check of
   * the normalized configuration the construct delivers (no zod in the Lambda bundles). Whoever hands
   * the functions a configuration a person wrote (the CLI's `--config`) passes the full schema,
   * `parseRefresherConfig` of `config-schema.ts`.
   */
  readonly parseConfig?: ConfigParser;
}

/** Read and validate the refresh function's environment. */
export function readRefreshEnvironment(env: Env, sources: EnvironmentSources = {}): RefreshEnvironment {
  const problems: string[] = [];
  const tableName = env[ENV.tableName]?.trim();
  if (!tableName) problems.push(`${ENV.tableName} is not set; it must name the state/lock DynamoDB table`);

  const config = readConfig(env, sources, problems);
  const tokenTableName = readTokenTableName(env, config, problems);

  const preciseValues = [ENV.schedulerGroup, ENV.schedulerRoleArn, ENV.refreshFunctionArn].map((name) =>
    env[name]?.trim(),
  );
  const setCount = preciseValues.filter(Boolean).length;
  if (setCount > 0 && setCount < 3) {
    problems.push(
      `${ENV.schedulerGroup}, ${ENV.schedulerRoleArn} and ${ENV.refreshFunctionArn} must be set together ` +
        `(precise scheduling) or not at all`,
    );
  }
  if (problems.length > 0 || tableName === undefined || config === undefined) {
    throw new EnvironmentError(`Invalid environment:\n  - ${problems.join('\n  - ')}`);
  }
  const [group, roleArn, targetArn] = preciseValues;
  const eventBusName = env[ENV.eventBusName]?.trim();
  return {
    tableName,
    ...(tokenTableName === undefined ? {} : { tokenTableName }),
    config,
    ...(group && roleArn && targetArn ? { precise: { group, roleArn, targetArn } } : {}),
    ...(eventBusName ? { eventBusName } : {}),
  };
}

/** `TOKEN_TABLE_NAME`: required when a provider's token is in the DynamoDB token store. */
function readTokenTableName(
  env: Env,
  config: RefresherConfig | undefined,
  problems: string[],
): string | undefined {
  const tokenTableName = env[ENV.tokenTableName]?.trim() || undefined;
  const needing = config?.providers.filter((provider) => provider.tokenStore === 'dynamodb') ?? [];
  if (tokenTableName === undefined && needing.length > 0) {
    problems.push(
      `${ENV.tokenTableName} is not set; it must name the DynamoDB token table of the providers with ` +
        `tokenStore "dynamodb" (${needing.map((provider) => provider.name).join(', ')})`,
    );
  }
  return tokenTableName;
}

function readConfig(env: Env, sources: EnvironmentSources, problems: string[]): RefresherConfig | undefined {
  const inline = env[ENV.providersConfig];
  const file = env[ENV.providersConfigFile];
  if (inline === undefined && file === undefined) {
    problems.push(`${ENV.providersConfig} (JSON) or ${ENV.providersConfigFile} (path) must be set`);
    return undefined;
  }
  const source = inline !== undefined ? ENV.providersConfig : `${ENV.providersConfigFile} (${file})`;
  let text = inline;
  if (text === undefined && file !== undefined) {
    if (sources.readConfigFile === undefined) {
      problems.push(`${source} is set, but this caller reads no files; set ${ENV.providersConfig} instead`);
      return undefined;
    }
    try {
      text = sources.readConfigFile(file);
    } catch {
      problems.push(`${source} cannot be read; it must name a JSON file in the function's code`);
      return undefined;
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text ?? '');
  } catch {
    problems.push(`${source} is not valid JSON`);
    return undefined;
  }
  try {
    return (sources.parseConfig ?? parseDeployedConfig)(json, source);
  } catch (error) {
    if (error instanceof ConfigError) {
      problems.push(...error.problems.map((problem) => `${source}: ${problem}`));
      return undefined;
    }
    throw error;
  }
}

/** Variables Lambda (or the AWS SDK's conventions) define, which the read function reads too. */
export const RUNTIME_ENV = {
  /** Set by Lambda: the function's name. Caller proofs must name it. */
  functionName: 'AWS_LAMBDA_FUNCTION_NAME',
  /** Set by Lambda: the region, whose STS endpoint checks caller proofs. */
  region: 'AWS_REGION',
  /** The SDK's per-service endpoint override: caller proofs go to this STS (an emulator) instead. */
  stsEndpoint: 'AWS_ENDPOINT_URL_STS',
  /** The SDK's endpoint override for every service. */
  endpoint: 'AWS_ENDPOINT_URL',
} as const;

/** The read function's environment. */
export interface ReadEnvironment {
  readonly config: RefresherConfig;
  /** Set exactly when a provider has `tokenStore: "dynamodb"`. */
  readonly tokenTableName?: string;
  /** The refresh function the read function invokes for on-demand refreshes. */
  readonly refreshFunctionName: string;
  /** Role ARNs allowed per provider: the config's `consumers` plus `EXTRA_CONSUMERS`. */
  readonly consumers: ReadonlyMap<string, readonly string[]>;
  /** `AWS_LAMBDA_FUNCTION_NAME` (always set on Lambda): the name caller proofs must be made for. */
  readonly functionName?: string;
  /** `AWS_REGION` (always set on Lambda). */
  readonly region?: string;
  /** `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`: the STS caller proofs go to instead of the regional one. */
  readonly stsEndpoint?: string;
}

/** Read and validate the read function's environment; every problem names its variable. */
export function readReadEnvironment(env: Env, sources: EnvironmentSources = {}): ReadEnvironment {
  const problems: string[] = [];
  const refreshFunctionName = env[ENV.refreshFunctionName]?.trim();
  if (!refreshFunctionName) {
    problems.push(
      `${ENV.refreshFunctionName} is not set; it must name the refresh function (on-demand refreshes)`,
    );
  }
  const config = readConfig(env, sources, problems);
  const tokenTableName = readTokenTableName(env, config, problems);
  const extra = readExtraConsumers(env[ENV.extraConsumers], config, problems);
  if (problems.length > 0 || refreshFunctionName === undefined || config === undefined) {
    throw new EnvironmentError(`Invalid environment:\n  - ${problems.join('\n  - ')}`);
  }
  const consumers = new Map<string, readonly string[]>(
    config.providers.map((provider) => [
      provider.name,
      [...provider.consumers, ...(extra.get(provider.name) ?? [])],
    ]),
  );
  return {
    config,
    ...(tokenTableName === undefined ? {} : { tokenTableName }),
    refreshFunctionName,
    consumers,
    ...runtimeValues(env),
  };
}

/** The runtime's variables the read function reads, each only when set. */
function runtimeValues(env: Env): Pick<ReadEnvironment, 'functionName' | 'region' | 'stsEndpoint'> {
  const functionName = env[RUNTIME_ENV.functionName]?.trim();
  const region = env[RUNTIME_ENV.region]?.trim();
  const stsEndpoint = (env[RUNTIME_ENV.stsEndpoint] ?? env[RUNTIME_ENV.endpoint])?.trim();
  return {
    ...(functionName ? { functionName } : {}),
    ...(region ? { region } : {}),
    ...(stsEndpoint ? { stsEndpoint } : {}),
  };
}

function readExtraConsumers(
  text: string | undefined,
  config: RefresherConfig | undefined,
  problems: string[],
): ReadonlyMap<string, readonly string[]> {
  const extra = new Map<string, readonly string[]>();
  if (text === undefined || text.trim() === '') return extra;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push(`${ENV.extraConsumers} is not valid JSON`);
    return extra;
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    problems.push(`${ENV.extraConsumers} must be a JSON object {"<provider>":["<role ARN>",...]}`);
    return extra;
  }
  const known = new Set(config?.providers.map((provider) => provider.name));
  for (const [provider, arns] of Object.entries(json)) {
    if (config !== undefined && !known.has(provider)) {
      problems.push(`${ENV.extraConsumers}.${provider}: not a configured provider`);
      continue;
    }
    if (
      !Array.isArray(arns) ||
      arns.some((arn) => typeof arn !== 'string' || parseCallerArn(arn).kind !== 'role')
    ) {
      problems.push(`${ENV.extraConsumers}.${provider}: must be a list of IAM role ARNs`);
      continue;
    }
    extra.set(provider, arns as string[]);
  }
  return extra;
}
