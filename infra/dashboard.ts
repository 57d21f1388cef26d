/**
 * The CloudWatch dashboard: the engine's metrics by provider, the refresh function and its
 * dead-letter queue, the read function, and the state of every alarm.
 */
import {
  aws_cloudwatch as cloudwatch,
  type Duration,
  type aws_lambda as lambda,
  type aws_sqs as sqs,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { METRIC_NAMES } from '../functions/core/ports.js';
import { ALARM_PERIOD, byProviderQuery, functionUrlMetric } from './metrics.js';

export interface DashboardProps {
  readonly refreshFunction: lambda.IFunction;
  readonly readFunction: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  /** The refresh failures alarm's threshold, drawn on the consecutive failures graph. */
  readonly failureAlarmAttempts: number;
  /** The read latency alarm's threshold, drawn on the read latency graph. */
  readonly readLatencyAlarmThreshold: Duration;
  /** Every alarm, in the order of the alarm status widget. */
  readonly alarms: readonly cloudwatch.IAlarm[];
}

/** `Dashboard`. */
export function buildDashboard(scope: Construct, props: DashboardProps): cloudwatch.Dashboard {
  return new cloudwatch.Dashboard(scope, 'Dashboard', {
    widgets: [
      engineWidgets(),
      // One Metrics Insights query per graph: GetMetricData takes one query per request.
      failureWidgets(props.failureAlarmAttempts),
      refreshFunctionWidgets(props.refreshFunction, props.deadLetterQueue),
      readWidgets(props.readFunction, props.readLatencyAlarmThreshold),
      [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24 })],
    ],
  });
}

/** Refresh failures and seconds to expiry, by provider. */
function engineWidgets(): cloudwatch.IWidget[] {
  return [
    new cloudwatch.GraphWidget({
      title: 'Refresh failures by provider',
      left: [byProviderQuery('SUM', METRIC_NAMES.refreshFailed)],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Seconds to expiry by provider (minimum)',
      left: [byProviderQuery('MIN', METRIC_NAMES.secondsToExpiry)],
      width: 12,
    }),
  ];
}

/** Failure streaks (with the alarm's threshold) and permanent failures, by provider. */
function failureWidgets(attempts: number): cloudwatch.IWidget[] {
  return [
    new cloudwatch.GraphWidget({
      title: 'Consecutive failures by provider (maximum)',
      left: [byProviderQuery('MAX', METRIC_NAMES.consecutiveFailures)],
      leftAnnotations: [{ value: attempts, label: 'Refresh failures alarm' }],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Permanent failures by provider (runs blocked)',
      left: [byProviderQuery('SUM', METRIC_NAMES.refreshFailedPermanent)],
      width: 12,
    }),
  ];
}

/** The refresh function's invocations, errors, throttles and duration; the dead-letter queue. */
function refreshFunctionWidgets(fn: lambda.IFunction, deadLetterQueue: sqs.IQueue): cloudwatch.IWidget[] {
  return [
    new cloudwatch.GraphWidget({
      title: 'Refresh function',
      left: [
        fn.metricInvocations({ period: ALARM_PERIOD }),
        fn.metricErrors({ period: ALARM_PERIOD }),
        fn.metricThrottles({ period: ALARM_PERIOD }),
      ],
      right: [fn.metricDuration({ period: ALARM_PERIOD, statistic: 'Maximum' })],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Schedule dead-letter queue',
      left: [deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: ALARM_PERIOD })],
      width: 12,
    }),
  ];
}

/** The read path: requests and answers by class, latency with the alarm's threshold. */
function readWidgets(fn: lambda.IFunction, latencyThreshold: Duration): cloudwatch.IWidget[] {
  return [
    new cloudwatch.GraphWidget({
      title: 'Read function: requests',
      left: [
        functionUrlMetric(fn, 'UrlRequestCount', 'URL requests'),
        functionUrlMetric(fn, 'Url4xxCount', 'URL 4xx'),
        functionUrlMetric(fn, 'Url5xxCount', 'URL 5xx'),
        fn.metricInvocations({ period: ALARM_PERIOD, label: 'Invocations (URL + Invoke)' }),
        fn.metricErrors({ period: ALARM_PERIOD, label: 'Errors' }),
        fn.metricThrottles({ period: ALARM_PERIOD, label: 'Throttles' }),
      ],
      width: 12,
    }),
    new cloudwatch.GraphWidget({
      title: 'Read function: latency (ms)',
      left: [
        fn.metricDuration({ period: ALARM_PERIOD, statistic: 'p50', label: 'Duration p50' }),
        fn.metricDuration({ period: ALARM_PERIOD, statistic: 'p99', label: 'Duration p99' }),
      ],
      leftAnnotations: [{ value: latencyThreshold.toMilliseconds(), label: 'Latency alarm (p99)' }],
      width: 12,
    }),
  ];
}
