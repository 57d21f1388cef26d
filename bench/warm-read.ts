/**
 * Benchmark 3: warm read throughput of the read handler, in-process, with a cached token.
 *
 * The handler is built as the deployed function builds it (`composeReadHandler`, its signed AWS requests pointed
 * at moto), a valid token is stored, the first request fills the cache, a warm-up follows, then
 * N = 50,000 Function URL requests `GET /tokens/<provider>` run one after another (a Lambda
 * container serves one request at a time). Each request is timed with `performance.now()`.
 *
 * Log lines are part of the cost: the handler writes one JSON line per request. They are built and
 * serialised as deployed, but written to a sink instead of the terminal (see `lib/capture.ts`).
 * The Powertools equivalent of benchmark 2 runs the same way, side by side.
 */
import { deployedConfigJson } from '../functions/core/config-schema.js';
import { readReadEnvironment } from '../functions/core/env.js';
import type { RefreshTrigger } from '../functions/core/ports.js';
import { composeReadHandler } from '../functions/read/app.js';
import { type BenchCaller, benchCaller, CALLER_PROOF_HEADER } from './lib/caller.js';
import { sinkStdout } from './lib/capture.js';
import { type BenchContext, silentLogger } from './lib/context.js';
import { printTable, type Section, say, type Table } from './lib/report.js';
import { seedValidToken } from './lib/seed.js';
import { fixed, int, mean, quantile, ratio } from './lib/stats.js';
import { createPowertoolsReadHandler } from './powertools-read-app.js';

const PREFIX = 'bench-warm';
const PROVIDER = 'bench';
const WARM_UP = 1_000;
/** The requests run in this many blocks per handler, the handlers taking turns. */
const BLOCKS = 10;
const GET_SECRET_VALUE = 'secretsmanager.GetSecretValue';

type Handler = (event: unknown) => Promise<unknown>;

interface Outcome {
  readonly name: string;
  readonly requests: number;
  readonly seconds: number;
  readonly latenciesMs: readonly number[];
  readonly getSecretValueCalls: number;
  readonly logBytesPerRequest: number;
  readonly failures: number;
}

export async function warmRead(context: BenchContext): Promise<Section> {
  const { moto, quick } = context;
  const requests = quick ? 5_000 : 50_000;
  say(`Benchmark 3: warm read throughput, in-process (${int(requests)} requests per handler)`);

  await seedValidToken({
    clientConfig: moto.clientConfig,
    secretPrefix: PREFIX,
    provider: PROVIDER,
    accessToken: 'bench-warm-read-token',
  });
  const caller = await benchCaller(moto);
  try {
    return await measureWarmReads(moto, requests, caller);
  } finally {
    await caller.stop();
  }
}

