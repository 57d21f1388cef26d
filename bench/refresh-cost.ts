/**
 * Benchmark 4: refresh cost.
 *
 * The refresh handler runs in-process against moto server (Secrets Manager, DynamoDB, Scheduler) and
 * the harness OAuth server (oidc-provider on 127.0.0.1), with the environment the construct gives
 * the deployed function (precise scheduling on). AWS calls are counted at the emulator by operation,
 * token requests at the OAuth server. Time moves with an injected clock: a provider is made due by
 * moving the clock 56 minutes past its last 1-hour token, not by forcing.
 *
 * 1. AWS calls per invocation: first refresh, scheduled refresh, scheduled refresh with a rotating
 *    refresh token, not-due tick; and the log bytes each writes (CloudWatch Logs bills them). The two
 *    scheduled refreshes are counted in a warm container (it refreshed the provider before, so it
 *    holds the credentials and the state item shows the stores: issue 17) and in a cold one (a new
 *    container's first run), side by side.
 * 2. Provider calls under N = 1, 10, 100 concurrent triggers on a due provider, each trigger its own
 *    handler (its own "container": clients, caches).
 * 3. Time from trigger to token written (the compare-and-swap write returned) and to the handler's
 *    answer, over ≥ 50 scheduled refreshes; not-due tick duration.
 */
import { createHash, randomUUID } from 'node:crypto';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerCredentialsStore } from '../functions/aws/credentials-store.js';
import { createLogger } from '../functions/aws/logger.js';
import { EmfMetrics } from '../functions/aws/metrics.js';
import { SchedulerNextRun } from '../functions/aws/scheduler.js';
import { createSecretsManagerClient } from '../functions/aws/secrets.js';
import { createDynamoDbClient, DynamoDbStateTable } from '../functions/aws/state-table.js';
import { SecretsManagerTokenStore } from '../functions/aws/token-store.js';
import type { ProviderConfig } from '../functions/core/config.js';
import { deployedConfigJson } from '../functions/core/config-schema.js';
import { RefreshEngine } from '../functions/core/engine.js';
import { readRefreshEnvironment } from '../functions/core/env.js';
import type { Provider, TokenStore } from '../functions/core/ports.js';
import { startOAuthServer } from '../functions/local/oauth-server.js';
import { provision } from '../functions/local/resources.js';
import { createProvider } from '../functions/providers/index.js';
import {
  createRefreshHandler,
  type RefreshHandler,
  type RefreshHandlerResult,
  refreshHandlerFromEnvironment,
} from '../functions/refresh/app.js';
import { sinkStdout } from './lib/capture.js';
import type { BenchContext, RefreshFigures } from './lib/context.js';
import { printTable, type Section, say, type Table } from './lib/report.js';
import { fixed, int, mean, median, quantile, ratio } from './lib/stats.js';
import { CALL_TARGETS, type CallTarget, callVerdict, describeTarget } from './lib/targets.js';

const TABLE = 'bench-state';
const PREFIX = 'bench-refresh';
const GROUP = 'bench-next-runs';
const MINUTE = 60_000;
/** A due provider: its 1-hour token was issued this long ago (`refreshBefore` 5 min). */
const DUE_AFTER = 56 * MINUTE;
/** What the refresh function's timeout leaves the lease (the construct's minimum: 60 s). */
const REMAINING_TIME_MS = 60_000;
const CONCURRENCY = [1, 10, 100] as const;

const CC_SECRET = 'bench-cc-secret-4b1f';
const RT_SECRET = 'bench-rt-secret-9c2e';

interface Counted<T> {
  readonly result: T;
  readonly operations: Record<string, number>;
  readonly logBytes: number;
  readonly logText: string;
  readonly ms: number;
}

