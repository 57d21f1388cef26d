import { describe, expect, it } from 'vitest';
import {
  CALLER_WINDOW_MS,
  CallerLimiter,
  callerShare,
  MAX_TRACKED_CALLERS,
} from '../../../functions/core/caller-limit.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');

describe('Class: CallerLimiter', () => {
  it("gives a caller half the provider's budget, rounded up, and at least one", () => {
    // Act
    const shares = [1, 2, 3, 4, 6, 60].map(callerShare);

    // Assess
    expect(shares).toEqual([1, 1, 2, 2, 3, 30]);
  });

  it('counts per caller and provider, and frees a slot an hour after its use', () => {
    // Prepare
    const limiter = new CallerLimiter();

    // Act
    const first = [limiter.take('acme', 'a', 4, NOW), limiter.take('acme', 'a', 4, NOW + 1_000)];
    const third = limiter.take('acme', 'a', 4, NOW + 2_000);
    const others = [limiter.take('acme', 'b', 4, NOW + 2_000), limiter.take('crm', 'a', 4, NOW + 2_000)];
    const later = limiter.take('acme', 'a', 4, NOW + CALLER_WINDOW_MS + 1);

    // Assess
    expect(first).toEqual([undefined, undefined]);
    expect(third).toBe(NOW + CALLER_WINDOW_MS);
    expect(others).toEqual([undefined, undefined]);
    expect(later).toBeUndefined();
  });

  it(`forgets the least recently counted caller beyond ${MAX_TRACKED_CALLERS.toLocaleString('en')}`, () => {
    // Prepare: caller 0 spends its share; then as many other callers as the limiter keeps.
    const limiter = new CallerLimiter();
    limiter.take('acme', 'caller-0', 1, NOW);
    for (let i = 1; i <= MAX_TRACKED_CALLERS; i += 1) limiter.take('acme', `caller-${i}`, 1, NOW);

    // Act
    const forgotten = limiter.take('acme', 'caller-0', 1, NOW + 1);
    const remembered = limiter.take('acme', `caller-${MAX_TRACKED_CALLERS}`, 1, NOW + 1);

    // Assess
    expect(forgotten).toBeUndefined();
    expect(remembered).toBe(NOW + CALLER_WINDOW_MS);
  });
});
