import { describe, expect, it } from 'vitest';
import {
  BACKOFF_MAX_MS,
  backoffDelayMs,
  EARLY_RUN_TOLERANCE_MS,
  isStateDue,
  MIN_BACKOFF_MS,
  RETRY_AFTER_MAX_MS,
  refreshLeadMs,
  resolveExpiry,
} from '../../../functions/core/timing.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

describe('Function: refreshLeadMs', () => {
  it('uses refreshBefore for a token that lives much longer', () => {
    expect(refreshLeadMs(300, NOW, NOW + HOUR)).toBe(300_000);
  });

  it('caps the lead at half the lifetime for a short-lived token', () => {
    expect(refreshLeadMs(300, NOW, NOW + 240_000)).toBe(120_000);
  });

  it('never uses a lead below one minute', () => {
    expect(refreshLeadMs(10, NOW, NOW + HOUR)).toBe(60_000);
  });
});

describe('Function: isStateDue', () => {
  it('is due when the provider has no state yet', () => {
    expect(isStateDue(undefined, NOW)).toBe(true);
  });

  it('is due when an interrupted first refresh left no next refresh time', () => {
    expect(isStateDue({ provider: 'a', fence: 1, consecutiveFailures: 0 }, NOW)).toBe(true);
  });

  it('is not due before nextRefreshAt and due from then on', () => {
    const state = {
      provider: 'a',
      fence: 1,
      consecutiveFailures: 0,
      tokenExpiresAt: NOW + HOUR,
      nextRefreshAt: NOW + 1000,
    };
    expect(isStateDue(state, NOW + 1000 - EARLY_RUN_TOLERANCE_MS - 1)).toBe(false);
    expect(isStateDue(state, NOW + 1000 - EARLY_RUN_TOLERANCE_MS)).toBe(true);
    expect(isStateDue(state, NOW + 1000)).toBe(true);
  });

  it('keeps the end of a backoff exactly: no early tolerance for a retry after failures', () => {
    const state = { provider: 'a', fence: 2, consecutiveFailures: 1, nextRefreshAt: NOW + 120_000 };
    expect(isStateDue(state, NOW + 119_999)).toBe(false);
    expect(isStateDue(state, NOW + 120_000)).toBe(true);
  });
});

describe('Function: backoffDelayMs', () => {
  it('retries within half the validity left of the current token, but never sooner than 5 s', () => {
    // A 60 s token fails at its 30 s lead: the first backoff (15–30 s) would end at its expiry.
    expect(backoffDelayMs(1, undefined, 1, 30_000)).toBe(15_000);
    expect(backoffDelayMs(4, undefined, 1, 200_000)).toBe(100_000);
    expect(backoffDelayMs(3, undefined, 1, 4_000)).toBe(MIN_BACKOFF_MS);
    // Far from expiry, and after it, the exponential backoff applies as it is.
    expect(backoffDelayMs(1, undefined, 1, 3_600_000)).toBe(30_000);
    expect(backoffDelayMs(2, undefined, 1, -1_000)).toBe(60_000);
    // The server's Retry-After still wins.
    expect(backoffDelayMs(1, 120, 1, 30_000)).toBe(120_000);
  });

  it('waits between half and all of 30 s after the first failure', () => {
    expect(backoffDelayMs(1, undefined, 0)).toBe(15_000);
    expect(backoffDelayMs(1, undefined, 0.999_999)).toBeCloseTo(30_000, -1);
  });

  it('doubles with each consecutive failure up to the ceiling', () => {
    expect([1, 2, 3, 4, 5].map((failures) => backoffDelayMs(failures, undefined, 1))).toEqual([
      30_000, 60_000, 120_000, 240_000, 480_000,
    ]);
    expect(backoffDelayMs(50, undefined, 1)).toBe(BACKOFF_MAX_MS);
  });

  it("never retries before the server's Retry-After", () => {
    expect(backoffDelayMs(1, 600, 0)).toBe(600_000);
  });

  it('caps an absurd Retry-After at one hour', () => {
    expect(backoffDelayMs(1, 10 ** 9, 0)).toBe(RETRY_AFTER_MAX_MS);
  });

  it('ignores a Retry-After that is not a positive number', () => {
    expect(backoffDelayMs(1, Number.NaN, 0)).toBe(15_000);
    expect(backoffDelayMs(1, -5, 0)).toBe(15_000);
  });
});

describe('Function: resolveExpiry', () => {
  it('adds expires_in to the issue time', () => {
    expect(resolveExpiry({ expiresInSeconds: 3600 }, 60, NOW)).toEqual({ ok: true, expiresAt: NOW + HOUR });
  });

  it('uses the expected lifetime when the provider gives none', () => {
    expect(resolveExpiry({}, 7200, NOW)).toEqual({ ok: true, expiresAt: NOW + 2 * HOUR });
  });

  it('prefers an absolute expiry from the provider', () => {
    expect(resolveExpiry({ expiresAt: NOW + 5 * HOUR }, 60, NOW)).toEqual({
      ok: true,
      expiresAt: NOW + 5 * HOUR,
    });
  });

  it.each([
    ['a lifetime of 0', { expiresInSeconds: 0 }],
    ['a negative lifetime', { expiresInSeconds: -1 }],
    ['an absolute expiry in the past', { expiresAt: NOW - 1 }],
    ['a lifetime of 1e12 seconds', { expiresInSeconds: 1e12 }],
    ['a non-finite lifetime', { expiresInSeconds: Number.POSITIVE_INFINITY }],
  ])('rejects %s', (_label, issued) => {
    expect(resolveExpiry(issued, 3600, NOW).ok).toBe(false);
  });
});
