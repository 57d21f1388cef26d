/**
 * The construct's `metric*` methods honour every `MetricOptions` field they are given: a provider's
 * metric applies each one; the all-providers Metrics Insights query applies each one it can express
 * and refuses, naming it, each one it cannot (never drops one silently). The option tables are typed
 * by every key of `MetricOptions`, so an option added to aws-cdk-lib fails to compile here until it is
 * covered.
 */
import { aws_cloudwatch as cloudwatch, Duration } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { METRIC_NAMES } from '../../functions/core/ports.js';
import type { TokenRefresher } from '../../infra/token-refresher.js';
import { build } from './support.js';

const { stack } = build();
const refresher = stack.refresher;

type MetricMethod =
  | 'metricRefreshFailures'
  | 'metricConsecutiveFailures'
  | 'metricPermanentFailures'
  | 'metricSecondsToExpiry';

/** Each method, its engine metric, and the statistic and aggregate it uses by default. */
const METHODS: readonly (readonly [MetricMethod, string, string, string])[] = [
  ['metricRefreshFailures', METRIC_NAMES.refreshFailed, 'Sum', 'SUM'],
  ['metricConsecutiveFailures', METRIC_NAMES.consecutiveFailures, 'Maximum', 'MAX'],
  ['metricPermanentFailures', METRIC_NAMES.refreshFailedPermanent, 'Sum', 'SUM'],
  ['metricSecondsToExpiry', METRIC_NAMES.secondsToExpiry, 'Minimum', 'MIN'],
];

const call = (method: MetricMethod, provider?: string, options?: cloudwatch.MetricOptions) =>
  (refresher[method] as TokenRefresher['metricRefreshFailures']).call(refresher, provider, options);

interface Applied<T> {
  /** The option's value, given alone. */
  readonly value: unknown;
  /** Where the option shows. */
  readonly read: (metric: T) => unknown;
  readonly expected: unknown;
}

/** How each option shows on a provider's metric. */
const ON_PROVIDER_METRIC: Record<keyof cloudwatch.MetricOptions, Applied<cloudwatch.Metric>> = {
  period: { value: Duration.minutes(1), read: (metric) => metric.period.toSeconds(), expected: 60 },
  statistic: { value: 'p90', read: (metric) => metric.statistic, expected: 'p90' },
  // Added to the provider's dimension, not replacing it.
  dimensionsMap: {
    value: { stage: 'prod' },
    read: (metric) => metric.dimensions,
    expected: { stage: 'prod', provider: 'github' },
  },
  unit: { value: cloudwatch.Unit.COUNT, read: (metric) => metric.unit, expected: cloudwatch.Unit.COUNT },
  label: { value: 'Failures', read: (metric) => metric.label, expected: 'Failures' },
  color: { value: '#d62728', read: (metric) => metric.color, expected: '#d62728' },
  id: { value: 'failures', read: (metric) => metric.id, expected: 'failures' },
  visible: { value: false, read: (metric) => metric.visible, expected: false },
  account: { value: '111111111111', read: (metric) => metric.account, expected: '111111111111' },
  region: { value: 'eu-west-3', read: (metric) => metric.region, expected: 'eu-west-3' },
  stackAccount: { value: '222222222222', read: (metric) => metric.account, expected: '222222222222' },
  stackRegion: { value: 'us-east-2', read: (metric) => metric.region, expected: 'us-east-2' },
};

type QueryConfig = Required<Pick<cloudwatch.MetricConfig, 'mathExpression' | 'renderingProperties'>>;

