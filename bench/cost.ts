/**
 * The refresh fleet's monthly cost per provider, from measured call counts and durations and the
 * public AWS prices. Pure: benchmark 5 feeds it what benchmark 4 measured; `test/unit/bench`
 * checks the arithmetic.
 */

/** Public on-demand prices, us-east-1, without free tiers. */
export interface Prices {
  /** Lambda: per 1M requests. */
  readonly lambdaPerMillionRequests: number;
  /** Lambda on arm64: per GB-second. */
  readonly lambdaPerGbSecondArm64: number;
  /** Secrets Manager: per secret-month. */
  readonly secretPerMonth: number;
  /** Secrets Manager: per 10,000 API calls. */
  readonly secretsManagerPer10kCalls: number;
  /** KMS: per 10,000 requests (Secrets Manager calls KMS for each secret value it encrypts or decrypts with a customer managed key). */
  readonly kmsPer10kRequests: number;
  /** KMS: per customer managed key-month. */
  readonly kmsKeyPerMonth: number;
  /** DynamoDB on-demand: per 1M write request units. */
  readonly dynamoDbPerMillionWrites: number;
  /** DynamoDB on-demand: per 1M read request units. */
  readonly dynamoDbPerMillionReads: number;
  /** EventBridge Scheduler: per 1M invocations (after the 14M free each month). */
  readonly schedulerPerMillionInvocations: number;
  /** CloudWatch: per standard-resolution alarm-month. */
  readonly alarmPerMonth: number;
  /** CloudWatch: per custom metric-month (first 10,000 metrics). */
  readonly customMetricPerMonth: number;
  /** CloudWatch: per dashboard-month (beyond the first 3). */
  readonly dashboardPerMonth: number;
  /** CloudWatch Logs: per GB ingested (standard class). */
  readonly logsPerGbIngested: number;
}

/** The prices used by `npm run bench`, and where they come from. */
export const US_EAST_1_PRICES: Prices = {
  lambdaPerMillionRequests: 0.2,
  lambdaPerGbSecondArm64: 0.0000133334,
  secretPerMonth: 0.4,
  secretsManagerPer10kCalls: 0.05,
  kmsPer10kRequests: 0.03,
  kmsKeyPerMonth: 1,
  dynamoDbPerMillionWrites: 0.625,
  dynamoDbPerMillionReads: 0.125,
  schedulerPerMillionInvocations: 1,
  alarmPerMonth: 0.1,
  customMetricPerMonth: 0.3,
  dashboardPerMonth: 3,
  logsPerGbIngested: 0.5,
};

/** Where {@link US_EAST_1_PRICES} come from (they are constants: the script fetches nothing). */
export const PRICES_SOURCE =
  'us-east-1 list prices of the AWS pricing pages for Lambda (arm64), Secrets Manager, KMS, DynamoDB on-demand (after the ' +
  'November 2024 reduction), EventBridge Scheduler and CloudWatch, written into bench/cost.ts on 2026-11-23; the script does ' +
  'not fetch them, so check the pricing pages before relying on the totals. Free tiers are not deducted.';

/**
 * Lambda writes START, END and REPORT lines for every invocation (≈ 60 + 50 + 170 bytes with a
 * request id); an estimate, since these are not emitted outside Lambda.
 */
export const LAMBDA_PLATFORM_LOG_BYTES_PER_INVOCATION = 280;

/** What one provider does in a month, measured or configured. */
export interface ProviderUsage {
  readonly hoursPerMonth: number;
  readonly tokenLifetimeSeconds: number;
  readonly refreshBeforeSeconds: number;
  /** The recurring (safety-net) schedule's period. */
  readonly scheduleRateMinutes: number;
  readonly memoryMb: number;
  /** Handler duration of a refresh / of a not-due tick (ms); billed rounded up to 1 ms. */
  readonly refreshMs: number;
  readonly tickMs: number;
  /** AWS calls by operation (`secretsmanager.GetSecretValue`, `dynamodb.UpdateItem`, ...). */
  readonly callsPerRefresh: Readonly<Record<string, number>>;
  readonly callsPerTick: Readonly<Record<string, number>>;
  /** Bytes the handler logs (JSON lines + EMF). */
  readonly logBytesPerRefresh: number;
  readonly logBytesPerTick: number;
  readonly secretsPerProvider: number;
  readonly alarmsPerProvider: number;
  /** Distinct custom metrics (name × `provider` dimension) a healthy provider publishes. */
  readonly metricsPerProvider: number;
}

export interface CostLine {
  readonly item: string;
  /** How it is computed, with the quantities. */
  readonly basis: string;
  readonly usd: number;
}

export interface ProviderCost {
  readonly refreshesPerMonth: number;
  readonly ticksPerMonth: number;
  readonly invocationsPerMonth: number;
  readonly lines: readonly CostLine[];
  readonly total: number;
}

/** Secrets Manager operations that encrypt or decrypt a value (one KMS request each with a customer managed key). */
const KMS_BACKED_OPERATIONS = new Set(['secretsmanager.GetSecretValue', 'secretsmanager.PutSecretValue']);

function count(calls: Readonly<Record<string, number>>, predicate: (operation: string) => boolean): number {
  return Object.entries(calls)
    .filter(([operation]) => predicate(operation))
    .reduce((total, [, value]) => total + value, 0);
}

