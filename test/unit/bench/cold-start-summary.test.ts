import { describe, expect, it } from 'vitest';
import {
  type ColdStartRun,
  type ColdStartVariantResult,
  coldStartFigures,
  coldStartTable,
  figuresOf,
  roundOrder,
} from '../../../bench/lib/cold-start-summary.js';

/** Runs whose first token comes at the given times, module init 10 ms before each. */
const runs = (...firstTokenMs: number[]): ColdStartRun[] =>
  firstTokenMs.map((at) => ({ initMs: at - 10, firstTokenMs: at }));

const RESULTS: readonly ColdStartVariantResult[] = [
  { key: 'ours', label: 'ours', bundleBytes: 5_000, outcome: { kind: 'measured', runs: runs(90, 80, 100) } },
  { key: 'ours-ddb', label: 'ours, DynamoDB', outcome: { kind: 'not-built', note: 'not built yet' } },
  { key: 'broken', label: 'broken', bundleBytes: 10, outcome: { kind: 'failed', error: 'exit 1' } },
  {
    key: 'baseline',
    label: 'Powertools',
    bundleBytes: 8_000,
    outcome: { kind: 'measured', runs: runs(160, 200) },
  },
  { key: 'floor', label: 'empty', bundleBytes: 100, outcome: { kind: 'measured', runs: runs(50) } },
];

describe('Function: coldStartFigures', () => {
  it('takes the median and p90 by nearest rank, and the median of module init', () => {
    // Prepare: 1..20 ms.
    const twenty = runs(...Array.from({ length: 20 }, (_, index) => index + 1));

    // Act
    const figures = coldStartFigures(twenty);

    // Assess
    expect(figures).toStrictEqual({ count: 20, median: 10, p90: 18, initMedian: 0 });
  });

  it('gives NaN, not zero, without runs', () => {
    // Act
    const figures = coldStartFigures([]);

    // Assess
    expect(figures.count).toBe(0);
    expect(figures.median).toBeNaN();
    expect(figures.p90).toBeNaN();
  });
});

describe('Function: figuresOf', () => {
  it('has figures only for measured variants', () => {
    // Act + Assess
    expect(figuresOf(RESULTS, 'ours')?.median).toBe(90);
    expect(figuresOf(RESULTS, 'ours-ddb')).toBeUndefined();
    expect(figuresOf(RESULTS, 'broken')).toBeUndefined();
    expect(figuresOf(RESULTS, 'missing')).toBeUndefined();
  });
});

describe('Function: coldStartTable', () => {
  it('puts the ratio to the baseline and the time above the floor next to each median', () => {
    // Act
    const table = coldStartTable(RESULTS, { title: 'T', baseline: 'baseline', floor: 'floor' });

    // Assess
    expect(table.head).toContain('vs Powertools (median)');
    expect(table.rows[0]).toStrictEqual([
      'ours',
      '5,000 B (4.9 KiB)',
      '90.0',
      '100.0',
      '80.0',
      '0.56×',
      '+40.0',
    ]);
    expect(table.rows[3]).toStrictEqual([
      'Powertools',
      '8,000 B (7.8 KiB)',
      '160.0',
      '200.0',
      '150.0',
      '1.00×',
      '+110.0',
    ]);
    // The floor is not compared with itself.
    expect(table.rows[4]?.[6]).toBe('');
  });

  it('shows a slot that is not built yet as such, with no figures', () => {
    // Act
    const table = coldStartTable(RESULTS, { title: 'T', baseline: 'baseline', floor: 'floor' });

    // Assess
    expect(table.rows[1]).toStrictEqual(['ours, DynamoDB', '', 'not built yet', '', '', '', '']);
  });

  it('shows a failed variant with its error, with no figures', () => {
    // Act
    const table = coldStartTable(RESULTS, { title: 'T', baseline: 'baseline', floor: 'floor' });

    // Assess
    expect(table.rows[2]).toStrictEqual(['broken', '10 B (0.0 KiB)', 'failed: exit 1', '', '', '', '']);
  });

  it('leaves the ratios out when the baseline was not measured', () => {
    // Act
    const table = coldStartTable(RESULTS, { title: 'T', baseline: 'broken', floor: 'missing' });

    // Assess
    expect(table.rows[0]?.slice(5)).toStrictEqual(['–', '']);
  });
});

describe('Function: roundOrder', () => {
  it('rotates the order by one place per round, so every variant takes every place', () => {
    // Act
    const orders = [0, 1, 2, 3].map((round) => roundOrder(['a', 'b', 'c'], round).join(''));

    // Assess
    expect(orders).toStrictEqual(['abc', 'bca', 'cab', 'abc']);
  });

  it('handles no variants', () => {
    // Act + Assess
    expect(roundOrder([], 5)).toStrictEqual([]);
  });
});
