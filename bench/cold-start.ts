/**
 * Benchmark 2: read Lambda cold start.
 *
 * Both read handlers — ours (`functions/read/handler.ts`) and the Powertools-parameters equivalent
 * (`bench/powertools-read-handler.ts`) — are bundled with esbuild the way the construct bundles
 * functions (ESM, minified, `createRequire` banner), once with the AWS SDK external (as on the Lambda
 * runtime, which provides it) and once with the SDK bundled. Each bundle then starts in ≥ 20 fresh
 * `node` processes, pointed at moto server, that import it and answer one Function URL request
 * `GET /tokens/<provider>`; the time from process start to the first response is
 * `performance.now()` at that point (Node's time origin is the process start). The runs of the
 * variants are interleaved, so that drift of the machine hits all alike; one warm-up run per variant
 * (file cache) is discarded.
 *
 * Bundles go to `node_modules/.cache/token-refresher-bench/`, so that a bundle with the SDK external
 * resolves `@aws-sdk/*` from the project's `node_modules`, as the runtime would from its own.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { deployedConfigJson } from '../functions/core/config-schema.js';
import { bytesByPackage, externalImports, zodBytes } from './lib/bundle-contents.js';
import { type BenchCaller, benchCaller, CALLER_PROOF_HEADER } from './lib/caller.js';
import type { BenchContext } from './lib/context.js';
import { printTable, type Section, say, type Table } from './lib/report.js';
import { seedValidToken } from './lib/seed.js';
import { QUIET_SDK, spawnProbe } from './lib/spawn-probe.js';
import { bytes, fixed, int, median, quantile, ratio } from './lib/stats.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'token-refresher-bench');
const PREFIX = 'bench-cold';
const PROVIDER = 'bench';
/** The construct's banner: some bundled CommonJS code calls require(). */
const BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

interface Variant {
  readonly key: string;
  readonly handler: 'ours' | 'powertools';
  readonly entry: string;
  readonly sdk: 'external' | 'bundled';
  /** As deployed: a source map next to the bundle and `NODE_OPTIONS=--enable-source-maps`. */
  readonly sourceMaps: boolean;
}

interface Built extends Variant {
  readonly file: string;
  readonly size: number;
  readonly gzipSize: number;
  readonly metafile: Metafile;
}

interface Run {
  /** `performance.now()` in the child after the import (module init done). */
  readonly initMs: number;
  /** `performance.now()` in the child when the first response is back. */
  readonly firstResponseMs: number;
  /** Measured by this process: spawn to the result line. */
  readonly spawnToResponseMs: number;
}

const VARIANTS: readonly Variant[] = [
  {
    key: 'ours-external',
    handler: 'ours',
    entry: 'functions/read/handler.ts',
    sdk: 'external',
    sourceMaps: false,
  },
  {
    key: 'powertools-external',
    handler: 'powertools',
    entry: 'bench/powertools-read-handler.ts',
    sdk: 'external',
    sourceMaps: false,
  },
  {
    key: 'ours-bundled',
    handler: 'ours',
    entry: 'functions/read/handler.ts',
    sdk: 'bundled',
    sourceMaps: false,
  },
  {
    key: 'powertools-bundled',
    handler: 'powertools',
    entry: 'bench/powertools-read-handler.ts',
    sdk: 'bundled',
    sourceMaps: false,
  },
  {
    key: 'ours-deployed',
    handler: 'ours',
    entry: 'functions/read/handler.ts',
    sdk: 'external',
    sourceMaps: true,
  },
];

/** Imports the bundle, answers one request, prints the timings, exits (SDK sockets stay open). */
const PROBE = `import { pathToFileURL } from 'node:url';
const [bundle, eventJson] = process.argv.slice(2);
const { handler } = await import(pathToFileURL(bundle).href);
const initMs = performance.now();
const response = await handler(JSON.parse(eventJson), {});
const firstResponseMs = performance.now();
process.stdout.write('\\nBENCH_RESULT ' + JSON.stringify({ initMs, firstResponseMs, status: response && response.statusCode }) + '\\n');
process.exit(0);
`;

