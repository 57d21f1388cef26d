/**
 * The contract of the {@link CredentialsStore} port (`functions/core/ports.ts`): reads that refuse
 * unusable credentials, compare-and-swap writes of a rotated refresh token, their repetition
 * (`resume`), and the recovery of a rotated refresh token that an interrupted holder stored but did
 * not make current. Run against the fake and the adapter (`credentials-store.test.ts`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RECOVERY_LOOKBACK_GENERATIONS } from '../../functions/aws/credentials-store.js';
import { CredentialsError, StoreError, WriteConflictError } from '../../functions/core/errors.js';
import type { CredentialsStore } from '../../functions/core/ports.js';
import type { Credentials } from '../../functions/core/types.js';

/** A store under test with the few things the suite does around it, in the store's own terms. */
export interface CredentialsStoreHarness {
  readonly store: CredentialsStore;
  /**
   * Make `value` (JSON) the provider's current credentials as an operator does (the first call
   * provisions the entry): outside the store's writes, so any unfinished write is left where it is.
   */
  seedValue(provider: string, value: unknown): Promise<void>;
  /**
   * The next write of {@link store} stores its value and then fails before making it current (a holder
   * that died, or whose last step kept failing); that write rejects.
   */
  interruptNextWrite(): void;
  /** The `StoreError` code of a read of a provider whose entry was never provisioned. */
  readonly missingCode: string;
  /** Release what the harness holds (clients); called after each case. */
  close?(): Promise<void>;
}

const SEEDED: Credentials = { clientId: 'client-1', clientSecret: 'secret-1', refreshToken: 'refresh-0' };
/** The credentials after the refresh of generation `fence` rotated the refresh token. */
const rotated = (fence: number): Credentials => ({ ...SEEDED, refreshToken: `refresh-${fence}` });

