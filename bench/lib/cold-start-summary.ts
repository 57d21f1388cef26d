/**
 * The figures and the table of a cold-start comparison: fresh processes per variant, each giving the
 * time its module was loaded and the time its first token was in hand (both `performance.now()` in
 * the child, i.e. from process start). Pure: no I/O, so the arithmetic and the table are unit-tested.
 */
import type { Table } from './report.js';
import { bytes, fixed, median, quantile, ratio } from './stats.js';

/** One fresh process's times (ms from its start). */
export interface ColdStartRun {
  /** The consumer's module was imported (module init done). */
  readonly initMs: number;
  /** The first token was in hand. */
  readonly firstTokenMs: number;
}

/** What became of a variant: measured runs, a slot for code that does not exist yet, or a failure. */
export type ColdStartOutcome =
  | { readonly kind: 'measured'; readonly runs: readonly ColdStartRun[] }
  | { readonly kind: 'not-built'; readonly note: string }
  | { readonly kind: 'failed'; readonly error: string };

export interface ColdStartVariantResult {
  readonly key: string;
  readonly label: string;
  /** The bundle's size in bytes, when there is one. */
  readonly bundleBytes?: number;
  readonly outcome: ColdStartOutcome;
}

export interface ColdStartFigures {
  readonly count: number;
  readonly median: number;
  readonly p90: number;
  readonly initMedian: number;
}

/** Median and p90 (nearest rank) of the first token, median of module init; NaN without runs. */
export function coldStartFigures(runs: readonly ColdStartRun[]): ColdStartFigures {
  const first = runs.map((run) => run.firstTokenMs);
  return {
    count: runs.length,
    median: median(first),
    p90: quantile(first, 0.9),
    initMedian: median(runs.map((run) => run.initMs)),
  };
}

/** The figures of a measured variant, or `undefined`. */
export function figuresOf(
  results: readonly ColdStartVariantResult[],
  key: string,
): ColdStartFigures | undefined {
  const outcome = results.find((result) => result.key === key)?.outcome;
  return outcome?.kind === 'measured' ? coldStartFigures(outcome.runs) : undefined;
}

/**
 * One row per variant, in the given order: bundle size, median and p90 to the first token, module
 * init, the median as a ratio to the `baseline` variant's and the median above the `floor` variant's.
 * A slot that is not built yet or a variant that failed says so in the median column.
 */
export function coldStartTable(
  results: readonly ColdStartVariantResult[],
  options: { readonly title: string; readonly baseline: string; readonly floor: string },
): Table {
  const baseline = figuresOf(results, options.baseline);
  const floor = figuresOf(results, options.floor);
  const baselineLabel = results.find((result) => result.key === options.baseline)?.label ?? options.baseline;
  return {
    title: options.title,
    head: [
      'consumer',
      'bundle (SDK external)',
      'first token, median',
      'p90',
      'module loaded, median',
      `vs ${baselineLabel} (median)`,
      'above the empty process (median)',
    ],
    rows: results.map((result) => {
      const size = result.bundleBytes === undefined ? '' : bytes(result.bundleBytes);
      const { outcome } = result;
      if (outcome.kind === 'not-built') return [result.label, size, outcome.note, '', '', '', ''];
      if (outcome.kind === 'failed') return [result.label, size, `failed: ${outcome.error}`, '', '', '', ''];
      const figures = coldStartFigures(outcome.runs);
      return [
        result.label,
        size,
        fixed(figures.median),
        fixed(figures.p90),
        fixed(figures.initMedian),
        ratio(figures.median, baseline?.median ?? Number.NaN, 2),
        result.key === options.floor || floor === undefined ? '' : `+${fixed(figures.median - floor.median)}`,
      ];
    }),
  };
}

/**
 * The order of the variants in one round: rotated by one place per round, so that no variant always
 * runs first (after the previous round's last) or last.
 */
export function roundOrder<T>(variants: readonly T[], round: number): T[] {
  if (variants.length === 0) return [];
  const shift = ((round % variants.length) + variants.length) % variants.length;
  return [...variants.slice(shift), ...variants.slice(0, shift)];
}
