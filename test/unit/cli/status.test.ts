import { describe, expect, it } from 'vitest';
import {
  conditionOf,
  readStatusRows,
  renderStatusTable,
  type StatusRow,
  statusJson,
} from '../../../functions/cli/status.js';
import { StoreError } from '../../../functions/core/errors.js';
import type { StateTable } from '../../../functions/core/ports.js';
import type { ProviderState } from '../../../functions/core/types.js';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const SECOND = 1000;
const MINUTE = 60 * SECOND;

const base: ProviderState = { provider: 'x', fence: 7, consecutiveFailures: 0 };

/** One row per condition, in the order the table shows them. */
const ROWS: StatusRow[] = [
  {
    provider: 'github',
    state: {
      ...base,
      provider: 'github',
      tokenExpiresAt: NOW + 54 * MINUTE + 10 * SECOND,
      lastSuccessAt: NOW - 5 * MINUTE - 50 * SECOND,
      nextRefreshAt: NOW + 49 * MINUTE + 10 * SECOND,
    },
  },
  {
    provider: 'crm',
    state: {
      ...base,
      provider: 'crm',
      tokenExpiresAt: NOW + 20 * MINUTE,
      lastSuccessAt: NOW - 40 * MINUTE,
      lastErrorAt: NOW - MINUTE,
      lastErrorCode: 'http_503',
      consecutiveFailures: 2,
      nextRefreshAt: NOW + 90 * SECOND,
    },
  },
  {
    provider: 'billing',
    state: {
      ...base,
      provider: 'billing',
      tokenExpiresAt: NOW - 3 * MINUTE,
      lastSuccessAt: NOW - 63 * MINUTE,
      lastErrorAt: NOW - 2 * MINUTE,
      lastErrorCode: 'invalid_grant',
      lastErrorPermanent: true,
      consecutiveFailures: 1,
      nextRefreshAt: NOW + 24 * 60 * MINUTE,
    },
  },
  {
    provider: 'busy',
    state: {
      ...base,
      provider: 'busy',
      leaseOwner: 'cli-1234',
      leaseExpiresAt: NOW + 30 * SECOND,
      tokenExpiresAt: NOW + 2 * MINUTE,
      lastSuccessAt: NOW - 58 * MINUTE,
      nextRefreshAt: NOW - 3 * MINUTE,
    },
  },
  { provider: 'new', state: undefined },
  {
    provider: 'revoked',
    state: {
      ...base,
      provider: 'revoked',
      lastSuccessAt: NOW - 10 * MINUTE,
      nextRefreshAt: NOW - 5 * SECOND,
    },
  },
  {
    provider: 'stale',
    state: {
      ...base,
      provider: 'stale',
      // A lease whose holder crashed: expired, so not shown.
      leaseOwner: 'crashed',
      leaseExpiresAt: NOW - SECOND,
      tokenExpiresAt: NOW - 2 * 60 * MINUTE,
      lastSuccessAt: NOW - 3 * 60 * MINUTE,
      nextRefreshAt: NOW - 2 * 60 * MINUTE - 5 * MINUTE,
    },
  },
  { provider: 'broken', state: undefined, readError: 'state_item_invalid' },
];

describe('Function: renderStatusTable', () => {
  it('shows each condition with times relative to the clock, the live lease holder only, and no token', () => {
    // Act
    const lines = renderStatusTable(ROWS, NOW);

    // Assess
    expect(lines).toEqual([
      'provider  state            expires in         last success  last error                 failures  lease holder  next refresh',
      'github    ok               54m 10s            5m 50s ago    -                          0         -             in 49m 10s',
      'crm       failing          20m 0s             40m 0s ago    http_503                   2         -             in 1m 30s',
      'billing   needs attention  expired 3m 0s ago  1h 3m ago     invalid_grant (permanent)  1         -             when forced',
      'busy      refreshing       2m 0s              58m 0s ago    -                          0         cli-1234      due',
      'new       never refreshed  -                  never         -                          0         -             due',
      'revoked   no token         -                  10m 0s ago    -                          0         -             due',
      'stale     expired          expired 2h 0m ago  3h 0m ago     -                          0         -             due',
      'broken    unreadable       -                  never         state_item_invalid         0         -             due',
    ]);
  });
});

