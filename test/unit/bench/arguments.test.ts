import { describe, expect, it } from 'vitest';
import { type BenchmarkName, parseBenchArguments } from '../../../bench/lib/arguments.js';

const KNOWN: readonly BenchmarkName[] = [
  { number: 1, key: 'consumer-fetches' },
  { number: 4, key: 'refresh-cost' },
  { number: 6, key: 'consumer-cold-start' },
  { number: 7, key: 'bundle-sizes' },
];

describe('Function: parseBenchArguments', () => {
  it('runs every benchmark in full mode without arguments', () => {
    // Act
    const options = parseBenchArguments([], KNOWN);

    // Assess
    expect(options).toStrictEqual({ quick: false, only: undefined });
  });

  it('takes --only with a separate list of keys, as `npm run bench -- --only consumer-cold-start` passes it', () => {
    // Act
    const options = parseBenchArguments(['--only', 'consumer-cold-start'], KNOWN);

    // Assess
    expect([...(options.only ?? [])]).toStrictEqual([6]);
  });

  it('takes --only= with numbers and keys mixed, and --quick', () => {
    // Act
    const options = parseBenchArguments(['--quick', '--only=1, bundle-sizes'], KNOWN);

    // Assess
    expect(options.quick).toBe(true);
    expect([...(options.only ?? [])].sort()).toStrictEqual([1, 7]);
  });

  it('adds up repeated --only arguments', () => {
    // Act
    const options = parseBenchArguments(['--only=4', '--only', 'consumer-cold-start'], KNOWN);

    // Assess
    expect([...(options.only ?? [])].sort()).toStrictEqual([4, 6]);
  });

  it('refuses an unknown benchmark and lists the known ones', () => {
    // Act
    const act = () => parseBenchArguments(['--only', 'cold-start,9'], KNOWN);

    // Assess
    expect(act).toThrow(
      '--only: no benchmark cold-start, 9; they are 1 consumer-fetches, 4 refresh-cost, 6 consumer-cold-start, 7 bundle-sizes',
    );
  });

  it('refuses --only without a list', () => {
    // Act
    const act = () => parseBenchArguments(['--only'], KNOWN);

    // Assess
    expect(act).toThrow('--only needs a list of benchmarks');
  });

  it('refuses an unknown argument and names the accepted ones', () => {
    // Act
    const act = () => parseBenchArguments(['--fast'], KNOWN);

    // Assess
    expect(act).toThrow('Unknown argument "--fast"; use --quick and/or --only <list>');
  });
});
