import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packStaged, REPO_ROOT, rangeOf, run } from './staging.js';

const CLIENT_SOURCE = join(REPO_ROOT, 'functions', 'client');

/** The package's name; `npm pack` names its tarball `token-refresher-client-<version>.tgz`. */
export const CLIENT_PACKAGE_NAME = '@token-refresher/client';

/** The entry points (as today's `exports` of the repository's package.json), to their compiled file. */
export const CLIENT_ENTRY_POINTS = {
  '.': 'index',
  './secrets-manager': 'secrets-manager',
  './read-function': 'read-function',
  './dynamodb': 'dynamodb',
} as const;

/**
 * Peer dependencies, all optional, each imported on first use only: the DynamoDB source's client, and
 * as fallbacks the Secrets Manager source's transport `sdk` and the SDK's credential chain where the
 * environment has no credentials (never on Lambda). 3.521.0 is the first AWS SDK release that takes `requestHandler`
 * options as a plain object (aws/aws-sdk-js-v3#5820), as `DEFAULT_SECRETS_MANAGER_CLIENT_CONFIG` and
 * `DEFAULT_DYNAMODB_CLIENT_CONFIG` do.
 */
export const CLIENT_PEER_DEPENDENCIES = {
  '@aws-sdk/client-dynamodb': '^3.521.0',
  '@aws-sdk/client-secrets-manager': '^3.521.0',
  '@aws-sdk/credential-provider-node': '^3.521.0',
} as const;

/** Dependencies, with the range of the repository's package.json (the version its tests run). */
const CLIENT_DEPENDENCIES = ['@smithy/signature-v4'] as const;

/**
 * Imports rewritten to a subpath import of the package (see the file comment): the emitted specifier,
 * the `#` name, and the ESM file a bundler's `module` condition gets.
 */
const BUNDLER_ESM_IMPORTS = [
  {
    file: 'signed-fetch.js',
    specifier: '@smithy/signature-v4',
    alias: '#smithy/signature-v4',
    esm: '@smithy/signature-v4/dist-es/index.js',
  },
] as const;

export interface BuildClientPackageOptions {
  /** Where the tarball goes (created if missing). */
  readonly outDir: string;
  /** The package version, e.g. `0.1.0`. */
  readonly version: string;
}

/**
 * Build the client package in a staging directory under `os.tmpdir()` and write
 * `token-refresher-client-<version>.tgz` into `outDir`.
 * @returns the tarball's absolute path
 */
export async function buildClientPackage(options: BuildClientPackageOptions): Promise<string> {
  return packStaged(
    {
      stagingPrefix: 'token-refresher-client-',
      build: async (staging) => {
        await compile(join(staging, 'dist'));
        await pointAtBundlerEsm(join(staging, 'dist'));
        await checkImports(join(staging, 'dist'));
      },
      manifest: () => clientManifest(options.version),
      readme: join(CLIENT_SOURCE, 'README.md'),
    },
    options.outDir,
  );
}

/** The package.json of the client package. */
export async function clientManifest(version: string): Promise<Record<string, unknown>> {
  const root = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    license: string;
    engines: Record<string, string>;
    dependencies: Record<string, string>;
  };
  const exports = Object.fromEntries(
    Object.entries(CLIENT_ENTRY_POINTS).map(([entry, file]) => [
      entry,
      { types: `./dist/${file}.d.ts`, default: `./dist/${file}.js` },
    ]),
  );
  return {
    name: CLIENT_PACKAGE_NAME,
    version,
    description:
      'Consumer client of token-refresher: read the access tokens its TokenRefresher stack keeps fresh, ' +
      'from Secrets Manager, DynamoDB or through its read function, with a per-container cache and withToken (retry after a 401).',
    keywords: ['aws', 'lambda', 'oauth2', 'access-token', 'secrets-manager', 'dynamodb', 'token-refresher'],
    license: root.license,
    type: 'module',
    sideEffects: false,
    engines: root.engines,
    main: './dist/index.js',
    types: './dist/index.d.ts',
    exports: { ...exports, './package.json': './package.json' },
    imports: Object.fromEntries(
      BUNDLER_ESM_IMPORTS.map(({ alias, esm, specifier }) => [alias, { module: esm, default: specifier }]),
    ),
    files: ['dist'],
    dependencies: Object.fromEntries(
      CLIENT_DEPENDENCIES.map((name) => [name, rangeOf(root, name, 'the client')]),
    ),
    peerDependencies: CLIENT_PEER_DEPENDENCIES,
    peerDependenciesMeta: Object.fromEntries(
      Object.keys(CLIENT_PEER_DEPENDENCIES).map((name) => [name, { optional: true }]),
    ),
  };
}

/** `tsc -p tsconfig.build.json` (ESM + .d.ts of functions/client) into `outDir`. */
async function compile(outDir: string): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  await run(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', outDir], {
    cwd: REPO_ROOT,
  });
}

/** Rewrite each {@link BUNDLER_ESM_IMPORTS} specifier; one that is not found exactly once fails the build. */
async function pointAtBundlerEsm(dist: string): Promise<void> {
  for (const { file, specifier, alias } of BUNDLER_ESM_IMPORTS) {
    const path = join(dist, file);
    const text = await readFile(path, 'utf8');
    const from = ` from '${specifier}';`;
    const count = text.split(from).length - 1;
    if (count !== 1) {
      throw new Error(`${file}: expected one import${from} to point at ${alias}, found ${count}`);
    }
    await writeFile(path, text.replace(from, ` from '${alias}';`));
  }
}

/**
 * The packages the emitted JavaScript imports must be exactly the declared dependencies and peers
 * (Node.js built-ins aside): nothing undeclared, nothing declared for nothing.
 */
async function checkImports(dist: string): Promise<void> {
  const imported = new Set<string>();
  for (const name of await readdir(dist)) {
    if (!name.endsWith('.js')) continue;
    const text = await readFile(join(dist, name), 'utf8');
    for (const match of text.matchAll(/(?:\bfrom|\bimport\s*\(?)\s*'([^'.][^']*)'/g)) {
      const specifier = match[1] ?? '';
      if (specifier.startsWith('node:')) continue;
      const alias = BUNDLER_ESM_IMPORTS.find((entry) => entry.alias === specifier);
      imported.add(alias?.specifier ?? specifier);
    }
  }
  const declared = new Set<string>([...CLIENT_DEPENDENCIES, ...Object.keys(CLIENT_PEER_DEPENDENCIES)]);
  const undeclared = [...imported].filter((name) => !declared.has(name));
  const unused = [...declared].filter((name) => !imported.has(name));
  if (undeclared.length > 0 || unused.length > 0) {
    throw new Error(
      `The client's imports and its declared dependencies differ: undeclared ${JSON.stringify(undeclared)}, ` +
        `declared but not imported ${JSON.stringify(unused)}`,
    );
  }
}
