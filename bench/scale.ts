/**
 * Benchmark 5: scale.
 *
 * Synthesis of the `TokenRefresher` stack in-process (as `test/infra` does: bundling skipped with
 * `aws:cdk:bundling-stacks: []`) for 10, 50 and the most providers a stack holds
 * (`MAX_PROVIDERS_PER_STACK`, which the construct checks at synth so that the stack stays within
 * CloudFormation's 500 resources), and one more provider, to show that synth refuses it. Each size is synthesised
 * without and with cdk-nag (`infra/app.ts` runs the AwsSolutions pack on every `cdk synth`).
 *
 * Then the refresh fleet's cost per provider-month from benchmark 4's measured call counts,
 * durations and log bytes, and the public prices in `cost.ts`.
 */
import { rmSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ProviderConfigInput } from '../functions/core/config.js';
import { TokenRefresherStack } from '../infra/stack.js';
import { MAX_PROVIDERS_PER_STACK } from '../infra/validate-props.js';
import {
  PRICES_SOURCE,
  type ProviderUsage,
  providerMonthlyCost,
  sharedMonthlyCost,
  US_EAST_1_PRICES,
} from './cost.js';
import type { BenchContext } from './lib/context.js';
import { printTable, type Section, say, type Table } from './lib/report.js';
import { fixed, int, median, usd } from './lib/stats.js';

/** CloudFormation's limit of resources per stack (the CDK checks it at synth). */
const STACK_RESOURCE_LIMIT = 500;

interface Synthesis {
  readonly providers: number;
  readonly resources?: number;
  readonly byType?: Readonly<Record<string, number>>;
  readonly seconds: number;
  readonly nagSeconds?: number;
  /** Why synthesis failed, when it did. */
  readonly error?: string;
}

function providersOf(count: number): ProviderConfigInput[] {
  return Array.from({ length: count }, (_, index) => ({
    name: `provider-${String(index).padStart(3, '0')}`,
    grant: 'client_credentials' as const,
    tokenUrl: `https://auth${index}.example.com/oauth2/token`,
  }));
}

/** Build and synthesise one stack; `resources` from the synthesised template. */
function synthesise(count: number, nag: boolean): Omit<Synthesis, 'nagSeconds'> {
  const started = performance.now();
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  try {
    const stack = new TokenRefresherStack(app, 'TokenRefresher', {
      config: { providers: providersOf(count) },
    });
    const assembly = app.synth();
    const seconds = (performance.now() - started) / 1000;
    const template = assembly.getStackByName(stack.stackName).template as {
      Resources: Record<string, { Type: string }>;
    };
    rmSync(assembly.directory, { recursive: true, force: true });
    const byType: Record<string, number> = {};
    for (const resource of Object.values(template.Resources))
      byType[resource.Type] = (byType[resource.Type] ?? 0) + 1;
    return { providers: count, resources: Object.keys(template.Resources).length, byType, seconds };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // The CDK's limit message goes on to list every resource type: its first clause is enough.
    // The construct's message lists its problems on the lines after "invalid ... props:": the first one.
    const lines = message.split('\n').map((line) => line.trim().replace(/^- /, ''));
    const head = lines[0] ?? message;
    const first = (head.endsWith(':') ? `${head} ${lines[1] ?? ''}` : head).split(': AWS::')[0] ?? message;
    return { providers: count, seconds: (performance.now() - started) / 1000, error: first };
  }
}

/** Synthesise `repeats` times without and with cdk-nag, taking turns; the median times. */
function measure(count: number, repeats: number): Synthesis {
  const plainRuns: Omit<Synthesis, 'nagSeconds'>[] = [];
  const naggedRuns: Omit<Synthesis, 'nagSeconds'>[] = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    plainRuns.push(synthesise(count, false));
    if (plainRuns[0]?.error !== undefined) return plainRuns[0];
    naggedRuns.push(synthesise(count, true));
  }
  const plain = { ...plainRuns[0], seconds: median(plainRuns.map((run) => run.seconds)) } as Omit<
    Synthesis,
    'nagSeconds'
  >;
  const nagged = { ...naggedRuns[0], seconds: median(naggedRuns.map((run) => run.seconds)) } as Omit<
    Synthesis,
    'nagSeconds'
  >;
  const shown = `${count} providers: ${plain.resources} resources, synth ${fixed(plain.seconds, 2)} s (with cdk-nag ${fixed(nagged.seconds, 2)} s)`;
  say(`  ${nagged.error === undefined ? shown : `${shown}; cdk-nag failed: ${nagged.error}`}`);
  return { ...plain, nagSeconds: nagged.seconds };
}

