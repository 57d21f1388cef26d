import { describe, expect, it } from 'vitest';
import {
  type Prices,
  type ProviderUsage,
  providerMonthlyCost,
  sharedMonthlyCost,
  US_EAST_1_PRICES,
} from '../../../bench/cost.js';

/** Round numbers, so that every line can be checked by hand. */
const PRICES: Prices = {
  lambdaPerMillionRequests: 1,
  lambdaPerGbSecondArm64: 0.001,
  secretPerMonth: 0.5,
  secretsManagerPer10kCalls: 1,
  kmsPer10kRequests: 2,
  kmsKeyPerMonth: 1,
  dynamoDbPerMillionWrites: 10,
  dynamoDbPerMillionReads: 5,
  schedulerPerMillionInvocations: 3,
  alarmPerMonth: 0.25,
  customMetricPerMonth: 0.5,
  dashboardPerMonth: 3,
  logsPerGbIngested: 1,
};

/** 1,000 hours, a refresh every 1,000 s (3,600 a month) and a tick every 10 min (6,000 a month). */
const USAGE: ProviderUsage = {
  hoursPerMonth: 1_000,
  tokenLifetimeSeconds: 1_300,
  refreshBeforeSeconds: 300,
  scheduleRateMinutes: 10,
  memoryMb: 512,
  refreshMs: 99.2,
  tickMs: 9.5,
  callsPerRefresh: {
    'dynamodb.GetItem': 1,
    'dynamodb.UpdateItem': 2,
    'secretsmanager.GetSecretValue': 2,
    'secretsmanager.PutSecretValue': 1,
    'secretsmanager.UpdateSecretVersionStage': 1,
    'scheduler.UpdateSchedule': 1,
  },
  callsPerTick: { 'dynamodb.GetItem': 1 },
  logBytesPerRefresh: 1_000,
  logBytesPerTick: 500,
  secretsPerProvider: 2,
  alarmsPerProvider: 1,
  metricsPerProvider: 3,
};

const line = (cost: ReturnType<typeof providerMonthlyCost>, item: string) =>
  cost.lines.find((each) => each.item === item)?.usd;

describe('Function: providerMonthlyCost', () => {
  it('counts refreshes from the token lifetime and ticks from the schedule rate', () => {
    // Act
    const cost = providerMonthlyCost(USAGE, PRICES);

    // Assess
    expect(cost.refreshesPerMonth).toBe(3_600);
    expect(cost.ticksPerMonth).toBe(6_000);
    expect(cost.invocationsPerMonth).toBe(9_600);
  });

  it('prices every line from the call counts, durations and log bytes', () => {
    // Act
    const cost = providerMonthlyCost(USAGE, PRICES);

    // Assess
    expect(line(cost, 'Secrets Manager secrets')).toBeCloseTo(1, 10);
    expect(line(cost, 'CloudWatch custom metrics')).toBeCloseTo(1.5, 10);
    expect(line(cost, 'CloudWatch alarms')).toBeCloseTo(0.25, 10);
    // 3,600 × 4 Secrets Manager calls = 14,400.
    expect(line(cost, 'Secrets Manager API calls')).toBeCloseTo(1.44, 10);
    // Get + Put: 3,600 × 3 = 10,800 KMS requests.
    expect(line(cost, 'KMS requests (via Secrets Manager)')).toBeCloseTo(2.16, 10);
    expect(line(cost, 'EventBridge Scheduler invocations')).toBeCloseTo(0.0288, 10);
    expect(line(cost, 'Lambda requests')).toBeCloseTo(0.0096, 10);
    // (3,600 × 100 ms + 6,000 × 10 ms) = 420 s at 0.5 GB = 210 GB-s (billed per ms, rounded up).
    expect(line(cost, 'Lambda duration (arm64)')).toBeCloseTo(0.21, 10);
    // 3,600 × 1,000 + 6,000 × 500 + 9,600 × 280 platform bytes = 9,288,000 bytes.
    expect(line(cost, 'CloudWatch Logs ingestion')).toBeCloseTo(0.009288, 10);
    // 9,600 reads × $5/M + 7,200 writes × $10/M.
    expect(line(cost, 'DynamoDB on-demand')).toBeCloseTo(0.048 + 0.072, 10);
    expect(cost.total).toBeCloseTo(
      cost.lines.reduce((sum, each) => sum + each.usd, 0),
      10,
    );
  });

  it('refuses a lead time that is not shorter than the token lifetime', () => {
    expect(() => providerMonthlyCost({ ...USAGE, refreshBeforeSeconds: 1_300 }, PRICES)).toThrow(RangeError);
  });

  it('uses the stated us-east-1 prices', () => {
    // The figures RESULTS.md states; a change here must be a deliberate price update.
    expect(US_EAST_1_PRICES).toMatchObject({
      lambdaPerMillionRequests: 0.2,
      lambdaPerGbSecondArm64: 0.0000133334,
      secretPerMonth: 0.4,
      secretsManagerPer10kCalls: 0.05,
      dynamoDbPerMillionWrites: 0.625,
      dynamoDbPerMillionReads: 0.125,
      schedulerPerMillionInvocations: 1,
      alarmPerMonth: 0.1,
    });
  });
});

describe('Function: sharedMonthlyCost', () => {
  it('prices the key, the dashboard and the shared alarms once per stack', () => {
    // Act
    const lines = sharedMonthlyCost(8, PRICES);

    // Assess
    expect(lines.map((each) => each.usd)).toEqual([1, 3, 2]);
  });
});
