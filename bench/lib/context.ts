/**
 * What the runner hands every benchmark: one moto server for the whole run (reset between
 * benchmarks; the process environment points the default SDK chain at it, which Powertools'
 * default providers use), and the run mode.
 */

import type { Logger } from '../../functions/core/ports.js';
import type { MotoServer } from '../../functions/local/moto.js';
import type { Section } from './report.js';

export interface BenchContext {
  readonly moto: MotoServer;
  /** `--quick`: fewer processes and iterations; the default meets the counts. */
  readonly quick: boolean;
  /** Figures from earlier benchmarks that later ones build on (the cost model uses #4's counts). */
  readonly shared: SharedFigures;
}

/** Measured by benchmark 4, used by benchmark 5's cost model. */
export interface SharedFigures {
  refresh?: RefreshFigures;
}

export interface RefreshFigures {
  /** AWS calls of one scheduled refresh of a client_credentials provider, by operation. */
  readonly callsPerRefresh: Readonly<Record<string, number>>;
  /** The same for a refresh_token provider whose refresh token rotates. */
  readonly callsPerRotatingRefresh: Readonly<Record<string, number>>;
  /** AWS calls of one not-due tick, by operation. */
  readonly callsPerTick: Readonly<Record<string, number>>;
  /** Mean handler duration of a refresh / a not-due tick (ms). */
  readonly meanRefreshMs: number;
  readonly meanTickMs: number;
  /** Bytes the handler writes to stdout (logs + EMF) per refresh / per tick. */
  readonly logBytesPerRefresh: number;
  readonly logBytesPerTick: number;
  /** Distinct CloudWatch metrics (name × provider) a healthy provider publishes. */
  readonly metricsPerProvider: number;
}

export type Benchmark = (context: BenchContext) => Promise<Section>;

/** A logger that drops everything (where log output is not what is measured). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
