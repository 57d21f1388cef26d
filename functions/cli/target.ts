/**
 * Which deployment the CLI talks to, and the names it needs there.
 *
 * - **Local mode**: a running `npm start` in the working directory (its session file
 *   `.token-refresher/local.json` gives the emulator, region, table, secret prefix and configuration),
 *   or `--endpoint <url>` (an emulator; then `--table` and `--config` name the rest). Clients use the
 *   emulator's fixed test credentials.
 * - **AWS mode** otherwise: the SDK's default credential chain and region (`AWS_PROFILE`, `AWS_REGION`,
 *   SSO, ...); names come from the deployed stack's outputs (`StateTableName`, `SecretPrefix`,
 *   `ProviderNames`, `RefreshFunctionName`), read with one `DescribeStacks` when first needed.
 *
 * Explicit flags (`--table`, `--token-table`, `--secret-prefix`, `--config`, `--refresh-function`) win in
 * both modes. The DynamoDB token table is `<table>-tokens` in local mode (`npm start` names it after the
 * state table) and the stack output `TokenTableName` in AWS mode (present only when a provider has
 * `tokenStore: "dynamodb"`).
 */
import { resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import type { AwsClientConfig, EmulatorClientConfig } from '../aws/client-config.js';
import { awsErrorName } from '../aws/sdk-errors.js';
import { ConfigError, type RefresherConfig } from '../core/config.js';
import { credentialsSecretName, STACK_OUTPUTS } from '../core/names.js';
import {
  LOCAL_AWS_CREDENTIALS,
  type LocalSession,
  localTokenTableName,
  readLocalSession,
} from '../local/session.js';
import { ConfigFileError, loadConfigFile } from '../runtime/config-file.js';
import type { CliOptions } from './args.js';
import { CliError, CREDENTIALS_HINT, EXIT } from './errors.js';

/** Output keys of the `TokenRefresher` stack (infra/stack.ts) the CLI reads; their home is `core/names.ts`. */
export { STACK_OUTPUTS };

type Env = Readonly<Record<string, string | undefined>>;

/**
 * SDK client configuration for every client the CLI builds, always with a region. In AWS mode
 * `credentials` is the provider resolved once at start (so an SSO profile is resolved once, not once
 * per client).
 */
export type CliClientConfig = AwsClientConfig & { readonly region: string };

export interface TargetContext {
  readonly cwd: string;
  readonly env: Env;
}

/** The deployment the CLI operates on. Values a command does not need are never looked up. */
export type Target = LocalTarget | AwsTarget;

/** An emulator: the in-process refresh handler needs static (test) credentials. */
export interface LocalTarget extends TargetNames {
  readonly kind: 'local';
  readonly clientConfig: EmulatorClientConfig;
}

export interface AwsTarget extends TargetNames {
  readonly kind: 'aws';
  readonly clientConfig: CliClientConfig;
}

interface TargetNames {
  /** One line for stderr: which target is used. */
  readonly description: string;
  tableName(): Promise<string>;
  /**
   * The DynamoDB token table (providers with `tokenStore: "dynamodb"`).
   * @throws CliError naming `--token-table` when the stack has no `TokenTableName` output
   */
  tokenTableName(): Promise<string>;
  secretPrefix(): Promise<string>;
  providerNames(): Promise<readonly string[]>;
  /** The configuration when one is known (local mode, or `--config`). */
  config(): RefresherConfig | undefined;
  /** Local mode: absolute path of the configuration file the in-process refresh handler reads. */
  configFile(): string;
  /** AWS mode: the refresh function to invoke. */
  refreshFunctionName(): Promise<string>;
  /** Where a provider's credentials live (for hints; never read by the CLI). */
  credentialsSecretOf(provider: string): Promise<string>;
}

/**
 * Read and validate a configuration file with the loader `npm start` uses (the same rules); messages
 * name the file and every problem. An unreadable or non-JSON file is a usage error (exit 2).
 */
export function readConfig(path: string): RefresherConfig {
  try {
    return loadConfigFile(path);
  } catch (error) {
    if (error instanceof ConfigFileError) throw new CliError(error.message, EXIT.usage);
    if (error instanceof ConfigError) throw new CliError(error.message);
    throw error;
  }
}

/**
 * Pick the target: `--endpoint`, else a live local session (unless `--aws`), else AWS. In AWS mode
 * the region and credentials are resolved here, so that a missing profile is reported before any call.
 */
export async function resolveTarget(options: CliOptions, context: TargetContext): Promise<Target> {
  const configPath = options.config === undefined ? undefined : resolve(context.cwd, options.config);
  const fromFlag =
    configPath === undefined ? undefined : { config: readConfig(configPath), path: configPath };
  if (options.endpoint !== undefined) return endpointTarget(options.endpoint, options, context, fromFlag);
  const session = options.aws ? undefined : readLocalSession(context.cwd);
  if (session !== undefined) return sessionTarget(session, options, fromFlag);
  return awsTarget(options, context, fromFlag?.config);
}

/** A configuration given with `--config`, and its resolved path. */
interface ConfigFromFlag {
  readonly config: RefresherConfig;
  readonly path: string;
}

/** `--endpoint`: an emulator, with the table and the configuration named on the command line. */
function endpointTarget(
  endpoint: string,
  options: CliOptions,
  context: TargetContext,
  fromFlag: ConfigFromFlag | undefined,
): LocalTarget {
  if (options.table === undefined || fromFlag === undefined) {
    const missing = [
      options.table === undefined ? '--table' : undefined,
      fromFlag === undefined ? '--config' : undefined,
    ].filter((flag) => flag !== undefined);
    throw new CliError(
      `--endpoint needs ${missing.join(' and ')} (the emulator has no stack outputs to read them from)`,
      EXIT.usage,
    );
  }
  const region = options.region ?? context.env.AWS_REGION ?? context.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return localTarget({
    endpoint,
    region,
    tableName: options.table,
    tokenTableName: options.tokenTable ?? localTokenTableName(options.table),
    secretPrefix: options.secretPrefix ?? fromFlag.config.secretPrefix,
    config: fromFlag.config,
    configFile: fromFlag.path,
    origin: '--endpoint',
  });
}

/** A live `npm start` session in the working directory; command-line options override its names. */
function sessionTarget(
  session: LocalSession,
  options: CliOptions,
  fromFlag: ConfigFromFlag | undefined,
): LocalTarget {
  return localTarget({
    endpoint: session.awsEndpoint,
    region: options.region ?? session.region,
    tableName: options.table ?? session.tableName,
    tokenTableName: options.tokenTable ?? localTokenTableName(options.table ?? session.tableName),
    secretPrefix: options.secretPrefix ?? fromFlag?.config.secretPrefix ?? session.secretPrefix,
    config: fromFlag?.config ?? readConfig(session.configFile),
    configFile: fromFlag?.path ?? session.configFile,
    origin: `npm start, pid ${session.pid}`,
  });
}

function localTarget(input: {
  endpoint: string;
  region: string;
  tableName: string;
  tokenTableName: string;
  secretPrefix: string;
  config: RefresherConfig;
  configFile: string;
  origin: string;
}): LocalTarget {
  const names = input.config.providers.map((provider) => provider.name);
  return {
    kind: 'local',
    description: `local emulator at ${input.endpoint} (${input.origin}; table ${input.tableName})`,
    clientConfig: {
      endpoint: input.endpoint,
      region: input.region,
      credentials: LOCAL_AWS_CREDENTIALS,
      maxAttempts: 2,
    },
    tableName: async () => input.tableName,
    tokenTableName: async () => input.tokenTableName,
    secretPrefix: async () => input.secretPrefix,
    providerNames: async () => names,
    config: () => input.config,
    configFile: () => input.configFile,
    refreshFunctionName: async () => {
      throw new CliError('local mode runs the refresh handler in-process; there is no refresh function');
    },
    credentialsSecretOf: async (provider) => credentialsSecretOf(input.config, input.secretPrefix, provider),
  };
}

function credentialsSecretOf(config: RefresherConfig | undefined, prefix: string, provider: string): string {
  const arn = config?.providers.find((entry) => entry.name === provider)?.credentialsSecretArn;
  return arn ?? credentialsSecretName(prefix, provider);
}

async function awsTarget(
  options: CliOptions,
  context: TargetContext,
  config: RefresherConfig | undefined,
): Promise<AwsTarget> {
  const cloudFormation = new CloudFormationClient({
    ...(options.region === undefined ? {} : { region: options.region }),
    maxAttempts: 3,
  });
  let region: string;
  try {
    region = await cloudFormation.config.region();
  } catch (error) {
    throw new CliError(
      'no AWS region: set AWS_REGION, use a profile that has one (AWS_PROFILE), or pass --region ' +
        '(no token-refresher session runs in this directory, so the target is AWS)',
      EXIT.failed,
      { cause: error },
    );
  }
  try {
    await cloudFormation.config.credentials();
  } catch (error) {
    const profile = context.env.AWS_PROFILE;
    throw new CliError(
      `no usable AWS credentials${profile === undefined ? '' : ` for profile "${profile}"`} ` +
        `(${awsErrorName(error)}); ${CREDENTIALS_HINT}`,
      EXIT.failed,
      { cause: error },
    );
  }

  let outputs: Promise<readonly Output[]> | undefined;
  const stackOutputs = () => {
    outputs ??= describeStackOutputs(cloudFormation, options.stack, region);
    return outputs;
  };
  const fromStack = async (
    key: string,
    flag: string,
    why = 'deployed before the CLI existed?',
  ): Promise<string> => {
    const found = (await stackOutputs()).find((output) => output.OutputKey === key)?.OutputValue;
    if (found === undefined || found === '') {
      throw new CliError(
        `stack ${options.stack} has no ${key} output (${why}): redeploy it (npx cdk deploy), or pass ${flag}`,
      );
    }
    return found;
  };
  const secretPrefix = async () =>
    options.secretPrefix ?? config?.secretPrefix ?? fromStack(STACK_OUTPUTS.secretPrefix, '--secret-prefix');

  const endpointNote =
    context.env.AWS_ENDPOINT_URL === undefined
      ? ''
      : `, endpoint ${context.env.AWS_ENDPOINT_URL} (AWS_ENDPOINT_URL)`;
  const profileNote = context.env.AWS_PROFILE === undefined ? '' : `, profile ${context.env.AWS_PROFILE}`;
  return {
    kind: 'aws',
    description: `AWS account via the default credential chain, region ${region}${profileNote}${endpointNote} (stack ${options.stack})`,
    clientConfig: { region, credentials: cloudFormation.config.credentials },
    tableName: async () => options.table ?? fromStack(STACK_OUTPUTS.tableName, '--table'),
    tokenTableName: async () =>
      options.tokenTable ??
      fromStack(
        STACK_OUTPUTS.tokenTableName,
        '--token-table <name>',
        'it has one only when a deployed provider has tokenStore "dynamodb"',
      ),
    secretPrefix,
    providerNames: async () =>
      config === undefined
        ? parseProviderNames(await stackOutputs(), options.stack)
        : config.providers.map((provider) => provider.name),
    config: () => config,
    configFile: () => {
      throw new CliError('AWS mode invokes the refresh function; no configuration file is read');
    },
    refreshFunctionName: async () =>
      options.refreshFunction ?? fromStack(STACK_OUTPUTS.refreshFunctionName, '--refresh-function'),
    credentialsSecretOf: async (provider) => {
      const prefix = await secretPrefix().catch(() => '<prefix>');
      return credentialsSecretOf(config, prefix, provider);
    },
  };
}

async function describeStackOutputs(
  client: CloudFormationClient,
  stack: string,
  region: string,
): Promise<readonly Output[]> {
  try {
    const answer = await client.send(new DescribeStacksCommand({ StackName: stack }));
    return answer.Stacks?.[0]?.Outputs ?? [];
  } catch (error) {
    const name = awsErrorName(error);
    const message = error instanceof Error ? error.message : '';
    if (name === 'ValidationError' && /does not exist/i.test(message)) {
      throw new CliError(
        `stack ${stack} does not exist in region ${region}: deploy it (npx cdk deploy), or pass ` +
          '--stack <name> / --region <region> (or run `npm start` here for local mode)',
        EXIT.failed,
        { cause: error },
      );
    }
    throw error;
  }
}

/** The provider names from `ProviderNames` (and its continuations `ProviderNames2`, ...). */
export function parseProviderNames(outputs: readonly Output[], stack: string): string[] {
  const parts = outputs
    .filter((output) => /^ProviderNames\d*$/.test(output.OutputKey ?? ''))
    .sort((a, b) => partIndex(a.OutputKey) - partIndex(b.OutputKey));
  if (parts.length === 0) {
    throw new CliError(
      `stack ${stack} has no ${STACK_OUTPUTS.providerNames} output (deployed before the CLI existed?): ` +
        'redeploy it (npx cdk deploy), or pass --config <file> with the configuration it was deployed from',
    );
  }
  return parts.flatMap((output) => {
    let names: unknown;
    try {
      names = JSON.parse(output.OutputValue ?? '');
    } catch {
      names = undefined;
    }
    if (!Array.isArray(names) || names.some((name) => typeof name !== 'string')) {
      throw new CliError(`stack ${stack}: output ${output.OutputKey} is not a JSON array of names`);
    }
    return names as string[];
  });
}

function partIndex(key: string | undefined): number {
  const suffix = (key ?? '').slice(STACK_OUTPUTS.providerNames.length);
  return suffix === '' ? 1 : Number(suffix);
}

/** Throw a CliError naming the configured providers when `provider` is not one of them. */
export function checkProvider(provider: string, names: readonly string[]): void {
  if (names.includes(provider)) return;
  const shown = names.slice(0, 20).join(', ');
  const more = names.length > 20 ? ` and ${names.length - 20} more` : '';
  throw new CliError(
    `unknown provider "${provider.slice(0, 80)}"; configured: ${shown === '' ? '(none)' : `${shown}${more}`}`,
  );
}