/** Imports the packages named on the command line, prints when that is done. */
const IMPORT_PROBE = `for (const name of process.argv.slice(2)) await import(name);
process.stdout.write('BENCH_RESULT ' + JSON.stringify({ importedMs: performance.now() }) + '\\n');
process.exit(0);
`;

/** What loading the SDK clients costs, on its own: explains most of the difference between the handlers. */
const IMPORT_SETS: readonly (readonly [string, readonly string[]])[] = [
  ['nothing (Node start-up)', []],
  ['`@aws-sdk/client-secrets-manager`', ['@aws-sdk/client-secrets-manager']],
  [
    '`@aws-sdk/client-secrets-manager` + `@aws-sdk/client-lambda`',
    ['@aws-sdk/client-secrets-manager', '@aws-sdk/client-lambda'],
  ],
];

export async function coldStart(context: BenchContext): Promise<Section> {
  const { moto, quick } = context;
  const processes = quick ? 5 : 20;
  say(`Benchmark 2: read Lambda cold start (${processes} fresh processes per variant)`);

  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(OUT_DIR, { recursive: true });
  const built: Built[] = [];
  for (const variant of VARIANTS) built.push(await bundle(variant));

  // A valid token for both handlers to serve.
  await seedValidToken({
    clientConfig: moto.clientConfig,
    secretPrefix: PREFIX,
    provider: PROVIDER,
    accessToken: 'bench-cold-start-token',
  });
  const caller = await benchCaller(moto);
  let measured: Awaited<ReturnType<typeof measure>>;
  try {
    measured = await measure(built, processes, probeEnvironment(moto.env, caller), caller);
  } finally {
    await caller.stop();
  }
  const { runs, imports } = measured;

  const sizes = sizesTable(built);
  printTable(sizes);
  const contents = contentsTable(built);
  printTable(contents);
  const timing = timingTable(built, runs, processes);
  printTable(timing);
  const importTable = importCostTable(imports, processes);
  printTable(importTable);
  const lambdaClientMs = medianOf(imports, IMPORT_SETS[2]?.[0]) - medianOf(imports, IMPORT_SETS[1]?.[0]);
  const oursExternal = findVariant(built, 'ours-external');
  const fOursExt = runFigures(runs, 'ours-external');
  const fDeployed = runFigures(runs, 'ours-deployed');
  const sourceMapCost = fDeployed.first - fOursExt.first;
  return {
    title: '2. Read Lambda cold start',
    method: [
      'Both handlers are bundled with esbuild as the construct bundles functions (ESM, minified, the `createRequire` banner, ' +
        `target node${process.versions.node.split('.')[0]}), once with \`@aws-sdk/*\` external (the Lambda runtime provides it) and once ` +
        `with the SDK bundled. Each bundle then starts in ${processes} fresh \`node\` processes (plus one discarded warm-up, variants ` +
        'interleaved) that import it and answer one Function URL request `GET /tokens/<provider>` from a caller allowed to read it, ' +
        'reading a valid token from moto server. "Time to first response" is `performance.now()` in the child when the answer is ' +
        'back (Node counts from process start); "module init" is the same clock after the import.',
      "The request carries a caller proof of `npm start`'s local caller (a role assumed on moto's STS; `bench/lib/caller.ts`): " +
        "ours checks it as on AWS, with one `GetCallerIdentity` on moto in each fresh process (a cold container's first proof). " +
        "The Powertools handler believes the event's `userArn` (the same caller), as a Function URL handler without proofs does.",
      'The Powertools handler (`bench/powertools-read-app.ts`) serves the same routes and answer shape with `getSecret` ' +
        '(default `maxAge`) and the Powertools Logger, and authorizes with the same `AccessPolicy`; it does not validate its ' +
        'configuration or the token record with zod, checks no caller proof, has no on-demand refresh, single-flight or fallback ' +
        'to a cached token. It is ' +
        'the smallest handler giving the same answer, so the figures show what our extra behaviour costs at start-up.',
      'This is a local process on this machine, not Lambda: no runtime interface client, no sandbox, Node ' +
        `${process.version} rather than the deployed nodejs24.x (the SDK's warning about Node 20 is switched off, as Node 24 ` +
        "would not print it). Compare the rows with each other, not with Lambda's Init Duration.",
    ],
    tables: [sizes, contents, timing, importTable],
    notes: [
      `What our bundle loads (SDK external): ${sdkLoads(oursExternal)}. Importing \`@aws-sdk/client-lambda\` on its own adds ` +
        `${fixed(lambdaClientMs)} ms to a fresh process (the import table): a cost only the containers that refresh on demand ` +
        'pay, when the bundle loads it on first use. zod with all its locales is ' +
        `${int(oursExternal === undefined ? Number.NaN : zodBytes(oursExternal.metafile))} of our ${int(oursExternal?.size ?? 0)} ` +
        'bytes (the configuration and token record schemas use a handful of zod features).',
      "With the SDK bundled both start faster than with it external: esbuild's single file is cheaper to load than the SDK's many " +
        'files in node_modules. On Lambda the runtime\'s SDK is also many files, so "SDK external" is the realistic row.',
      `Source maps as deployed (\`NODE_OPTIONS=--enable-source-maps\` with the .map file) change our time to first response by ` +
        `${fixed(sourceMapCost)} ms (median ${fixed(fDeployed.first)} vs ${fixed(fOursExt.first)} ms).`,
    ],
  };
}

