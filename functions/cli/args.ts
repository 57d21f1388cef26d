/**
 * The command line: `token-refresher <command> [argument] [options]`, parsed with `node:util`
 * `parseArgs` (strict: an unknown option or a missing value is a usage error), then checked per
 * command (each command accepts only the options that mean something to it).
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

export const COMMANDS = ['status', 'refresh', 'revoke', 'validate-config'] as const;
export type Command = (typeof COMMANDS)[number];

/** The stack the CLI reads its names from in AWS mode, unless `--stack` says otherwise. */
export const DEFAULT_STACK_NAME = 'TokenRefresher';

/** Options after parsing; absent strings stay `undefined`. */
export interface CliOptions {
  readonly json: boolean;
  readonly debug: boolean;
  /** AWS mode even when a local session runs in the working directory. */
  readonly aws: boolean;
  readonly stack: string;
  readonly region?: string;
  readonly endpoint?: string;
  readonly table?: string;
  /** The DynamoDB token table (`revoke` of a provider with `tokenStore: "dynamodb"`). */
  readonly tokenTable?: string;
  readonly secretPrefix?: string;
  readonly config?: string;
  readonly refreshFunction?: string;
}

export type CommandLine =
  | { readonly kind: 'help'; readonly text: string }
  | {
      readonly kind: 'command';
      readonly command: Command;
      /** The provider (`refresh`, `revoke`) or the file (`validate-config`). */
      readonly argument?: string;
      readonly options: CliOptions;
    };

const OPTION_SPECS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  aws: { type: 'boolean' },
  stack: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  table: { type: 'string' },
  'token-table': { type: 'string' },
  'secret-prefix': { type: 'string' },
  config: { type: 'string' },
  'refresh-function': { type: 'string' },
} as const;

type OptionName = keyof typeof OPTION_SPECS;

const COMMON: readonly OptionName[] = ['help', 'json', 'debug'];
const TARGET: readonly OptionName[] = ['aws', 'stack', 'region', 'endpoint', 'table', 'config'];

/** What each command accepts, and its positional argument (if any). */
const COMMAND_SPECS: Record<
  Command,
  { readonly options: readonly OptionName[]; readonly argument?: string; readonly usage: string }
> = {
  status: {
    options: [...COMMON, ...TARGET],
    usage: `Usage: token-refresher status [--json] [target options]

Every provider's state from the state table: state (ok, failing, needs attention, never refreshed,
refreshing, expired, no token), when the token expires, the last success, the last error code,
consecutive failures, the lease holder while a refresh runs, and when the next refresh is due.
Never prints a token. --json prints the same as JSON (times ISO-8601 UTC).

Providers come from the configuration: the local session's, --config, or the stack's ProviderNames
output.`,
  },
  refresh: {
    options: [...COMMON, ...TARGET, 'secret-prefix', 'refresh-function'],
    argument: 'provider',
    usage: `Usage: token-refresher refresh <provider> [--json] [target options]

Forces a refresh now, through the same lease and engine as the schedule: in local mode the refresh
handler runs in this process against the emulator; in AWS mode the refresh function is invoked
({"provider":"<provider>","force":true}, RequestResponse). A forced refresh also clears a permanent
failure (after you fixed its cause).

Exit code 0 when the provider has a fresh token (refreshed, or fresh), 1 when the refresh failed or
another refresh holds the lease (retry shortly).`,
  },
  revoke: {
    options: [...COMMON, ...TARGET, 'secret-prefix', 'token-table'],
    argument: 'provider',
    usage: `Usage: token-refresher revoke <provider> [--json] [target options]

Makes the current token unusable: writes {"status":"revoked","revokedAt":"<time>"} as the new
AWSCURRENT version of <prefix>/<provider>/token (compare-and-swap: it fails instead of hiding a token a
refresh wrote meanwhile) and marks the provider due, so the next scheduled run writes a new token.
Until then Secrets Manager readers get no token (token_not_ready) and the read function refreshes on
demand. The old version loses its staging labels (AWSPREVIOUS included), so no reader by label gets it;
Secrets Manager keeps it, unlabelled, readable by version id, until it deletes it. Caches may serve the
old token until 30 s before its expiry: revoke it at the provider too if it leaked. Run again after a
revoke that left the old token as AWSPREVIOUS: it removes the label.

A provider with tokenStore "dynamodb" keeps its token in the token table instead: revoke deletes its
item, conditional on the version read (it fails instead of deleting a token a refresh wrote
meanwhile), and marks the provider due. DynamoDB keeps no earlier version: the token is gone from the
table (its point-in-time recovery backups keep it for their recovery period). Readers of the table get
no token (token_not_ready) until the next refresh. The table is the session's <table>-tokens in local
mode, the stack output TokenTableName in AWS mode, or --token-table.`,
  },
  'validate-config': {
    options: COMMON,
    argument: 'file',
    usage: `Usage: token-refresher validate-config <file> [--json]

Validates a configuration file with the rules npm start, this CLI, the functions and cdk synth all
apply (the schema). Prints "OK: N providers (names)" or every problem on its own line, naming the
provider and the field. Then, in its own section, the deploy check that only cdk synth and cdk deploy
apply: the Secrets Manager write rate (local mode does not need it).

Exit codes: 0 valid, and the deploy check passes; 1 the schema refuses the file; 2 the file cannot be
read or is not JSON; 3 valid for npm start and the functions, but cdk synth refuses it (deploy check).`,
  },
};

