import { describe, expect, it } from 'vitest';
import { storedState } from '../../../functions/core/stored-state.js';
import type { ProviderState } from '../../../functions/core/types.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const MINUTE = 60_000;

/** The item a lease at fence 8 came with, after generation 7 recorded a success. */
const lease: ProviderState = {
  provider: 'acme',
  leaseOwner: 'owner-8',
  leaseExpiresAt: T0 + MINUTE,
  fence: 8,
  recordedFence: 7,
  consecutiveFailures: 0,
  tokenVersionId: 'version-7',
  tokenExpiresAt: T0 + 60 * MINUTE,
  nextRefreshAt: T0 + 55 * MINUTE,
};

describe('Function: storedState', () => {
  it('trusts the item when the generation before this lease recorded the token and no streak is open', () => {
    // Act
    const stored = storedState(lease);

    // Assess
    expect(stored).toStrictEqual({
      versionId: 'version-7',
      expiresAt: T0 + 60 * MINUTE,
      refreshAt: T0 + 55 * MINUTE,
    });
  });

  it.each([
    [
      'a generation in between took the lease and recorded nothing (it may have written)',
      { recordedFence: 6 },
    ],
    ['an item of an older release (no recordedFence)', { recordedFence: undefined }],
    ['a failure streak is open', { consecutiveFailures: 1 }],
    ['no token version recorded (revoked, or never stored)', { tokenVersionId: undefined }],
    ['no token expiry recorded', { tokenExpiresAt: undefined }],
    ['no refresh time recorded', { nextRefreshAt: undefined }],
  ])('does not trust the item when %s', (_case, change) => {
    // Act
    const stored = storedState({ ...lease, ...change });

    // Assess
    expect(stored).toBeUndefined();
  });
});