export async function refreshCost(context: BenchContext): Promise<Section> {
  const { moto, quick } = context;
  const refreshes = quick ? 10 : 60;
  const ticks = quick ? 50 : 200;
  const rounds = quick ? 2 : 10;
  say(
    `Benchmark 4: refresh cost (${refreshes} timed refreshes, ${ticks} ticks, ${rounds} rounds per concurrency level)`,
  );

  const oauth = await startOAuthServer({
    clients: [
      {
        clientId: 'bench-cc',
        clientSecret: CC_SECRET,
        tokenEndpointAuthMethod: 'client_secret_basic',
        grantTypes: ['client_credentials'],
      },
      {
        clientId: 'bench-rt',
        clientSecret: RT_SECRET,
        tokenEndpointAuthMethod: 'client_secret_basic',
        grantTypes: ['refresh_token'],
      },
    ],
  });
  const sink = sinkStdout({ keepText: true });
  try {
    const bench = new RefreshBench(moto, oauth, sink, await provisionBench(moto, oauth));
    const calls = await measureCallsPerInvocation(bench, ticks);
    const latency = await measureTriggerToWritten(bench, refreshes);
    const concurrency = await measureConcurrentTriggers(bench, calls.handler, rounds);

    const callsTable = callsPerInvocationTable(calls);
    printTable(callsTable);
    const concurrencyTable = concurrentTriggersTable(concurrency, rounds);
    printTable(concurrencyTable);
    const latencyTable = refreshLatencyTable({ ...latency, tickMs: calls.tickMs }, refreshes, ticks);
    printTable(latencyTable);

    const metricNames = new Set([
      ...emfMetricNames(calls.scheduled.logText),
      ...emfMetricNames(calls.tick.logText),
    ]);
    const figures: RefreshFigures = {
      callsPerRefresh: calls.scheduled.operations,
      callsPerRotatingRefresh: calls.rotating.operations,
      callsPerTick: calls.tick.operations,
      meanRefreshMs: mean(latency.answeredMs),
      meanTickMs: mean(calls.tickMs),
      logBytesPerRefresh: calls.scheduled.logBytes,
      logBytesPerTick: calls.tick.logBytes,
      metricsPerProvider: metricNames.size,
    };
    context.shared.refresh = figures;

    const hundred = concurrency.find((row) => row.n === 100);
    return {
      title: '4. Refresh cost',
      method: [
        'The refresh handler runs in-process with the environment the construct gives the deployed function (precise ' +
          "scheduling on, the SDK clients' production defaults), against moto server and the harness OAuth server " +
          '(oidc-provider) on 127.0.0.1, 1-hour tokens. AWS calls are counted at the emulator by operation, token requests at ' +
          'the OAuth server. Time moves with an injected clock: a provider is made due by moving the clock 56 minutes past ' +
          'its last token (a scheduled run, not a forced one).',
        "Trigger → token written is taken with the same adapters composed as in `functions/refresh/app.ts`, the token store's " +
          'write and the provider timed (`bench/refresh-cost.ts`, `timedContainer`). Concurrent triggers: each trigger is its own ' +
          'handler with its own clients (a separate Lambda container), all started at once in this process.',
      ],
      tables: [callsTable, concurrencyTable, latencyTable],
      notes: [
        `A not-due tick costs ${int(total(calls.tick.operations))} AWS call (the state item, strongly consistent) and no provider call. ` +
          `A scheduled refresh costs ${int(total(calls.scheduled.operations))} AWS calls in a warm container and ` +
          `${int(total(calls.scheduledCold.operations))} in a cold one (its first run reads the credentials secret); with a ` +
          `rotating refresh token ${int(total(calls.rotating.operations))} warm and ${int(total(calls.rotatingCold.operations))} ` +
          'cold (the credentials secret is written first, with compare-and-swap). Warm: the container refreshed this provider ' +
          'before, so it holds the credentials of the version the state item records, and the state item shows the stored ' +
          "token's version (the previous lease generation recorded it): no secret is read (docs/architecture.md). " +
          `An on-demand refresh (the read function's Invoke after a consumer's 401, with the refused token's hash) costs ` +
          `${int(total(calls.onDemand.operations))} in the refresh function; the read function's own reads are not counted here.`,
        `Targets of issue #17: a scheduled refresh ${describeTarget(CALL_TARGETS.scheduled)} calls ` +
          `(warm ${callVerdict(total(calls.scheduled.operations), CALL_TARGETS.scheduled)}, cold ` +
          `${callVerdict(total(calls.scheduledCold.operations), CALL_TARGETS.scheduled)}), a rotated one ` +
          `${describeTarget(CALL_TARGETS.rotated)} (warm ${callVerdict(total(calls.rotating.operations), CALL_TARGETS.rotated)}, ` +
          `cold ${callVerdict(total(calls.rotatingCold.operations), CALL_TARGETS.rotated)}), ` +
          `a not-due tick ${describeTarget(CALL_TARGETS.notDueTick)} (${callVerdict(total(calls.tick.operations), CALL_TARGETS.notDueTick)}).`,
        `${hundred === undefined ? '' : `Under 100 concurrent triggers the provider was called ${int(Math.max(...hundred.providerCalls))} time(s) per round at most. `}` +
          'A refresher without a lease makes one provider call per trigger; with rotating refresh tokens every extra call ' +
          'would replay a spent refresh token and revoke the grant.',
        'Latencies are loopback figures (moto answers in a few ms, and serialises requests); on AWS each of the ~10 calls ' +
          "takes longer. They feed benchmark 5's Lambda duration line, which stays negligible even at ten times these values.",
      ],
    };
  } finally {
    sink.restore();
    await oauth.stop();
  }
}