/** The middle size: below `MAX_PROVIDERS_PER_STACK`, above the 20 providers where managed policies begin. */
const MIDDLE = 50;

export async function scale(context: BenchContext): Promise<Section> {
  const repeats = context.quick ? 1 : 3;
  say(`Benchmark 5: scale (in-process synth, bundling skipped; median of ${repeats} per size)`);
  // The first synthesis also pays for loading and JIT-compiling aws-cdk-lib: warm up first.
  synthesise(1, false);
  const ten = measure(10, repeats);
  const middle = measure(MIDDLE, repeats);
  if (ten.resources === undefined || middle.resources === undefined) {
    throw new Error(`synth failed: ${ten.error ?? middle.error}`);
  }
  // Per provider between 10 and MIDDLE (above 20 providers this includes the roles' managed policies).
  const perProvider = (middle.resources - ten.resources) / (MIDDLE - 10);
  const shared = ten.resources - 10 * perProvider;
  const maxProviders = MAX_PROVIDERS_PER_STACK;
  const max = measure(maxProviders, repeats);
  const beyond = synthesise(maxProviders + 1, false);
  say(
    `  ${maxProviders + 1} providers: ${beyond.error === undefined ? `${beyond.resources} resources` : `synth refused: ${beyond.error}`}`,
  );

  const perProviderTypes = Object.entries(middle.byType ?? {})
    .map(([type, n]) => [type, (n - (ten.byType?.[type] ?? 0)) / (MIDDLE - 10)] as const)
    .filter(([, n]) => n > 0);
  const synthTable = synthesisTable({ ten, middle, max, beyond, shared, perProvider, repeats });
  printTable(synthTable);

  const sections: Table[] = [synthTable];
  const notes = [
    `Per provider: ${perProviderTypes.map(([type, n]) => `${fixed(n, 0)} × \`${type}\``).join(', ')}. ` +
      `At ${int(maxProviders)} providers the stack holds ${int(max.resources ?? Number.NaN)} resources; one more ` +
      `${beyond.error === undefined ? `gives ${int(beyond.resources ?? Number.NaN)}` : 'is refused by the CDK at synth'}. ` +
      'Beyond that a deployment needs a second stack (or a shared alarm per group of providers instead of one per provider).',
  ];

  const refresh = context.shared.refresh;
  if (refresh === undefined) {
    notes.push(
      "The cost model needs benchmark 4's measured counts: run all benchmarks (no `--only`) to get it.",
    );
  } else {
    const model = costModel(refresh, { perProviderTypes, ten, maxProviders });
    sections.push(...model.tables);
    notes.push(...model.notes);
  }

  return {
    title: '5. Scale',
    method: [
      'The `TokenRefresher` stack is synthesised in-process as `test/infra` does (`aws:cdk:bundling-stacks: []`: no esbuild ' +
        "run, so these are the CDK's own times; `npx cdk synth` adds tsx start-up and two esbuild bundles), for 10 and 50 " +
        'client_credentials providers, then for the most a stack holds (`MAX_PROVIDERS_PER_STACK`, checked at synth to ' +
        'stay within 500 resources), and for one provider more. Each is timed without and ' +
        "with cdk-nag's AwsSolutions pack (`infra/app.ts` runs it on every synth), after one warm-up synthesis.",
    ],
    tables: sections,
    notes,
  };
}

/** The synthesis figures: 10, {@link MIDDLE} and the most providers a stack holds, and one more. */
function synthesisTable(input: {
  readonly ten: Synthesis;
  readonly middle: Synthesis;
  readonly max: Synthesis;
  readonly beyond: Omit<Synthesis, 'nagSeconds'>;
  readonly shared: number;
  readonly perProvider: number;
  readonly repeats: number;
}): Table {
  const { ten, middle, max, beyond, shared, perProvider, repeats } = input;
  const share = (resources: number) => `${fixed((resources / STACK_RESOURCE_LIMIT) * 100, 0)} %`;
  return {
    title: `Synthesis in-process (bundling skipped; median seconds of ${repeats} on this machine): ${fixed(shared, 0)} shared + ${fixed(perProvider, 0)} resources per provider`,
    head: ['providers', 'resources', `of ${STACK_RESOURCE_LIMIT}`, 'synth s', 'synth with cdk-nag s'],
    rows: [
      ...[ten, middle, max].map((each) => [
        each === max ? `${int(each.providers)} (maximum)` : int(each.providers),
        each.resources === undefined ? `failed: ${each.error}` : int(each.resources),
        each.resources === undefined ? '' : share(each.resources),
        fixed(each.seconds, 2),
        fixed(each.nagSeconds ?? Number.NaN, 2),
      ]),
      [
        int(beyond.providers),
        beyond.error === undefined
          ? int(beyond.resources ?? Number.NaN)
          : `refused at synth: ${beyond.error}`,
        beyond.resources === undefined ? '' : share(beyond.resources),
        fixed(beyond.seconds, 2),
        '',
      ],
    ],
  };
}

/** The cost model from benchmark 4's counts: per provider-month, the whole stack, and what they say. */
function costModel(
  refresh: NonNullable<BenchContext['shared']['refresh']>,
  synthesis: {
    readonly perProviderTypes: readonly (readonly [string, number])[];
    readonly ten: Synthesis;
    readonly maxProviders: number;
  },
): { tables: Table[]; notes: string[] } {
  const { perProviderTypes, ten, maxProviders } = synthesis;
  const alarmsPerProvider = perProviderTypes.find(([type]) => type === 'AWS::CloudWatch::Alarm')?.[1] ?? 0;
  const secretsPerProvider =
    perProviderTypes.find(([type]) => type === 'AWS::SecretsManager::Secret')?.[1] ?? 0;
  const sharedAlarms = (ten.byType?.['AWS::CloudWatch::Alarm'] ?? 0) - 10 * alarmsPerProvider;
  const usage: ProviderUsage = {
    hoursPerMonth: 730,
    tokenLifetimeSeconds: 3600,
    refreshBeforeSeconds: 300,
    scheduleRateMinutes: 5,
    memoryMb: 256,
    refreshMs: refresh.meanRefreshMs,
    tickMs: refresh.meanTickMs,
    callsPerRefresh: refresh.callsPerRefresh,
    callsPerTick: refresh.callsPerTick,
    logBytesPerRefresh: refresh.logBytesPerRefresh,
    logBytesPerTick: refresh.logBytesPerTick,
    secretsPerProvider,
    alarmsPerProvider,
    metricsPerProvider: refresh.metricsPerProvider,
  };
  const cost = providerMonthlyCost(usage, US_EAST_1_PRICES);
  const sharedLines = sharedMonthlyCost(sharedAlarms, US_EAST_1_PRICES);
  const sharedTotal = sharedLines.reduce((sum, line) => sum + line.usd, 0);
  const costTable: Table = {
    title: `Refresh fleet cost per provider-month (1-hour token, refreshBefore 5 min, rate(5 minutes), 256 MB arm64; ${fixed(cost.refreshesPerMonth, 0)} refreshes + ${int(cost.ticksPerMonth)} not-due ticks a month)`,
    head: ['item', 'quantity per provider-month', 'USD', 'share'],
    rows: [
      ...[...cost.lines]
        .sort((a, b) => b.usd - a.usd)
        .map((line) => [
          line.item,
          line.basis,
          usd(line.usd),
          `${fixed((line.usd / cost.total) * 100, 1)} %`,
        ]),
      ['**total per provider**', '', `**${usd(cost.total)}**`, '100 %'],
    ],
  };
  printTable(costTable);
  const fleetTable: Table = {
    title: 'Whole stack per month (per-provider cost + shared: KMS key, dashboard, shared alarms)',
    head: [
      'providers',
      'per-provider part',
      `shared part (${usd(sharedTotal)})`,
      'total per month',
      'per provider',
    ],
    rows: [10, MIDDLE, maxProviders].map((n) => [
      int(n),
      usd(n * cost.total),
      usd(sharedTotal),
      usd(n * cost.total + sharedTotal),
      usd(cost.total + sharedTotal / n),
    ]),
  };
  printTable(fleetTable);
  const fixedItems = ['Secrets Manager secrets', 'CloudWatch custom metrics', 'CloudWatch alarms'];
  const fixedPart = cost.lines
    .filter((line) => fixedItems.includes(line.item))
    .reduce((sum, line) => sum + line.usd, 0);
  const largest = [...cost.lines].sort((a, b) => b.usd - a.usd)[0];
  const notes = [
    `Prices: ${PRICES_SOURCE} Per unit: Lambda $${US_EAST_1_PRICES.lambdaPerMillionRequests} per 1M requests and ` +
      `$${US_EAST_1_PRICES.lambdaPerGbSecondArm64} per GB-s (arm64); Secrets Manager $${US_EAST_1_PRICES.secretPerMonth} per ` +
      `secret-month and $${US_EAST_1_PRICES.secretsManagerPer10kCalls} per 10,000 calls; KMS $${US_EAST_1_PRICES.kmsKeyPerMonth} ` +
      `per key-month and $${US_EAST_1_PRICES.kmsPer10kRequests} per 10,000 requests; DynamoDB on-demand ` +
      `$${US_EAST_1_PRICES.dynamoDbPerMillionWrites} per 1M WRU and $${US_EAST_1_PRICES.dynamoDbPerMillionReads} per 1M RRU; ` +
      `EventBridge Scheduler $${US_EAST_1_PRICES.schedulerPerMillionInvocations} per 1M invocations; CloudWatch ` +
      `$${US_EAST_1_PRICES.alarmPerMonth} per standard alarm-month, $${US_EAST_1_PRICES.customMetricPerMonth} per custom ` +
      `metric-month, $${US_EAST_1_PRICES.dashboardPerMonth} per dashboard-month, Logs $${US_EAST_1_PRICES.logsPerGbIngested} ` +
      'per GB ingested.',
    'Quantities: AWS calls per refresh and per tick as counted in benchmark 4 (a client_credentials provider; one whose ' +
      "refresh token rotates adds the credentials secret's compare-and-swap write, 2 calls per refresh), Lambda duration = benchmark 4's mean " +
      'handler time on loopback (billed per ms), log bytes as written by the handler plus an estimated 280 bytes of Lambda ' +
      'START/END/REPORT lines per invocation, KMS one request per `GetSecretValue`/`PutSecretValue` (the construct encrypts ' +
      "with a customer managed key), the consumers' own reads not included (benchmark 1 prices them per container).",
    `What the numbers say: ${usd(fixedPart)} of the ${usd(cost.total)} per provider-month ` +
      `(${fixed((fixedPart / cost.total) * 100, 0)} %) is fixed — the ${refresh.metricsPerProvider} custom metrics with the ` +
      'provider dimension, the two secrets and the staleness alarm — and the refresh work itself (API calls, Scheduler, ' +
      `Lambda, DynamoDB, logs) is ${usd(cost.total - fixedPart)}. The largest line is ${largest?.item ?? '–'}` +
      `${largest?.item === 'CloudWatch custom metrics' ? ', more than the secrets: RefreshSucceeded and RefreshDuration per provider could go without the dimension (one fleet-wide metric each), leaving SecondsToExpiry, which the staleness alarm needs per provider' : ''}.`,
  ];
  return { tables: [costTable, fleetTable], notes };
}
