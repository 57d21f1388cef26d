/**
 * The alarms: a provider's staleness, the refresh path (permanent failures, failure streaks, function
 * errors and throttles, the dead-letter queue) and the read path (errors, Function URL 5xx,
 * throttles, latency). Each is built with the construct (or, for staleness, the provider's construct)
 * as scope, and docs/runbook.md has an entry per construct id.
 */
import {
  aws_cloudwatch as cloudwatch,
  type Duration,
  type aws_lambda as lambda,
  type aws_sqs as sqs,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { effectiveRefreshBefore, type ProviderConfig } from '../functions/core/config.js';
import {
  failureGapBoundSeconds,
  failureStreakBoundSeconds,
  lookbackPeriods,
  scheduleIntervalSeconds,
} from './alarm-windows.js';
import {
  ALARM_PERIOD,
  allProvidersQuery,
  ENGINE_METRICS,
  functionUrlMetric,
  providerMetric,
} from './metrics.js';

/**
 * The read-path 5xx alarm fires at this many Function URL 5xx answers in 5 minutes: one 503 can be a
 * consumer that asked during a failing refresh (the staleness alarm covers the token itself); five
 * mean consumers are being turned away.
 */
export const READ_5XX_ALARM_THRESHOLD = 5;

/** An alarm that fires on any occurrence (≥ 1) in one period; no data means nothing happened. */
export function anyInPeriodAlarm(
  scope: Construct,
  id: string,
  props: { readonly alarmDescription: string; readonly metric: cloudwatch.IMetric },
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    ...props,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

export interface StaleAlarmProps {
  readonly config: ProviderConfig;
  /** `undefined`: half the provider's effective `refreshBefore`. */
  readonly staleThreshold: number | undefined;
  readonly scheduleTimeWindow: Duration;
}

/**
 * `StaleAlarm` of a provider: `SecondsToExpiry` below the threshold, or no datapoint for longer than
 * the longest normal gap between two runs.
 */
export function buildStaleAlarm(scope: Construct, props: StaleAlarmProps): cloudwatch.Alarm {
  const { config } = props;
  const lead = effectiveRefreshBefore(config.refreshBefore, config.expectedLifetime);
  const threshold = props.staleThreshold ?? Math.floor(lead / 2);
  // Missing data is breaching (a stopped schedule emits nothing), so the alarm must wait out the
  // longest normal gap between two runs: the schedule interval plus the flexible window.
  const gapSeconds = scheduleIntervalSeconds(config.schedule) + props.scheduleTimeWindow.toSeconds();
  const periods = Math.min(288, Math.max(1, Math.ceil(gapSeconds / ALARM_PERIOD.toSeconds())));
  return new cloudwatch.Alarm(scope, 'StaleAlarm', {
    alarmDescription:
      `The token of provider "${config.name}" is stale: SecondsToExpiry below ${threshold} s, or no ` +
      `datapoint for ${periods * 5} minutes (the schedule stopped, or the function cannot start). ` +
      `Consumers may soon hold an expired token. What to do: check the refresh failures alarm and the ` +
      `function logs for "${config.name}"; check that the schedule is enabled; invoke the function with ` +
      `{"provider":"${config.name}","force":true}.`,
    metric: providerMetric(config.name, ENGINE_METRICS.secondsToExpiry),
    threshold,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: periods,
    datapointsToAlarm: periods,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
}

/**
 * `PermanentFailureAlarm`: any `RefreshFailedPermanent` pages at once. The engine reports a blocked
 * provider again at every run of its recurring schedule, so the alarm looks back over the longest
 * gap between two runs of any provider (interval plus flexible window: 2 periods for the default
 * `rate(5 minutes)`) and stays in ALARM until that long after the last blocked run.
 */
export function buildPermanentFailureAlarm(
  scope: Construct,
  providers: readonly ProviderConfig[],
  scheduleTimeWindow: Duration,
): cloudwatch.Alarm {
  const windowSeconds = scheduleTimeWindow.toSeconds();
  const periods = Math.max(
    ...providers.map((config) => lookbackPeriods(scheduleIntervalSeconds(config.schedule) + windowSeconds)),
  );
  return new cloudwatch.Alarm(scope, 'PermanentFailureAlarm', {
    alarmDescription:
      'A token refresh failed permanently (RefreshFailedPermanent >= 1, any provider): a failure retrying ' +
      'cannot fix, e.g. invalid_grant, invalid_client, credentials_not_set, rotation_outcome_unknown, another ' +
      'HTTP 4xx, or a secret the function cannot read. The provider is not called again until someone ' +
      'forces a refresh; its current token is served until it expires. The alarm stays in ALARM while the ' +
      `provider is blocked (each scheduled run reports it again), and up to ${periods * 5} minutes after. ` +
      'What to do: find the provider and code (npx token-refresher status, or the refresh function logs ' +
      '"Refresh failed; the current token is kept", field errorCode), fix the credentials secret or the ' +
      'configuration (docs/troubleshooting.md), then force a refresh with {"provider":"<name>","force":true}.',
    metric: allProvidersQuery(ENGINE_METRICS.permanentFailures),
    threshold: 1,
    evaluationPeriods: periods,
    datapointsToAlarm: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/**
 * `RefreshFailuresAlarm`: `ConsecutiveFailures` ≥ `attempts` (any provider). Its datapoints come
 * only at failed attempts, up to the 15-minute backoff cap apart in a long outage, so the alarm looks
 * back over that gap (4 periods) and stays in ALARM while the streak lasts, instead of returning to OK
 * between two attempts and paging again at the next.
 */
export function buildRefreshFailuresAlarm(
  scope: Construct,
  providers: readonly ProviderConfig[],
  attempts: number,
): cloudwatch.Alarm {
  const longestCall = Math.max(...providers.map((config) => config.requestTimeout));
  const periods = lookbackPeriods(failureGapBoundSeconds(longestCall));
  const within = Math.ceil(
    Math.max(...providers.map((config) => failureStreakBoundSeconds(attempts, config.requestTimeout))) / 60,
  );
  return new cloudwatch.Alarm(scope, 'RefreshFailuresAlarm', {
    alarmDescription:
      `Token refreshes keep failing: a provider failed ${attempts === 1 ? 'an attempt' : `${attempts} attempts in a row`} (ConsecutiveFailures ` +
      `>= ${attempts}, any provider; with the backoff, the attempts span at most about ${within} minutes). ` +
      `${attempts === 1 ? 'Every failed attempt pages.' : 'One failure that the retry fixes does not page.'} ` +
      'The current token is served until it expires. The ' +
      `alarm stays in ALARM while the failures go on, and up to ${periods * 5} minutes after the last. What ` +
      'to do: find the provider and code (npx token-refresher status, or the refresh function logs ' +
      '"Refresh failed; the current token is kept", fields errorCode and consecutiveFailures); transient ' +
      'codes (http_5xx, timeout, network_error, rate_limited) mean the provider or the network: check its ' +
      'status page and the time left (SecondsToExpiry); fix what is ours, then force a refresh with ' +
      '{"provider":"<name>","force":true}.',
    metric: allProvidersQuery(ENGINE_METRICS.consecutiveFailures),
    threshold: attempts,
    evaluationPeriods: periods,
    datapointsToAlarm: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/** The refresh function's errors and throttles, and the dead-letter queue. */
export function buildRefreshFunctionAlarms(
  scope: Construct,
  props: { readonly refreshFunction: lambda.IFunction; readonly deadLetterQueue: sqs.IQueue },
): cloudwatch.Alarm[] {
  const errorsAlarm = anyInPeriodAlarm(scope, 'RefreshFunctionErrorsAlarm', {
    alarmDescription:
      'The refresh function failed to run (Lambda Errors >= 1 in 5 minutes): an init failure (invalid ' +
      'environment or configuration), a crash or a timeout. Refresh outcomes are not errors. What to do: ' +
      'read the function logs; EnvironmentError names the variable, Task timed out means a slow endpoint ' +
      'or AWS API.',
    metric: props.refreshFunction.metricErrors({ period: ALARM_PERIOD, statistic: 'Sum' }),
  });
  const throttlesAlarm = anyInPeriodAlarm(scope, 'RefreshFunctionThrottlesAlarm', {
    alarmDescription:
      'The refresh function was throttled (Throttles >= 1 in 5 minutes): the account or function ' +
      'concurrency limit was reached, so some refreshes are late. What to do: check account concurrency ' +
      'and other functions using it; the Scheduler retries, events it gives up on land in the DLQ.',
    metric: props.refreshFunction.metricThrottles({ period: ALARM_PERIOD, statistic: 'Sum' }),
  });
  const dlqAlarm = anyInPeriodAlarm(scope, 'DeadLetterQueueAlarm', {
    alarmDescription:
      'EventBridge Scheduler could not invoke the refresh function after its retries and put the event ' +
      'in the dead-letter queue (ApproximateNumberOfMessagesVisible >= 1). What to do: read a message ' +
      '(its attributes carry the error code, e.g. AccessDenied or throttling), fix the cause, then purge ' +
      'the queue; the next scheduled run refreshes the token.',
    metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: ALARM_PERIOD,
      statistic: 'Maximum',
    }),
  });
  return [errorsAlarm, throttlesAlarm, dlqAlarm];
}

/** The read path's alarms: function errors, Function URL 5xx, throttles, latency. */
export function buildReadAlarms(
  scope: Construct,
  props: { readonly readFunction: lambda.IFunction; readonly latencyThreshold: Duration },
): cloudwatch.Alarm[] {
  const { latencyThreshold } = props;
  const errors = anyInPeriodAlarm(scope, 'ReadFunctionErrorsAlarm', {
    alarmDescription:
      'The read function failed to run (Lambda Errors >= 1 in 5 minutes): an init failure (invalid ' +
      'environment or configuration), a crash or a timeout. Answers such as 403 or 503 are not errors. ' +
      'What to do: read the read function logs; EnvironmentError names the variable, Task timed out means ' +
      'a slow on-demand refresh or Secrets Manager. Consumers reading the token secret directly are not ' +
      'affected.',
    metric: props.readFunction.metricErrors({ period: ALARM_PERIOD, statistic: 'Sum' }),
  });
  const url5xx = new cloudwatch.Alarm(scope, 'ReadUrl5xxAlarm', {
    alarmDescription:
      `The read function's URL answered ${READ_5XX_ALARM_THRESHOLD} or more 5xx in 5 minutes ` +
      '(Url5xxCount): consumers are being turned away. 503 means no valid token could be served (the ' +
      'token expired and the on-demand refresh failed); 502/500 mean the function failed or timed out. ' +
      'What to do: check the refresh failures and staleness alarms and the refresh function logs for ' +
      'the provider; read the read function logs (one line per request, with the error code).',
    metric: functionUrlMetric(props.readFunction, 'Url5xxCount'),
    threshold: READ_5XX_ALARM_THRESHOLD,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const throttles = anyInPeriodAlarm(scope, 'ReadFunctionThrottlesAlarm', {
    alarmDescription:
      'The read function was throttled (Throttles >= 1 in 5 minutes): the account or function ' +
      'concurrency limit was reached, and consumers got 429. What to do: check account concurrency and ' +
      'the functions using it; consumers should cache tokens until shortly before expiresAt rather than ' +
      'call per request.',
    metric: props.readFunction.metricThrottles({ period: ALARM_PERIOD, statistic: 'Sum' }),
  });
  const latency = new cloudwatch.Alarm(scope, 'ReadLatencyAlarm', {
    alarmDescription:
      `The read function is slow: Duration p99 above ${latencyThreshold.toMilliseconds() / 1000} s for 15 minutes ` +
      '(3 of 3 5-minute periods). Reads from the cache or Secrets Manager take milliseconds; seconds mean ' +
      'many on-demand refreshes (consumers reporting rejected tokens, a slow token endpoint) or ' +
      'throttled Secrets Manager calls. What to do: check the RefreshDuration and failures of the ' +
      'providers in the dashboard and the read function logs.',
    metric: props.readFunction.metricDuration({ period: ALARM_PERIOD, statistic: 'p99' }),
    threshold: latencyThreshold.toMilliseconds(),
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  return [errors, url5xx, throttles, latency];
}
