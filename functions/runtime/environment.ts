/**
 * The functions' environment as the composition roots load it: the variables, validated by
 * `core/env.ts`, and the configuration file `PROVIDERS_CONFIG_FILE` names, read here from the
 * function's code directory. The file I/O lives here so that the core stays free of it.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  type ConfigFileReader,
  type ReadEnvironment,
  type RefreshEnvironment,
  readReadEnvironment,
  readRefreshEnvironment,
} from '../core/env.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads a configuration file by path: absolute as given, relative from `baseDir`.
 * @param baseDir the function's code directory: `LAMBDA_TASK_ROOT` in Lambda, else the working directory.
 */
export function codeDirectoryReader(
  env: Env,
  baseDir = env.LAMBDA_TASK_ROOT ?? process.cwd(),
): ConfigFileReader {
  return (file) => readFileSync(isAbsolute(file) ? file : resolve(baseDir, file), 'utf8');
}

/** The refresh function's environment, `PROVIDERS_CONFIG_FILE` read from the code directory. */
export function loadRefreshEnvironment(env: Env, baseDir?: string): RefreshEnvironment {
  return readRefreshEnvironment(env, { readConfigFile: codeDirectoryReader(env, baseDir) });
}

/** The read function's environment, `PROVIDERS_CONFIG_FILE` read from the code directory. */
export function loadReadEnvironment(env: Env, baseDir?: string): ReadEnvironment {
  return readReadEnvironment(env, { readConfigFile: codeDirectoryReader(env, baseDir) });
}
