import { describe, expect, it } from 'vitest';
import { conditionOf, renderStatusTable } from '../../../functions/cli/status.js';
import { isLeaseLive, providerCondition } from '../../../functions/core/provider-condition.js';
import type { ProviderState } from '../../../functions/core/types.js';
import { renderStatus, stateLabel } from '../../../functions/local/status-view.js';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const base: ProviderState = { provider: 'p', fence: 4, consecutiveFailures: 0 };
const ok = { ...base, lastSuccessAt: NOW - 60_000, tokenExpiresAt: NOW + 600_000 };

/** States on either side of each boundary the condition depends on. */
const STATES: [string, ProviderState | undefined][] = [
  ['no item', undefined],
  ['a lease one ms before its expiry', { ...ok, leaseOwner: 'a', leaseExpiresAt: NOW + 1 }],
  ['a lease at its expiry instant', { ...ok, leaseOwner: 'a', leaseExpiresAt: NOW }],
  ['a lease one ms after its expiry', { ...ok, leaseOwner: 'a', leaseExpiresAt: NOW - 1 }],
  ['a permanent failure', { ...ok, consecutiveFailures: 1, lastErrorPermanent: true }],
  ['a transient failure', { ...ok, consecutiveFailures: 2, lastErrorCode: 'http_503' }],
  ['no success and no token', base],
  ['a removed token', { ...base, lastSuccessAt: NOW - 60_000 }],
  ['a token expiring now', { ...ok, tokenExpiresAt: NOW }],
  ['a token expiring in one ms', { ...ok, tokenExpiresAt: NOW + 1 }],
];

describe('Function: isLeaseLive', () => {
  it('treats a lease as live up to and including its expiry instant, as acquire does', () => {
    const leased = { ...base, leaseOwner: 'a', leaseExpiresAt: NOW };
    expect([NOW - 1, NOW, NOW + 1].map((now) => isLeaseLive(leased, now))).toEqual([true, true, false]);
    expect(isLeaseLive({ ...base, leaseExpiresAt: NOW }, NOW)).toBe(false);
  });
});

describe('Function: providerCondition', () => {
  it('decides each condition at its boundary', () => {
    expect(STATES.map(([, state]) => providerCondition(state, NOW))).toEqual([
      'never refreshed',
      'refreshing',
      'refreshing',
      'ok',
      'needs attention',
      'failing',
      'never refreshed',
      'no token',
      'expired',
      'ok',
    ]);
  });

  it.each(STATES)('gives %s the same label in the CLI status and the local status view', (_label, state) => {
    // Act
    const cli = conditionOf({ provider: 'p', state }, NOW);
    const local = stateLabel(state, NOW);
    const cliTable = renderStatusTable([{ provider: 'p', state }], NOW)[1]?.split(/\s{2,}/)[1];
    const localTable = renderStatus([{ provider: 'p', state, nextRunAt: undefined }], NOW)[1]?.split(
      /\s{2,}/,
    )[1];

    // Assess: the local view words "never refreshed" as "waiting" (its scheduler fires at once).
    const expected = providerCondition(state, NOW);
    expect(cli).toBe(expected);
    expect(cliTable).toBe(expected);
    expect(local).toBe(expected === 'never refreshed' ? 'waiting' : expected);
    expect(localTable).toBe(local);
  });
});