async function measureWarmReads(
  moto: BenchContext['moto'],
  requests: number,
  caller: BenchCaller,
): Promise<Section> {
  const environment = {
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
  // Ours checks the caller proof (once: a verified proof is cached for its validity); Powertools
  // believes the userArn. The run takes seconds, well inside the proof's 5 minutes.
  const event = {
    version: '2.0',
    rawPath: `/tokens/${PROVIDER}`,
    headers: { [CALLER_PROOF_HEADER]: await caller.proof() },
    isBase64Encoded: false,
    requestContext: {
      http: { method: 'GET', path: `/tokens/${PROVIDER}` },
      authorizer: { iam: { userArn: caller.arn } },
    },
  };

  const contestants: (readonly [string, () => Handler])[] = [
    [
      'ours (`composeReadHandler`, as deployed)',
      () =>
        composeReadHandler(readReadEnvironment(environment), {
          clientConfig: moto.clientConfig,
          trigger: unusedTrigger,
          serverId: caller.serverId,
        }) as Handler,
    ],
    [
      'ours, logging off',
      () =>
        composeReadHandler(readReadEnvironment(environment), {
          clientConfig: moto.clientConfig,
          trigger: unusedTrigger,
          logger: silentLogger,
          serverId: caller.serverId,
        }) as Handler,
    ],
    [
      'Powertools `getSecret` handler (benchmark 2)',
      () => createPowertoolsReadHandler(environment) as Handler,
    ],
  ];

  const outcomes = await measure(contestants, requests, moto, event);
  for (const outcome of outcomes) {
    say(
      `  ${outcome.name}: ${int(outcome.requests / outcome.seconds)} requests/s, p50 ${fixed(quantile(outcome.latenciesMs, 0.5) * 1000, 0)} µs, ` +
        `p99 ${fixed(quantile(outcome.latenciesMs, 0.99) * 1000, 0)} µs, ${outcome.getSecretValueCalls} GetSecretValue, ${outcome.failures} failures`,
    );
  }

  const ours = outcomes[0];
  const powertools = outcomes[2];
  const table = warmReadTable(outcomes, requests);
  printTable(table);

  return {
    title: '3. Warm read throughput',
    method: [
      `The read handler built as deployed (\`composeReadHandler\`, its signed AWS requests (no SDK) pointed at moto server, the Powertools Logger), a ` +
        `valid 1-hour token stored; the first request fills the cache, ${int(WARM_UP)} warm-up requests follow, then ${int(requests)} ` +
        'Function URL requests `GET /tokens/<provider>` from an allowed caller (with its caller proof, checked on the first ' +
        'request with one `GetCallerIdentity` on moto and cached after) run one after another (a Lambda container serves ' +
        `one request at a time), each timed with \`performance.now()\`, in ${BLOCKS} blocks per handler with the handlers taking ` +
        'turns (so that JIT warm-up and drift favour none). The one JSON log line per request is built and serialised as ' +
        'deployed but written to a sink, not the terminal. The Powertools handler of benchmark 2 runs the same way.',
    ],
    tables: [table],
    notes: [
      `Our per-request log line: ${µs(quantile(ours?.latenciesMs ?? [], 0.5))} µs median with it, ` +
        `${µs(quantile(outcomes[1]?.latenciesMs ?? [], 0.5))} µs without (the Powertools Logger building and serialising ` +
        `${int(ours?.logBytesPerRequest ?? Number.NaN)} bytes of JSON). Without it, what is left is the check of the caller ` +
        'proof against the verified-proof cache, the access policy and the token cache lookup.',
      'A Lambda container serves one request at a time, so requests/s here is the ceiling of one warm container, not of the ' +
        "function; Lambda's own per-invoke overhead (typically around a millisecond) dwarfs these figures either way.",
      `The Powertools handler goes back to Secrets Manager once \`maxAge\` (5 s) has passed: ${int(powertools?.getSecretValueCalls ?? 0)} ` +
        `time(s) during the ${fixed(
          outcomes.reduce((sum, outcome) => sum + outcome.seconds, 0),
          1,
        )} s run here, each a request that waits for a ` +
        'GetSecretValue round trip (its max latency); ours reads the secret once per token generation (benchmark 1).',
    ],
  };
}

/** The token is always valid here: no on-demand refresh happens. */
const unusedTrigger: RefreshTrigger = {
  refresh() {
    return Promise.reject(new Error('benchmark 3 never triggers a refresh'));
  },
};

/** Microseconds, from milliseconds. */
function µs(ms: number): string {
  return int(ms * 1000);
}

/**
 * Warm-up, then interleaved blocks, so that JIT warm-up, GC and machine drift do not favour whoever
 * runs last; GetSecretValue is counted at moto per block and credited to the block's handler.
 */
async function measure(
  contestants: readonly (readonly [string, () => Handler])[],
  requests: number,
  moto: BenchContext['moto'],
  event: unknown,
): Promise<Outcome[]> {
  const blockSize = requests / BLOCKS;
  const runs = contestants.map(([name, build]) => ({
    name,
    handler: build(),
    latenciesMs: [] as number[],
    seconds: 0,
    getSecretValueCalls: 0,
    logBytes: 0,
    failures: 0,
  }));
  const sink = sinkStdout();
  try {
    for (const run of runs) for (let index = 0; index < WARM_UP; index++) await run.handler(event);
    for (let block = 0; block < BLOCKS; block++) {
      for (const run of runs) {
        await moto.startCounting();
        sink.reset();
        const started = performance.now();
        await timeRequests(run, event, blockSize);
        run.seconds += (performance.now() - started) / 1000;
        run.logBytes += sink.bytes;
        run.getSecretValueCalls += (await moto.countOperations())[GET_SECRET_VALUE] ?? 0;
        await moto.stopCounting();
      }
    }
  } finally {
    sink.restore();
  }
  return runs.map((run) => ({
    name: run.name,
    requests: run.latenciesMs.length,
    seconds: run.seconds,
    latenciesMs: run.latenciesMs,
    getSecretValueCalls: run.getSecretValueCalls,
    logBytesPerRequest: run.logBytes / run.latenciesMs.length,
    failures: run.failures,
  }));
}

/** `count` requests one after another, each timed; a non-200 answer counts as a failure. */
async function timeRequests(
  run: { readonly handler: Handler; readonly latenciesMs: number[]; failures: number },
  event: unknown,
  count: number,
): Promise<void> {
  for (let index = 0; index < count; index++) {
    const before = performance.now();
    const response = (await run.handler(event)) as { statusCode?: number };
    run.latenciesMs.push(performance.now() - before);
    if (response.statusCode !== 200) run.failures++;
  }
}

/** Throughput and latency per handler, and ours against Powertools'. */
function warmReadTable(outcomes: readonly Outcome[], requests: number): Table {
  const ours = outcomes[0];
  const powertools = outcomes[2];
  const table: Table = {
    title: `Warm reads, one after another, in-process (${int(requests)} requests each after ${int(WARM_UP)} warm-up; latency in µs)`,
    head: [
      'handler',
      'requests/s',
      'p50',
      'p99',
      'mean',
      'max',
      'GetSecretValue during the run',
      'log bytes / request',
      'non-200',
    ],
    rows: outcomes.map((outcome) => [
      outcome.name,
      int(outcome.requests / outcome.seconds),
      µs(quantile(outcome.latenciesMs, 0.5)),
      µs(quantile(outcome.latenciesMs, 0.99)),
      µs(mean(outcome.latenciesMs)),
      µs(quantile(outcome.latenciesMs, 1)),
      int(outcome.getSecretValueCalls),
      int(outcome.logBytesPerRequest),
      int(outcome.failures),
    ]),
  };
  const requestsPerSecond = (outcome: Outcome | undefined) =>
    outcome === undefined ? Number.NaN : outcome.requests / outcome.seconds;
  const oursMs = ours?.latenciesMs ?? [];
  const powertoolsMs = powertools?.latenciesMs ?? [];
  (table.rows as string[][]).push([
    'ratio ours / Powertools',
    ratio(requestsPerSecond(ours), requestsPerSecond(powertools), 2),
    ratio(quantile(oursMs, 0.5), quantile(powertoolsMs, 0.5), 2),
    ratio(quantile(oursMs, 0.99), quantile(powertoolsMs, 0.99), 2),
    ratio(mean(oursMs), mean(powertoolsMs), 2),
    '',
    '',
    '',
    '',
  ]);
  return table;
}
