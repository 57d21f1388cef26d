import { describe, expect, it } from 'vitest';
import { atMostVerdict, CALL_TARGETS, callVerdict, describeTarget } from '../../../bench/lib/targets.js';

describe('Module: issue #17 targets', () => {
  it('states the call targets of the issue: scheduled ≤ 6, rotated ≤ 8, not-due tick 1', () => {
    // Act + Assess
    expect(describeTarget(CALL_TARGETS.scheduled)).toBe('≤ 6');
    expect(describeTarget(CALL_TARGETS.rotated)).toBe('≤ 8');
    expect(describeTarget(CALL_TARGETS.notDueTick)).toBe('1');
  });
});

describe('Function: callVerdict', () => {
  it.each([
    [6, CALL_TARGETS.scheduled, 'meets (6 ≤ 6)'],
    [8, CALL_TARGETS.scheduled, 'misses by 2 (8 > 6)'],
    [10, CALL_TARGETS.rotated, 'misses by 2 (10 > 8)'],
    [1, CALL_TARGETS.notDueTick, 'meets (1)'],
    [2, CALL_TARGETS.notDueTick, 'misses (2, target 1)'],
    [0, CALL_TARGETS.notDueTick, 'misses (0, target 1)'],
    [Number.NaN, CALL_TARGETS.notDueTick, '–'],
  ] as const)('says %s calls against %o is "%s"', (measured, target, verdict) => {
    // Act + Assess
    expect(callVerdict(measured, target)).toBe(verdict);
  });
});

describe('Function: atMostVerdict', () => {
  const times = (value: number) => `${value.toFixed(2)}×`;

  it('says by how much a ratio misses its limit', () => {
    // Act + Assess
    expect(atMostVerdict(0.92, 0.5, times)).toBe('misses by 0.42× (0.92× > 0.50×)');
  });

  it('says a ratio at or under its limit meets it', () => {
    // Act + Assess
    expect(atMostVerdict(0.5, 0.5, times)).toBe('meets (0.50× ≤ 0.50×)');
  });

  it('says nothing was measured rather than comparing NaN', () => {
    // Act + Assess
    expect(atMostVerdict(Number.NaN, 0.5, times)).toBe('–');
  });
});
