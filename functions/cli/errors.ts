/**
 * The CLI's own failures. Each carries the process exit code; the message is printed as one line
 * `token-refresher: <message>` (no stack trace unless `--debug`). Messages never hold a token, a
 * refresh token or a secret.
 */

/**
 * Exit codes: 0 success, 1 the operation failed, 2 the command line or an input file is unusable,
 * 3 (`validate-config` only) the configuration is valid but the deploy check refuses it.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, deployCheck: 3 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** How to get AWS credentials, for the messages when there are none or AWS rejects them. */
export const CREDENTIALS_HINT =
  'provide AWS credentials: set AWS_PROFILE to a configured profile (aws configure), run ' +
  '`aws sso login --profile <name>` for an SSO profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY';

/** An operation failed in a way the operator can act on; the message says how. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failed,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The command line is wrong: printed with the usage text of the command, exit code 2. */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    /** The usage text to print after the message. */
    readonly usage: string,
  ) {
    super(message, EXIT.usage);
  }
}