export function describeCredentialsStoreContract(
  name: string,
  makeSubject: () => Promise<CredentialsStoreHarness>,
): void {
  describe(`CredentialsStore contract: ${name}`, () => {
    let harness: CredentialsStoreHarness;
    let store: CredentialsStore;

    beforeEach(async () => {
      harness = await makeSubject();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.close?.();
    });

    /** Seed the credentials, then let generation `fence` store its rotated refresh token, interrupted. */
    const interruptedWrite = async (fence: number) => {
      await harness.seedValue('acme', SEEDED);
      const { versionId } = await store.read('acme');
      harness.interruptNextWrite();
      const write = store.write({
        provider: 'acme',
        fence,
        credentials: rotated(fence),
        expectedVersionId: versionId,
      });
      await expect(write).rejects.toThrow();
      return { seededVersionId: versionId };
    };

    describe('Method: read', () => {
      it('reads the credentials, free string fields included, with a version id', async () => {
        // Prepare
        await harness.seedValue('acme', { ...SEEDED, audience: 'https://api.example.com' });

        // Act
        const current = await store.read('acme');

        // Assess
        expect(current).toStrictEqual({
          versionId: expect.any(String),
          credentials: { ...SEEDED, audience: 'https://api.example.com' },
        });
      });

      it.each([
        ['the placeholder', { status: 'pending' }],
        ['an empty object', {}],
        ['a JSON array', [SEEDED]],
        ['a JSON string', 'client-1'],
        ['null', null],
        ['an object with a field that is no string', { clientId: 'visible-client-id', clientSecret: 42 }],
      ])('refuses %s with CredentialsError credentials_not_set, naming no value', async (_case, value) => {
        // Prepare
        await harness.seedValue('acme', value);

        // Act
        const read = store.read('acme');

        // Assess
        await expect(read).rejects.toBeInstanceOf(CredentialsError);
        await expect(read).rejects.toMatchObject({ code: 'credentials_not_set', kind: 'permanent' });
        await expect(read).rejects.not.toThrow(/visible-client-id|42/);
      });

      it('throws a permanent StoreError with a stable code for a provider that was never provisioned', async () => {
        // Act
        const read = store.read('never-provisioned');

        // Assess
        await expect(read).rejects.toBeInstanceOf(StoreError);
        await expect(read).rejects.toMatchObject({ code: harness.missingCode, kind: 'permanent' });
      });
    });

    describe('Method: write', () => {
      it('replaces the credentials from the version read; they read back with the version id returned', async () => {
        // Prepare
        await harness.seedValue('acme', SEEDED);
        const before = await store.read('acme');

        // Act
        const versionId = await store.write({
          provider: 'acme',
          fence: 1,
          credentials: rotated(1),
          expectedVersionId: before.versionId,
        });

        // Assess
        expect(versionId).not.toBe(before.versionId);
        expect(await store.read('acme')).toStrictEqual({ versionId, credentials: rotated(1) });
      });

      it('refuses with WriteConflictError when an operator re-seeded the secret meanwhile; the re-seed stays', async () => {
        // Prepare
        await harness.seedValue('acme', SEEDED);
        const { versionId } = await store.read('acme');
        await harness.seedValue('acme', { ...SEEDED, refreshToken: 'reseeded' });

        // Act
        const write = store.write({
          provider: 'acme',
          fence: 1,
          credentials: rotated(1),
          expectedVersionId: versionId,
        });

        // Assess
        await expect(write).rejects.toBeInstanceOf(WriteConflictError);
        await expect(write).rejects.toMatchObject({ code: 'write_conflict' });
        expect((await store.read('acme')).credentials).toStrictEqual({ ...SEEDED, refreshToken: 'reseeded' });
      });

      it.each([
        ['repeated', false],
        ['repeated with resume', true],
      ])(
        'returns the same version and changes nothing when a finished write is %s',
        async (_case, resume) => {
          // Prepare
          await harness.seedValue('acme', SEEDED);
          const { versionId: read } = await store.read('acme');
          const input = { provider: 'acme', fence: 1, credentials: rotated(1), expectedVersionId: read };
          const first = await store.write(input);

          // Act
          const repeated = await store.write({ ...input, resume });
          const afterRepeat = await store.read('acme');
          const next = await store.write({
            provider: 'acme',
            fence: 2,
            credentials: rotated(2),
            expectedVersionId: first,
          });

          // Assess: the repeat left the write current, so the next one goes on from it.
          expect(repeated).toBe(first);
          expect(afterRepeat).toStrictEqual({ versionId: first, credentials: rotated(1) });
          expect(await store.read('acme')).toStrictEqual({ versionId: next, credentials: rotated(2) });
        },
      );

      it('finishes an interrupted write when it is repeated with resume', async () => {
        // Prepare
        const { seededVersionId } = await interruptedWrite(3);
        expect((await store.read('acme')).credentials).toStrictEqual(SEEDED);

        // Act
        const versionId = await store.write({
          provider: 'acme',
          fence: 3,
          credentials: rotated(3),
          expectedVersionId: seededVersionId,
          resume: true,
        });

        // Assess
        expect(await store.read('acme')).toStrictEqual({ versionId, credentials: rotated(3) });
      });

      it('refuses to resume an interrupted write after the secret was re-seeded; the re-seed stays', async () => {
        // Prepare
        const { seededVersionId } = await interruptedWrite(3);
        await harness.seedValue('acme', { ...SEEDED, refreshToken: 'reseeded' });

        // Act
        const write = store.write({
          provider: 'acme',
          fence: 3,
          credentials: rotated(3),
          expectedVersionId: seededVersionId,
          resume: true,
        });

        // Assess
        await expect(write).rejects.toBeInstanceOf(WriteConflictError);
        expect((await store.read('acme')).credentials).toStrictEqual({ ...SEEDED, refreshToken: 'reseeded' });
      });
    });

    describe('Method: read with recovery', () => {
      it('finishes the unfinished write of an earlier generation and reports that generation', async () => {
        // Prepare
        await interruptedWrite(3);

        // Act
        const recovered = await store.read('acme', { fence: 4 });
        const plain = await store.read('acme');

        // Assess: the rotated refresh token is current now, for every reader.
        expect(recovered).toStrictEqual({
          versionId: expect.any(String),
          credentials: rotated(3),
          recoveredGeneration: 3,
        });
        expect(plain).toStrictEqual({ versionId: recovered.versionId, credentials: rotated(3) });
      });

      it('lets the recovering holder write its own rotation from the version it read', async () => {
        // Prepare
        await interruptedWrite(3);
        const recovered = await store.read('acme', { fence: 4 });

        // Act
        const versionId = await store.write({
          provider: 'acme',
          fence: 4,
          credentials: rotated(4),
          expectedVersionId: recovered.versionId,
        });

        // Assess
        expect(await store.read('acme', { fence: 5 })).toStrictEqual({ versionId, credentials: rotated(4) });
      });

      it('leaves an unfinished write alone on a read without recovery', async () => {
        // Prepare
        const { seededVersionId } = await interruptedWrite(3);

        // Act
        const current = await store.read('acme');

        // Assess
        expect(current).toStrictEqual({ versionId: seededVersionId, credentials: SEEDED });
      });

      it.each([
        ['the same generation', 3],
        ['an earlier generation', 2],
      ])('leaves an unfinished write alone when the reader is %s', async (_case, readerFence) => {
        // Prepare
        const { seededVersionId } = await interruptedWrite(3);

        // Act
        const current = await store.read('acme', { fence: readerFence });

        // Assess
        expect(current).toStrictEqual({ versionId: seededVersionId, credentials: SEEDED });
      });

      it('finishes a write up to RECOVERY_LOOKBACK_GENERATIONS generations back, and no older one', async () => {
        // Prepare
        const { seededVersionId } = await interruptedWrite(1);

        // Act
        const tooOld = await store.read('acme', { fence: 2 + RECOVERY_LOOKBACK_GENERATIONS });
        const oldest = await store.read('acme', { fence: 1 + RECOVERY_LOOKBACK_GENERATIONS });

        // Assess
        expect(tooOld).toStrictEqual({ versionId: seededVersionId, credentials: SEEDED });
        expect(oldest).toMatchObject({ credentials: rotated(1), recoveredGeneration: 1 });
      });

      it('ignores an unfinished write when an operator re-seeded the secret after it', async () => {
        // Prepare
        await interruptedWrite(3);
        await harness.seedValue('acme', { ...SEEDED, refreshToken: 'reseeded' });
        const reseeded = await store.read('acme');

        // Act
        const current = await store.read('acme', { fence: 4 });

        // Assess
        expect(current).toStrictEqual({
          versionId: reseeded.versionId,
          credentials: { ...SEEDED, refreshToken: 'reseeded' },
        });
      });

      it('ignores the value of a write that lost its compare-and-swap', async () => {
        // Prepare: a holder read, an operator re-seeded, the holder's write lost.
        await harness.seedValue('acme', SEEDED);
        const { versionId: stale } = await store.read('acme');
        await harness.seedValue('acme', { ...SEEDED, refreshToken: 'reseeded' });
        const reseeded = await store.read('acme');
        await expect(
          store.write({ provider: 'acme', fence: 3, credentials: rotated(3), expectedVersionId: stale }),
        ).rejects.toBeInstanceOf(WriteConflictError);

        // Act
        const current = await store.read('acme', { fence: 4 });

        // Assess
        expect(current).toStrictEqual({
          versionId: reseeded.versionId,
          credentials: { ...SEEDED, refreshToken: 'reseeded' },
        });
      });

      it('reads a finished write as it is, with no recovered generation', async () => {
        // Prepare
        await harness.seedValue('acme', SEEDED);
        const { versionId: read } = await store.read('acme');
        const versionId = await store.write({
          provider: 'acme',
          fence: 3,
          credentials: rotated(3),
          expectedVersionId: read,
        });

        // Act
        const current = await store.read('acme', { fence: 4 });

        // Assess
        expect(current).toStrictEqual({ versionId, credentials: rotated(3) });
      });

      it('reads the current credentials when nothing was ever written', async () => {
        // Prepare
        await harness.seedValue('acme', SEEDED);
        const { versionId } = await store.read('acme');

        // Act
        const current = await store.read('acme', { fence: 1 });

        // Assess
        expect(current).toStrictEqual({ versionId, credentials: SEEDED });
      });

      it('still refuses unusable credentials', async () => {
        // Prepare
        await harness.seedValue('acme', { status: 'pending' });

        // Act
        const read = store.read('acme', { fence: 1 });

        // Assess
        await expect(read).rejects.toMatchObject({ code: 'credentials_not_set' });
      });
    });

    describe('Method: currentVersionId', () => {
      it('answers the version a read returns, without reading the value', async () => {
        // Prepare
        await harness.seedValue('acme', SEEDED);
        const { versionId } = await store.read('acme');

        // Act
        const current = await store.currentVersionId('acme');

        // Assess
        expect(current).toBe(versionId);
      });

      it("moves with an operator's re-seed and with the store's own write", async () => {
        // Prepare
        await harness.seedValue('acme', SEEDED);
        const seeded = await store.currentVersionId('acme');

        // Act
        await harness.seedValue('acme', { ...SEEDED, clientSecret: 'secret-2' });
        const reseeded = await store.currentVersionId('acme');
        const written = await store.write({
          provider: 'acme',
          fence: 1,
          credentials: rotated(1),
          expectedVersionId: reseeded,
        });

        // Assess
        expect(new Set([seeded, reseeded, written]).size).toBe(3);
        expect(await store.currentVersionId('acme')).toBe(written);
      });

      it('stays on the current version while an interrupted write waits in AWSPENDING', async () => {
        // Prepare
        const { seededVersionId } = await interruptedWrite(1);

        // Act
        const current = await store.currentVersionId('acme');

        // Assess
        expect(current).toBe(seededVersionId);
      });

      it('names the version of unusable credentials, as the refusing read does', async () => {
        // Prepare
        await harness.seedValue('acme', { status: 'pending' });

        // Act
        const current = await store.currentVersionId('acme');
        const refused = await store.read('acme').catch((error: unknown) => error);

        // Assess
        expect(refused).toBeInstanceOf(CredentialsError);
        expect(refused).toMatchObject({ code: 'credentials_not_set', credentialsVersionId: current });
      });

      it('throws a permanent StoreError with a stable code for a provider that was never provisioned', async () => {
        // Act
        const look = store.currentVersionId('never-provisioned');

        // Assess
        await expect(look).rejects.toBeInstanceOf(StoreError);
        await expect(look).rejects.toMatchObject({ code: harness.missingCode, kind: 'permanent' });
      });
    });
  });
}