type Moto = BenchContext['moto'];
type OAuth = Awaited<ReturnType<typeof startOAuthServer>>;

/** The emulator, the OAuth server, the captured stdout and the clock every measurement moves. */
class RefreshBench {
  #offsetMs = 0;
  readonly clock = { now: () => Date.now() + this.#offsetMs };

  constructor(
    readonly moto: Moto,
    readonly oauth: OAuth,
    readonly sink: ReturnType<typeof sinkStdout>,
    /** The environment the construct sets on the refresh function. */
    readonly environment: Record<string, string>,
  ) {}

  /** Move the clock: by default far enough for a provider refreshed now to be due. */
  advance(ms = DUE_AFTER): void {
    this.#offsetMs += ms;
  }

  /** A refresh handler with its own clients (a Lambda container). */
  container(): RefreshHandler {
    return refreshHandlerFromEnvironment(this.environment, {
      clientConfig: this.moto.clientConfig,
      clock: this.clock,
    });
  }

  /** Run `work` with the emulator counting and stdout captured. */
  async counted<T>(work: () => Promise<T>): Promise<Counted<T>> {
    await this.moto.startCounting();
    this.sink.reset();
    const started = performance.now();
    const result = await work();
    const ms = performance.now() - started;
    const logBytes = this.sink.bytes;
    const logText = this.sink.text;
    const operations = normaliseOperations(await this.moto.countOperations());
    await this.moto.stopCounting();
    return { result, operations, logBytes, logText, ms };
  }
}

/** Tables, secrets and the schedule group; @returns the refresh function's environment (precise scheduling on). */
async function provisionBench(moto: Moto, oauth: OAuth): Promise<Record<string, string>> {
  const providers = [
    { name: 'cc', grant: 'client_credentials', tokenUrl: oauth.tokenUrl },
    { name: 'rt', grant: 'refresh_token', tokenUrl: oauth.tokenUrl },
    { name: 'timed', grant: 'client_credentials', tokenUrl: oauth.tokenUrl },
    { name: 'burst', grant: 'client_credentials', tokenUrl: oauth.tokenUrl },
  ];
  const refreshToken = await oauth.seedRefreshToken({ clientId: 'bench-rt' });
  await provision({
    clientConfig: moto.clientConfig,
    tableName: TABLE,
    secretPrefix: PREFIX,
    credentials: {
      cc: { clientId: 'bench-cc', clientSecret: CC_SECRET },
      rt: { clientId: 'bench-rt', clientSecret: RT_SECRET, refreshToken },
      timed: { clientId: 'bench-cc', clientSecret: CC_SECRET },
      burst: { clientId: 'bench-cc', clientSecret: CC_SECRET },
    },
  });
  const scheduler = new SchedulerClient(moto.clientConfig);
  await scheduler.send(new CreateScheduleGroupCommand({ Name: GROUP }));
  scheduler.destroy();
  return {
    TABLE_NAME: TABLE,
    PROVIDERS_CONFIG: deployedConfigJson({ secretPrefix: PREFIX, providers }),
    SCHEDULER_GROUP: GROUP,
    SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/bench-scheduler',
    REFRESH_FUNCTION_ARN: 'arn:aws:lambda:us-east-1:123456789012:function:bench-refresh',
  };
}

function lambdaContext() {
  return { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => REMAINING_TIME_MS };
}

function expectStatus(result: RefreshHandlerResult, status: string, what: string): void {
  if (result.status !== status) {
    throw new Error(`${what}: expected status ${status}, got ${JSON.stringify(result)}`);
  }
}

/** What measurement 1 found, and the handler (container) it used. */
interface CallsPerInvocation {
  readonly handler: RefreshHandler;
  readonly firstRefresh: Counted<RefreshHandlerResult>;
  readonly tick: Counted<RefreshHandlerResult>;
  /** In the container that refreshed the provider before (warm: credentials cached). */
  readonly scheduled: Counted<RefreshHandlerResult>;
  /** The same in a new container (cold: its first run). */
  readonly scheduledCold: Counted<RefreshHandlerResult>;
  readonly rotating: Counted<RefreshHandlerResult>;
  readonly rotatingCold: Counted<RefreshHandlerResult>;
  readonly rotated: boolean;
  /** The refresh function invoked by the read function for a consumer's 401 (the refused token's hash). */
  readonly onDemand: Counted<RefreshHandlerResult>;
  readonly tickMs: number[];
}

/** 1. AWS calls per invocation: first refresh, not-due tick, scheduled refresh, rotating refresh; tick durations. */
async function measureCallsPerInvocation(bench: RefreshBench, ticks: number): Promise<CallsPerInvocation> {
  const handler = bench.container();
  const firstRefresh = await bench.counted(() => handler({ provider: 'cc' }, lambdaContext()));
  expectStatus(firstRefresh.result, 'refreshed', 'first refresh');
  bench.advance(10 * MINUTE);
  const tick = await bench.counted(() => handler({ provider: 'cc' }, lambdaContext()));
  expectStatus(tick.result, 'fresh', 'not-due tick');
  bench.advance(DUE_AFTER - 10 * MINUTE);
  const scheduled = await bench.counted(() => handler({ provider: 'cc' }, lambdaContext()));
  expectStatus(scheduled.result, 'refreshed', 'scheduled refresh');
  bench.advance();
  const cold = bench.container();
  const scheduledCold = await bench.counted(() => cold({ provider: 'cc' }, lambdaContext()));
  expectStatus(scheduledCold.result, 'refreshed', 'scheduled refresh in a new container');
  // Not-due ticks: `cc` was just refreshed.
  const tickMs: number[] = [];
  for (let index = 0; index < ticks; index++) {
    const started = performance.now();
    const result = await handler({ provider: 'cc' }, lambdaContext());
    tickMs.push(performance.now() - started);
    expectStatus(result, 'fresh', 'tick');
  }
  const onDemand = await measureOnDemand(bench, handler);
  await handler({ provider: 'rt' }, lambdaContext());
  bench.advance();
  const rotating = await bench.counted(() => handler({ provider: 'rt' }, lambdaContext()));
  expectStatus(rotating.result, 'refreshed', 'rotating refresh');
  bench.advance();
  const rotatingCold = await bench.counted(() => bench.container()({ provider: 'rt' }, lambdaContext()));
  expectStatus(rotatingCold.result, 'refreshed', 'rotating refresh in a new container');
  const rotated = [rotating, rotatingCold].every(
    (each) => (each.result as { refreshTokenRotated?: boolean }).refreshTokenRotated === true,
  );
  say(
    `  calls: first refresh ${total(firstRefresh.operations)}, scheduled refresh ${total(scheduled.operations)} warm / ` +
      `${total(scheduledCold.operations)} cold, rotating ${total(rotating.operations)} warm / ${total(rotatingCold.operations)} cold, ` +
      `not-due tick ${total(tick.operations)}, on-demand ${total(onDemand.operations)}`,
  );
  return {
    handler,
    firstRefresh,
    tick,
    scheduled,
    scheduledCold,
    rotating,
    rotatingCold,
    rotated,
    onDemand,
    tickMs,
  };
}

/**
 * An on-demand refresh as the read function asks for it after a consumer's 401: `onDemand` with the
 * SHA-256 of the refused (current) token, 2 minutes after the scheduled refresh (past the default
 * `onDemandRefreshInterval` of 60 s, so it is not throttled).
 */
async function measureOnDemand(
  bench: RefreshBench,
  handler: RefreshHandler,
): Promise<Counted<RefreshHandlerResult>> {
  const { token } = await new SecretsManagerTokenStore({
    clientConfig: bench.moto.clientConfig,
    secretPrefix: PREFIX,
  }).readCurrent('cc');
  if (token === undefined) throw new Error('on-demand refresh: provider cc has no token');
  const rejectedTokenSha256 = createHash('sha256').update(token.accessToken, 'utf8').digest('hex');
  bench.advance(2 * MINUTE);
  const onDemand = await bench.counted(() =>
    handler({ provider: 'cc', onDemand: { rejectedTokenSha256 } }, lambdaContext()),
  );
  expectStatus(onDemand.result, 'refreshed', 'on-demand refresh');
  return onDemand;
}

/** 2. Trigger → token written (and → provider answered, → handler answered), over scheduled refreshes. */
async function measureTriggerToWritten(
  bench: RefreshBench,
  refreshes: number,
): Promise<{ writtenMs: number[]; answeredMs: number[]; providerMs: number[] }> {
  const timed = timedContainer(bench.environment, bench.moto.clientConfig, bench.clock);
  await timed.handler({ provider: 'timed' }, lambdaContext());
  const writtenMs: number[] = [];
  const answeredMs: number[] = [];
  const providerMs: number[] = [];
  for (let index = 0; index < refreshes; index++) {
    bench.advance();
    timed.marks.length = 0;
    const started = performance.now();
    const result = await timed.handler({ provider: 'timed' }, lambdaContext());
    const answered = performance.now();
    expectStatus(result, 'refreshed', 'timed refresh');
    const written = timed.marks.find((mark) => mark.what === 'token-written')?.at;
    const providerAnswered = timed.marks.find((mark) => mark.what === 'provider-answered')?.at;
    if (written === undefined || providerAnswered === undefined)
      throw new Error('timed refresh: no write seen');
    writtenMs.push(written - started);
    answeredMs.push(answered - started);
    providerMs.push(providerAnswered - started);
  }
  say(
    `  trigger → token written: median ${fixed(median(writtenMs))} ms, p99 ${fixed(quantile(writtenMs, 0.99))} ms`,
  );
  return { writtenMs, answeredMs, providerMs };
}

/** 3. N concurrent triggers on a due provider, each its own container, `rounds` times per N. */
async function measureConcurrentTriggers(
  bench: RefreshBench,
  handler: RefreshHandler,
  rounds: number,
): Promise<ConcurrencyRow[]> {
  await handler({ provider: 'burst' }, lambdaContext());
  const concurrency: ConcurrencyRow[] = [];
  for (const n of CONCURRENCY) {
    const containers = Array.from({ length: n }, () => bench.container());
    const row: ConcurrencyRow = {
      n,
      rounds: 0,
      providerCalls: [],
      statuses: {},
      awsCalls: [],
      wallMs: [],
      refreshedRounds: 0,
    };
    for (let round = 0; round < rounds; round++) {
      bench.advance();
      bench.oauth.resetCounters();
      const counted = await bench.counted(() =>
        Promise.all(containers.map((each) => each({ provider: 'burst' }, lambdaContext()))),
      );
      recordRound(row, counted, bench.oauth.tokenRequests.total);
    }
    concurrency.push(row);
    say(
      `  N = ${n}: provider calls per round ${row.providerCalls.join(', ')}; statuses ${JSON.stringify(row.statuses)}`,
    );
  }
  return concurrency;
}

function recordRound(
  row: ConcurrencyRow,
  counted: Counted<RefreshHandlerResult[]>,
  providerCalls: number,
): void {
  const { result, operations, ms } = counted;
  row.rounds++;
  row.providerCalls.push(providerCalls);
  row.awsCalls.push(total(operations));
  row.wallMs.push(ms);
  const refreshed = result.filter((each) => each.status === 'refreshed').length;
  if (refreshed === 1) row.refreshedRounds++;
  for (const each of result) row.statuses[each.status] = (row.statuses[each.status] ?? 0) + 1;
}

function callsPerInvocationTable(calls: CallsPerInvocation): Table {
  const columns: readonly (readonly [string, Counted<RefreshHandlerResult>, CallTarget | undefined])[] = [
    ['first refresh', calls.firstRefresh, undefined],
    ['scheduled refresh, warm container', calls.scheduled, CALL_TARGETS.scheduled],
    ['scheduled refresh, cold container', calls.scheduledCold, CALL_TARGETS.scheduled],
    [
      `scheduled refresh, refresh_token grant${calls.rotated ? ' (rotated)' : ''}, warm container`,
      calls.rotating,
      CALL_TARGETS.rotated,
    ],
    [
      `scheduled refresh, refresh_token grant${calls.rotated ? ' (rotated)' : ''}, cold container`,
      calls.rotatingCold,
      CALL_TARGETS.rotated,
    ],
    ['not-due tick', calls.tick, CALL_TARGETS.notDueTick],
    ['on-demand refresh (refused token)', calls.onDemand, undefined],
  ];
  const operationNames = [...new Set(columns.flatMap(([, each]) => Object.keys(each.operations)))].sort(
    byService,
  );
  return {
    title: 'AWS calls per invocation, counted at moto by operation',
    head: ['operation', ...columns.map(([name]) => name)],
    rows: [
      ...operationNames.map((operation) => [
        `\`${operation}\``,
        ...columns.map(([, each]) =>
          each.operations[operation] === undefined ? '' : int(each.operations[operation]),
        ),
      ]),
      ['**total AWS calls**', ...columns.map(([, each]) => `**${int(total(each.operations))}**`)],
      [
        'target of issue #17',
        ...columns.map(([, , target]) => (target === undefined ? '' : describeTarget(target))),
      ],
      [
        'against the target',
        ...columns.map(([, each, target]) =>
          target === undefined ? '' : callVerdict(total(each.operations), target),
        ),
      ],
      ['log + EMF bytes written', ...columns.map(([, each]) => int(each.logBytes))],
    ],
  };
}

function concurrentTriggersTable(concurrency: readonly ConcurrencyRow[], rounds: number): Table {
  return {
    title: `Concurrent triggers on a due provider (${rounds} rounds per N; each trigger its own container)`,
    head: [
      'N triggers',
      'provider calls per round (max)',
      'vs one call per trigger',
      'rounds with exactly one refresh',
      'answers',
      'AWS calls per round (mean)',
      'round wall time, median ms',
    ],
    rows: concurrency.map((row) => [
      int(row.n),
      `${fixed(mean(row.providerCalls), 2)} (${int(Math.max(...row.providerCalls))})`,
      ratio(mean(row.providerCalls), row.n, 2),
      `${row.refreshedRounds} / ${row.rounds}`,
      Object.entries(row.statuses)
        .map(([status, count]) => `${status} ${count}`)
        .join(', '),
      fixed(mean(row.awsCalls), 1),
      fixed(median(row.wallMs), 0),
    ]),
  };
}

function refreshLatencyTable(
  latency: { providerMs: number[]; writtenMs: number[]; answeredMs: number[]; tickMs: number[] },
  refreshes: number,
  ticks: number,
): Table {
  const row = (label: string, values: number[]) => [
    label,
    fixed(median(values)),
    fixed(quantile(values, 0.99)),
    fixed(mean(values)),
  ];
  return {
    title: `Latency with moto and the OAuth server on loopback (ms; ${refreshes} scheduled refreshes, ${ticks} not-due ticks)`,
    head: ['from trigger to', 'median', 'p99', 'mean'],
    rows: [
      row('provider answered (lease taken, secrets read, token endpoint called)', latency.providerMs),
      row('**token written** (compare-and-swap returned)', latency.writtenMs),
      row('handler answered (lease released, next run scheduled, metrics flushed)', latency.answeredMs),
      row('not-due tick answered', latency.tickMs),
    ],
  };
}

interface ConcurrencyRow {
  readonly n: number;
  rounds: number;
  readonly providerCalls: number[];
  readonly statuses: Record<string, number>;
  readonly awsCalls: number[];
  readonly wallMs: number[];
  refreshedRounds: number;
}

/**
 * The refresh handler composed from the same adapters as `composeRefreshHandler`, with the token
 * store's write and the provider call marked: that is where "token written" is observed.
 */
function timedContainer(
  env: Record<string, string>,
  clientConfig: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  },
  clock: { now(): number },
): { handler: RefreshHandler; marks: { what: 'token-written' | 'provider-answered'; at: number }[] } {
  const environment = readRefreshEnvironment(env);
  const marks: { what: 'token-written' | 'provider-answered'; at: number }[] = [];
  const secretsClient = createSecretsManagerClient(clientConfig);
  const { secretPrefix, providers } = environment.config;
  const store = new SecretsManagerTokenStore({ client: secretsClient, secretPrefix });
  const tokens: TokenStore = {
    readCurrent: (provider) => store.readCurrent(provider),
    async write(input) {
      const versionId = await store.write(input);
      marks.push({ what: 'token-written', at: performance.now() });
      return versionId;
    },
  };
  const clients = new Map<string, Provider>();
  const providerFor = (config: ProviderConfig): Provider => {
    let client = clients.get(config.name);
    if (client === undefined) {
      const inner = createProvider(config);
      client = {
        async requestToken(input) {
          const issued = await inner.requestToken(input);
          marks.push({ what: 'provider-answered', at: performance.now() });
          return issued;
        },
      };
      clients.set(config.name, client);
    }
    return client;
  };
  const metrics = new EmfMetrics();
  const logger = createLogger();
  const precise = environment.precise;
  const engine = new RefreshEngine({
    tokens,
    credentials: new SecretsManagerCredentialsStore({ client: secretsClient, secretPrefix }),
    state: new DynamoDbStateTable({
      client: createDynamoDbClient(clientConfig),
      tableName: environment.tableName,
    }),
    providerFor,
    clock,
    metrics,
    logger,
    ...(precise === undefined ? {} : { scheduler: new SchedulerNextRun({ clientConfig, ...precise }) }),
  });
  return {
    handler: createRefreshHandler({ engine, providers, logger, publishMetrics: () => metrics.publish() }),
    marks,
  };
}

