/**
 * The contract of the {@link StateTable} port (`functions/core/ports.ts`): the lease with its fence,
 * the fenced release that records each outcome, the conditional record of the precise run, and the
 * fenced log of the on-demand budget. Run against the fake and the adapter (`state-table.test.ts`).
 * States are compared whole (`toStrictEqual`): an attribute that one side keeps and the other drops
 * is a difference.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FailureRecord, ReleaseRecord, StateTable, SuccessRecord } from '../../functions/core/ports.js';
import type { ProviderState } from '../../functions/core/types.js';

/** A table under test. */
export interface StateTableHarness {
  readonly table: StateTable;
  /** Release what the harness holds (clients); called after each case. */
  close?(): Promise<void>;
}

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const LEASE = 30 * SECOND;

const success = (at: number, extra: Partial<SuccessRecord> = {}): SuccessRecord => ({
  outcome: 'success',
  tokenExpiresAt: at + 60 * MINUTE,
  nextRefreshAt: at + 55 * MINUTE,
  tokenVersionId: `version-${at}`,
  ...extra,
});

const failure = (at: number, extra: Partial<FailureRecord> = {}): FailureRecord => ({
  outcome: 'failure',
  errorCode: 'http_503',
  permanent: false,
  nextRefreshAt: at + MINUTE,
  ...extra,
});