/**
 * The environment of every probe process: the emulator's, one provider the caller may read, and the
 * function name the caller's proofs are made for (Lambda sets `AWS_LAMBDA_FUNCTION_NAME`).
 */
function probeEnvironment(motoEnv: Record<string, string>, caller: BenchCaller): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...motoEnv,
    ...QUIET_SDK,
    AWS_LAMBDA_FUNCTION_NAME: caller.serverId,
    PROVIDERS_CONFIG: deployedConfigJson({
      secretPrefix: PREFIX,
      providers: [
        {
          name: PROVIDER,
          grant: 'client_credentials',
          tokenUrl: 'https://auth.example.com/oauth2/token',
          consumers: [caller.role],
        },
      ],
    }),
    REFRESH_FUNCTION_NAME: 'bench-refresh',
  };
}

/**
 * The Function URL request every probe answers: the caller's proof in its header (what our handler
 * checks) and the caller in `userArn` (what the Powertools handler believes).
 */
async function probeEvent(caller: BenchCaller): Promise<string> {
  return JSON.stringify({
    version: '2.0',
    rawPath: `/tokens/${PROVIDER}`,
    headers: { [CALLER_PROOF_HEADER]: await caller.proof() },
    isBase64Encoded: false,
    requestContext: {
      http: { method: 'GET', path: `/tokens/${PROVIDER}` },
      authorizer: { iam: { userArn: caller.arn } },
    },
  });
}

/**
 * Every variant's probe and every import set, `processes` rounds after one warm-up round (which warms
 * the file cache and is not counted), interleaved so that drift hits all alike.
 */
async function measure(
  built: readonly Built[],
  processes: number,
  environment: Record<string, string>,
  caller: BenchCaller,
): Promise<{ runs: Map<string, Run[]>; imports: Map<string, number[]> }> {
  const probe = join(OUT_DIR, 'probe.mjs');
  writeFileSync(probe, PROBE);
  const importProbe = join(OUT_DIR, 'probe-import.mjs');
  writeFileSync(importProbe, IMPORT_PROBE);
  const imports = new Map<string, number[]>(IMPORT_SETS.map(([name]) => [name, []]));
  const runs = new Map<string, Run[]>(built.map((variant) => [variant.key, []]));
  for (let round = 0; round <= processes; round++) {
    const counted = round > 0;
    for (const variant of built) {
      const run = await spawnOnce(probe, variant, await probeEvent(caller), environment);
      if (counted) runs.get(variant.key)?.push(run);
    }
    for (const [name, packages] of IMPORT_SETS) {
      const { result } = await spawnProbe([importProbe, ...packages], {
        cwd: OUT_DIR,
        env: environment,
        what: name,
      });
      if (counted) imports.get(name)?.push(Number(result.importedMs));
    }
    if (counted) say(`  round ${round}/${processes} done`);
  }
  return { runs, imports };
}

