/**
 * The refresh-failure alarms (issue #11): a permanent failure pages at once and keeps the alarm in
 * ALARM while the provider is blocked; transient failures page only once `failureAlarmAttempts` of
 * them come in a row. Template assertions, and the synthesized alarms evaluated against EMF lines
 * printed by the real metrics adapter (test/infra/alarm-evaluation.ts models CloudWatch's evaluation).
 *
 * The EMF datapoints follow the engine's contract for the two metrics (ConsecutiveFailures at every
 * recorded failed attempt with the streak so far; RefreshFailedPermanent 1 at a permanent failure and
 * at every run it blocks), timed with the engine's own backoff function.
 */
import { Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EmfMetrics } from '../../functions/aws/metrics.js';
import { ConfigError, effectiveRefreshBefore } from '../../functions/core/config.js';
import { providerConfigSchema } from '../../functions/core/config-schema.js';
import { RefreshEngine } from '../../functions/core/engine.js';
import { ProviderError } from '../../functions/core/errors.js';
import { METRIC_NAMES, type MetricName, type MetricUnit, type Provider } from '../../functions/core/ports.js';
import { BACKOFF_MAX_MS, backoffDelayMs } from '../../functions/core/timing.js';
import {
  DEFAULT_FAILURE_ALARM_ATTEMPTS,
  failureGapBoundSeconds,
  failureStreakBoundSeconds,
  lookbackPeriods,
  SCHEDULER_PRECISION_SECONDS,
} from '../../infra/alarm-windows.js';
import { TokenRefresher } from '../../infra/token-refresher.js';
import { captureProcessOutput } from '../support/output.js';
import {
  FakeCredentialsStore,
  FakeSecrets,
  FakeStateTable,
  FakeTokenStore,
  RecordingLogger,
} from '../unit/core/fakes.js';
import {
  type AlarmState,
  type EmfDatapoint,
  evaluateAlarm,
  type InsightsAlarmProperties,
  parseEmf,
  transitions,
} from './alarm-evaluation.js';
import { build, logicalIds, PROVIDERS } from './support.js';

const CONSECUTIVE_FAILURES = METRIC_NAMES.consecutiveFailures;
const REFRESH_FAILED_PERMANENT = METRIC_NAMES.refreshFailedPermanent;
const PERMANENT_QUERY = `SELECT SUM(${REFRESH_FAILED_PERMANENT}) FROM SCHEMA("TokenRefresher", provider)`;
const PERSISTENT_QUERY = `SELECT MAX(${CONSECUTIVE_FAILURES}) FROM SCHEMA("TokenRefresher", provider)`;

const MINUTE = 60_000;
/** A moment on a period boundary, so that scenarios start at the same place in a period every run. */
const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);

/** The default `requestTimeout` of a grant, in seconds, as the config schema applies it. */
function defaultRequestTimeout(grant: 'client_credentials' | 'refresh_token'): number {
  return providerConfigSchema.parse({ name: 'p', grant, tokenUrl: 'https://auth.example.com/token' })
    .requestTimeout;
}
/** The lead time of a provider with the default `refreshBefore` and `expectedLifetime`, in seconds. */
function defaultLead(): number {
  const config = providerConfigSchema.parse({
    name: 'p',
    grant: 'client_credentials',
    tokenUrl: 'https://auth.example.com/token',
  });
  return effectiveRefreshBefore(config.refreshBefore, config.expectedLifetime);
}

const built = build();
const { stack, template } = built;
const refresher = stack.refresher;
const actions = [stack.resolve(refresher.alarmTopic.topicArn)];

/** The properties of the alarm whose construct id is `id`. */
function alarmProperties(from: typeof template, id: string): InsightsAlarmProperties {
  const [logicalId] = logicalIds(from, 'AWS::CloudWatch::Alarm').filter((candidate) =>
    candidate.startsWith(`Refresher${id}`),
  );
  if (logicalId === undefined) throw new Error(`no alarm ${id}`);
  return from.toJSON().Resources[logicalId].Properties as InsightsAlarmProperties;
}

