import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { EmfMetrics } from '../../../functions/aws/metrics.js';
import { METRIC_DIMENSION, METRIC_NAMES, METRIC_NAMESPACE } from '../../../functions/core/ports.js';

interface EmfDocument {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: ReadonlyArray<{
      readonly Namespace: string;
      readonly Dimensions: string[][];
      readonly Metrics: ReadonlyArray<{ readonly Name: string; readonly Unit: string }>;
    }>;
  };
  readonly [key: string]: unknown;
}

describe('Class: EmfMetrics', () => {
  let stdout: MockInstance<typeof process.stdout.write>;

  /** The EMF documents written to stdout: Powertools writes one JSON line per flush. */
  function emitted(): EmfDocument[] {
    return stdout.mock.calls
      .flatMap(([chunk]) => String(chunk).split('\n'))
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as EmfDocument);
  }

  beforeEach(() => {
    // Powertools disables metrics in dev mode; make sure the environment running the tests doesn't.
    vi.stubEnv('POWERTOOLS_DEV', undefined);
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', undefined);
    vi.stubEnv('POWERTOOLS_SERVICE_NAME', undefined);
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', undefined);
    stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  });

  afterEach(() => {
    stdout.mockRestore();
    vi.unstubAllEnvs();
  });

  describe('Method: publish', () => {
    it('writes one EMF document with the namespace, the dimension set [["provider"]] and the metric', () => {
      // Prepare
      const metrics = new EmfMetrics();
      metrics.add('acme', METRIC_NAMES.refreshSucceeded, 'Count', 1);
      metrics.add('acme', METRIC_NAMES.refreshDuration, 'Milliseconds', 842);

      // Act
      metrics.publish();

      // Assess
      const documents = emitted();
      expect(documents).toHaveLength(1);
      const [document] = documents;
      expect(document?._aws.CloudWatchMetrics).toStrictEqual([
        {
          Namespace: METRIC_NAMESPACE,
          Dimensions: [[METRIC_DIMENSION]],
          Metrics: [
            { Name: 'RefreshSucceeded', Unit: 'Count' },
            { Name: 'RefreshDuration', Unit: 'Milliseconds' },
          ],
        },
      ]);
      expect(document).toMatchObject({ provider: 'acme', RefreshSucceeded: 1, RefreshDuration: 842 });
      expect(typeof document?._aws.Timestamp).toBe('number');
    });

    it('leaves out the service dimension Powertools adds by default', () => {
      // Prepare
      vi.stubEnv('POWERTOOLS_SERVICE_NAME', 'something-else');
      const metrics = new EmfMetrics();
      metrics.add('acme', METRIC_NAMES.refreshFailed, 'Count', 1);

      // Act
      metrics.publish();

      // Assess
      const [document] = emitted();
      expect(document?._aws.CloudWatchMetrics[0]?.Dimensions).toStrictEqual([['provider']]);
      expect(document).not.toHaveProperty('service');
    });

    it('writes one document per provider when several providers added metrics in one process', () => {
      // Prepare
      const metrics = new EmfMetrics();
      metrics.add('acme', METRIC_NAMES.secondsToExpiry, 'Seconds', 3300);
      metrics.add('globex', METRIC_NAMES.secondsToExpiry, 'Seconds', 120);
      metrics.add('acme', METRIC_NAMES.leaseContended, 'Count', 1);

      // Act
      metrics.publish();

      // Assess
      const documents = emitted();
      expect(documents).toHaveLength(2);
      expect(documents[0]).toMatchObject({ provider: 'acme', SecondsToExpiry: 3300, LeaseContended: 1 });
      expect(documents[0]?._aws.CloudWatchMetrics[0]?.Metrics).toStrictEqual([
        { Name: 'SecondsToExpiry', Unit: 'Seconds' },
        { Name: 'LeaseContended', Unit: 'Count' },
      ]);
      expect(documents[1]).toMatchObject({ provider: 'globex', SecondsToExpiry: 120 });
      expect(documents[1]).not.toHaveProperty('LeaseContended');
      for (const document of documents) {
        expect(document._aws.CloudWatchMetrics[0]?.Dimensions).toStrictEqual([['provider']]);
      }
    });

    it('writes nothing when no metric was added, and nothing twice', () => {
      // Prepare
      const metrics = new EmfMetrics();
      metrics.publish();
      metrics.add('acme', METRIC_NAMES.refreshFailed, 'Count', 1);
      metrics.publish();

      // Act
      metrics.publish();

      // Assess
      expect(emitted()).toHaveLength(1);
    });

    it('keeps the provider dimension for metrics added after a publish', () => {
      // Prepare
      const metrics = new EmfMetrics();
      metrics.add('acme', METRIC_NAMES.refreshFailed, 'Count', 1);
      metrics.publish();
      metrics.add('acme', METRIC_NAMES.refreshSucceeded, 'Count', 1);

      // Act
      metrics.publish();

      // Assess
      const documents = emitted();
      expect(documents).toHaveLength(2);
      expect(documents[1]).toMatchObject({ provider: 'acme', RefreshSucceeded: 1 });
      expect(documents[1]?._aws.CloudWatchMetrics[0]?.Dimensions).toStrictEqual([['provider']]);
    });

    it('writes repeated datapoints of one metric as an array of values', () => {
      // Prepare
      const metrics = new EmfMetrics();
      metrics.add('acme', METRIC_NAMES.refreshFailed, 'Count', 1);
      metrics.add('acme', METRIC_NAMES.refreshFailed, 'Count', 1);

      // Act
      metrics.publish();

      // Assess
      expect(emitted()[0]).toMatchObject({ RefreshFailed: [1, 1] });
    });
  });
});
