/**
 * Benchmark 6 (issue #17): a consumer Lambda's cold start to its first token.
 *
 * Every consumer is bundled the way the construct bundles its own functions (esbuild, ESM, minified,
 * `mainFields` module first, the `createRequire` banner) with `@aws-sdk/*` external, into
 * `node_modules/.cache/token-refresher-bench-consumer/`, so that the SDK resolves from this
 * repository's node_modules as it does from the runtime's on Lambda. Each bundle then starts in
 * fresh `node` processes (one discarded warm-up round, then N rounds; the variants interleaved and
 * their order rotated every round) that import it and read one token from moto server on loopback;
 * the child's `performance.now()` (Node counts from process start) when the token is in hand is the
 * figure.
 *
 * Our client is bundled from its package as published (`bench/lib/client-package.ts`); the read
 * function source talks to a local read function (`functions/local/read-server.ts` over the handler
 * as `npm start` composes it, warm: the warm-up round fills its cache) in this process; the DynamoDB
 * source reads the same token from a token table item on the same moto server.
 */

import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { deployedConfigJson } from '../functions/core/config-schema.js';
import type { RefreshTrigger } from '../functions/core/ports.js';
import { type ReadServer, startReadServer } from '../functions/local/read-server.js';
import { readHandlerFromEnvironment } from '../functions/read/app.js';
import { type BenchCaller, benchCaller } from './lib/caller.js';
import {
  type ClientEntryPoint,
  clientConsumerFile,
  installClientPackage,
  unbenchedEntryPoints,
} from './lib/client-package.js';
import {
  type ColdStartRun,
  type ColdStartVariantResult,
  coldStartTable,
  figuresOf,
  roundOrder,
} from './lib/cold-start-summary.js';
import { type BenchContext, silentLogger } from './lib/context.js';
import { printTable, type Section, say } from './lib/report.js';
import { seedValidToken, seedValidTokenItem } from './lib/seed.js';
import { QUIET_SDK, spawnProbe } from './lib/spawn-probe.js';
import { fixed, ratio } from './lib/stats.js';
import { atMostVerdict, COLD_START_RATIO_TARGET } from './lib/targets.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'token-refresher-bench-consumer');
const PREFIX = 'bench-consumer';
const TOKEN_TABLE = 'bench-consumer-tokens';
const PROVIDER = 'bench';
const ACCESS_TOKEN = 'bench-consumer-cold-start-token';
/** The construct's banner (infra/bundling.ts): some bundled CommonJS code calls require(). */
const BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/** Where a consumer's code comes from. */
type Source =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'client'; readonly entry: ClientEntryPoint };

interface Variant {
  readonly key: string;
  readonly label: string;
  readonly source: Source;
  /** Floors answer no token; the others must answer the seeded one. */
  readonly answersToken: boolean;
  /**
   * Runs as the local caller (`npm start`'s consumer role, assumed on moto's STS), whose caller proof
   * the local read function accepts; the others run with the emulator's plain key.
   */
  readonly asLocalCaller?: true;
}