describe('Function: renderStatusTable, a blocked provider', () => {
  it('says new credentials lift a block that recorded its credentials version; an older block needs a force', () => {
    // Prepare: the billing row's permanent failure, once with the credentials version it used.
    const billing = ROWS[2];
    if (billing?.state === undefined) throw new Error('the billing row has a state');
    const recorded = { provider: 'billing', state: { ...billing.state, credentialsVersionId: 'v-1' } };

    // Act
    const [, withVersion] = renderStatusTable([recorded], NOW);
    const [, withoutVersion] = renderStatusTable([billing], NOW);

    // Assess
    expect(withVersion).toMatch(/needs attention .* new credentials or forced$/);
    expect(withoutVersion).toMatch(/needs attention .* when forced$/);
  });
});

describe('Function: conditionOf', () => {
  it('treats a lease as live up to and including its expiry instant', () => {
    // Prepare
    const state = { ...base, leaseOwner: 'a', leaseExpiresAt: NOW, tokenExpiresAt: NOW + MINUTE };

    // Act & Assess
    expect(conditionOf({ provider: 'x', state }, NOW)).toBe('refreshing');
    expect(conditionOf({ provider: 'x', state }, NOW + 1)).toBe('ok');
  });
});

describe('Function: statusJson', () => {
  it('keeps every key, gives times as ISO-8601 and the lease only while it is live', () => {
    // Act
    const [github, , billing, busy, fresh, , stale] = statusJson(ROWS, NOW);

    // Assess
    expect(github).toStrictEqual({
      provider: 'github',
      state: 'ok',
      tokenExpiresAt: '2026-03-01T12:54:10.000Z',
      expiresInSeconds: 3250,
      lastSuccessAt: '2026-03-01T11:54:10.000Z',
      lastErrorAt: null,
      lastErrorCode: null,
      lastErrorPermanent: false,
      consecutiveFailures: 0,
      leaseOwner: null,
      leaseExpiresAt: null,
      nextRefreshAt: '2026-03-01T12:49:10.000Z',
      fence: 7,
    });
    expect(billing).toMatchObject({
      state: 'needs attention',
      expiresInSeconds: -180,
      lastErrorCode: 'invalid_grant',
      lastErrorPermanent: true,
    });
    expect(busy).toMatchObject({ leaseOwner: 'cli-1234', leaseExpiresAt: '2026-03-01T12:00:30.000Z' });
    expect(stale).toMatchObject({ state: 'expired', leaseOwner: null, leaseExpiresAt: null });
    expect(fresh).toMatchObject({ state: 'never refreshed', tokenExpiresAt: null, fence: null });
  });
});

describe('Function: readStatusRows', () => {
  it('reads each provider once, turns an unreadable item into a row and rethrows anything else', async () => {
    // Prepare
    const reads: string[] = [];
    const table: Pick<StateTable, 'read'> = {
      read: async (provider) => {
        reads.push(provider);
        if (provider === 'broken') {
          throw new StoreError('bad attribute', 'state_item_invalid', 'permanent');
        }
        if (provider === 'gone') throw new StoreError('no table', 'table_not_found', 'permanent');
        return provider === 'new' ? undefined : { ...base, provider };
      },
    };

    // Act
    const rows = await readStatusRows(table as StateTable, ['a', 'new', 'broken']);
    const failure = await readStatusRows(table as StateTable, ['gone']).catch((error: unknown) => error);

    // Assess
    expect(reads).toEqual(['a', 'new', 'broken', 'gone']);
    expect(rows).toEqual([
      { provider: 'a', state: { ...base, provider: 'a' } },
      { provider: 'new', state: undefined },
      { provider: 'broken', state: undefined, readError: 'state_item_invalid' },
    ]);
    expect(failure).toMatchObject({ code: 'table_not_found' });
  });
});