/**
 * One provider's monthly cost. Refreshes run every `lifetime − refreshBefore` (driven by the precise
 * one-time schedule); every run of the recurring schedule is a not-due tick.
 */
export function providerMonthlyCost(usage: ProviderUsage, prices: Prices): ProviderCost {
  const refreshIntervalSeconds = usage.tokenLifetimeSeconds - usage.refreshBeforeSeconds;
  if (!(refreshIntervalSeconds > 0))
    throw new RangeError('tokenLifetimeSeconds must exceed refreshBeforeSeconds');
  if (!(usage.scheduleRateMinutes > 0)) throw new RangeError('scheduleRateMinutes must be positive');
  const refreshes = (usage.hoursPerMonth * 3600) / refreshIntervalSeconds;
  const ticks = (usage.hoursPerMonth * 60) / usage.scheduleRateMinutes;
  const invocations = refreshes + ticks;
  const both = (predicate: (operation: string) => boolean) =>
    refreshes * count(usage.callsPerRefresh, predicate) + ticks * count(usage.callsPerTick, predicate);

  const secretsCalls = both((operation) => operation.startsWith('secretsmanager.'));
  const kmsRequests = both((operation) => KMS_BACKED_OPERATIONS.has(operation));
  const reads = both((operation) => operation === 'dynamodb.GetItem');
  const writes = both((operation) => operation === 'dynamodb.UpdateItem' || operation === 'dynamodb.PutItem');
  const gbSeconds =
    ((refreshes * Math.ceil(usage.refreshMs) + ticks * Math.ceil(usage.tickMs)) / 1000) *
    (usage.memoryMb / 1024);
  const logBytes =
    refreshes * usage.logBytesPerRefresh +
    ticks * usage.logBytesPerTick +
    invocations * LAMBDA_PLATFORM_LOG_BYTES_PER_INVOCATION;
  const round = (value: number) => Math.round(value).toLocaleString('en-US');

  const lines: CostLine[] = [
    {
      item: 'Secrets Manager secrets',
      basis: `${usage.secretsPerProvider} secrets (token, credentials)`,
      usd: usage.secretsPerProvider * prices.secretPerMonth,
    },
    {
      item: 'CloudWatch custom metrics',
      basis: `${usage.metricsPerProvider} metrics with the provider dimension`,
      usd: usage.metricsPerProvider * prices.customMetricPerMonth,
    },
    {
      item: 'CloudWatch alarms',
      basis: `${usage.alarmsPerProvider} staleness alarm(s)`,
      usd: usage.alarmsPerProvider * prices.alarmPerMonth,
    },
    {
      item: 'Secrets Manager API calls',
      basis: `${round(secretsCalls)} calls`,
      usd: (secretsCalls / 10_000) * prices.secretsManagerPer10kCalls,
    },
    {
      item: 'KMS requests (via Secrets Manager)',
      basis: `${round(kmsRequests)} Get/PutSecretValue`,
      usd: (kmsRequests / 10_000) * prices.kmsPer10kRequests,
    },
    {
      item: 'EventBridge Scheduler invocations',
      basis: `${round(ticks)} recurring + ${round(refreshes)} precise`,
      usd: (invocations / 1_000_000) * prices.schedulerPerMillionInvocations,
    },
    {
      item: 'Lambda requests',
      basis: `${round(invocations)} invocations`,
      usd: (invocations / 1_000_000) * prices.lambdaPerMillionRequests,
    },
    {
      item: 'Lambda duration (arm64)',
      basis: `${round(gbSeconds)} GB-s at ${usage.memoryMb} MB`,
      usd: gbSeconds * prices.lambdaPerGbSecondArm64,
    },
    {
      item: 'CloudWatch Logs ingestion',
      basis: `${(logBytes / 1e6).toFixed(1)} MB`,
      usd: (logBytes / 1e9) * prices.logsPerGbIngested,
    },
    {
      item: 'DynamoDB on-demand',
      basis: `${round(reads)} RRU (strongly consistent reads ≤ 4 KB) + ${round(writes)} WRU (items ≤ 1 KB)`,
      usd:
        (reads / 1_000_000) * prices.dynamoDbPerMillionReads +
        (writes / 1_000_000) * prices.dynamoDbPerMillionWrites,
    },
  ];
  return {
    refreshesPerMonth: refreshes,
    ticksPerMonth: ticks,
    invocationsPerMonth: invocations,
    lines,
    total: lines.reduce((sum, line) => sum + line.usd, 0),
  };
}

/** What one stack costs per month whatever its provider count: the key, the dashboard, the shared alarms. */
export function sharedMonthlyCost(sharedAlarms: number, prices: Prices): CostLine[] {
  return [
    { item: 'KMS customer managed key', basis: '1 key', usd: prices.kmsKeyPerMonth },
    { item: 'CloudWatch dashboard', basis: '1 dashboard (beyond the 3 free)', usd: prices.dashboardPerMonth },
    {
      item: 'CloudWatch alarms (shared)',
      basis: `${sharedAlarms} alarms`,
      usd: sharedAlarms * prices.alarmPerMonth,
    },
  ];
}
