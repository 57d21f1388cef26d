/**
 * The pure parts of the refresh engine's steps, on their own: the double-check verdict (step 3), the
 * pauses of the rotated credentials write (step 5a) and where an early precise run is armed again
 * (step 7). The engine tests cover them through `refresh()`; these pin each rule by its inputs.
 */
import { describe, expect, it } from 'vitest';
import { keepVerdict } from '../../../functions/core/double-check.js';
import { rearmedAt } from '../../../functions/core/precise-run.js';
import {
  CREDENTIALS_RETRY_BASE_MS,
  CREDENTIALS_RETRY_MAX_PAUSE_MS,
  credentialsRetryPauseMs,
} from '../../../functions/core/rotated-credentials.js';
import { sha256Hex } from '../../../functions/core/token-hash.js';
import type { TokenRecord } from '../../../functions/core/types.js';

const ISSUED_AT = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;
const CONFIG = { refreshBefore: 300, onDemandRefreshInterval: 60 };
const TOKEN: TokenRecord = {
  provider: 'github',
  accessToken: 'access-token-1',
  tokenType: 'Bearer',
  issuedAt: new Date(ISSUED_AT).toISOString(),
  expiresAt: new Date(ISSUED_AT + HOUR).toISOString(),
  generation: 1,
};

describe('Function: keepVerdict', () => {
  it('keeps a token that is not due on a scheduled run, and refreshes one that is', () => {
    // Act
    const early = keepVerdict(undefined, TOKEN, CONFIG, ISSUED_AT + 10 * 60_000);
    const due = keepVerdict(undefined, TOKEN, CONFIG, ISSUED_AT + 55 * 60_000);

    // Assess
    expect(early).toEqual({ status: 'fresh', reason: 'refreshed-by-other' });
    expect(due).toBeUndefined();
  });

  it('keeps a usable token on demand without a refused token, and refreshes an expired one', () => {
    // Act
    const usable = keepVerdict({}, TOKEN, CONFIG, ISSUED_AT + 59 * 60_000);
    const expired = keepVerdict({}, TOKEN, CONFIG, ISSUED_AT + HOUR);

    // Assess
    expect(usable).toEqual({ status: 'fresh', reason: 'still-valid' });
    expect(expired).toBeUndefined();
  });

  it('keeps a token other than the refused one, and throttles replacing a refused one younger than the interval', () => {
    // Prepare
    const refused = { rejectedTokenSha256: sha256Hex(TOKEN.accessToken) };
    const other = { rejectedTokenSha256: sha256Hex('an-older-token') };

    // Act
    const replaced = keepVerdict(other, TOKEN, CONFIG, ISSUED_AT + 30_000);
    const young = keepVerdict(refused, TOKEN, CONFIG, ISSUED_AT + 30_000);
    const old = keepVerdict(refused, TOKEN, CONFIG, ISSUED_AT + 60_000);

    // Assess
    expect(replaced).toEqual({ status: 'fresh', reason: 'already-replaced' });
    expect(young).toEqual({ status: 'throttled', retryAt: ISSUED_AT + 60_000 });
    expect(old).toBeUndefined();
  });
});

describe('Function: credentialsRetryPauseMs', () => {
  it('doubles from the base pause and stops at the longest pause', () => {
    // Act
    const pauses = [1, 2, 3, 4, 5, 6, 7].map(credentialsRetryPauseMs);

    // Assess
    expect(pauses).toEqual([
      CREDENTIALS_RETRY_BASE_MS,
      2 * CREDENTIALS_RETRY_BASE_MS,
      4 * CREDENTIALS_RETRY_BASE_MS,
      8 * CREDENTIALS_RETRY_BASE_MS,
      CREDENTIALS_RETRY_MAX_PAUSE_MS,
      CREDENTIALS_RETRY_MAX_PAUSE_MS,
      CREDENTIALS_RETRY_MAX_PAUSE_MS,
    ]);
  });
});

describe('Function: rearmedAt', () => {
  const dueAt = ISSUED_AT + 55 * 60_000;

  it('arms again late by as much as the run was early', () => {
    // Act
    const at = rearmedAt({ tokenExpiresAt: ISSUED_AT + HOUR }, dueAt, dueAt - 20_000);

    // Assess
    expect(at).toBe(dueAt + 20_000);
  });

  it('never arms later than halfway from the due time to the expiry, nor before the due time', () => {
    // Act
    const farEarly = rearmedAt({ tokenExpiresAt: ISSUED_AT + HOUR }, dueAt, dueAt - 30 * 60_000);
    const noToken = rearmedAt({}, dueAt, dueAt - 20_000);

    // Assess
    expect(farEarly).toBe(dueAt + 150_000);
    expect(noToken).toBe(dueAt);
  });
});