const TARGET_HELP = `Target options (status, refresh, revoke):
  Local mode when \`npm start\` runs in this directory (it writes .token-refresher/local.json), or with
  --endpoint. Otherwise AWS mode: the default credential chain (AWS_PROFILE, AWS_REGION, SSO, ...) and
  the names from the deployed stack's outputs.
  --stack <name>             the deployed stack to read names from (default ${DEFAULT_STACK_NAME})
  --region <region>          AWS region (default: the SDK's, from AWS_REGION or the profile)
  --aws                      use AWS even when a local session runs in this directory
  --endpoint <url>           an AWS emulator such as moto (needs --table and --config)
  --table <name>             the state table (instead of the stack output or the session's)
  --config <file>            the configuration: provider names, and the secret prefix
  --secret-prefix <prefix>   the secret-name prefix (refresh, revoke)
  --token-table <name>       the DynamoDB token table (revoke)
  --refresh-function <name>  the refresh function (refresh, AWS mode)`;

export const GENERAL_USAGE = `Usage: token-refresher <command> [argument] [options]

Operates a token-refresher deployment: the local one while \`npm start\` runs here, else the AWS one.

Commands:
  status                   every provider's state: expiry, last success, last error, failures, lease
  refresh <provider>       force a refresh now (the same lease and engine as the schedule)
  revoke <provider>        make the current token unusable; the next refresh writes a new one
  validate-config <file>   validate a configuration file, with field-level messages
  help [command]           this text, or a command's

Options:
  --json                   machine-readable output on stdout
  --debug                  stack traces of unexpected errors, and the engine's log lines (local refresh)
  -h, --help               help (also after a command: token-refresher status --help)

${TARGET_HELP}

Exit codes: 0 success, 1 the operation failed (the message says what to do), 2 usage error or an
unreadable input file.`;

/** The help text of one command (its usage, then the options it accepts). */
export function commandUsage(command: Command): string {
  const spec = COMMAND_SPECS[command];
  const common = `Options:
  --json       machine-readable output on stdout
  --debug      stack traces of unexpected errors${command === 'refresh' ? ", and the engine's log lines (local mode)" : ''}
  -h, --help   this text`;
  return spec.options.includes('aws')
    ? `${spec.usage}\n\n${common}\n\n${TARGET_HELP}`
    : `${spec.usage}\n\n${common}`;
}

function isCommand(value: string | undefined): value is Command {
  return (COMMANDS as readonly string[]).includes(value ?? '');
}

type ParsedCommandLine = ReturnType<
  typeof parseArgs<{ options: typeof OPTION_SPECS; allowPositionals: true }>
>;
type OptionValues = ParsedCommandLine['values'];

/** The string options that, when given, must not be blank. */
const NON_EMPTY_OPTIONS = [
  'stack',
  'region',
  'endpoint',
  'table',
  'token-table',
  'secret-prefix',
  'config',
  'refresh-function',
] as const satisfies readonly OptionName[];

/**
 * Parse `argv` (without `node` and the script).
 * @throws UsageError with the usage text of the command (or the general one) to print
 */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const { values, positionals } = parseOptions(argv);
  const [name, ...rest] = positionals;
  if (name === undefined || name === 'help') return generalHelp(name, rest, values);
  if (!isCommand(name)) {
    throw new UsageError(`unknown command "${name}"; commands: ${COMMANDS.join(', ')}`, GENERAL_USAGE);
  }
  const usage = commandUsage(name);
  if (values.help) return { kind: 'help', text: usage };
  checkOptionsApply(name, values, usage);
  checkArgumentCount(name, rest, usage);
  checkOptionValues(values, usage);
  const [argument] = rest;
  return {
    kind: 'command',
    command: name,
    ...(argument === undefined ? {} : { argument }),
    options: cliOptions(values),
  };
}

