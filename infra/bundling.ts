/**
 * Bundling and configuration delivery: both functions are ESM bundles made by esbuild from this
 * repository, and both get the same configuration, in their environment or, when it is too large
 * for Lambda's 4 KB, as a file in the bundle.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Duration,
  type aws_iam as iam,
  aws_lambda as lambda,
  type aws_logs as logs,
  aws_lambda_nodejs as nodejs,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ProviderConfigInput } from '../functions/core/config.js';
import { ENV } from '../functions/core/env.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The refresh function's handler. */
export const REFRESH_ENTRY = join(REPO_ROOT, 'functions', 'refresh', 'handler.ts');
/** The read function's handler. */
export const READ_ENTRY = join(REPO_ROOT, 'functions', 'read', 'handler.ts');
const LOCK_FILE = join(REPO_ROOT, 'package-lock.json');

/** Above this size the configuration goes into a file in the bundle (Lambda env: 4 KB in total). */
export const MAX_INLINE_CONFIG_BYTES = 3_000;
/** The file name of the configuration in the bundle when it does not fit in the environment. */
export const PROVIDERS_CONFIG_FILE_NAME = 'providers-config.json';
/** Lambda's limit on the total size of a function's environment variables (keys and values). */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;

/** Variables both functions get. */
export const COMMON_ENVIRONMENT: Readonly<Record<string, string>> = { NODE_OPTIONS: '--enable-source-maps' };

/** How the configuration reaches a function: its environment variable, plus a bundle file if large. */
export interface ConfigDelivery {
  /** `PROVIDERS_CONFIG` (the JSON) or `PROVIDERS_CONFIG_FILE` (the file name in the bundle). */
  readonly environment: Readonly<Record<string, string>>;
  /** The file `afterBundling` copies into the bundle, when the JSON is over the inline limit. */
  readonly file?: string;
}

/** Inline up to {@link MAX_INLINE_CONFIG_BYTES}, else a file in the bundle (written once, shared). */
export function configDelivery(config: {
  readonly secretPrefix: string;
  readonly providers: readonly ProviderConfigInput[];
}): ConfigDelivery {
  const configJson = JSON.stringify(config);
  if (Buffer.byteLength(configJson, 'utf8') <= MAX_INLINE_CONFIG_BYTES) {
    return { environment: { [ENV.providersConfig]: configJson } };
  }
  return {
    environment: { [ENV.providersConfigFile]: PROVIDERS_CONFIG_FILE_NAME },
    file: writeConfigFile(configJson),
  };
}

export interface BundledFunctionProps {
  readonly entry: string;
  readonly functionName?: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly role: iam.IRole;
  readonly logGroup: logs.ILogGroup;
  /** The function's own variables; the configuration's and {@link COMMON_ENVIRONMENT} are added. */
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * A function of this service: Node.js 24 on arm64, an ESM bundle made by esbuild (SDK v3 external,
 * source maps), the configuration as {@link configDelivery} says.
 */
export function bundledFunction(
  scope: Construct,
  id: string,
  config: ConfigDelivery,
  props: BundledFunctionProps,
): nodejs.NodejsFunction {
  const { file } = config;
  return new nodejs.NodejsFunction(scope, id, {
    ...(props.functionName === undefined ? {} : { functionName: props.functionName }),
    description: props.description,
    entry: props.entry,
    projectRoot: REPO_ROOT,
    depsLockFilePath: LOCK_FILE,
    handler: 'handler',
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: props.memorySize,
    timeout: props.timeout,
    role: props.role,
    logGroup: props.logGroup,
    environment: { ...props.environment, ...config.environment, ...COMMON_ENVIRONMENT },
    bundling: {
      format: nodejs.OutputFormat.ESM,
      minify: true,
      sourceMap: true,
      mainFields: ['module', 'main'],
      // The runtime provides SDK v3; Powertools, zod and oauth4webapi are bundled.
      externalModules: ['@aws-sdk/*'],
      // Some bundled CommonJS code calls require(); an ESM bundle has none unless we create it.
      banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      ...(file === undefined
        ? {}
        : {
            commandHooks: {
              beforeBundling: () => [],
              beforeInstall: () => [],
              afterBundling: (_inputDir: string, outputDir: string) => [
                `cp "${file}" "${outputDir}/${PROVIDERS_CONFIG_FILE_NAME}"`,
              ],
            },
          }),
    },
  });
}

/** Bytes of a function's environment as Lambda counts them (keys and values, UTF-8). */
export function environmentBytes(environment: Readonly<Record<string, string>>): number {
  return Object.entries(environment).reduce(
    (total, [name, value]) => total + Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8'),
    0,
  );
}

/** The configuration file copied into the bundle by `afterBundling` (too big for the environment). */
function writeConfigFile(configJson: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'token-refresher-config-')), PROVIDERS_CONFIG_FILE_NAME);
  writeFileSync(path, configJson);
  return path;
}
