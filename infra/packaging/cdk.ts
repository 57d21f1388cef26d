/**
 * Builds the `@token-refresher/cdk` tarball the way published CDK construct libraries ship, in a
 * staging directory outside the repository:
 *
 * - `infra/` and `functions/`: the construct library, compiled by `tsc` (ESM + `.d.ts`) from its
 *   public API `infra/index.ts` and what it imports (the construct, the stack, the configuration
 *   schema and names of `functions/core`); not the repository's CDK app (`infra/app.ts`, which needs
 *   cdk-nag) nor this directory;
 * - `assets/refresh/` and `assets/read/`: the two Lambda bundles, built now by esbuild with the options
 *   `NodejsFunction` uses at synth in this repository (`BUNDLING` in infra/bundling.ts), which the
 *   compiled construct loads with `lambda.Code.fromAsset`: a user's `cdk synth` needs neither esbuild
 *   nor TypeScript;
 * - `bin/`: the operator CLI `token-refresher` (functions/cli/entry.ts) bundled by esbuild with its
 *   dependencies (AWS SDK included), split per command as the CLI loads its commands lazily: it runs
 *   on Node.js alone, without tsx or the package's dependencies;
 * - `THIRD-PARTY-LICENSES`: the license of every package bundled into `assets/` or `bin/`.
 *
 * `aws-cdk-lib` and `constructs` are peer dependencies (the user's app has its own, and one copy of
 * each must exist for constructs to compose); the only dependency is what the compiled library
 * imports besides them (zod). The build fails when the compiled imports and the declared
 * dependencies differ, or when a bundle imports a package it should have bundled.
 */