/** In the order of the table. Powertools is the baseline, the empty process the floor. */
const VARIANTS: readonly Variant[] = [
  {
    key: 'ours-secrets-manager',
    label: 'our client, Secrets Manager source (`@token-refresher/client/secrets-manager`)',
    source: { kind: 'client', entry: '@token-refresher/client/secrets-manager' },
    answersToken: true,
  },
  {
    key: 'ours-read-function',
    label: 'our client, read function source (`@token-refresher/client/read-function`, local read function)',
    source: { kind: 'client', entry: '@token-refresher/client/read-function' },
    answersToken: true,
    asLocalCaller: true,
  },
  {
    key: 'ours-dynamodb',
    label: 'our client, DynamoDB source (`@token-refresher/client/dynamodb`, `GetItem`)',
    source: { kind: 'client', entry: '@token-refresher/client/dynamodb' },
    answersToken: true,
  },
  {
    key: 'powertools',
    label: 'Powertools `getSecret`',
    source: { kind: 'file', path: 'bench/consumers/powertools.ts' },
    answersToken: true,
  },
  {
    key: 'plain-sdk',
    label: 'plain SDK `GetSecretValue`',
    source: { kind: 'file', path: 'bench/consumers/plain-sdk.ts' },
    answersToken: true,
  },
  {
    key: 'signed-fetch',
    label: 'SDK-free signed `fetch` (`@smithy/signature-v4` + node crypto)',
    source: { kind: 'file', path: 'bench/consumers/signed-fetch.ts' },
    answersToken: true,
  },
  {
    key: 'first-fetch',
    label: 'floor of a `fetch` client: empty process + one unsigned `fetch` on loopback',
    source: { kind: 'file', path: 'bench/consumers/first-fetch.ts' },
    answersToken: false,
  },
  {
    key: 'empty',
    label: 'floor: empty `node` process',
    source: { kind: 'file', path: 'bench/consumers/empty.ts' },
    answersToken: false,
  },
];

const BASELINE = 'powertools';
const FLOOR = 'empty';

/** Imports the bundle, reads one token, prints the timings, exits (SDK sockets stay open). */
const PROBE = `import { pathToFileURL } from 'node:url';
const [bundle, expected] = process.argv.slice(2);
const { handler } = await import(pathToFileURL(bundle).href);
const initMs = performance.now();
const token = await handler();
const firstTokenMs = performance.now();
process.stdout.write('\\nBENCH_RESULT ' + JSON.stringify({ initMs, firstTokenMs, tokenOk: expected === '' || token === expected }) + '\\n');
process.exit(0);
`;

interface Built extends Variant {
  readonly file: string;
  readonly bytes: number;
}

export async function consumerColdStart(context: BenchContext): Promise<Section> {
  const { moto, quick } = context;
  const processes = quick ? 5 : 20;
  say(`Benchmark 6: consumer cold start to first token (${processes} fresh processes per variant)`);

  await rm(OUT_DIR, { recursive: true, force: true });
  await mkdir(OUT_DIR, { recursive: true });
  const built: Built[] = [];
  for (const variant of VARIANTS) built.push(await bundle(variant));

  await seedValidToken({
    clientConfig: moto.clientConfig,
    secretPrefix: PREFIX,
    provider: PROVIDER,
    accessToken: ACCESS_TOKEN,
  });
  await seedValidTokenItem({
    clientConfig: moto.clientConfig,
    tableName: TOKEN_TABLE,
    provider: PROVIDER,
    accessToken: ACCESS_TOKEN,
  });
  const caller = await benchCaller(moto);
  const readServer = await startLocalReadFunction(moto.clientConfig, caller);
  const fetchTarget = await startFetchTarget();
  let results: ColdStartVariantResult[];
  try {
    const environment = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...moto.env,
      ...QUIET_SDK,
      BENCH_SECRET_PREFIX: PREFIX,
      BENCH_PROVIDER: PROVIDER,
      BENCH_SECRET_ID: `${PREFIX}/${PROVIDER}/token`,
      BENCH_TOKEN_TABLE: TOKEN_TABLE,
      BENCH_READ_URL: readServer.url,
      BENCH_READ_FUNCTION_NAME: caller.serverId,
      BENCH_FETCH_URL: fetchTarget.url,
    };
    const asLocalCaller = { ...environment, ...caller.environment };
    results = await measure(built, processes, (variant) =>
      variant.asLocalCaller === true ? asLocalCaller : environment,
    );
  } finally {
    await caller.stop();
    await readServer.close();
    await new Promise<void>((resolve) => fetchTarget.server.close(() => resolve()));
  }

  const table = coldStartTable(results, {
    title: `Time from process start to the first token (${processes} fresh processes each, interleaved; ms)`,
    baseline: BASELINE,
    floor: FLOOR,
  });
  printTable(table);
  return {
    title: '6. Consumer cold start to first token',
    method: methodParagraphs(processes),
    tables: [table],
    notes: notes(results),
  };
}