describe('Refresh failure alarms', () => {
  describe('Template', () => {
    it('pages at once on a permanent failure of any provider, and looks back over the longest gap between two scheduled runs', () => {
      // Assess: the providers' longest gap is billing's rate(10 minutes) plus the 1-minute window, 11
      // minutes: 3 periods.
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Metrics: [
          {
            Id: Match.anyValue(),
            Expression: PERMANENT_QUERY,
            Period: 300,
            Label: Match.anyValue(),
            ReturnData: true,
          },
        ],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 3,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: actions,
        OKActions: actions,
        AlarmDescription: Match.stringLikeRegexp(
          'failed permanently.*invalid_grant.*rotation_outcome_unknown.*What to do',
        ),
      });
    });

    it('pages on 2 consecutive failures of any provider by default, and looks back over the longest backoff', () => {
      // Assess: 15 min backoff cap + 60 s Scheduler precision + the 45 s longest request: 4 periods.
      // The description's span: salesforce's 45 s calls, 2 × 45 s + 30 s + 60 s = 180 s, 3 minutes.
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Metrics: [
          {
            Id: Match.anyValue(),
            Expression: PERSISTENT_QUERY,
            Period: 300,
            Label: Match.anyValue(),
            ReturnData: true,
          },
        ],
        Threshold: 2,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 4,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: actions,
        OKActions: actions,
        AlarmDescription: Match.stringLikeRegexp(
          'failed 2 attempts in a row.*span at most about 3 minutes.*One failure that the retry fixes does not page.*What to do',
        ),
      });
    });

    it('keeps the logical id of RefreshFailuresAlarm and adds PermanentFailureAlarm; nothing alarms on a single RefreshFailed', () => {
      // Assess: the ids CloudFormation knows (an alarm whose id changes is replaced under a new name).
      const ids = logicalIds(template, 'AWS::CloudWatch::Alarm');
      expect(ids).toContain('RefresherRefreshFailuresAlarm72D0CFA7');
      expect(ids).toContain('RefresherPermanentFailureAlarm71D32AED');
      expect(stack.getLogicalId(refresher.refreshFailuresAlarm.node.defaultChild as never)).toBe(
        'RefresherRefreshFailuresAlarm72D0CFA7',
      );
      const expressions = Object.values(template.findResources('AWS::CloudWatch::Alarm')).flatMap((alarm) =>
        (alarm.Properties.Metrics ?? []).map((metric: { Expression: string }) => metric.Expression),
      );
      expect(
        expressions.filter((expression) => expression.includes(`(${METRIC_NAMES.refreshFailed})`)),
      ).toEqual([]);
    });

    it('honours failureAlarmAttempts, and a permanent alarm of rate(5 minutes) providers looks back 2 periods', () => {
      // Prepare
      const { template: other } = build({
        providers: PROVIDERS.filter((provider) => provider.name !== 'billing'),
        refresher: { failureAlarmAttempts: 5 },
      });

      // Assess
      expect(alarmProperties(other, 'RefreshFailuresAlarm')).toMatchObject({
        Threshold: 5,
        EvaluationPeriods: 4,
        DatapointsToAlarm: 1,
      });
      expect(alarmProperties(other, 'RefreshFailuresAlarm').Metrics[0]?.Expression).toBe(PERSISTENT_QUERY);
      expect(alarmProperties(other, 'PermanentFailureAlarm')).toMatchObject({
        Threshold: 1,
        EvaluationPeriods: 2,
        DatapointsToAlarm: 1,
      });
    });

    it('exposes both metrics, per provider and over all providers', () => {
      const perProvider = (metric: unknown) =>
        stack.resolve((metric as { toMetricConfig(): unknown }).toMetricConfig());
      expect(perProvider(refresher.metricConsecutiveFailures('github'))).toMatchObject({
        metricStat: {
          namespace: 'TokenRefresher',
          metricName: CONSECUTIVE_FAILURES,
          dimensions: [{ name: 'provider', value: 'github' }],
          statistic: 'Maximum',
        },
      });
      expect(perProvider(refresher.metricPermanentFailures('github'))).toMatchObject({
        metricStat: { metricName: REFRESH_FAILED_PERMANENT, statistic: 'Sum' },
      });
      expect(perProvider(refresher.metricConsecutiveFailures(undefined, { label: 'Streak' }))).toMatchObject({
        mathExpression: { expression: PERSISTENT_QUERY },
        renderingProperties: { label: 'Streak' },
      });
      expect(perProvider(refresher.metricPermanentFailures())).toMatchObject({
        mathExpression: { expression: PERMANENT_QUERY },
      });
      expect(() => refresher.metricConsecutiveFailures('nope')).toThrow(/unknown provider "nope"/);
    });

    it('graphs both metrics by provider on the dashboard, with the alarm threshold', () => {
      // Prepare: the body is a Fn::Join of JSON text and tokens; tokens become a placeholder string.
      const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
      if (dashboard === undefined) throw new Error('no dashboard');
      const join = dashboard.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
      const parts = join['Fn::Join'][1];
      const body = JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('')) as {
        widgets: {
          properties: {
            title?: string;
            metrics?: [{ expression: string }][];
            annotations?: { horizontal?: { value: number; label: string }[] };
          };
        }[];
      };
      const widget = (title: string) =>
        body.widgets.find((candidate) => candidate.properties.title === title);

      // Assess
      const streak = widget('Consecutive failures by provider (maximum)')?.properties;
      expect(streak?.metrics?.map(([metric]) => metric.expression)).toEqual([
        `${PERSISTENT_QUERY} GROUP BY provider`,
      ]);
      expect(streak?.annotations?.horizontal).toEqual([
        expect.objectContaining({ value: 2, label: 'Refresh failures alarm' }),
      ]);
      expect(
        widget('Permanent failures by provider (runs blocked)')?.properties.metrics?.map(
          ([metric]) => metric.expression,
        ),
      ).toEqual([`${PERMANENT_QUERY} GROUP BY provider`]);
    });
  });

  describe('Validation of failureAlarmAttempts', () => {
    it.each([0, -1, 2.5, Number.NaN])('refuses %s, naming the construct and the prop', (attempts) => {
      let thrown: unknown;
      try {
        new TokenRefresher(new Stack(), 'Tokens', {
          providers: PROVIDERS,
          failureAlarmAttempts: attempts,
        });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).message).toMatch(/^Default\/Tokens: invalid TokenRefresher props:/);
      expect((thrown as ConfigError).problems).toEqual([
        `failureAlarmAttempts: is ${attempts}; it must be a positive whole number of consecutive failed ` +
          'attempts (1 pages at every failure; the default 2 lets the retry fix a passing failure)',
      ]);
    });

    it('accepts 1 (every failed attempt pages)', () => {
      const { template: other } = build({ refresher: { failureAlarmAttempts: 1 } });
      expect(alarmProperties(other, 'RefreshFailuresAlarm')).toMatchObject({
        Threshold: 1,
        AlarmDescription: expect.stringMatching(
          /^Token refreshes keep failing: a provider failed an attempt \(/,
        ),
      });
    });
  });

  describe('Timing of the default', () => {
    it('records the 2nd consecutive failure well inside the default 5-minute lead time', () => {
      // Prepare: the default lead time and request timeouts, as the config schema applies them.
      const lead = defaultLead();
      const plainTimeout = defaultRequestTimeout('client_credentials');
      const rotatingTimeout = defaultRequestTimeout('refresh_token');

      // Act: the bounds, and a replay of the worst case with the engine's backoff.
      const bound = failureStreakBoundSeconds(DEFAULT_FAILURE_ALARM_ATTEMPTS, plainTimeout);
      const rotatingBound = failureStreakBoundSeconds(DEFAULT_FAILURE_ALARM_ATTEMPTS, rotatingTimeout);
      const worst = streakTimes({
        attempts: DEFAULT_FAILURE_ALARM_ATTEMPTS,
        callMs: plainTimeout * 1000,
        random: 1,
        lateMs: SCHEDULER_PRECISION_SECONDS * 1000,
      });
      const typical = streakTimes({
        attempts: DEFAULT_FAILURE_ALARM_ATTEMPTS,
        callMs: 1_000,
        random: 0.5,
        lateMs: 30_000,
      });

      // Assess: the figures docs/runbook.md and the TSDoc state. 2 × 10 s calls + (30 s + 60 s) = 110 s;
      // 2 × 30 s + 90 s = 150 s for refresh_token grants; about a minute typically.
      expect(DEFAULT_FAILURE_ALARM_ATTEMPTS).toBe(2);
      expect(lead).toBe(300);
      expect(bound).toBe(110);
      expect(rotatingBound).toBe(150);
      expect(worst).toHaveLength(2);
      expect(worst.at(-1)).toBe(T0 + bound * 1000);
      expect(((typical.at(-1) ?? 0) - T0) / 1000).toBe(54.5);
      // Well inside: a first run a full minute late plus the longest streak plus the alarm's one-minute
      // evaluation still leaves time before the expiry, for either grant.
      expect(SCHEDULER_PRECISION_SECONDS + rotatingBound + 60).toBeLessThan(lead);
      // 3 attempts, the old default, reach the lead time with the refresh_token grants' 30 s calls.
      expect(failureStreakBoundSeconds(3, plainTimeout)).toBe(240);
      expect(failureStreakBoundSeconds(3, rotatingTimeout)).toBe(lead);
    });

    it('looks back over the longest gap between two failures of a streak', () => {
      expect(failureGapBoundSeconds(10)).toBe(BACKOFF_MAX_MS / 1000 + SCHEDULER_PRECISION_SECONDS + 10);
      expect(lookbackPeriods(failureGapBoundSeconds(60))).toBe(4);
      expect(lookbackPeriods(failureGapBoundSeconds(1))).toBe(4);
      expect(lookbackPeriods(360)).toBe(2);
      expect(lookbackPeriods(0)).toBe(1);
      expect(lookbackPeriods(24 * 3600)).toBe(36);
    });
  });

  describe('Evaluated against EMF datapoints', () => {
    let output: string[];

    beforeEach(() => {
      vi.stubEnv('POWERTOOLS_DEV', undefined);
      vi.stubEnv('POWERTOOLS_METRICS_DISABLED', undefined);
      vi.useFakeTimers({ toFake: ['Date'] });
      output = [];
      captureProcessOutput(output, ['stdout']);
    });

    afterEach(() => {
      vi.useRealTimers();
      vi.restoreAllMocks();
      vi.unstubAllEnvs();
    });

    const persistent = () => alarmProperties(template, 'RefreshFailuresAlarm');
    const permanent = () => alarmProperties(template, 'PermanentFailureAlarm');
    const states = (alarm: InsightsAlarmProperties, until = T0 + 3 * 60 * MINUTE) =>
      evaluateAlarm(alarm, parseEmf(output.join('')), { from: T0, to: until });
    const pagedAt = (entries: readonly { at: number; state: AlarmState }[]) =>
      entries.find((entry) => entry.state === 'ALARM')?.at;

    it('does not page for one transient failure that the retry fixes', () => {
      // Act: github fails once (503) and the retry succeeds; later salesforce does the same with a
      // call that lasts its whole 45 s timeout.
      const [failure] = failStreak('github', { attempts: 1, callMs: 300, random: 1, lateMs: 60_000 });
      succeed('github', (failure ?? T0) + 31_000);
      const [slow] = failStreak('salesforce', {
        start: T0 + 60 * MINUTE,
        attempts: 1,
        callMs: 45_000,
        random: 1,
        lateMs: 60_000,
      });
      succeed('salesforce', (slow ?? T0) + 91_000);

      // Assess
      expect(points(CONSECUTIVE_FAILURES)).toEqual([1, 1]);
      expect(transitions(states(persistent()))).toEqual([{ at: T0, state: 'OK' }]);
      expect(transitions(states(permanent()))).toEqual([{ at: T0, state: 'OK' }]);
    });

    it.each([
      ['client_credentials', 3],
      ['refresh_token', 4],
    ] as const)(
      'pages at the 2nd failure in a row, within a minute of it, well before the token expires (%s calls, worst case: %s minutes after the due time)',
      (grant, minutes) => {
        // Prepare: the token is due at T0 and expires a lead time later.
        const expiresAt = T0 + defaultLead() * 1000;

        // Act: worst case: the first run a full minute late, the top of the jitter, the Scheduler a full
        // minute late again, calls that last the grant's whole default timeout (for refresh_token, a call
        // that times out is rotation_outcome_unknown and pages at once: here the server answers 503 just
        // before the timeout).
        const failures = failStreak('github', {
          start: T0 + SCHEDULER_PRECISION_SECONDS * 1000,
          attempts: 2,
          callMs: defaultRequestTimeout(grant) * 1000,
          random: 1,
          lateMs: SCHEDULER_PRECISION_SECONDS * 1000,
        });

        // Assess: the first failure alone does not page; the alarm's minute-by-minute evaluation sees
        // the datapoint of value 2 within a minute, with time to act before the expiry.
        const second = failures[1] ?? Number.NaN;
        expect(pagedAt(states(persistent(), second - 1))).toBeUndefined();
        const paged = pagedAt(states(persistent())) ?? Number.NaN;
        expect(paged).toBeGreaterThan(second);
        expect(paged - second).toBeLessThanOrEqual(MINUTE);
        expect(paged - T0).toBeLessThanOrEqual(minutes * MINUTE);
        // CloudWatch's ingestion delay, not modelled, comes on top: at least a minute is left for it.
        expect(expiresAt - paged).toBeGreaterThanOrEqual(MINUTE);
      },
    );

    it('typically pages 2 minutes after the due time, 3 minutes before the expiry', () => {
      // Act: typical: the first run half a minute late, the middle of the jitter, the Scheduler half a
      // minute late, calls that fail within a second.
      const failures = failStreak('github', {
        start: T0 + 30_000,
        attempts: 2,
        callMs: 1_000,
        random: 0.5,
        lateMs: 30_000,
      });

      // Assess (before CloudWatch's ingestion delay).
      const paged = pagedAt(states(persistent())) ?? Number.NaN;
      expect(paged).toBeGreaterThan(failures[1] ?? Number.NaN);
      expect(paged - T0).toBe(2 * MINUTE);
      expect(T0 + defaultLead() * 1000 - paged).toBe(3 * MINUTE);
    });

    it.each([3, 5])(
      'honours failureAlarmAttempts %s: one fewer in a row does not page, the next failure does',
      (attempts) => {
        // Prepare
        const alarm = alarmProperties(
          build({ refresher: { failureAlarmAttempts: attempts } }).template,
          'RefreshFailuresAlarm',
        );

        // Act
        const failures = failStreak('github', { attempts, callMs: 1_000, random: 0.5, lateMs: 30_000 });

        // Assess: evaluated on the datapoints up to the last but one failure, then on all of them.
        const last = failures[attempts - 1] ?? Number.NaN;
        expect(failures).toHaveLength(attempts);
        expect(pagedAt(states(alarm, last - 1))).toBeUndefined();
        expect(pagedAt(states(alarm))).toBeGreaterThan(last);
        expect((pagedAt(states(alarm)) ?? Number.NaN) - last).toBeLessThanOrEqual(MINUTE);
      },
    );

    it('stays in ALARM through a 3-hour outage whatever the jitter, and returns to OK 4 periods after the recovery', () => {
      for (const random of [0, 1]) {
        // Prepare
        output.length = 0;

        // Act: a provider failing at every attempt for 2 h 50 min, then recovering.
        const failures = failStreak('github', {
          attempts: Number.POSITIVE_INFINITY,
          until: T0 + 170 * MINUTE,
          callMs: 10_000,
          random,
          lateMs: 60_000,
        });
        const last = failures.at(-1) ?? Number.NaN;
        succeed('github', last + BACKOFF_MAX_MS);

        // Assess: one page, one OK; never back to OK while the streak lasts (no repeated pages).
        const changes = transitions(states(persistent(), T0 + 240 * MINUTE));
        expect(changes.map((change) => change.state)).toEqual(['OK', 'ALARM', 'OK']);
        expect(changes[1]?.at).toBeGreaterThan(failures[1] ?? Number.NaN);
        expect((changes[1]?.at ?? Number.NaN) - (failures[1] ?? Number.NaN)).toBeLessThanOrEqual(MINUTE);
        expect(changes[2]?.at).toBeGreaterThan(last);
        expect((changes[2]?.at ?? Number.NaN) - last).toBeLessThanOrEqual(4 * 5 * MINUTE + MINUTE);
        expect(failures.length).toBeGreaterThan(10);
      }
    });

    it('pages at once on a permanent failure, stays in ALARM while blocked, and returns to OK after the fix', () => {
      // Act: invalid_grant for github and billing at T0 + 2 min. github is fixed after 30 min; billing
      // (rate(10 minutes)) stays blocked until 2 h, so from then on its runs alone hold the alarm.
      const failedAt = T0 + 2 * MINUTE;
      const fixedAt = T0 + 120 * MINUTE;
      blocked('github', failedAt, failedAt + 30 * MINUTE, 5);
      blocked('billing', failedAt, fixedAt, 10);

      // Assess: one page, within a minute; one OK, within 3 periods of the last blocked run.
      const changes = transitions(states(permanent()));
      expect(changes.map((change) => change.state)).toEqual(['OK', 'ALARM', 'OK']);
      expect(changes[1]?.at).toBe(failedAt + MINUTE);
      expect(changes[2]?.at).toBeGreaterThan(fixedAt - 11 * MINUTE);
      expect(changes[2]?.at).toBeLessThanOrEqual(fixedAt + 3 * 5 * MINUTE);
      // One failed attempt each: the persistent-failure alarm stays quiet.
      expect(transitions(states(persistent()))).toEqual([{ at: T0, state: 'OK' }]);
    });

    it('holds the permanent alarm of rate(5 minutes) providers with 2 periods', () => {
      // Prepare
      const alarm = alarmProperties(
        build({ providers: PROVIDERS.filter((provider) => provider.name !== 'billing') }).template,
        'PermanentFailureAlarm',
      );

      // Act
      const failedAt = T0 + 2 * MINUTE;
      blocked('github', failedAt, T0 + 120 * MINUTE, 5);

      // Assess
      const changes = transitions(states(alarm));
      expect(changes.map((change) => change.state)).toEqual(['OK', 'ALARM', 'OK']);
      expect(changes[1]?.at).toBe(failedAt + MINUTE);
    });

    /**
     * A permanent failure at `from`, then a blocked run at every recurring tick until the fix and a
     * forced refresh at `until`. The ticks fall alternately at the start and at the end of the 1-minute
     * flexible window: gaps of up to the interval plus a minute, the longest there are.
     */
    function blocked(provider: string, from: number, until: number, intervalMinutes: number): void {
      emit(provider, from, [
        [METRIC_NAMES.refreshFailed, 'Count', 1],
        [CONSECUTIVE_FAILURES, 'Count', 1],
        [REFRESH_FAILED_PERMANENT, 'Count', 1],
      ]);
      for (let tick = 1; ; tick += 1) {
        const at = from + tick * intervalMinutes * MINUTE + (tick % 2 === 0 ? 0 : 59_999);
        if (at >= until) break;
        emit(provider, at, [
          [METRIC_NAMES.refreshFailed, 'Count', 1],
          [REFRESH_FAILED_PERMANENT, 'Count', 1],
        ]);
      }
      succeed(provider, until);
    }

    /** Publish `metrics` for `provider` as one EMF document stamped `at`, as the handler does. */
    function emit(provider: string, at: number, metrics: readonly [MetricName, MetricUnit, number][]): void {
      vi.setSystemTime(at);
      const emf = new EmfMetrics();
      for (const [name, unit, value] of metrics) emf.add(provider, name, unit, value);
      emf.publish();
    }

    /** A successful refresh: what the engine emits for it (never a failure metric). */
    function succeed(provider: string, at: number): void {
      emit(provider, at, [
        [METRIC_NAMES.refreshSucceeded, 'Count', 1],
        [METRIC_NAMES.secondsToExpiry, 'Seconds', 3600],
      ]);
    }

    /** A streak of transient failures (see {@link streakTimes}), each emitted as the engine does. */
    function failStreak(provider: string, options: StreakOptions): number[] {
      const times = streakTimes(options);
      times.forEach((at, index) => {
        emit(provider, at, [
          [METRIC_NAMES.refreshFailed, 'Count', 1],
          [CONSECUTIVE_FAILURES, 'Count', index + 1],
          [METRIC_NAMES.secondsToExpiry, 'Seconds', 120],
        ]);
      });
      return times;
    }

    /** The values of one metric, in the order they were printed. */
    function points(name: string): number[] {
      return parseEmf(output.join(''))
        .filter((point: EmfDatapoint) => point.name === name)
        .map((point) => point.value);
    }
  });
});

