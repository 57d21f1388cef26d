import { describe, expect, it } from 'vitest';
import { ago, expiresIn, formatDuration } from '../../../functions/core/duration.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');

describe('Function: formatDuration', () => {
  it('formats durations from seconds to days', () => {
    expect([5_000, 65_000, 3_725_000, 200 * 3_600_000].map(formatDuration)).toEqual([
      '5s',
      '1m 5s',
      '1h 2m',
      '8d 8h',
    ]);
  });
});

describe('Function: expiresIn', () => {
  it('gives the time left, the time since expiry, or - when unknown', () => {
    expect([NOW + 3_250_000, NOW - 180_000, NOW, undefined].map((at) => expiresIn(at, NOW))).toEqual([
      '54m 10s',
      'expired 3m 0s ago',
      'expired 0s ago',
      '-',
    ]);
  });
});

describe('Function: ago', () => {
  it('words a past time as ago, a time ahead as in, and an unknown one with the fallback', () => {
    expect(ago(NOW - 65_000, NOW)).toBe('1m 5s ago');
    expect(ago(NOW + 30_000, NOW)).toBe('in 30s');
    expect(ago(undefined, NOW)).toBe('never');
    expect(ago(undefined, NOW, '-')).toBe('-');
  });
});
