/**
 * Bundling and configuration delivery: both functions are ESM bundles made by esbuild, and both get
 * the same configuration, in their environment or, when it is too large for Lambda's 4 KB, as a file
 * in the bundle.
 *
 * Where the bundles come from: in this repository, esbuild bundles `functions/` at synth
 * (`NodejsFunction`). The published `@token-refresher/cdk` ships them prebuilt with the same options
 * ({@link BUNDLING}) in `assets/<function>/` next to its compiled `infra/` (built by
 * `infra/packaging/cdk.ts`), and the functions load them with `lambda.Code.fromAsset`: a user's synth
 * needs neither esbuild nor TypeScript nor this repository's sources.
 */
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
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
import { deployedConfigJson } from '../functions/core/config-schema.js';
import { ENV } from '../functions/core/env.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The refresh function's handler. */
export const REFRESH_ENTRY = join(REPO_ROOT, 'functions', 'refresh', 'handler.ts');
/** The read function's handler. */
export const READ_ENTRY = join(REPO_ROOT, 'functions', 'read', 'handler.ts');
const LOCK_FILE = join(REPO_ROOT, 'package-lock.json');

/**
 * The prebuilt bundles of the published package: `assets/refresh/index.mjs` and
 * `assets/read/index.mjs` (with their source maps) at the package root, next to the compiled
 * `infra/`. Absent in this repository, where the functions are bundled from source.
 */
export const PREBUILT_ASSETS_DIR = join(REPO_ROOT, 'assets');

/** The two functions: the handler each is bundled from, and its directory under {@link PREBUILT_ASSETS_DIR}. */
export const FUNCTION_BUNDLES = [
  { name: 'refresh', entry: REFRESH_ENTRY },
  { name: 'read', entry: READ_ENTRY },
] as const;

/**
 * The esbuild options of both bundles, one source for the synth-time bundling (`NodejsFunction`) and
 * the package's prebuilt bundles: ESM for the Node.js runtime below (esbuild target `node24`, as
 * `NodejsFunction` derives it from the runtime), minified, with source maps, the AWS SDK v3 external.
 */
export const BUNDLING = {
  runtime: lambda.Runtime.NODEJS_24_X,
  architecture: lambda.Architecture.ARM_64,
  minify: true,
  sourceMap: true,
  mainFields: ['module', 'main'],
  // The runtime provides SDK v3; Powertools and oauth4webapi are bundled (zod is not: issue 17).
  externalModules: ['@aws-sdk/*'],
  // Some bundled CommonJS code calls require(); an ESM bundle has none unless we create it.
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
} as const;

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

/**
 * The configuration the functions get: `parseRefresherConfig`'s output (defaults applied, durations in
 * seconds, GitHub ids as strings), which they only check for its shape (`deployed-config.ts`), so that
 * their bundles carry no zod. Inline up to {@link MAX_INLINE_CONFIG_BYTES}, else a file in the bundle
 * (written once, shared).
 * @throws ConfigError when the configuration does not validate (the construct validated it already).
 */
export function configDelivery(config: {
  readonly secretPrefix?: string;
  readonly trustDirectInvoke?: boolean;
  readonly providers: readonly ProviderConfigInput[];
}): ConfigDelivery {
  const configJson = deployedConfigJson(config);
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
  /** Reserved concurrency (`ReservedConcurrentExecutions`); `undefined`: none, the account's pool. */
  readonly reservedConcurrentExecutions: number | undefined;
}

/**
 * A function of this service: Node.js 24 on arm64, an ESM bundle made by esbuild (SDK v3 external,
 * source maps), the configuration as {@link configDelivery} says. The bundle is the package's prebuilt
 * one when there is one ({@link PREBUILT_ASSETS_DIR}), else esbuild makes it from `props.entry`.
 */
export function bundledFunction(
  scope: Construct,
  id: string,
  config: ConfigDelivery,
  props: BundledFunctionProps,
): nodejs.NodejsFunction {
  const { file } = config;
  const common = {
    ...(props.functionName === undefined ? {} : { functionName: props.functionName }),
    description: props.description,
    runtime: BUNDLING.runtime,
    architecture: BUNDLING.architecture,
    memorySize: props.memorySize,
    timeout: props.timeout,
    role: props.role,
    logGroup: props.logGroup,
    environment: { ...props.environment, ...config.environment, ...COMMON_ENVIRONMENT },
    ...(props.reservedConcurrentExecutions === undefined
      ? {}
      : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
  };
  const prebuilt = prebuiltAssetDir(props.entry);
  if (prebuilt !== undefined) {
    return new nodejs.NodejsFunction(scope, id, {
      ...common,
      code: lambda.Code.fromAsset(file === undefined ? prebuilt : withConfigFile(prebuilt, file)),
      handler: 'index.handler',
    });
  }
  return new nodejs.NodejsFunction(scope, id, {
    ...common,
    entry: props.entry,
    projectRoot: REPO_ROOT,
    depsLockFilePath: LOCK_FILE,
    handler: 'handler',
    bundling: {
      format: nodejs.OutputFormat.ESM,
      minify: BUNDLING.minify,
      sourceMap: BUNDLING.sourceMap,
      mainFields: [...BUNDLING.mainFields],
      externalModules: [...BUNDLING.externalModules],
      banner: BUNDLING.banner,
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

/** The prebuilt bundle's directory for a handler entry, when this is the package and it has one. */
function prebuiltAssetDir(entry: string): string | undefined {
  const bundle = FUNCTION_BUNDLES.find((candidate) => candidate.entry === entry);
  if (bundle === undefined) return undefined;
  const dir = join(PREBUILT_ASSETS_DIR, bundle.name);
  return existsSync(join(dir, 'index.mjs')) ? dir : undefined;
}

/**
 * A prebuilt bundle plus the configuration file: a copy of the bundle's directory with
 * {@link PROVIDERS_CONFIG_FILE_NAME} added, staged once per content (bundle and configuration) in the
 * temporary directory. A copy is made under a unique name and renamed into place, so that two synths
 * at once never see a half-written directory.
 */
function withConfigFile(assetDir: string, configFile: string): string {
  const hash = createHash('sha256');
  for (const name of readdirSync(assetDir).sort()) {
    hash
      .update(name)
      .update('\0')
      .update(readFileSync(join(assetDir, name)))
      .update('\0');
  }
  hash.update(readFileSync(configFile));
  const root = join(tmpdir(), 'token-refresher-assets');
  const staged = join(root, hash.digest('hex').slice(0, 32));
  if (existsSync(join(staged, PROVIDERS_CONFIG_FILE_NAME))) return staged;
  mkdirSync(root, { recursive: true });
  const partial = mkdtempSync(join(root, 'partial-'));
  cpSync(assetDir, partial, { recursive: true });
  cpSync(configFile, join(partial, PROVIDERS_CONFIG_FILE_NAME));
  try {
    renameSync(partial, staged);
  } catch (error) {
    // Another synth staged the same content first: use its copy.
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(join(staged, PROVIDERS_CONFIG_FILE_NAME))) throw error;
  }
  return staged;
}

/** The configuration file copied into the bundle by `afterBundling` (too big for the environment). */
function writeConfigFile(configJson: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'token-refresher-config-')), PROVIDERS_CONFIG_FILE_NAME);
  writeFileSync(path, configJson);
  return path;
}