/**
 * Operation names as AWS documents them: JSON-protocol calls are counted by `X-Amz-Target`
 * (`secretsmanager.GetSecretValue`); Scheduler is a REST API, recorded as `<METHOD> <path>`.
 */
function normaliseOperations(counts: Record<string, number>): Record<string, number> {
  const named: Record<string, number> = {};
  for (const [key, count] of Object.entries(counts)) {
    const name = operationName(key);
    named[name] = (named[name] ?? 0) + count;
  }
  return named;
}

/** One recorded operation's documented name. */
function operationName(key: string): string {
  const rest = /^(GET|PUT|POST|DELETE) \/schedules\//.exec(key);
  if (rest === null) return key.replace(/^DynamoDB_\d+\./, 'dynamodb.');
  return `scheduler.${{ GET: 'GetSchedule', PUT: 'UpdateSchedule', POST: 'CreateSchedule', DELETE: 'DeleteSchedule' }[rest[1] as 'GET']}`;
}

function total(operations: Readonly<Record<string, number>>): number {
  return Object.values(operations).reduce((sum, count) => sum + count, 0);
}

function byService(a: string, b: string): number {
  const order = ['dynamodb', 'secretsmanager', 'scheduler'];
  const rank = (name: string) => {
    const index = order.indexOf(name.split('.')[0] ?? '');
    return index === -1 ? order.length : index;
  };
  return rank(a) - rank(b) || a.localeCompare(b);
}

/** Metric names in the EMF documents of captured stdout. */
function emfMetricNames(text: string): string[] {
  return text
    .split('\n')
    .flatMap((line) =>
      (emfDocumentOf(line)?._aws?.CloudWatchMetrics ?? []).flatMap((directive) =>
        (directive.Metrics ?? []).flatMap((metric) => (metric.Name === undefined ? [] : [metric.Name])),
      ),
    );
}

interface EmfDocument {
  _aws?: { CloudWatchMetrics?: { Metrics?: { Name?: string }[] }[] };
}

/** The line as an EMF document, or `undefined` when it is not one. */
function emfDocumentOf(line: string): EmfDocument | undefined {
  if (!line.includes('"_aws"')) return undefined;
  try {
    return JSON.parse(line) as EmfDocument;
  } catch {
    return undefined; // Not an EMF document.
  }
}