/** `parseArgs`, strict; its error becomes a usage error with the usage of the command it names. */
function parseOptions(argv: readonly string[]): ParsedCommandLine {
  try {
    return parseArgs({ args: [...argv], options: OPTION_SPECS, allowPositionals: true, strict: true });
  } catch (error) {
    const guess = argv.find(isCommand);
    // parseArgs' messages name the option ("Unknown option '--jsn'. To specify a positional ...");
    // the first sentence says it all.
    throw new UsageError(
      (error as Error).message.split(/\.\s/)[0] ?? (error as Error).message,
      guess === undefined ? GENERAL_USAGE : commandUsage(guess),
    );
  }
}

/** No command (`--help` alone), or `help [command]`. */
function generalHelp(name: 'help' | undefined, rest: readonly string[], values: OptionValues): CommandLine {
  if (name === undefined) {
    if (values.help) return { kind: 'help', text: GENERAL_USAGE };
    throw new UsageError('no command given', GENERAL_USAGE);
  }
  const [topic] = rest;
  if (topic === undefined) return { kind: 'help', text: GENERAL_USAGE };
  if (!isCommand(topic)) throw new UsageError(`unknown command "${topic}"`, GENERAL_USAGE);
  return { kind: 'help', text: commandUsage(topic) };
}

/** Each command accepts only the options that mean something to it. */
function checkOptionsApply(command: Command, values: OptionValues, usage: string): void {
  const accepted = COMMAND_SPECS[command].options;
  const misplaced = (Object.keys(values) as OptionName[]).filter((option) => !accepted.includes(option));
  if (misplaced.length === 0) return;
  throw new UsageError(
    `${misplaced.map((option) => `--${option}`).join(', ')} does not apply to ${command}`,
    usage,
  );
}

/** A command takes its one positional argument, or none. */
function checkArgumentCount(command: Command, rest: readonly string[], usage: string): void {
  const argument = COMMAND_SPECS[command].argument;
  if (rest.length === (argument === undefined ? 0 : 1)) return;
  if (argument === undefined)
    throw new UsageError(`${command} takes no argument (got "${rest.join(' ')}")`, usage);
  if (rest.length === 0) throw new UsageError(`${command} needs a <${argument}>`, usage);
  throw new UsageError(`${command} takes one <${argument}> (got ${rest.length}: ${rest.join(' ')})`, usage);
}

/** String options are not blank; `--endpoint` is an http(s) URL and excludes `--aws`. */
function checkOptionValues(values: OptionValues, usage: string): void {
  for (const option of NON_EMPTY_OPTIONS) {
    if (values[option] !== undefined && values[option].trim() === '') {
      throw new UsageError(`--${option} needs a non-empty value`, usage);
    }
  }
  if (values.endpoint === undefined) return;
  if (values.aws) throw new UsageError('--aws and --endpoint exclude each other', usage);
  if (!/^https?:\/\/[^/\s]+/.test(values.endpoint)) {
    throw new UsageError(`--endpoint must be an http(s) URL such as http://127.0.0.1:5000`, usage);
  }
}

/** The checked values as {@link CliOptions}: defaults applied, absent strings left out. */
function cliOptions(values: OptionValues): CliOptions {
  return {
    json: values.json ?? false,
    debug: values.debug ?? false,
    aws: values.aws ?? false,
    stack: values.stack ?? DEFAULT_STACK_NAME,
    ...(values.region === undefined ? {} : { region: values.region }),
    ...(values.endpoint === undefined ? {} : { endpoint: values.endpoint.replace(/\/+$/, '') }),
    ...(values.table === undefined ? {} : { table: values.table }),
    ...(values['token-table'] === undefined ? {} : { tokenTable: values['token-table'] }),
    ...(values['secret-prefix'] === undefined ? {} : { secretPrefix: values['secret-prefix'] }),
    ...(values.config === undefined ? {} : { config: values.config }),
    ...(values['refresh-function'] === undefined ? {} : { refreshFunction: values['refresh-function'] }),
  };
}
