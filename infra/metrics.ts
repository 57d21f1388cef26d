/**
 * The metrics of the construct: the engine's (namespace `TokenRefresher`, dimension `provider`) per
 * provider or aggregated over every provider with a CloudWatch Metrics Insights query, and the read
 * function's Function URL metrics.
 */
import { aws_cloudwatch as cloudwatch, Duration, type aws_lambda as lambda } from 'aws-cdk-lib';
import { METRIC_DIMENSION, METRIC_NAMES, METRIC_NAMESPACE } from '../functions/core/ports.js';

/** The period of every alarm and graph (`ALARM_PERIOD_SECONDS` in `alarm-windows.ts`). */
export const ALARM_PERIOD = Duration.minutes(5);

/** A Metrics Insights aggregate function. */
export type Aggregate = 'SUM' | 'MIN' | 'MAX' | 'AVG' | 'COUNT';

/** An engine metric, as the construct's `metric*` methods expose it. */
export interface EngineMetric {
  readonly metricName: string;
  /** The statistic of the per-provider metric, and (as an aggregate) of the all-providers query. */
  readonly statistic: 'Sum' | 'Minimum' | 'Maximum';
  /** The label of the all-providers query. */
  readonly label: string;
}

export const ENGINE_METRICS = {
  refreshFailures: {
    metricName: METRIC_NAMES.refreshFailed,
    statistic: 'Sum',
    label: 'Refresh failures (all providers)',
  },
  consecutiveFailures: {
    metricName: METRIC_NAMES.consecutiveFailures,
    statistic: 'Maximum',
    label: 'Consecutive failures (all providers, maximum)',
  },
  permanentFailures: {
    metricName: METRIC_NAMES.refreshFailedPermanent,
    statistic: 'Sum',
    label: 'Permanent failures (all providers)',
  },
  secondsToExpiry: {
    metricName: METRIC_NAMES.secondsToExpiry,
    statistic: 'Minimum',
    label: 'Seconds to expiry (all providers)',
  },
} as const satisfies Record<string, EngineMetric>;

/** The Metrics Insights aggregate of each statistic a query can compute (long and short names). */
const AGGREGATES: Readonly<Record<string, Aggregate>> = {
  Sum: 'SUM',
  sum: 'SUM',
  Minimum: 'MIN',
  min: 'MIN',
  Maximum: 'MAX',
  max: 'MAX',
  Average: 'AVG',
  avg: 'AVG',
  SampleCount: 'COUNT',
  n: 'COUNT',
};

/**
 * The options of a plain metric that a Metrics Insights query cannot apply: a query has no unit
 * filter and no id, and is not attached to a stack's account or region.
 */
const PLAIN_METRIC_ONLY = ['unit', 'id', 'stackAccount', 'stackRegion'] as const;

/** `options` without the keys whose value is `undefined` (so that they do not override defaults). */
function given(options: cloudwatch.MetricOptions): cloudwatch.MetricOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

/**
 * An engine metric of one provider (`statistic` of {@link EngineMetric}, 5 minutes), with every
 * given option applied; `dimensionsMap` adds dimensions to `provider`, and may not name another
 * provider.
 */
export function providerMetric(
  provider: string,
  metric: EngineMetric,
  options: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  const { dimensionsMap, ...rest } = given(options);
  const named = dimensionsMap?.[METRIC_DIMENSION];
  if (named !== undefined && named !== provider) {
    throw new Error(
      `${metric.metricName} of provider "${provider}": dimensionsMap.${METRIC_DIMENSION} is "${named}"; ` +
        'leave it out (the provider argument sets it)',
    );
  }
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName: metric.metricName,
    statistic: metric.statistic,
    period: ALARM_PERIOD,
    ...rest,
    dimensionsMap: { ...dimensionsMap, [METRIC_DIMENSION]: provider },
  });
}