/** The medians (and p90 of the first response) of one variant's runs. */
function runFigures(runs: ReadonlyMap<string, readonly Run[]>, key: string) {
  const list = runs.get(key) ?? [];
  return {
    first: median(list.map((run) => run.firstResponseMs)),
    p90: quantile(
      list.map((run) => run.firstResponseMs),
      0.9,
    ),
    init: median(list.map((run) => run.initMs)),
    spawn: median(list.map((run) => run.spawnToResponseMs)),
    count: list.length,
  };
}

function findVariant(built: readonly Built[], key: string): Built | undefined {
  return built.find((variant) => variant.key === key);
}

function variantLabel(variant: Built): string {
  return `${variant.handler === 'ours' ? 'ours' : 'Powertools'}, SDK ${variant.sdk}${variant.sourceMaps ? ', source maps on (as deployed)' : ''}`;
}

function medianOf(imports: ReadonlyMap<string, readonly number[]>, name: string | undefined): number {
  return median(imports.get(name ?? '') ?? []);
}

function sizesTable(built: readonly Built[]): Table {
  const sizes: Table = {
    title: 'Bundle size (esbuild, ESM, minified)',
    head: ['handler', 'SDK external (as on Lambda)', 'gzip', 'SDK bundled', 'gzip'],
    rows: (['ours', 'powertools'] as const).map((handler) => {
      const external = findVariant(built, `${handler}-external`);
      const bundled = findVariant(built, `${handler}-bundled`);
      return [
        handler === 'ours'
          ? 'ours (`functions/read/handler.ts`)'
          : 'Powertools (`bench/powertools-read-handler.ts`)',
        bytes(external?.size ?? Number.NaN),
        bytes(external?.gzipSize ?? Number.NaN),
        bytes(bundled?.size ?? Number.NaN),
        bytes(bundled?.gzipSize ?? Number.NaN),
      ];
    }),
  };
  const oursExternal = findVariant(built, 'ours-external');
  const ptExternal = findVariant(built, 'powertools-external');
  const oursBundled = findVariant(built, 'ours-bundled');
  const ptBundled = findVariant(built, 'powertools-bundled');
  (sizes.rows as string[][]).push([
    'ratio ours / Powertools',
    ratio(oursExternal?.size ?? Number.NaN, ptExternal?.size ?? Number.NaN, 2),
    ratio(oursExternal?.gzipSize ?? Number.NaN, ptExternal?.gzipSize ?? Number.NaN, 2),
    ratio(oursBundled?.size ?? Number.NaN, ptBundled?.size ?? Number.NaN, 2),
    ratio(oursBundled?.gzipSize ?? Number.NaN, ptBundled?.gzipSize ?? Number.NaN, 2),
  ]);
  return sizes;
}

/** `@aws-sdk/x at start, @aws-sdk/y on first use`, from the bundle's metafile. */
function sdkLoads(variant: Built | undefined): string {
  if (variant === undefined) return '–';
  const { atLoad, onFirstUse } = externalImports(variant.metafile);
  const names = (list: readonly string[]) => list.map((name) => `\`${name}\``).join(', ') || 'nothing';
  return `${names(atLoad)} at start, ${names(onFirstUse)} on first use (\`import()\`)`;
}

/** The output's bytes grouped by package, the 8 largest and the rest. */
function topInputs(variant: Built | undefined): [string, number][] {
  return variant === undefined ? [] : bytesByPackage(variant.metafile, 8);
}

