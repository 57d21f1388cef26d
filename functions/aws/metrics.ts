/**
 * Metrics as CloudWatch EMF (Embedded Metric Format) lines on stdout, through Powertools `Metrics`.
 *
 * **Dimension set: exactly `[["provider"]]`.** Powertools adds a `service` default dimension to every
 * metric (the `serviceName` option, `POWERTOOLS_SERVICE_NAME`, or `service_undefined`). CloudWatch
 * identifies a metric by its namespace, name and *exact* dimension set, so a datapoint published with
 * `{service, provider}` is a different metric from `{provider}`: the alarms and the dashboard, built
 * from `METRIC_NAMES` with the single dimension `METRIC_DIMENSION`, would see no data. The namespace
 * (`METRIC_NAMESPACE`) already names the service, so `service` adds nothing; it is removed with
 * `clearDefaultDimensions()`. (`singleMetric()` is not used: it builds a fresh instance, which adds
 * `service` back.)
 *
 * **Several providers in one process** (a local runner refreshing them all): EMF puts one dimension
 * set on every metric of a document, so metrics of different providers must not share a buffer. One
 * Powertools instance per provider holds `provider` as its default dimension, and {@link
 * EmfMetrics.publish} flushes each into its own document.
 *
 * **Where output goes**: Powertools writes with its own `Console` on `process.stdout` (Lambda sends it
 * to CloudWatch Logs, which extracts the metrics), inside Lambda or not. `POWERTOOLS_DEV=true` *disables*
 * metrics unless `POWERTOOLS_METRICS_DISABLED=false`; `POWERTOOLS_METRICS_DISABLED=true` disables them.
 */
import { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import {
  METRIC_DIMENSION,
  METRIC_NAMESPACE,
  type MetricName,
  type Metrics,
  type MetricUnit,
} from '../core/ports.js';

/** The `serviceName` given to Powertools (it does not reach the output: see the module comment). */
export const METRICS_SERVICE_NAME = 'token-refresher';

/** {@link Metrics} as EMF with the single dimension `provider`. Call {@link publish} at the end. */
export class EmfMetrics implements Metrics {
  readonly #byProvider = new Map<string, PowertoolsMetrics>();

  /** Buffer one datapoint; nothing is written until {@link publish}. */
  add(provider: string, name: MetricName, unit: MetricUnit, value: number): void {
    this.#metricsOf(provider).addMetric(name, unit, value);
  }

  /**
   * Write the buffered metrics: one EMF document per provider that has any, then empty the buffers.
   * The handler calls it once at the end of an invocation (also after a failure).
   */
  publish(): void {
    for (const metrics of this.#byProvider.values()) {
      // Skips Powertools' "No application metrics to publish" warning for idle providers.
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  }

  #metricsOf(provider: string): PowertoolsMetrics {
    let metrics = this.#byProvider.get(provider);
    if (metrics === undefined) {
      metrics = new PowertoolsMetrics({ namespace: METRIC_NAMESPACE, serviceName: METRICS_SERVICE_NAME });
      metrics.clearDefaultDimensions(); // drop `service`: the dimension set is exactly [provider]
      // A default dimension survives publishStoredMetrics(), unlike addDimension().
      metrics.setDefaultDimensions({ [METRIC_DIMENSION]: provider });
      this.#byProvider.set(provider, metrics);
    }
    return metrics;
  }
}