function methodParagraphs(processes: number): string[] {
  return [
    'Each consumer is the whole code of a Lambda that reads one token at cold start (`bench/consumers/`; our client ' +
      "through its package's entry points, built and unpacked as published by `bench/lib/client-package.ts`). Each is " +
      'bundled as the construct bundles its functions (esbuild, ESM, minified, `mainFields` module first, the ' +
      `\`createRequire\` banner, target node${process.versions.node.split('.')[0]}) with \`@aws-sdk/*\` external, resolved ` +
      "from this repository's node_modules as the Lambda runtime resolves it from its own. Each bundle starts in " +
      `${processes} fresh \`node\` processes (plus one discarded warm-up round; variants interleaved, their order rotated ` +
      'every round) that import it and read the token from moto server on loopback. "First token" is `performance.now()` ' +
      'in the child when the token is in hand (Node counts from process start); "module loaded" is the same clock after ' +
      'the import. Every answer is checked against the stored token. The DynamoDB source reads the same token from the ' +
      'item of a token table keyed by `provider` (as the stack creates it), written by the DynamoDB token store: ' +
      'one strongly consistent `GetItem`, sent by its default transport `fetch` (no SDK code loaded).',
    'The read function source asks a local read function in the benchmark process (`functions/local/read-server.ts` ' +
      "over the handler as `npm start` composes it, its token cache filled by the warm-up round) as `npm start`'s local " +
      "caller (a role assumed on moto's STS): each fresh consumer signs a new caller proof, which the read function " +
      "checks with one `GetCallerIdentity` on moto. The figure is the consumer's cold start against a warm read " +
      "function, not the read function's own cold start (benchmark 2). The SDK-free " +
      'signed `fetch` reads its credentials and endpoint from the environment and has no retries or error translation: ' +
      'it is the floor an SDK-free Secrets Manager source could reach, not a client. The two floors show what Node ' +
      'itself costs, and what its HTTP client (undici, loaded on the first `fetch`) adds.',
    'This is a local process, not Lambda: compare the rows with each other, not with Init Duration. The children run ' +
      "with the SDK's Node-version warning off (`AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED`): Node " +
      `${process.version} would print it, the Lambda runtime's Node 24 does not.`,
  ];
}

function notes(results: readonly ColdStartVariantResult[]): string[] {
  const baseline = figuresOf(results, BASELINE)?.median ?? Number.NaN;
  const verdicts = VARIANTS.filter((variant) => variant.key.startsWith('ours-')).map((variant) => {
    const measured = figuresOf(results, variant.key)?.median ?? Number.NaN;
    const verdict = atMostVerdict(
      measured / baseline,
      COLD_START_RATIO_TARGET,
      (value) => `${fixed(value, 2)}×`,
    );
    return `${variant.label}: ${verdict}`;
  });
  const unbenched = unbenchedEntryPoints();
  return [
    `Target of issue #17: our sources start to the first token in at most ${fixed(COLD_START_RATIO_TARGET, 2)}× the time ` +
      `of Powertools \`getSecret\`. ${verdicts.join('; ')}.`,
    `Floors in this run: an empty process ${fixed(figuresOf(results, FLOOR)?.median ?? Number.NaN)} ms, with one ` +
      `\`fetch\` ${fixed(figuresOf(results, 'first-fetch')?.median ?? Number.NaN)} ms; the SDK-free signed ` +
      `\`fetch\` is at ${ratio(figuresOf(results, 'signed-fetch')?.median ?? Number.NaN, baseline, 2)} of Powertools.`,
    ...(unbenched.length === 0
      ? []
      : [
          `The client package has entry points this benchmark does not measure yet: ${unbenched.join(', ')}.`,
        ]),
  ];
}

/**
 * `processes` rounds after one warm-up round, the variants' order rotated each round. A variant
 * whose probe fails (or answers another token) is reported as failed with its first error and left
 * out of the remaining rounds; the others go on.
 */
