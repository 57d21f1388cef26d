/**
 * The functions' environment as the composition roots load it: the variables, validated by
 * `core/env.ts`, and the configuration file `PROVIDERS_CONFIG_FILE` names, read here from the
 * function's code directory. The file I/O lives here so that the core stays free of it.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { ConfigParser } from '../core/deployed-config.js';
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

/** Where {@link loadRefreshEnvironment} and {@link loadReadEnvironment} look, and how they validate. */
export interface LoadOptions {
  /** The directory a relative `PROVIDERS_CONFIG_FILE` is in; see {@link codeDirectoryReader}. */
  readonly baseDir?: string;
  /**
   * Default: the shape check of the normalized configuration the construct delivers
   * (`parseDeployedConfig`), which keeps zod out of the Lambda bundles. A caller that hands over a
   * configuration a person wrote passes `parseRefresherConfig`.
   */
  readonly parseConfig?: ConfigParser;
}

/** The refresh function's environment, `PROVIDERS_CONFIG_FILE` read from the code directory. */
export function loadRefreshEnvironment(env: Env, options: LoadOptions = {}): RefreshEnvironment {
  return readRefreshEnvironment(env, sourcesOf(env, options));
}

/** The read function's environment, `PROVIDERS_CONFIG_FILE` read from the code directory. */
export function loadReadEnvironment(env: Env, options: LoadOptions = {}): ReadEnvironment {
  return readReadEnvironment(env, sourcesOf(env, options));
}

function sourcesOf(env: Env, { baseDir, parseConfig }: LoadOptions) {
  return {
    readConfigFile: codeDirectoryReader(env, baseDir),
    ...(parseConfig === undefined ? {} : { parseConfig }),
  };
}
