/**
 * The timing behind the refresh-failure alarms (issue #11): how long a streak of failed attempts takes
 * at most, and how many periods an alarm looks back so that a lasting condition, whose datapoints come
 * minutes apart, keeps it in ALARM instead of flapping to OK and paging again.
 *
 * The alarms themselves are built in `alarms.ts`; these are pure functions so that the tests can
 * check the numbers the TSDoc and the docs state.
 */
import { BACKOFF_MAX_MS, backoffDelayMs } from '../functions/core/timing.js';

/** The period of every alarm of the construct, in seconds. */
export const ALARM_PERIOD_SECONDS = 300;

/**
 * EventBridge Scheduler invokes a target within the minute of its scheduled time ("All schedule types
 * on EventBridge Scheduler invoke their targets with 60 second precision", EventBridge Scheduler User
 * Guide, "Schedule types"): a precise retry may start up to this much after the backoff ends.
 */
export const SCHEDULER_PRECISION_SECONDS = 60;

/**
 * An alarm on a Metrics Insights query evaluates the latest 3 hours of data only (CloudWatch User
 * Guide, "Limits that apply to alarms based on Metrics Insights queries"): at most 36 periods of 5 min.
 */
export const MAX_INSIGHTS_EVALUATION_PERIODS = (3 * 3600) / ALARM_PERIOD_SECONDS;

/**
 * The default of `failureAlarmAttempts`: the first failure and its retry. One transient failure that
 * the retry fixes pages nobody, and the streak is recorded well inside the default 5-minute lead time
 * (at most 110 s with 10 s calls, 150 s with the 30 s `refresh_token` default; 3 would reach 300 s).
 */
export const DEFAULT_FAILURE_ALARM_ATTEMPTS = 2;

/**
 * The longest time, in seconds, from the start of a provider's first failed attempt to the moment its
 * `attempts`-th consecutive failure is recorded, when nothing answers with `Retry-After`:
 *
 * - every attempt lasts at most `requestTimeoutSeconds` (the provider call; the AWS calls around it
 *   take milliseconds);
 * - after the k-th failure the engine backs off at most 30 s × 2^(k−1) (the top of the equal jitter,
 *   `backoffDelayMs` with a random of 1; capped at 15 min);
 * - the precise run then fires up to {@link SCHEDULER_PRECISION_SECONDS} late.
 *
 * For 2 attempts (the default) and the default 10 s request timeout: 2 × 10 + (30 + 60) = 110 s; with
 * the 30 s default of `refresh_token` grants, 150 s. For 3 attempts: 3 × 10 + (30 + 60) + (60 + 60) =
 * 240 s, and 300 s with 30 s calls.
 * A `Retry-After` longer than the backoff lengthens the streak by the difference.
 */
export function failureStreakBoundSeconds(attempts: number, requestTimeoutSeconds: number): number {
  let seconds = attempts * requestTimeoutSeconds;
  for (let failures = 1; failures < attempts; failures += 1) {
    seconds += backoffDelayMs(failures, undefined, 1) / 1000 + SCHEDULER_PRECISION_SECONDS;
  }
  return seconds;
}

/**
 * The longest gap, in seconds, between two recorded failures of one streak once the backoff has
 * reached its 15-minute cap: the cap, the Scheduler's precision, and the next attempt's call.
 */
export function failureGapBoundSeconds(requestTimeoutSeconds: number): number {
  return BACKOFF_MAX_MS / 1000 + SCHEDULER_PRECISION_SECONDS + requestTimeoutSeconds;
}

/**
 * How many periods an "any datapoint in the window" alarm (`DatapointsToAlarm` 1, missing data not
 * breaching) must look back so that datapoints at most `gapSeconds` apart keep it in ALARM: a gap of
 * `g` seconds spans at most ⌈g / period⌉ period boundaries. Between 1 and
 * {@link MAX_INSIGHTS_EVALUATION_PERIODS}.
 */
export function lookbackPeriods(gapSeconds: number): number {
  return Math.min(MAX_INSIGHTS_EVALUATION_PERIODS, Math.max(1, Math.ceil(gapSeconds / ALARM_PERIOD_SECONDS)));
}

/** The interval of a `rate(...)` expression in seconds; cron expressions count as one hour. */
export function scheduleIntervalSeconds(expression: string): number {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (match === null) return 3600;
  const unit = match[2]?.startsWith('minute') ? 60 : match[2]?.startsWith('hour') ? 3600 : 86_400;
  return Number(match[1]) * unit;
}