import { access, chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { type BuildOptions, build, type Metafile, type OutputFile } from 'esbuild';
import { BUNDLING, FUNCTION_BUNDLES } from '../bundling.js';
import { packStaged, REPO_ROOT, rangeOf, run } from './staging.js';

/** The package's name; `npm pack` names its tarball `token-refresher-cdk-<version>.tgz`. */
export const CDK_PACKAGE_NAME = '@token-refresher/cdk';

/** The library's public API, compiled with everything it imports. */
const LIBRARY_ENTRY = join(REPO_ROOT, 'infra', 'index.ts');
/** The CLI process (the repository's bin.mjs runs the same file through tsx). */
const CLI_ENTRY = join(REPO_ROOT, 'functions', 'cli', 'entry.ts');
/** The package's bin, relative to its root. */
export const CLI_BIN = 'bin/token-refresher.mjs';

/** Peer dependencies, with the range of the repository's package.json (the version its tests run). */
const CDK_PEER_DEPENDENCIES = ['aws-cdk-lib', 'constructs'] as const;
/** Dependencies: what the compiled library imports besides its peers and Node.js. */
const CDK_DEPENDENCIES = ['zod'] as const;

/** The oldest Node.js the CLI supports (package.json `engines`); the functions run on their runtime's. */
const CLI_TARGET = 'node20';

/** Makes `require` exist in an ESM bundle, for the bundled CommonJS code that calls it. */
const REQUIRE_BANNER = BUNDLING.banner;

export interface BuildCdkPackageOptions {
  /** Where the tarball goes (created if missing). */
  readonly outDir: string;
  /** The package version, e.g. `0.1.0`. */
  readonly version: string;
}

/**
 * Build the construct library in a staging directory under `os.tmpdir()` and write
 * `token-refresher-cdk-<version>.tgz` into `outDir`.
 * @returns the tarball's absolute path
 */
export async function buildCdkPackage(options: BuildCdkPackageOptions): Promise<string> {
  return packStaged(
    {
      stagingPrefix: 'token-refresher-cdk-',
      build: async (staging) => {
        await compileLibrary(staging);
        await checkLibraryImports(staging);
        const bundled = [...(await bundleFunctions(staging)), await bundleCli(staging)];
        await writeThirdPartyLicenses(staging, bundled);
      },
      manifest: () => cdkManifest(options.version),
      readme: join(REPO_ROOT, 'README.md'),
    },
    options.outDir,
  );
}

/** The package.json of the construct library. */
export async function cdkManifest(version: string): Promise<Record<string, unknown>> {
  const root = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as RootManifest;
  return {
    name: CDK_PACKAGE_NAME,
    version,
    description:
      'token-refresher as a CDK construct library: the TokenRefresher construct (EventBridge Scheduler, ' +
      'refresh and read Lambdas prebuilt, DynamoDB lease, Secrets Manager) and the token-refresher operator CLI.',
    keywords: [
      'aws-cdk',
      'cdk',
      'construct',
      'awscdk',
      'oauth2',
      'access-token',
      'secrets-manager',
      'lambda',
    ],
    license: root.license,
    type: 'module',
    engines: root.engines,
    main: './infra/index.js',
    types: './infra/index.d.ts',
    exports: {
      '.': { types: './infra/index.d.ts', default: './infra/index.js' },
      './package.json': './package.json',
    },
    bin: { 'token-refresher': CLI_BIN },
    files: ['infra', 'functions', 'assets', 'bin', 'THIRD-PARTY-LICENSES'],
    dependencies: Object.fromEntries(
      CDK_DEPENDENCIES.map((name) => [name, rangeOf(root, name, 'the library')]),
    ),
    peerDependencies: Object.fromEntries(
      CDK_PEER_DEPENDENCIES.map((name) => [name, rangeOf(root, name, 'the library')]),
    ),
  };
}

interface RootManifest {
  readonly license: string;
  readonly engines: Record<string, string>;
  readonly dependencies: Record<string, string>;
}

/**
 * `tsc` from {@link LIBRARY_ENTRY}: ESM + `.d.ts` of the files it reaches, under their repository
 * paths (`infra/`, `functions/core/`), so the compiled `infra/bundling.js` finds `assets/` at the
 * package root as the source file would in the repository.
 */
async function compileLibrary(staging: string): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'token-refresher-cdk-tsc-'));
  try {
    const tsconfig = join(work, 'tsconfig.json');
    await writeFile(
      tsconfig,
      JSON.stringify({
        extends: join(REPO_ROOT, 'tsconfig.json'),
        compilerOptions: {
          noEmit: false,
          rootDir: REPO_ROOT,
          outDir: staging,
          declaration: true,
          sourceMap: false,
          typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
        },
        files: [LIBRARY_ENTRY],
        include: [],
        exclude: [],
      }),
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', tsconfig], { cwd: REPO_ROOT });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const packaging = join(staging, 'infra', 'packaging');
  const app = join(staging, 'infra', 'app.js');
  for (const path of [packaging, app]) {
    if (await exists(path)) throw new Error(`${relative(staging, path)} must not be in the package`);
  }
}

/**
 * The packages the compiled library imports must be exactly its declared dependencies and peers
 * (Node.js built-ins aside): nothing undeclared, nothing declared for nothing.
 */
async function checkLibraryImports(staging: string): Promise<void> {
  const imported = new Set<string>();
  for (const file of await filesUnder(staging)) {
    if (!file.endsWith('.js')) continue;
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/(?:\bfrom|\bimport\s*\(?)\s*['"]([^'".][^'"]*)['"]/g)) {
      const specifier = match[1] ?? '';
      if (!isBuiltin(specifier)) imported.add(packageName(specifier));
    }
  }
  const declared = new Set<string>([...CDK_DEPENDENCIES, ...CDK_PEER_DEPENDENCIES]);
  const undeclared = [...imported].filter((name) => !declared.has(name));
  const unused = [...declared].filter((name) => !imported.has(name));
  if (undeclared.length > 0 || unused.length > 0) {
    throw new Error(
      `The library's imports and its declared dependencies differ: undeclared ${JSON.stringify(undeclared)}, ` +
        `declared but not imported ${JSON.stringify(unused)}`,
    );
  }
}

/**
 * Both Lambda bundles, as `NodejsFunction` makes them from {@link BUNDLING} (esbuild target derived
 * from the runtime as it does: `nodejs24.x` → `node24`). Built in memory as if written to
 * `<repo>/assets/<name>/`, so the source maps name the sources by their paths in the repository
 * (`../../functions/...`), not by this machine's temporary directories.
 */
async function bundleFunctions(staging: string): Promise<Metafile[]> {
  const runtimeVersion = /^nodejs(\d+)/.exec(BUNDLING.runtime.name)?.[1];
  if (runtimeVersion === undefined) throw new Error(`Unexpected runtime ${BUNDLING.runtime.name}`);
  const metafiles: Metafile[] = [];
  for (const { name, entry } of FUNCTION_BUNDLES) {
    const result = await build({
      ...COMMON_BUILD_OPTIONS,
      entryPoints: [entry],
      target: `node${runtimeVersion}`,
      outfile: join(REPO_ROOT, 'assets', name, 'index.mjs'),
      minify: BUNDLING.minify,
      sourcemap: BUNDLING.sourceMap,
      mainFields: [...BUNDLING.mainFields],
      external: [...BUNDLING.externalModules],
      banner: { js: BUNDLING.banner },
    });
    checkExternals(`assets/${name}`, result.metafile, (path) => path.startsWith('@aws-sdk/'));
    await writeOutputs(staging, result.outputFiles);
    metafiles.push(result.metafile);
  }
  return metafiles;
}

/**
 * The CLI: one ESM entry (`bin/token-refresher.mjs`, with its `#!` line) and chunks that each
 * command loads on first use (`--help` and `validate-config` do not load the AWS SDK). Everything
 * is bundled: it needs no `node_modules` of its own.
 */
async function bundleCli(staging: string): Promise<Metafile> {
  const result = await build({
    ...COMMON_BUILD_OPTIONS,
    entryPoints: { 'token-refresher': CLI_ENTRY },
    target: CLI_TARGET,
    outdir: join(REPO_ROOT, dirname(CLI_BIN)),
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    // The ES module builds first, as the functions are bundled: with the CommonJS build of an SDK
    // client inlined, its import() (the adapters load the SDK on first use) gives only `default`.
    mainFields: [...BUNDLING.mainFields],
    minify: true,
    banner: { js: REQUIRE_BANNER },
  });
  checkExternals('the CLI', result.metafile, () => false);
  const bin = join(REPO_ROOT, CLI_BIN);
  const outputs = result.outputFiles.map((file) =>
    file.path === bin ? { path: file.path, contents: `#!/usr/bin/env node\n${file.text}` } : file,
  );
  if (!outputs.some((file) => file.path === bin)) throw new Error(`esbuild wrote no ${CLI_BIN}`);
  await writeOutputs(staging, outputs);
  await chmod(join(staging, CLI_BIN), 0o755);
  return result.metafile;
}

const COMMON_BUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  absWorkingDir: REPO_ROOT,
  write: false,
  metafile: true,
  logLevel: 'warning',
} as const satisfies BuildOptions;