export function describeStateTableContract(
  name: string,
  makeSubject: () => Promise<StateTableHarness>,
): void {
  describe(`StateTable contract: ${name}`, () => {
    let harness: StateTableHarness;
    let table: StateTable;

    beforeEach(async () => {
      harness = await makeSubject();
      table = harness.table;
    });

    afterEach(async () => {
      await harness.close?.();
    });

    const acquire = (owner: string, now: number, leaseExpiresAt = now + LEASE) =>
      table.acquire({ provider: 'acme', owner, now, leaseExpiresAt });

    /** Acquire as `owner` at `now` and release with `record`; returns the fence. */
    const cycle = async (owner: string, now: number, record: ReleaseRecord): Promise<number> => {
      const state = await acquire(owner, now);
      if (state === undefined) throw new Error(`${owner} could not take the lease at ${now}`);
      expect(
        await table.release({ provider: 'acme', owner, fence: state.fence, now: now + SECOND, record }),
      ).toBe(true);
      return state.fence;
    };

    describe('Method: read', () => {
      it('reads undefined for a provider that has no item yet', async () => {
        // Act
        const state = await table.read('acme');

        // Assess
        expect(state).toBeUndefined();
      });
    });

    describe('Method: acquire', () => {
      it('creates the item of a new provider with the lease at fence 1 and no failures', async () => {
        // Act
        const acquired = await acquire('owner-a', T0);

        // Assess
        const expected: ProviderState = {
          provider: 'acme',
          leaseOwner: 'owner-a',
          leaseExpiresAt: T0 + LEASE,
          fence: 1,
          consecutiveFailures: 0,
        };
        expect(acquired).toStrictEqual(expected);
        expect(await table.read('acme')).toStrictEqual(expected);
      });

      it.each([
        ['while it runs', SECOND],
        ['at its expiry instant', LEASE],
      ])("refuses another owner's live lease %s and changes nothing", async (_case, offset) => {
        // Prepare
        const held = await acquire('owner-a', T0);

        // Act
        const refused = await acquire('owner-b', T0 + offset);

        // Assess
        expect(refused).toBeUndefined();
        expect(await table.read('acme')).toStrictEqual(held);
      });

      it('refuses the same owner a second lease while its first is live', async () => {
        // Prepare
        const held = await acquire('owner-a', T0);

        // Act
        const refused = await acquire('owner-a', T0 + SECOND, T0 + SECOND + LEASE);

        // Assess
        expect(refused).toBeUndefined();
        expect(await table.read('acme')).toStrictEqual(held);
      });

      it('answers a repeated acquire of the same attempt (same owner, same expiry) with its own lease', async () => {
        // Prepare: the first write was applied (its answer lost, as when the SDK retries).
        const held = await acquire('owner-a', T0);

        // Act
        const repeated = await acquire('owner-a', T0 + SECOND, T0 + LEASE);

        // Assess
        expect(repeated).toStrictEqual(held);
        expect(await table.read('acme')).toStrictEqual(held);
      });

      it('takes an expired lease over with the fence incremented', async () => {
        // Prepare
        await acquire('owner-a', T0);

        // Act
        const taken = await acquire('owner-b', T0 + LEASE + 1);

        // Assess
        expect(taken).toStrictEqual({
          provider: 'acme',
          leaseOwner: 'owner-b',
          leaseExpiresAt: T0 + LEASE + 1 + LEASE,
          fence: 2,
          consecutiveFailures: 0,
        });
      });

      it('takes a released lease at once, with the fence incremented, keeping what was recorded', async () => {
        // Prepare
        await cycle('owner-a', T0, success(T0));
        const released = await table.read('acme');

        // Act
        const taken = await acquire('owner-b', T0 + 2 * SECOND);

        // Assess
        expect(taken).toStrictEqual({
          ...released,
          leaseOwner: 'owner-b',
          leaseExpiresAt: T0 + 2 * SECOND + LEASE,
          fence: 2,
        });
      });

      it('keeps the failure streak when it takes the lease', async () => {
        // Prepare
        await cycle('owner-a', T0, failure(T0));

        // Act
        const taken = await acquire('owner-b', T0 + MINUTE);

        // Assess
        expect(taken).toMatchObject({ fence: 2, consecutiveFailures: 1, lastErrorCode: 'http_503' });
      });
    });

    describe('Method: release', () => {
      it('records a success and releases the lease in one write', async () => {
        // Prepare
        const { fence } = (await acquire('owner-a', T0)) ?? { fence: 0 };

        // Act
        const released = await table.release({
          provider: 'acme',
          owner: 'owner-a',
          fence,
          now: T0 + SECOND,
          record: success(T0),
        });

        // Assess
        expect(released).toBe(true);
        expect(await table.read('acme')).toStrictEqual({
          provider: 'acme',
          fence: 1,
          consecutiveFailures: 0,
          tokenExpiresAt: T0 + 60 * MINUTE,
          nextRefreshAt: T0 + 55 * MINUTE,
          tokenVersionId: `version-${T0}`,
          recordedFence: 1,
          lastSuccessAt: T0 + SECOND,
        });
      });

      it('records a failure: its time, code and kind, the next attempt, one more consecutive failure', async () => {
        // Prepare: a success first, whose token fields a failure keeps.
        await cycle('owner-a', T0, success(T0));

        // Act
        await cycle(
          'owner-b',
          T0 + MINUTE,
          failure(T0 + MINUTE, { errorCode: 'invalid_client', permanent: true }),
        );
        await cycle('owner-c', T0 + 2 * MINUTE, failure(T0 + 2 * MINUTE));

        // Assess
        expect(await table.read('acme')).toStrictEqual({
          provider: 'acme',
          fence: 3,
          consecutiveFailures: 2,
          tokenExpiresAt: T0 + 60 * MINUTE,
          nextRefreshAt: T0 + 3 * MINUTE,
          tokenVersionId: `version-${T0}`,
          recordedFence: 1,
          lastSuccessAt: T0 + SECOND,
          lastErrorAt: T0 + 2 * MINUTE + SECOND,
          lastErrorCode: 'http_503',
          lastErrorPermanent: false,
        });
      });

      it('ends a failure streak on success: code and kind removed, the last error time kept', async () => {
        // Prepare
        await cycle('owner-a', T0, failure(T0, { permanent: true }));

        // Act
        await cycle('owner-b', T0 + MINUTE, success(T0 + MINUTE));

        // Assess
        expect(await table.read('acme')).toStrictEqual({
          provider: 'acme',
          fence: 2,
          consecutiveFailures: 0,
          tokenExpiresAt: T0 + 61 * MINUTE,
          nextRefreshAt: T0 + 56 * MINUTE,
          tokenVersionId: `version-${T0 + MINUTE}`,
          recordedFence: 2,
          lastSuccessAt: T0 + MINUTE + SECOND,
          lastErrorAt: T0 + SECOND,
        });
      });

      it("records an observed token (another holder's) without touching the failure streak", async () => {
        // Prepare
        await cycle('owner-a', T0, failure(T0));

        // Act
        await cycle('owner-b', T0 + MINUTE, {
          outcome: 'observed',
          tokenExpiresAt: T0 + 70 * MINUTE,
          nextRefreshAt: T0 + 65 * MINUTE,
          tokenVersionId: 'version-other',
        });

        // Assess
        expect(await table.read('acme')).toStrictEqual({
          provider: 'acme',
          fence: 2,
          consecutiveFailures: 1,
          tokenExpiresAt: T0 + 70 * MINUTE,
          nextRefreshAt: T0 + 65 * MINUTE,
          tokenVersionId: 'version-other',
          recordedFence: 2,
          lastErrorAt: T0 + SECOND,
          lastErrorCode: 'http_503',
          lastErrorPermanent: false,
        });
      });

      it('ends the failure streak at recoveredAt when the observed token was issued after the last failure', async () => {
        // Prepare
        await cycle('owner-a', T0, failure(T0));

        // Act
        await cycle('owner-b', T0 + MINUTE, {
          outcome: 'observed',
          tokenExpiresAt: T0 + 70 * MINUTE,
          nextRefreshAt: T0 + 65 * MINUTE,
          tokenVersionId: 'version-other',
          recoveredAt: T0 + 10 * SECOND,
        });

        // Assess
        expect(await table.read('acme')).toStrictEqual({
          provider: 'acme',
          fence: 2,
          consecutiveFailures: 0,
          tokenExpiresAt: T0 + 70 * MINUTE,
          nextRefreshAt: T0 + 65 * MINUTE,
          tokenVersionId: 'version-other',
          recordedFence: 2,
          lastSuccessAt: T0 + 10 * SECOND,
          lastErrorAt: T0 + SECOND,
        });
      });

      it.each([
        ['another owner', { owner: 'owner-b', fence: 1 }],
        ['another fence of the same owner', { owner: 'owner-a', fence: 2 }],
      ])('refuses a release by %s: false, nothing written', async (_case, guard) => {
        // Prepare
        const held = await acquire('owner-a', T0);

        // Act
        const released = await table.release({
          provider: 'acme',
          ...guard,
          now: T0 + SECOND,
          record: success(T0),
        });

        // Assess
        expect(released).toBe(false);
        expect(await table.read('acme')).toStrictEqual(held);
      });

      it('refuses the release of a holder whose expired lease was taken over; the new lease stays', async () => {
        // Prepare
        await acquire('owner-a', T0);
        const newer = await acquire('owner-b', T0 + LEASE + 1);

        // Act
        const released = await table.release({
          provider: 'acme',
          owner: 'owner-a',
          fence: 1,
          now: T0 + LEASE + 2,
          record: success(T0),
        });

        // Assess
        expect(released).toBe(false);
        expect(await table.read('acme')).toStrictEqual(newer);
      });

      it('lets a holder whose lease expired release while nobody took it over', async () => {
        // Prepare
        await acquire('owner-a', T0);

        // Act
        const released = await table.release({
          provider: 'acme',
          owner: 'owner-a',
          fence: 1,
          now: T0 + 2 * LEASE,
          record: success(T0),
        });

        // Assess
        expect(released).toBe(true);
        expect(await table.read('acme')).toMatchObject({ fence: 1, lastSuccessAt: T0 + 2 * LEASE });
      });

      it('refuses a second release of the same lease', async () => {
        // Prepare
        await cycle('owner-a', T0, success(T0));
        const released = await table.read('acme');

        // Act
        const again = await table.release({
          provider: 'acme',
          owner: 'owner-a',
          fence: 1,
          now: T0 + 2 * SECOND,
          record: failure(T0),
        });

        // Assess
        expect(again).toBe(false);
        expect(await table.read('acme')).toStrictEqual(released);
      });

      it('refuses a release for a provider with no item and creates none', async () => {
        // Act
        const released = await table.release({
          provider: 'acme',
          owner: 'owner-a',
          fence: 1,
          now: T0,
          record: success(T0),
        });

        // Assess
        expect(released).toBe(false);
        expect(await table.read('acme')).toBeUndefined();
      });

      it('keeps providers apart', async () => {
        // Prepare
        await cycle('owner-a', T0, success(T0));

        // Act
        const other = await table.acquire({
          provider: 'globex',
          owner: 'owner-a',
          now: T0,
          leaseExpiresAt: T0 + LEASE,
        });

        // Assess
        expect(other).toMatchObject({ provider: 'globex', fence: 1 });
        expect(await table.read('acme')).toMatchObject({ fence: 1, tokenVersionId: `version-${T0}` });
      });
    });

    describe('Method: release and credentialsVersionId', () => {
      it('records the credentials version a success or a failure used; a record without one keeps it', async () => {
        // Prepare
        await cycle('owner-a', T0, success(T0, { credentialsVersionId: 'credentials-1' }));
        const afterSuccess = (await table.read('acme'))?.credentialsVersionId;

        // Act
        await cycle(
          'owner-b',
          T0 + MINUTE,
          failure(T0 + MINUTE, {
            errorCode: 'invalid_client',
            permanent: true,
            credentialsVersionId: 'credentials-2',
          }),
        );
        const afterFailure = (await table.read('acme'))?.credentialsVersionId;
        await cycle('owner-c', T0 + 2 * MINUTE, failure(T0 + 2 * MINUTE));
        await cycle('owner-d', T0 + 3 * MINUTE, success(T0 + 3 * MINUTE));

        // Assess
        expect([afterSuccess, afterFailure]).toEqual(['credentials-1', 'credentials-2']);
        expect(await table.read('acme')).toStrictEqual({
          provider: 'acme',
          fence: 4,
          consecutiveFailures: 0,
          tokenExpiresAt: T0 + 63 * MINUTE,
          nextRefreshAt: T0 + 58 * MINUTE,
          tokenVersionId: `version-${T0 + 3 * MINUTE}`,
          recordedFence: 4,
          lastSuccessAt: T0 + 3 * MINUTE + SECOND,
          lastErrorAt: T0 + 2 * MINUTE + SECOND,
          credentialsVersionId: 'credentials-2',
        });
      });

      it('records the credentials version of an observed token when the run used one; keeps it otherwise', async () => {
        // Prepare
        await cycle('owner-a', T0, success(T0, { credentialsVersionId: 'credentials-1' }));

        // Act
        await cycle('owner-b', T0 + MINUTE, {
          outcome: 'observed',
          tokenExpiresAt: T0 + 70 * MINUTE,
          nextRefreshAt: T0 + 65 * MINUTE,
          tokenVersionId: 'version-other',
        });
        const afterPlainObserved = (await table.read('acme'))?.credentialsVersionId;
        await cycle('owner-c', T0 + 2 * MINUTE, {
          outcome: 'observed',
          tokenExpiresAt: T0 + 70 * MINUTE,
          nextRefreshAt: T0 + 65 * MINUTE,
          tokenVersionId: 'version-other',
          credentialsVersionId: 'credentials-rotated',
        });

        // Assess
        expect(afterPlainObserved).toBe('credentials-1');
        expect((await table.read('acme'))?.credentialsVersionId).toBe('credentials-rotated');
      });

      it('reads no credentials version on an item that never recorded one', async () => {
        // Act
        await cycle('owner-a', T0, success(T0));

        // Assess
        expect(await table.read('acme')).not.toHaveProperty('credentialsVersionId');
      });
    });

    describe('Method: release and recordedFence', () => {
      it('records the releasing generation on a success or an observed token; a failure or an unchanged release keeps it', async () => {
        // Act
        await cycle('owner-a', T0, success(T0));
        const afterSuccess = (await table.read('acme'))?.recordedFence;
        await cycle('owner-b', T0 + MINUTE, failure(T0 + MINUTE));
        const afterFailure = (await table.read('acme'))?.recordedFence;
        await cycle('owner-c', T0 + 2 * MINUTE, { outcome: 'unchanged' });
        const afterUnchanged = (await table.read('acme'))?.recordedFence;
        await cycle('owner-d', T0 + 3 * MINUTE, {
          outcome: 'observed',
          tokenExpiresAt: T0 + 70 * MINUTE,
          nextRefreshAt: T0 + 65 * MINUTE,
          tokenVersionId: 'version-other',
        });

        // Assess
        expect([afterSuccess, afterFailure, afterUnchanged]).toEqual([1, 1, 1]);
        expect(await table.read('acme')).toMatchObject({ fence: 4, recordedFence: 4 });
      });

      it('reads no recordedFence on an item that never recorded a token', async () => {
        // Act
        await cycle('owner-a', T0, failure(T0));

        // Assess
        expect(await table.read('acme')).not.toHaveProperty('recordedFence');
      });
    });

    describe('Method: release with an unchanged record', () => {
      it('releases the lease and changes nothing else', async () => {
        // Prepare
        await cycle(
          'owner-a',
          T0,
          failure(T0, {
            errorCode: 'invalid_client',
            permanent: true,
            credentialsVersionId: 'credentials-1',
          }),
        );
        const before = await table.read('acme');
        const held = await acquire('owner-b', T0 + MINUTE);

        // Act
        const released = await table.release({
          provider: 'acme',
          owner: 'owner-b',
          fence: held?.fence ?? 0,
          now: T0 + MINUTE + SECOND,
          record: { outcome: 'unchanged' },
        });

        // Assess
        expect(released).toBe(true);
        expect(await table.read('acme')).toStrictEqual({ ...before, fence: 2 });
      });

      it("refuses another holder's lease: false, nothing written", async () => {
        // Prepare
        const held = await acquire('owner-a', T0);

        // Act
        const released = await table.release({
          provider: 'acme',
          owner: 'owner-b',
          fence: held?.fence ?? 0,
          now: T0 + SECOND,
          record: { outcome: 'unchanged' },
        });

        // Assess
        expect(released).toBe(false);
        expect(await table.read('acme')).toStrictEqual(held);
      });
    });

    describe('Method: recordPreciseRun and preciseRunFor', () => {
      it.each([
        ['a success', (at: number) => success(at, { preciseRunFor: at + 55 * MINUTE })],
        ['a failure', (at: number) => failure(at, { preciseRunFor: at + MINUTE })],
      ])(
        'records the armed precise run with %s, and removes it with a record that has none',
        async (_case, make) => {
          // Prepare
          await cycle('owner-a', T0, make(T0));
          const armed = await table.read('acme');

          // Act
          const { preciseRunFor: _armed, ...withoutPreciseRun } = make(T0 + MINUTE);
          await cycle('owner-b', T0 + MINUTE, withoutPreciseRun);

          // Assess
          expect(armed?.preciseRunFor).toBe(armed?.nextRefreshAt);
          expect(await table.read('acme')).not.toHaveProperty('preciseRunFor');
        },
      );

      it('leaves preciseRunFor as it was on an observed token', async () => {
        // Prepare
        await cycle('owner-a', T0, success(T0, { preciseRunFor: T0 + 55 * MINUTE }));

        // Act
        await cycle('owner-b', T0 + MINUTE, {
          outcome: 'observed',
          tokenExpiresAt: T0 + 70 * MINUTE,
          nextRefreshAt: T0 + 65 * MINUTE,
          tokenVersionId: 'version-other',
        });

        // Assess
        expect(await table.read('acme')).toMatchObject({
          nextRefreshAt: T0 + 65 * MINUTE,
          preciseRunFor: T0 + 55 * MINUTE,
        });
      });

      it('records the precise run while nextRefreshAt is still the time it was armed for', async () => {
        // Prepare
        await cycle('owner-a', T0, success(T0));
        const before = await table.read('acme');

        // Act
        const recorded = await table.recordPreciseRun({ provider: 'acme', nextRefreshAt: T0 + 55 * MINUTE });

        // Assess
        expect(recorded).toBe(true);
        expect(await table.read('acme')).toStrictEqual({ ...before, preciseRunFor: T0 + 55 * MINUTE });
      });

      it('records nothing when nextRefreshAt moved meanwhile', async () => {
        // Prepare
        await cycle('owner-a', T0, success(T0));
        await cycle('owner-b', T0 + MINUTE, success(T0 + MINUTE));
        const before = await table.read('acme');

        // Act
        const recorded = await table.recordPreciseRun({ provider: 'acme', nextRefreshAt: T0 + 55 * MINUTE });

        // Assess
        expect(recorded).toBe(false);
        expect(await table.read('acme')).toStrictEqual(before);
      });

      it('needs no lease, and leaves a running lease alone', async () => {
        // Prepare
        await cycle('owner-a', T0, success(T0));
        const held = await acquire('owner-b', T0 + MINUTE);

        // Act
        const recorded = await table.recordPreciseRun({ provider: 'acme', nextRefreshAt: T0 + 55 * MINUTE });

        // Assess
        expect(recorded).toBe(true);
        expect(await table.read('acme')).toStrictEqual({ ...held, preciseRunFor: T0 + 55 * MINUTE });
      });

      it('records nothing for a provider with no item and creates none', async () => {
        // Act
        const recorded = await table.recordPreciseRun({ provider: 'acme', nextRefreshAt: T0 });

        // Assess
        expect(recorded).toBe(false);
        expect(await table.read('acme')).toBeUndefined();
      });
    });

    describe('Method: recordOnDemandRefreshes and onDemandRefreshes', () => {
      const record = (owner: string, fence: number, refreshes: readonly number[]) =>
        table.recordOnDemandRefreshes({ provider: 'acme', owner, fence, refreshes });

      it('replaces the log under the lease; the acquire and every release after it keep it', async () => {
        // Prepare
        const held = await acquire('owner-a', T0);
        if (held === undefined) throw new Error('no lease');

        // Act
        const first = await record('owner-a', held.fence, [T0 - 2 * MINUTE, T0]);
        await table.release({
          provider: 'acme',
          owner: 'owner-a',
          fence: held.fence,
          now: T0 + SECOND,
          record: success(T0),
        });
        const next = await acquire('owner-b', T0 + MINUTE);
        const afterFailure = next === undefined ? undefined : await table.read('acme');
        await cycle('owner-c', T0 + 2 * MINUTE, failure(T0 + 2 * MINUTE));

        // Assess: the log comes back in the acquire's answer (the engine decides from it).
        expect(first).toBe(true);
        expect(next?.onDemandRefreshes).toStrictEqual([T0 - 2 * MINUTE, T0]);
        expect(afterFailure?.onDemandRefreshes).toStrictEqual([T0 - 2 * MINUTE, T0]);
        expect((await table.read('acme'))?.onDemandRefreshes).toStrictEqual([T0 - 2 * MINUTE, T0]);
      });

      it('writes nothing for a holder whose lease was taken over, or for an older fence', async () => {
        // Prepare: owner-a's lease expires and owner-b takes it; owner-b records its log.
        const old = await acquire('owner-a', T0);
        const taken = await acquire('owner-b', T0 + LEASE + SECOND);
        if (old === undefined || taken === undefined) throw new Error('no lease');
        await record('owner-b', taken.fence, [T0 + LEASE]);
        const before = await table.read('acme');

        // Act
        const stale = await record('owner-a', old.fence, [T0]);
        const wrongFence = await record('owner-b', old.fence, [T0]);

        // Assess
        expect([stale, wrongFence]).toEqual([false, false]);
        expect(await table.read('acme')).toStrictEqual(before);
      });

      it('writes nothing for a released lease, and creates no item', async () => {
        // Prepare
        const fence = await cycle('owner-a', T0, success(T0));
        const before = await table.read('acme');

        // Act
        const released = await record('owner-a', fence, [T0]);
        const missing = await table.recordOnDemandRefreshes({
          provider: 'other',
          owner: 'owner-a',
          fence: 1,
          refreshes: [T0],
        });

        // Assess
        expect([released, missing]).toEqual([false, false]);
        expect(await table.read('acme')).toStrictEqual(before);
        expect(await table.read('other')).toBeUndefined();
      });

      it('replaces the whole log, an empty list included', async () => {
        // Prepare
        const held = await acquire('owner-a', T0);
        if (held === undefined) throw new Error('no lease');
        await record('owner-a', held.fence, [T0 - 3 * MINUTE, T0 - 2 * MINUTE]);

        // Act
        await record('owner-a', held.fence, [T0]);
        const one = (await table.read('acme'))?.onDemandRefreshes;
        await record('owner-a', held.fence, []);

        // Assess
        expect(one).toStrictEqual([T0]);
        expect((await table.read('acme'))?.onDemandRefreshes).toStrictEqual([]);
      });
    });
  });
}