/** The aggregate of a statistic; throws for one a query cannot compute (percentiles, trimmed means). */
function aggregateOf(statistic: string, metricName: string): Aggregate {
  const aggregate = AGGREGATES[statistic];
  if (aggregate === undefined) {
    throw new Error(
      `${metricName} (all providers): statistic "${statistic}" cannot be computed by a Metrics Insights ` +
        `query (use ${Object.keys(AGGREGATES).join(', ')}), or pass a provider for a plain metric`,
    );
  }
  return aggregate;
}

/** `WHERE` clauses for the dimensions of a query; the engine's metrics have `provider` only. */
function whereClause(dimensionsMap: cloudwatch.DimensionsMap | undefined, metricName: string): string {
  const entries = Object.entries(dimensionsMap ?? {});
  const unknown = entries.filter(([name]) => name !== METRIC_DIMENSION).map(([name]) => name);
  if (unknown.length > 0) {
    throw new Error(
      `${metricName} (all providers): dimensionsMap names ${unknown.join(', ')}; the engine's metrics ` +
        `have the dimension "${METRIC_DIMENSION}" only`,
    );
  }
  return entries.map(([name, value]) => ` WHERE ${name} = '${value.replaceAll("'", "''")}'`).join('');
}

/**
 * A Metrics Insights query aggregating an engine metric over every provider (alarms can use it).
 * It applies every given option: `period`, `label`, `color`, `visible`; `statistic` chooses the
 * aggregate (Sum, Minimum, Maximum, Average, SampleCount); `dimensionsMap` (`provider` only) becomes
 * a `WHERE` clause; `account` and `region` become the query's search account and region. The options
 * only a plain metric has (`unit`, `id`, `stackAccount`, `stackRegion`) throw, naming the option.
 */
export function allProvidersQuery(
  metric: EngineMetric,
  options: cloudwatch.MetricOptions = {},
): cloudwatch.MathExpression {
  const props = given(options);
  const plainOnly = PLAIN_METRIC_ONLY.filter((name) => props[name] !== undefined);
  if (plainOnly.length > 0) {
    throw new Error(
      `${metric.metricName} (all providers): a Metrics Insights query cannot apply ${plainOnly.join(', ')}; ` +
        'pass a provider for a plain metric',
    );
  }
  const aggregate = aggregateOf(props.statistic ?? metric.statistic, metric.metricName);
  return new cloudwatch.MathExpression({
    expression:
      `SELECT ${aggregate}(${metric.metricName}) FROM SCHEMA("${METRIC_NAMESPACE}", ${METRIC_DIMENSION})` +
      whereClause(props.dimensionsMap, metric.metricName),
    usingMetrics: {},
    label: props.label ?? metric.label,
    period: props.period ?? ALARM_PERIOD,
    ...(props.color === undefined ? {} : { color: props.color }),
    ...(props.visible === undefined ? {} : { visible: props.visible }),
    ...(props.account === undefined ? {} : { searchAccount: props.account }),
    ...(props.region === undefined ? {} : { searchRegion: props.region }),
  });
}

/** A dashboard query of an engine metric with one line per provider (`GROUP BY provider`). */
export function byProviderQuery(aggregate: Aggregate, metricName: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression:
      `SELECT ${aggregate}(${metricName}) FROM SCHEMA("${METRIC_NAMESPACE}", ${METRIC_DIMENSION}) ` +
      `GROUP BY ${METRIC_DIMENSION}`,
    usingMetrics: {},
    period: ALARM_PERIOD,
  });
}

/**
 * A Function URL metric of the read function (`AWS/Lambda`, dimension `FunctionName`; Sum, 5 minutes).
 * Names: docs.aws.amazon.com/lambda/latest/dg/urls-monitoring.html.
 */
export function functionUrlMetric(
  fn: lambda.IFunction,
  metricName: 'UrlRequestCount' | 'Url4xxCount' | 'Url5xxCount',
  label?: string,
): cloudwatch.Metric {
  return fn.metric(metricName, {
    period: ALARM_PERIOD,
    statistic: 'Sum',
    ...(label === undefined ? {} : { label }),
  });
}
