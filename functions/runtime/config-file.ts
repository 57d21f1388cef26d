/**
 * Reading a configuration file: the one loader that `npm start` and the CLI (`validate-config`,
 * `--config`, a local session's configuration) share, so that they apply the same rules — the schema
 * ({@link parseConfigText}), which is also what `cdk synth` and the functions apply — and report the
 * same problems. The deploy-only Secrets Manager write-rate check is not part of it
 * (`secretsManagerWriteRateProblems`, applied by `cdk synth` and reported apart by `validate-config`).
 */
import { readFileSync } from 'node:fs';
import type { RefresherConfig } from '../core/config.js';
import { ConfigFileError, parseConfigText } from '../core/config-text.js';

export { ConfigFileError };

/**
 * Read and validate a configuration file.
 * @throws ConfigFileError when the file cannot be read or is not JSON.
 * @throws ConfigError listing every problem of the schema, each naming the provider and field.
 */
export function loadConfigFile(path: string): RefresherConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (code ?? 'error');
    throw new ConfigFileError(`cannot read ${path}: ${reason}`, 'config_file_unreadable', { cause: error });
  }
  return parseConfigText(text, path);
}
