/**
 * The operator CLI: `npx token-refresher <command>` (the bin is `bin.mjs`; `npm run cli -- <command>`
 * runs this file with tsx). {@link run} does everything and returns the exit code, so tests call it
 * in-process with their own streams, working directory and clock.
 *
 * Output rules: results on stdout (JSON with `--json`), the target line and errors on stderr; an
 * error is one line `token-refresher: <message>` (a stack trace only with `--debug`). Nothing printed
 * holds a token, a refresh token or a secret: `status` reads only the state table, `revoke` never
 * prints the secret's value, and every error message is built from codes, names and versions.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { awsErrorName } from '../aws/sdk-errors.js';
import { RefresherError } from '../core/errors.js';
import { type Clock, systemClock } from '../core/ports.js';
import { type CliOptions, type Command, commandUsage, parseCommandLine } from './args.js';
import { CliError, CREDENTIALS_HINT, EXIT, type ExitCode, UsageError } from './errors.js';
import type { Target } from './target.js';

// The command modules load the AWS SDK clients and the engine: they are imported when a command
// needs them, so that --help, usage errors and validate-config start in under half the time.

/** Where output goes and what the CLI runs against; every field defaults to the process's own. */
export interface RunOptions {
  readonly cwd?: string;
  readonly stdout?: { write(text: string): unknown };
  readonly stderr?: { write(text: string): unknown };
  /** Read for messages and defaults (`AWS_PROFILE`, `AWS_REGION`); the AWS SDK reads `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly clock?: Clock;
}

interface Io {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clock: Clock;
  out(line: string): void;
  err(line: string): void;
}

/** Run one command line; resolves to the exit code (never throws, never calls `process.exit`). */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<ExitCode> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const io: Io = {
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? process.env,
    clock: options.clock ?? systemClock,
    out: (line) => stdout.write(`${line}\n`),
    err: (line) => stderr.write(`${line}\n`),
  };
  let debug = argv.includes('--debug');
  try {
    const commandLine = parseCommandLine(argv);
    if (commandLine.kind === 'help') {
      io.out(commandLine.text);
      return EXIT.ok;
    }
    debug = commandLine.options.debug;
    return await runCommand(commandLine.command, commandLine.argument, commandLine.options, io);
  } catch (error) {
    reportError(error, io, debug);
    return error instanceof CliError ? error.exitCode : EXIT.failed;
  }
}

async function runCommand(
  command: Command,
  argument: string | undefined,
  options: CliOptions,
  io: Io,
): Promise<ExitCode> {
  if (command === 'validate-config') {
    const { describeValidation, validateConfigFile, validationExitCode } = await import(
      './validate-config.js'
    );
    const file = resolve(io.cwd, argument ?? '');
    const outcome = validateConfigFile(file);
    if (options.json) io.out(JSON.stringify(outcome, null, 2));
    else for (const line of describeValidation(outcome)) io.out(line);
    return validationExitCode(outcome);
  }

  const { resolveTarget } = await import('./target.js');
  const target = await resolveTarget(options, { cwd: io.cwd, env: io.env });
  io.err(`target: ${target.description}`);
  switch (command) {
    case 'status':
      return status(target, options, io);
    case 'refresh':
      return refresh(target, argument ?? '', options, io);
    case 'revoke':
      return revoke(target, argument ?? '', options, io);
  }
}

async function status(target: Target, options: CliOptions, io: Io): Promise<ExitCode> {
  const { gatherStatus, renderStatusTable, statusJson } = await import('./status.js');
  const { rows, tableName } = await gatherStatus(target);
  const now = io.clock.now();
  if (options.json) {
    io.out(
      JSON.stringify(
        {
          target: target.kind,
          tableName,
          checkedAt: new Date(now).toISOString(),
          providers: statusJson(rows, now),
        },
        null,
        2,
      ),
    );
  } else {
    for (const line of renderStatusTable(rows, now)) io.out(line);
  }
  return EXIT.ok;
}