async function measure(
  built: readonly Built[],
  processes: number,
  environmentOf: (variant: Variant) => Readonly<Record<string, string>>,
): Promise<ColdStartVariantResult[]> {
  const probe = join(OUT_DIR, 'probe.mjs');
  await writeFile(probe, PROBE);
  const runs = new Map<string, ColdStartRun[]>(built.map((variant) => [variant.key, []]));
  const failures = new Map<string, string>();
  for (let round = 0; round <= processes; round++) {
    for (const variant of roundOrder(built, round)) {
      if (failures.has(variant.key)) continue;
      const run = await runOnce(probe, variant, environmentOf(variant)).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        say(`  ${variant.key} failed: ${message}`);
        failures.set(variant.key, message.split('\n')[0] ?? message);
      });
      if (run !== undefined && round > 0) runs.get(variant.key)?.push(run);
    }
    if (round > 0) say(`  round ${round}/${processes} done`);
  }
  return collectResults(built, runs, failures);
}

/** Our sources first, then the others. */
function collectResults(
  built: readonly Built[],
  runs: ReadonlyMap<string, ColdStartRun[]>,
  failures: ReadonlyMap<string, string>,
): ColdStartVariantResult[] {
  const measured = built.map((variant): ColdStartVariantResult => {
    const failure = failures.get(variant.key);
    return {
      key: variant.key,
      label: variant.label,
      bundleBytes: variant.bytes,
      outcome:
        failure === undefined
          ? { kind: 'measured', runs: runs.get(variant.key) ?? [] }
          : { kind: 'failed', error: failure },
    };
  });
  const ours = (result: ColdStartVariantResult) => result.key.startsWith('ours-');
  return [...measured.filter(ours), ...measured.filter((result) => !ours(result))];
}

async function runOnce(
  probe: string,
  variant: Built,
  environment: Readonly<Record<string, string>>,
): Promise<ColdStartRun> {
  const { result } = await spawnProbe([probe, variant.file, variant.answersToken ? ACCESS_TOKEN : ''], {
    cwd: dirname(variant.file),
    env: environment,
    what: variant.key,
  });
  if (result.tokenOk !== true) throw new Error(`${variant.key}: the consumer answered another token`);
  return { initMs: Number(result.initMs), firstTokenMs: Number(result.firstTokenMs) };
}

async function bundle(variant: Variant): Promise<Built> {
  const entry =
    variant.source.kind === 'file'
      ? join(REPO_ROOT, variant.source.path)
      : clientConsumerFile(await installClientPackage(), variant.source.entry);
  const file = join(OUT_DIR, variant.key, 'index.mjs');
  await build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: `node${process.versions.node.split('.')[0]}`,
    mainFields: ['module', 'main'],
    banner: { js: BANNER },
    external: ['@aws-sdk/*'],
    logLevel: 'silent',
  });
  const { size } = await stat(file);
  return { ...variant, file, bytes: size };
}

/**
 * The read function as `npm start` serves it (named as the caller's proofs expect, so it checks them
 * against moto's STS), reading the seeded secret on moto; the caller's role is a consumer.
 */
async function startLocalReadFunction(
  clientConfig: BenchContext['moto']['clientConfig'],
  caller: BenchCaller,
): Promise<ReadServer> {
  const handler = readHandlerFromEnvironment(
    {
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
      REFRESH_FUNCTION_NAME: 'bench-unused',
      AWS_LAMBDA_FUNCTION_NAME: caller.serverId,
    },
    { clientConfig, logger: silentLogger, trigger: unusedTrigger },
  );
  return startReadServer(handler, { port: 0 });
}

const unusedTrigger: RefreshTrigger = {
  refresh() {
    return Promise.reject(new Error('benchmark 6 never triggers a refresh'));
  },
};

/** A loopback endpoint answering 200 at once: the target of the `fetch` floor. */
async function startFetchTarget(): Promise<{ readonly server: Server; readonly url: string }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}