function contentsTable(built: readonly Built[]): Table {
  const ours = topInputs(findVariant(built, 'ours-external'));
  const pt = topInputs(findVariant(built, 'powertools-external'));
  return {
    title: 'What the SDK-external bundles hold (bytes in the minified output, largest first)',
    head: ['ours', 'bytes', 'Powertools', 'bytes'],
    rows: Array.from({ length: Math.max(ours.length, pt.length) }, (_, index) => [
      ours[index]?.[0] ?? '',
      ours[index] === undefined ? '' : int(ours[index][1]),
      pt[index]?.[0] ?? '',
      pt[index] === undefined ? '' : int(pt[index][1]),
    ]),
  };
}

function timingTable(
  built: readonly Built[],
  runs: ReadonlyMap<string, readonly Run[]>,
  processes: number,
): Table {
  const timing: Table = {
    title: `Time from process start to the first response (${processes} fresh processes each; ms)`,
    head: [
      'bundle',
      'median',
      'p90',
      'module init done (median)',
      'spawn → response, measured outside (median)',
    ],
    rows: built.map((variant) => {
      const f = runFigures(runs, variant.key);
      return [variantLabel(variant), fixed(f.first), fixed(f.p90), fixed(f.init), fixed(f.spawn)];
    }),
  };
  const ratioRow = (
    label: string,
    ours: ReturnType<typeof runFigures>,
    pt: ReturnType<typeof runFigures>,
  ) => [
    label,
    ratio(ours.first, pt.first, 2),
    '',
    ratio(ours.init, pt.init, 2),
    ratio(ours.spawn, pt.spawn, 2),
  ];
  (timing.rows as string[][]).push(
    ratioRow(
      'ratio ours / Powertools, SDK external',
      runFigures(runs, 'ours-external'),
      runFigures(runs, 'powertools-external'),
    ),
    ratioRow(
      'ratio ours / Powertools, SDK bundled',
      runFigures(runs, 'ours-bundled'),
      runFigures(runs, 'powertools-bundled'),
    ),
  );
  return timing;
}

function importCostTable(imports: ReadonlyMap<string, readonly number[]>, processes: number): Table {
  const baseName = IMPORT_SETS[0]?.[0];
  const base = medianOf(imports, baseName);
  return {
    title: `What loading the SDK clients from node_modules costs on its own (${processes} fresh processes each; ms)`,
    head: ['a fresh `node` that imports', 'done at (median)', 'added (median)'],
    rows: IMPORT_SETS.map(([name]) => {
      const at = medianOf(imports, name);
      return [name, fixed(at), name === baseName ? '' : `+${fixed(at - base)}`];
    }),
  };
}

async function bundle(variant: Variant): Promise<Built> {
  const outdir = join(OUT_DIR, variant.key);
  const file = join(outdir, 'index.mjs');
  const result = await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [variant.entry],
    outfile: file,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    mainFields: ['module', 'main'],
    banner: { js: BANNER },
    external: variant.sdk === 'external' ? ['@aws-sdk/*'] : [],
    sourcemap: variant.sourceMaps,
    metafile: true,
    logLevel: 'silent',
  });
  const size = statSync(file).size;
  const gzipSize = gzipSync(readFileSync(file)).length;
  say(`  bundled ${variant.key}: ${bytes(size)} (gzip ${bytes(gzipSize)})`);
  return { ...variant, file, size, gzipSize, metafile: result.metafile };
}

async function spawnOnce(
  probe: string,
  variant: Built,
  event: string,
  environment: Record<string, string>,
): Promise<Run> {
  const { result, spawnToResultMs } = await spawnProbe([probe, variant.file, event], {
    cwd: dirname(variant.file),
    env: variant.sourceMaps ? { ...environment, NODE_OPTIONS: '--enable-source-maps' } : environment,
    what: variant.key,
  });
  if (result.status !== 200) {
    throw new Error(`${variant.key}: the handler answered ${String(result.status)}, not 200`);
  }
  return {
    initMs: Number(result.initMs),
    firstResponseMs: Number(result.firstResponseMs),
    spawnToResponseMs: spawnToResultMs,
  };
}