/** A bundle may leave external only Node.js built-ins and what `allowed` accepts. */
function checkExternals(what: string, metafile: Metafile, allowed: (path: string) => boolean): void {
  const externals = new Set(
    Object.values(metafile.outputs).flatMap((output) =>
      output.imports.filter((entry) => entry.external).map((entry) => entry.path),
    ),
  );
  const unexpected = [...externals].filter((path) => !isBuiltin(path) && !allowed(path));
  if (unexpected.length > 0) {
    throw new Error(`${what} imports ${JSON.stringify(unexpected)} at run time; they must be bundled`);
  }
}

/** Write esbuild's in-memory outputs (paths under the repository) to the same paths under `staging`. */
async function writeOutputs(
  staging: string,
  outputs: readonly (Pick<OutputFile, 'path'> & { readonly contents: Uint8Array | string })[],
): Promise<void> {
  for (const output of outputs) {
    const target = join(staging, relative(REPO_ROOT, output.path));
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, output.contents);
  }
}

/**
 * `THIRD-PARTY-LICENSES`: every package bundled into `assets/` or `bin/` (name, version, license) and
 * its license file (the MIT and Apache-2.0 licenses ask that their notice travel with copies); the
 * packages whose files are identical (the AWS SDK's) share one copy of the text.
 */
async function writeThirdPartyLicenses(staging: string, metafiles: readonly Metafile[]): Promise<void> {
  const packageDirs = new Set<string>();
  for (const metafile of metafiles) {
    for (const input of Object.keys(metafile.inputs)) {
      const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (match?.[1] !== undefined) packageDirs.add(match[1]);
    }
  }
  const byText = new Map<string, string[]>();
  for (const dir of [...packageDirs].sort()) {
    const { label, text } = await licenseOf(join(REPO_ROOT, dir));
    byText.set(text, [...(byText.get(text) ?? []), label]);
  }
  const sections = [...byText].map(([text, labels]) => `${labels.join('\n')}\n\n${text}`);
  const header =
    'The Lambda bundles (assets/) and the CLI (bin/) of @token-refresher/cdk include code of the ' +
    'following packages, under their own licenses.';
  await writeFile(
    join(staging, 'THIRD-PARTY-LICENSES'),
    `${header}\n\n${sections.join(`\n\n${'-'.repeat(78)}\n\n`)}\n`,
  );
}

/** A package's `name@version (license)` and the text of its license file. */
async function licenseOf(dir: string): Promise<{ label: string; text: string }> {
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
    license?: string;
  };
  const license = manifest.license ?? 'unknown';
  const file = (await readdir(dir)).find((name) => /^(licen[cs]e|copying)/i.test(name));
  const text =
    file === undefined
      ? `(no license file in the package; its package.json says ${license})`
      : (await readFile(join(dir, file), 'utf8')).trim();
  return { label: `${manifest.name}@${manifest.version} (${license})`, text };
}

/** `zod` for `zod/v4`, `@scope/name` for `@scope/name/sub`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || builtinModules.includes(specifier);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