async function refresh(target: Target, provider: string, options: CliOptions, io: Io): Promise<ExitCode> {
  const { describeRefresh, forceRefresh, hintFor, refreshSucceeded } = await import('./refresh.js');
  const outcome = await forceRefresh(target, provider, {
    clock: io.clock,
    ...(options.debug ? { debugLog: (line: string) => io.err(line) } : {}),
  });
  const credentialsSecret = await target.credentialsSecretOf(provider);
  const succeeded = refreshSucceeded(outcome.result);
  if (options.json) {
    const { result } = outcome;
    io.out(
      JSON.stringify(
        {
          target: target.kind,
          ...result,
          ...(outcome.detail === undefined ? {} : { detail: outcome.detail }),
          ...(result.status === 'failed' ? { hint: hintFor(result, credentialsSecret) } : {}),
        },
        null,
        2,
      ),
    );
  } else {
    const lines = describeRefresh(outcome, io.clock.now(), { kind: target.kind, credentialsSecret });
    for (const line of lines) (succeeded ? io.out : io.err)(line);
  }
  return succeeded ? EXIT.ok : EXIT.failed;
}

async function revoke(target: Target, provider: string, options: CliOptions, io: Io): Promise<ExitCode> {
  const { describeRevoke, revokeToken } = await import('./revoke.js');
  const outcome = await revokeToken(target, provider, io.clock);
  if (options.json) {
    // The state item is shown only as what matters here: a permanent failure blocks the next run.
    const shown =
      outcome.status === 'revoked'
        ? (({ state, ...rest }) => ({
            ...rest,
            blockedBy: state?.lastErrorPermanent ? (state.lastErrorCode ?? 'unknown') : null,
          }))(outcome)
        : outcome;
    io.out(JSON.stringify({ target: target.kind, ...shown }, null, 2));
  } else {
    for (const line of describeRevoke(outcome)) io.out(line);
  }
  return EXIT.ok;
}

/** Credential problems of the AWS SDK, wherever they surface (directly, or as a wrapped cause). */
const CREDENTIAL_ERRORS = new Set([
  'CredentialsProviderError',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'InvalidSignatureException',
  'TokenRefreshRequired',
]);

function reportError(error: unknown, io: Io, debug: boolean): void {
  if (error instanceof UsageError) {
    io.err(`token-refresher: ${error.message}`);
    io.err('');
    io.err(error.usage);
    return;
  }
  const credentialError = causes(error).find((cause) => CREDENTIAL_ERRORS.has(awsErrorName(cause)));
  if (error instanceof CliError) {
    // Written for the operator: names the resource and the fix, never a secret.
    io.err(`token-refresher: ${error.message}`);
  } else if (credentialError !== undefined) {
    // Also when wrapped by an adapter (a StoreError "DynamoDB GetItem failed (ExpiredTokenException)").
    io.err(
      `token-refresher: AWS rejected the credentials (${awsErrorName(credentialError)}); ${CREDENTIALS_HINT}`,
    );
  } else if (error instanceof RefresherError) {
    // The adapters' messages name the resource and the fix, never a secret.
    io.err(`token-refresher: ${error.message}`);
  } else {
    const refused = causes(error).find(
      (cause) => (cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED',
    );
    io.err(
      refused === undefined
        ? `token-refresher: unexpected error (${awsErrorName(error)}: ${error instanceof Error ? error.message : String(error)})` +
            `${debug ? '' : '; run with --debug for the stack trace'}`
        : 'token-refresher: the endpoint refused the connection; is `npm start` (or the emulator) still running?',
    );
  }
  if (debug && error instanceof Error && error.stack !== undefined) io.err(error.stack);
}

/** The error and its `cause` chain (bounded). */
function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 8) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/** Help text of one command, for callers that want it (tests, docs). */
export { commandUsage };

/** The process entry point: `tsx functions/cli/main.ts <command>` and `bin.mjs`. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  process.exitCode = await run(argv);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void main();
}