/** How each option shows on the all-providers query, or the error that refuses it. */
const ON_ALL_PROVIDERS_QUERY: Record<keyof cloudwatch.MetricOptions, Applied<QueryConfig> | RegExp> = {
  period: { value: Duration.minutes(1), read: (config) => config.mathExpression.period, expected: 60 },
  statistic: {
    value: 'Average',
    read: (config) => config.mathExpression.expression.split('(')[0],
    expected: 'SELECT AVG',
  },
  dimensionsMap: {
    value: { provider: 'github' },
    read: (config) => /WHERE .*$/.exec(config.mathExpression.expression)?.[0],
    expected: "WHERE provider = 'github'",
  },
  unit: /cannot apply unit;/,
  label: { value: 'All', read: (config) => config.renderingProperties.label, expected: 'All' },
  color: { value: '#d62728', read: (config) => config.renderingProperties.color, expected: '#d62728' },
  id: /cannot apply id;/,
  visible: { value: false, read: (config) => config.renderingProperties.visible, expected: false },
  account: {
    value: '111111111111',
    read: (config) => config.mathExpression.searchAccount,
    expected: '111111111111',
  },
  region: { value: 'eu-west-3', read: (config) => config.mathExpression.searchRegion, expected: 'eu-west-3' },
  stackAccount: /cannot apply stackAccount;/,
  stackRegion: /cannot apply stackRegion;/,
};

describe('Class: TokenRefresher', () => {
  describe.each(METHODS)('Method: %s', (method, metricName, statistic, aggregate) => {
    it('gives a provider metric with the default statistic and 5 minutes when no option is given', () => {
      // Act
      const metric = call(method, 'github') as cloudwatch.Metric;

      // Assess
      expect(metric).toBeInstanceOf(cloudwatch.Metric);
      expect({
        metricName: metric.metricName,
        statistic: metric.statistic,
        period: metric.period.toSeconds(),
        dimensions: metric.dimensions,
      }).toEqual({ metricName, statistic, period: 300, dimensions: { provider: 'github' } });
    });

    it('applies every option to a provider metric', () => {
      for (const [option, { value, read, expected }] of Object.entries(ON_PROVIDER_METRIC)) {
        // Act
        const metric = call(method, 'github', { [option]: value }) as cloudwatch.Metric;

        // Assess
        expect(read(metric), option).toEqual(expected);
        expect(metric.dimensions?.provider, option).toBe('github');
      }
    });

    it('refuses a dimensionsMap that names another provider', () => {
      expect(() => call(method, 'github', { dimensionsMap: { provider: 'salesforce' } })).toThrow(
        /dimensionsMap\.provider is "salesforce"/,
      );
    });

    it('gives the all-providers query with the default aggregate when no option is given', () => {
      // Act
      const config = stack.resolve(call(method).toMetricConfig()) as QueryConfig;

      // Assess
      expect(config.mathExpression.expression).toBe(
        `SELECT ${aggregate}(${metricName}) FROM SCHEMA("TokenRefresher", provider)`,
      );
      expect(config.mathExpression.period).toBe(300);
    });

    it('applies every option to the all-providers query, or refuses it by name', () => {
      for (const [option, applied] of Object.entries(ON_ALL_PROVIDERS_QUERY)) {
        if (applied instanceof RegExp) {
          // Act + Assess: one the query cannot express.
          expect(
            () => call(method, undefined, { [option]: ON_PROVIDER_METRIC[option as 'unit'].value }),
            option,
          ).toThrow(applied);
          continue;
        }
        // Act
        const config = stack.resolve(call(method, undefined, { [option]: applied.value }).toMetricConfig());

        // Assess
        expect(applied.read(config as QueryConfig), option).toEqual(applied.expected);
      }
    });

    it('refuses on the all-providers query a statistic or a dimension that a query cannot express', () => {
      expect(() => call(method, undefined, { statistic: 'p99' })).toThrow(
        /statistic "p99" cannot be computed/,
      );
      expect(() => call(method, undefined, { dimensionsMap: { stage: 'prod' } })).toThrow(
        /dimensionsMap names stage/,
      );
    });

    it('throws for a provider that is not configured', () => {
      expect(() => call(method, 'nope')).toThrow(/unknown provider "nope"/);
    });
  });
});
