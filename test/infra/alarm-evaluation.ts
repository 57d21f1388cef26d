/**
 * A small model of how CloudWatch evaluates a synthesized alarm against EMF datapoints, so that the
 * infra tests can say which runs of the refresh function page someone. CloudWatch evaluates nothing
 * locally (and moto does not either), so this is the closest real part: the alarm as synthesized
 * (Metrics Insights query, period, threshold, operator, evaluation periods, datapoints to alarm,
 * missing data) and the EMF lines as the metrics adapter prints them.
 *
 * The model, after the CloudWatch User Guide ("Evaluating an alarm", "Configuring how CloudWatch
 * alarms treat missing data"): periods are aligned to multiples of the period; the alarm is evaluated
 * every minute on the last `EvaluationPeriods` periods, the current one included with the datapoints
 * received so far; a period's value aggregates every matching datapoint of every provider, as the
 * query does; ALARM when at least `DatapointsToAlarm` of those periods breach, else OK. Not modelled:
 * ingestion delay, INSUFFICIENT_DATA, `missing`/`ignore` treatment (the alarms here use neither).
 */

/** One EMF datapoint: what CloudWatch extracts from a log line. */
export interface EmfDatapoint {
  readonly namespace: string;
  /** The dimension set, exactly as declared in the document. */
  readonly dimensions: readonly string[];
  readonly name: string;
  readonly value: number;
  /** Epoch milliseconds (`_aws.Timestamp`). */
  readonly timestamp: number;
  /** The dimension values, by name. */
  readonly dimensionValues: Readonly<Record<string, string>>;
}

interface EmfDocument {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: ReadonlyArray<{
      readonly Namespace: string;
      readonly Dimensions: string[][];
      readonly Metrics: ReadonlyArray<{ readonly Name: string }>;
    }>;
  };
  readonly [key: string]: unknown;
}

/** Every datapoint of the EMF documents in `output` (other lines are skipped). */
export function parseEmf(output: string): EmfDatapoint[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .flatMap((line) => documentDatapoints(JSON.parse(line) as EmfDocument));
}

/** One EMF document's datapoints: every value of every metric, for every dimension set of every directive. */
function documentDatapoints(document: EmfDocument): EmfDatapoint[] {
  return document._aws.CloudWatchMetrics.flatMap((directive) =>
    directive.Dimensions.flatMap((dimensions) => {
      const dimensionValues = Object.fromEntries(
        dimensions.map((dimension) => [dimension, String(document[dimension])]),
      );
      return directive.Metrics.flatMap((metric) => {
        const raw = document[metric.Name];
        return (Array.isArray(raw) ? raw : [raw]).map((value) => ({
          namespace: directive.Namespace,
          dimensions,
          name: metric.Name,
          value: Number(value),
          timestamp: document._aws.Timestamp,
          dimensionValues,
        }));
      });
    }),
  );
}

/** The properties of a synthesized `AWS::CloudWatch::Alarm` on one Metrics Insights query. */
export interface InsightsAlarmProperties {
  readonly Metrics: ReadonlyArray<{ readonly Expression?: string; readonly Period?: number }>;
  readonly Threshold: number;
  readonly ComparisonOperator: string;
  readonly EvaluationPeriods: number;
  readonly DatapointsToAlarm?: number;
  readonly TreatMissingData?: string;
}

export type AlarmState = 'OK' | 'ALARM';

/** The alarm's state at each whole minute from `from` to `to` (epoch ms, inclusive). */
export function evaluateAlarm(
  alarm: InsightsAlarmProperties,
  points: readonly EmfDatapoint[],
  range: { readonly from: number; readonly to: number },
): { readonly at: number; readonly state: AlarmState }[] {
  const [query, ...others] = alarm.Metrics;
  if (query?.Expression === undefined || query.Period === undefined || others.length > 0) {
    throw new Error('the model handles alarms on one Metrics Insights query only');
  }
  const parsed = /^SELECT (SUM|MAX|MIN|AVG|COUNT)\((\w+)\) FROM SCHEMA\("([^"]+)", (\w+)\)$/.exec(
    query.Expression,
  );
  if (parsed === null) throw new Error(`unsupported query: ${query.Expression}`);
  const [, aggregate, metricName, namespace, dimension] = parsed as unknown as [
    string,
    'SUM' | 'MAX' | 'MIN' | 'AVG' | 'COUNT',
    string,
    string,
    string,
  ];
  const missingBreaches = missingDataBreaches(alarm.TreatMissingData);
  const periodMs = query.Period * 1000;
  // SCHEMA("ns", provider) matches the metrics whose dimension set is exactly [provider].
  const matching = points.filter(
    (point) =>
      point.namespace === namespace &&
      point.name === metricName &&
      point.dimensions.length === 1 &&
      point.dimensions[0] === dimension,
  );

  const states: { at: number; state: AlarmState }[] = [];
  for (let at = Math.ceil(range.from / 60_000) * 60_000; at <= range.to; at += 60_000) {
    const current = Math.floor((at - 1) / periodMs);
    let breaching = 0;
    for (let period = current - alarm.EvaluationPeriods + 1; period <= current; period += 1) {
      const values = matching
        .filter(
          (point) => Math.floor(point.timestamp / periodMs) === period && point.timestamp < at, // received so far
        )
        .map((point) => point.value);
      const breaches =
        values.length === 0
          ? missingBreaches
          : compare(alarm.ComparisonOperator, aggregateOf(aggregate, values), alarm.Threshold);
      if (breaches) breaching += 1;
    }
    states.push({
      at,
      state: breaching >= (alarm.DatapointsToAlarm ?? alarm.EvaluationPeriods) ? 'ALARM' : 'OK',
    });
  }
  return states;
}

/** The moments the state changed (the notifications the topic gets), the first state included. */
export function transitions(
  states: readonly { readonly at: number; readonly state: AlarmState }[],
): { readonly at: number; readonly state: AlarmState }[] {
  return states.filter((entry, index) => index === 0 || states[index - 1]?.state !== entry.state);
}

function missingDataBreaches(treatment: string | undefined): boolean {
  if (treatment === 'notBreaching') return false;
  if (treatment === 'breaching') return true;
  throw new Error(`the model does not handle TreatMissingData ${treatment}`);
}

function aggregateOf(aggregate: 'SUM' | 'MAX' | 'MIN' | 'AVG' | 'COUNT', values: readonly number[]): number {
  switch (aggregate) {
    case 'SUM':
      return values.reduce((sum, value) => sum + value, 0);
    case 'MAX':
      return Math.max(...values);
    case 'MIN':
      return Math.min(...values);
    case 'AVG':
      return values.reduce((sum, value) => sum + value, 0) / values.length;
    case 'COUNT':
      return values.length;
  }
}

function compare(operator: string, value: number, threshold: number): boolean {
  switch (operator) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= threshold;
    case 'GreaterThanThreshold':
      return value > threshold;
    case 'LessThanThreshold':
      return value < threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= threshold;
    default:
      throw new Error(`unsupported ComparisonOperator ${operator}`);
  }
}
