/**
 * `token-refresher validate-config <file>`: the rules every part applies — the configuration schema
 * through {@link loadConfigFile}, the loader `npm start` and the other commands use, so a file this
 * command accepts is one they accept — and, reported apart, the deploy check: the Secrets Manager
 * write rate, which only `cdk synth`/`cdk deploy` enforce.
 */
import { ConfigError, secretsManagerWriteRateProblems } from '../core/config.js';
import { ConfigFileError, loadConfigFile } from '../runtime/config-file.js';
import { CliError, EXIT, type ExitCode } from './errors.js';

/** The deploy-only check: `cdk synth` refuses a configuration with problems here; local mode does not. */
export interface DeployCheck {
  readonly ok: boolean;
  readonly problems: readonly string[];
}

export type ValidationOutcome =
  | {
      readonly ok: true;
      readonly file: string;
      readonly providers: readonly string[];
      readonly deployCheck: DeployCheck;
    }
  | { readonly ok: false; readonly file: string; readonly problems: readonly string[] };

/** What `cdk synth` says of the deploy check, in the human output and the README. */
export const DEPLOY_CHECK_LABEL = 'deploy check (cdk synth and cdk deploy only)';

/**
 * Validate a configuration file.
 * @throws CliError (exit 2) when the file cannot be read or is not JSON; the message gives the line,
 *   column and offset of the first JSON error.
 */
export function validateConfigFile(path: string): ValidationOutcome {
  let config: ReturnType<typeof loadConfigFile>;
  try {
    config = loadConfigFile(path);
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, file: path, problems: error.problems };
    if (error instanceof ConfigFileError) throw new CliError(error.message, EXIT.usage);
    throw error;
  }
  const deployProblems = secretsManagerWriteRateProblems(config);
  return {
    ok: true,
    file: path,
    providers: config.providers.map((provider) => provider.name),
    deployCheck: { ok: deployProblems.length === 0, problems: deployProblems },
  };
}

/**
 * Exit code: 0 valid everywhere; 1 the schema refuses it (nothing will run it); 3 it is valid for
 * `npm start`, the CLI and the functions, but `cdk synth` refuses it ({@link EXIT.deployCheck}).
 */
export function validationExitCode(outcome: ValidationOutcome): ExitCode {
  if (!outcome.ok) return EXIT.failed;
  return outcome.deployCheck.ok ? EXIT.ok : EXIT.deployCheck;
}

/** Human lines: the schema's verdict, then the deploy check in its own section. */
export function describeValidation(outcome: ValidationOutcome): string[] {
  const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;
  if (!outcome.ok) {
    return [
      `${outcome.file}: ${plural(outcome.problems.length, 'problem')}`,
      ...outcome.problems.map((problem) => `  - ${problem}`),
    ];
  }
  const count = outcome.providers.length;
  const valid = `OK: ${plural(count, 'provider')} (${outcome.providers.join(', ')})`;
  if (outcome.deployCheck.ok) return [valid, `${DEPLOY_CHECK_LABEL}: OK`];
  return [
    `${valid}; valid for npm start, the CLI and the functions`,
    `${DEPLOY_CHECK_LABEL}: ${plural(outcome.deployCheck.problems.length, 'problem')}; cdk synth refuses this configuration`,
    ...outcome.deployCheck.problems.map((problem) => `  - ${problem}`),
  ];
}