describe('Refresh failure alarms, driven by the refresh engine', () => {
  // The engine itself (fakes for the stores, the real EMF adapter), run by a model of the two
  // schedules: the recurring one (rate(5 minutes), fired at the end of its 1-minute window) and the
  // precise one-time run, fired a full minute late (EventBridge Scheduler's 60 s precision). The
  // jitter takes its top value. github's token is due at T0 and expires at T0 + 5 min.
  const config = providerConfigSchema.parse({
    name: 'github',
    grant: 'client_credentials',
    tokenUrl: 'https://auth.example.com/oauth2/token',
  });
  let output: string[];

  beforeEach(() => {
    vi.stubEnv('POWERTOOLS_DEV', undefined);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', undefined);
    vi.useFakeTimers({ toFake: ['Date'] });
    output = [];
    captureProcessOutput(output, ['stdout']);
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  /**
   * Run the engine from T0 − 1 h to `until`. `answer(at)` is what the token endpoint does at `at`:
   * `undefined` for a token, else the error it fails with. `forceAt`: an operator's forced refresh.
   */
  async function drive(options: {
    readonly answer: (at: number) => ProviderError | undefined;
    readonly until: number;
    readonly forceAt?: number;
  }): Promise<{ readonly at: number; readonly status: string }[]> {
    const secrets = new FakeSecrets();
    secrets.seed(FakeTokenStore.secretId('github'), { status: 'pending' });
    secrets.seed(FakeCredentialsStore.secretId('github'), { clientId: 'client-1', clientSecret: 'secret-1' });
    const provider = scriptedProvider(options.answer);
    let precise: number | undefined;
    const metrics = new EmfMetrics();
    const engine = new RefreshEngine({
      tokens: new FakeTokenStore(secrets),
      credentials: new FakeCredentialsStore(secrets),
      state: new FakeStateTable(),
      providerFor: () => provider,
      clock: { now: () => Date.now() },
      metrics,
      logger: new RecordingLogger(),
      scheduler: {
        scheduleAt: async (_provider, at) => {
          precise = at;
        },
      },
      random: () => 0.999_999,
    });
    // The first token, 1 h long, issued at T0 − 55 min: due at T0 (5 min lead).
    let at = T0 - 55 * MINUTE;
    let nextTick = Math.floor(at / (5 * MINUTE)) * 5 * MINUTE + 5 * MINUTE + 59_000;
    let forced = options.forceAt === undefined;
    const runs: { at: number; status: string }[] = [];
    const run = async (input: { precise?: boolean; force?: boolean }) => {
      vi.setSystemTime(at);
      const result = await engine.refresh({ config, remainingTimeMs: 60_000, ...input });
      metrics.publish();
      runs.push({ at, status: result.status });
    };
    await run({ force: true });
    while (at < options.until) {
      const next = nextRun({ precise, nextTick, forceAt: forced ? undefined : options.forceAt });
      at = next.at;
      if (next.kind === 'force') {
        forced = true;
        await run({ force: true });
      } else if (next.kind === 'precise') {
        precise = undefined;
        await run({ precise: true });
      } else {
        nextTick += 5 * MINUTE;
        await run({});
      }
    }
    return runs;
  }

  const states = (id: string, until: number) =>
    evaluateAlarm(alarmProperties(template, id), parseEmf(output.join('')), {
      from: T0 - 60 * MINUTE,
      to: until,
    });
  const consecutive = () =>
    parseEmf(output.join(''))
      .filter((point) => point.name === METRIC_NAMES.consecutiveFailures)
      .map((point) => point.value);

  it('does not page when one 503 is fixed by the retry', async () => {
    // Act: the endpoint fails for 2 minutes from T0: the due run (T0 + 1 min) fails, its retry works.
    const until = T0 + 60 * MINUTE;
    const runs = await drive({
      answer: (at) => (at >= T0 && at < T0 + 2 * MINUTE ? serviceUnavailable() : undefined),
      until,
    });

    // Assess
    expect(runs.filter((run) => run.at >= T0 && run.at < T0 + 5 * MINUTE).map((run) => run.status)).toEqual([
      'failed',
      'refreshed',
    ]);
    expect(consecutive()).toEqual([1]);
    expect(transitions(states('RefreshFailuresAlarm', until)).map((change) => change.state)).toEqual(['OK']);
    expect(transitions(states('PermanentFailureAlarm', until)).map((change) => change.state)).toEqual(['OK']);
  });

  it('pages once when the endpoint stays down, at the 2nd failed attempt, well before the token expires, and clears after it recovers', async () => {
    // Act: the endpoint is down from T0 for 1 h.
    const until = T0 + 150 * MINUTE;
    const runs = await drive({
      answer: (at) => (at >= T0 && at < T0 + 60 * MINUTE ? serviceUnavailable() : undefined),
      until,
    });

    // Assess: one ALARM (no repeated pages between the ever longer backoffs), then OK.
    const changes = transitions(states('RefreshFailuresAlarm', until));
    expect(changes.map((change) => change.state)).toEqual(['OK', 'ALARM', 'OK']);
    expect(consecutive().slice(0, 2)).toEqual([1, 2]);
    // Worst case (every run a full minute late, the top of the jitter): the attempts at T0 + 59 s and
    // + 149 s; the first alone does not page, the alarm evaluates the second within the minute.
    const [first, second] = parseEmf(output.join(''))
      .filter((point) => point.name === METRIC_NAMES.consecutiveFailures)
      .map((point) => point.timestamp);
    expect(runs.some((run) => run.at === second && run.status === 'failed')).toBe(true);
    const paged = changes[1]?.at ?? Number.NaN;
    expect(
      transitions(states('RefreshFailuresAlarm', (second ?? Number.NaN) - 1)).map((c) => c.state),
    ).toEqual(['OK']);
    expect((first ?? Number.NaN) - T0).toBe(59_000);
    expect(Math.round(((second ?? Number.NaN) - T0) / 1000)).toBe(149);
    expect(paged).toBeGreaterThan(second ?? Number.NaN);
    expect(paged - (second ?? Number.NaN)).toBeLessThanOrEqual(MINUTE);
    // The token expires a lead time after T0: the page leaves at least 2 minutes (CloudWatch's
    // ingestion delay, not modelled, comes out of them).
    const expiresAt = T0 + effectiveRefreshBefore(config.refreshBefore, config.expectedLifetime) * 1000;
    expect(expiresAt - paged).toBeGreaterThanOrEqual(2 * MINUTE);
    expect(transitions(states('PermanentFailureAlarm', until)).map((change) => change.state)).toEqual(['OK']);
  });

  it('pages at once on invalid_grant, stays in ALARM while blocked, and clears after the forced refresh', async () => {
    // Act: the grant is refused from T0 until the operator fixes it and forces a refresh at T0 + 90 min.
    const forceAt = T0 + 90 * MINUTE;
    const until = T0 + 150 * MINUTE;
    await drive({
      answer: (at) =>
        at >= T0 && at < forceAt
          ? new ProviderError('invalid_grant', 'invalid_grant', 'permanent')
          : undefined,
      until,
      forceAt,
    });

    // Assess
    const changes = transitions(states('PermanentFailureAlarm', until));
    expect(changes.map((change) => change.state)).toEqual(['OK', 'ALARM', 'OK']);
    expect((changes[1]?.at ?? Number.NaN) - T0).toBeLessThanOrEqual(2 * MINUTE);
    expect(changes[2]?.at).toBeGreaterThan(forceAt);
    expect((changes[2]?.at ?? Number.NaN) - forceAt).toBeLessThanOrEqual(3 * 5 * MINUTE);
    expect(transitions(states('RefreshFailuresAlarm', until)).map((change) => change.state)).toEqual(['OK']);
  });
});

function serviceUnavailable(): ProviderError {
  return new ProviderError('Token endpoint answered HTTP 503', 'http_503', 'transient', { status: 503 });
}

interface StreakOptions {
  /** When the first attempt starts. Default {@link T0}. */
  readonly start?: number;
  readonly attempts: number;
  /** Stop before this time (for an unbounded `attempts`). */
  readonly until?: number;
  /** How long each failing call lasts. */
  readonly callMs: number;
  /** The jitter's random number (1: the top of the jitter). */
  readonly random: number;
  /** How late the precise run fires after the backoff ends (EventBridge Scheduler: up to 60 s). */
  readonly lateMs: number;
}

/** When each failure of a streak is recorded: call, backoff (the engine's function), Scheduler delay. */
function streakTimes(options: StreakOptions): number[] {
  const times: number[] = [];
  let at = (options.start ?? T0) + options.callMs;
  for (let failures = 1; failures <= options.attempts && at < (options.until ?? Number.POSITIVE_INFINITY); ) {
    times.push(at);
    at += backoffDelayMs(failures, undefined, options.random) + options.lateMs + options.callMs;
    failures += 1;
  }
  return times;
}

/** The first run (T0 − 55 min) gets a token; later calls get what `answer` says for their time. */
function scriptedProvider(answer: (at: number) => ProviderError | undefined): Provider {
  return {
    requestToken: async () => {
      const now = Date.now();
      const error = now === T0 - 55 * MINUTE ? undefined : answer(now);
      if (error !== undefined) throw error;
      return { accessToken: `token-${now}`, tokenType: 'Bearer', expiresInSeconds: 3600 };
    },
  };
}

/**
 * The next run of the engine: the earliest of the operator's forced refresh (if still to come), the
 * precise run (fired here 60 s after the time it was armed for) and the recurring tick.
 */
function nextRun(schedule: {
  readonly precise: number | undefined;
  readonly nextTick: number;
  readonly forceAt: number | undefined;
}): { readonly at: number; readonly kind: 'force' | 'precise' | 'tick' } {
  const preciseAt = schedule.precise === undefined ? Number.POSITIVE_INFINITY : schedule.precise + 60_000;
  const forceAt = schedule.forceAt ?? Number.POSITIVE_INFINITY;
  const at = Math.min(preciseAt, schedule.nextTick, forceAt);
  if (at === forceAt) return { at, kind: 'force' };
  return { at, kind: at === preciseAt ? 'precise' : 'tick' };
}
