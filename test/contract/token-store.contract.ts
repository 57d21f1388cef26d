/**
 * The contract of the {@link TokenStore} port (`functions/core/ports.ts`): what the engine and the read
 * path rely on, whatever stores the token. Run against the fake and every adapter
 * (`token-store.test.ts`); a new store (the DynamoDB token store) runs it unchanged through its own
 * {@link TokenStoreHarness}.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError, WriteConflictError } from '../../functions/core/errors.js';
import type { TokenStore } from '../../functions/core/ports.js';
import type { TokenRecord } from '../../functions/core/types.js';

/** A store under test with the few things the suite does around it, in the store's own terms. */
export interface TokenStoreHarness {
  readonly store: TokenStore;
  /** Provision the provider's entry as the stack does before the first token (its placeholder). */
  seedPlaceholder(provider: string): Promise<void>;
  /**
   * Make `value` (JSON) the provider's current value without the store's write: another writer, or a
   * hand edit. The entry exists already ({@link seedPlaceholder}).
   */
  seedValue(provider: string, value: unknown): Promise<void>;
  /**
   * The `StoreError` code (permanent) of a read or write of a provider whose entry was never
   * provisioned; `undefined` for a store whose entries need no provisioning (a missing entry then
   * reads as no token, and the first write creates it).
   */
  readonly missingCode: string | undefined;
  /** Release what the harness holds (clients); called after each case. */
  close?(): Promise<void>;
}

const HOUR = 3_600_000;
const T0 = Date.parse('2026-03-01T10:00:00.000Z');

/** A valid token record of `provider` for lease generation `generation`. */
export function tokenRecord(
  provider: string,
  generation: number,
  extra: Partial<TokenRecord> = {},
): TokenRecord {
  return {
    provider,
    accessToken: `access-${provider}-${generation}`,
    tokenType: 'Bearer',
    expiresAt: new Date(T0 + generation * HOUR + HOUR).toISOString(),
    issuedAt: new Date(T0 + generation * HOUR).toISOString(),
    generation,
    ...extra,
  };
}

export function describeTokenStoreContract(
  name: string,
  makeSubject: () => Promise<TokenStoreHarness>,
): void {
  describe(`TokenStore contract: ${name}`, () => {
    let harness: TokenStoreHarness;
    let store: TokenStore;

    beforeEach(async () => {
      harness = await makeSubject();
      store = harness.store;
    });

    afterEach(async () => {
      await harness.close?.();
    });

    /** Write generation `fence` from the current version; returns the new version id. */
    const writeNext = async (provider: string, fence: number, extra: Partial<TokenRecord> = {}) => {
      const { versionId } = await store.readCurrent(provider);
      return store.write({
        provider,
        fence,
        token: tokenRecord(provider, fence, extra),
        expectedVersionId: versionId,
      });
    };

    describe('Method: readCurrent', () => {
      it('reads a provisioned entry that holds no token yet as token undefined, with a version id', async () => {
        // Prepare
        await harness.seedPlaceholder('acme');

        // Act
        const current = await store.readCurrent('acme');

        // Assess
        expect(current.token).toBeUndefined();
        expect(current.versionId).toEqual(expect.any(String));
        expect(current.versionId).not.toBe('');
      });

      it('reads the same version again while nothing was written', async () => {
        // Prepare
        await harness.seedPlaceholder('acme');

        // Act
        const [first, second] = [await store.readCurrent('acme'), await store.readCurrent('acme')];

        // Assess
        expect(second).toStrictEqual(first);
      });

      it.each([
        ['a record of another provider', tokenRecord('other', 1)],
        ['a record without accessToken', { ...tokenRecord('acme', 1), accessToken: undefined }],
        ['a record with an empty accessToken', tokenRecord('acme', 1, { accessToken: '' })],
        ['a record whose expiresAt is no ISO-8601 time', tokenRecord('acme', 1, { expiresAt: 'tomorrow' })],
        ['a record with a negative generation', tokenRecord('acme', 1, { generation: -1 })],
        ['the placeholder', { status: 'pending' }],
        ['a JSON string', 'access-acme-1'],
        ['a JSON array', [tokenRecord('acme', 1)]],
        ['null', null],
      ])('reads %s as no token', async (_case, value) => {
        // Prepare
        await harness.seedPlaceholder('acme');
        await harness.seedValue('acme', value);

        // Act
        const current = await store.readCurrent('acme');

        // Assess
        expect(current.token).toBeUndefined();
        expect(current.versionId).toEqual(expect.any(String));
      });

      it('reads a token another writer stored (a valid record of this provider)', async () => {
        // Prepare
        await harness.seedPlaceholder('acme');
        await harness.seedValue('acme', tokenRecord('acme', 4));

        // Act
        const current = await store.readCurrent('acme');

        // Assess
        expect(current.token).toStrictEqual(tokenRecord('acme', 4));
      });

      it('refuses a read of a provider never provisioned with a permanent StoreError of a stable code (or reads no token)', async () => {
        // Act
        const read = store.readCurrent('never-provisioned');

        // Assess
        if (harness.missingCode === undefined) {
          expect((await read).token).toBeUndefined();
          return;
        }
        await expect(read).rejects.toBeInstanceOf(StoreError);
        await expect(read).rejects.toMatchObject({ code: harness.missingCode, kind: 'permanent' });
      });
    });

    describe('Method: write', () => {
      it('writes a token that reads back with the version id the write returned', async () => {
        // Prepare
        await harness.seedPlaceholder('acme');
        const placeholder = await store.readCurrent('acme');

        // Act
        const versionId = await store.write({
          provider: 'acme',
          fence: 1,
          token: tokenRecord('acme', 1),
          expectedVersionId: placeholder.versionId,
        });
        const current = await store.readCurrent('acme');

        // Assess
        expect(versionId).not.toBe(placeholder.versionId);
        expect(current).toStrictEqual({ versionId, token: tokenRecord('acme', 1) });
      });

      it('keeps the optional scope of a token', async () => {
        // Prepare
        await harness.seedPlaceholder('acme');

        // Act
        await writeNext('acme', 1, { scope: 'api:read api:write' });

        // Assess
        expect((await store.readCurrent('acme')).token).toStrictEqual(
          tokenRecord('acme', 1, { scope: 'api:read api:write' }),
        );
      });

      it('moves on with each write from the version before it', async () => {
        // Prepare
        await harness.seedPlaceholder('acme');

        // Act
        const versions = [await writeNext('acme', 1), await writeNext('acme', 2), await writeNext('acme', 3)];
        const current = await store.readCurrent('acme');

        // Assess
        expect(new Set(versions).size).toBe(3);
        expect(current).toStrictEqual({ versionId: versions[2], token: tokenRecord('acme', 3) });
      });

      it('refuses a write from a stale version with WriteConflictError and keeps the newer token', async () => {
        // Prepare: two holders read the same version; the later generation writes first.
        await harness.seedPlaceholder('acme');
        const { versionId: read } = await store.readCurrent('acme');
        const newer = await store.write({
          provider: 'acme',
          fence: 2,
          token: tokenRecord('acme', 2),
          expectedVersionId: read,
        });

        // Act
        const stale = store.write({
          provider: 'acme',
          fence: 1,
          token: tokenRecord('acme', 1),
          expectedVersionId: read,
        });

        // Assess
        await expect(stale).rejects.toBeInstanceOf(WriteConflictError);
        await expect(stale).rejects.toMatchObject({ code: 'write_conflict' });
        expect(await store.readCurrent('acme')).toStrictEqual({
          versionId: newer,
          token: tokenRecord('acme', 2),
        });
      });

      it('refuses a write from a version another writer replaced meanwhile, and keeps its value', async () => {
        // Prepare
        await harness.seedPlaceholder('acme');
        const { versionId: read } = await store.readCurrent('acme');
        await harness.seedValue('acme', tokenRecord('acme', 9));

        // Act
        const write = store.write({
          provider: 'acme',
          fence: 1,
          token: tokenRecord('acme', 1),
          expectedVersionId: read,
        });

        // Assess
        await expect(write).rejects.toBeInstanceOf(WriteConflictError);
        expect((await store.readCurrent('acme')).token).toStrictEqual(tokenRecord('acme', 9));
      });

      it('is idempotent per (provider, fence): a repeated finished write returns its version and changes nothing', async () => {
        // Prepare
        await harness.seedPlaceholder('acme');
        const { versionId: read } = await store.readCurrent('acme');
        const input = { provider: 'acme', fence: 1, token: tokenRecord('acme', 1), expectedVersionId: read };
        const first = await store.write(input);

        // Act
        const repeated = await store.write(input);
        const afterRepeat = await store.readCurrent('acme');
        const next = await writeNext('acme', 2);

        // Assess: the repeat left the token current, so the next generation writes from it as usual.
        expect(repeated).toBe(first);
        expect(afterRepeat).toStrictEqual({ versionId: first, token: tokenRecord('acme', 1) });
        expect(await store.readCurrent('acme')).toStrictEqual({
          versionId: next,
          token: tokenRecord('acme', 2),
        });
      });

      it('refuses another token under the same (provider, fence) from the same version; the first stays', async () => {
        // Prepare
        await harness.seedPlaceholder('acme');
        const { versionId: read } = await store.readCurrent('acme');
        const first = await store.write({
          provider: 'acme',
          fence: 1,
          token: tokenRecord('acme', 1),
          expectedVersionId: read,
        });

        // Act
        const other = store.write({
          provider: 'acme',
          fence: 1,
          token: tokenRecord('acme', 1, { accessToken: 'another-token' }),
          expectedVersionId: read,
        });

        // Assess
        await expect(other).rejects.toBeInstanceOf(WriteConflictError);
        expect(await store.readCurrent('acme')).toStrictEqual({
          versionId: first,
          token: tokenRecord('acme', 1),
        });
      });

      it('replaces a value that is no token (the placeholder put back by an operator)', async () => {
        // Prepare
        await harness.seedPlaceholder('acme');
        await writeNext('acme', 1);
        await harness.seedValue('acme', { status: 'pending' });

        // Act
        const versionId = await writeNext('acme', 2);

        // Assess
        expect(await store.readCurrent('acme')).toStrictEqual({ versionId, token: tokenRecord('acme', 2) });
      });

      it('keeps providers apart', async () => {
        // Prepare
        await harness.seedPlaceholder('acme');
        await harness.seedPlaceholder('globex');

        // Act
        await writeNext('acme', 1);

        // Assess
        expect((await store.readCurrent('acme')).token).toStrictEqual(tokenRecord('acme', 1));
        expect((await store.readCurrent('globex')).token).toBeUndefined();
      });

      it('refuses a write to a provider never provisioned with a permanent StoreError of a stable code (or creates it)', async () => {
        // Prepare: the version the store reads for it, or else one of another provider's entry.
        await harness.seedPlaceholder('acme');
        const { missingCode } = harness;
        const { versionId } = await store.readCurrent(
          missingCode === undefined ? 'never-provisioned' : 'acme',
        );

        // Act
        const write = store.write({
          provider: 'never-provisioned',
          fence: 1,
          token: tokenRecord('never-provisioned', 1),
          expectedVersionId: versionId,
        });

        // Assess
        if (missingCode === undefined) {
          const written = await write;
          expect(await store.readCurrent('never-provisioned')).toStrictEqual({
            versionId: written,
            token: tokenRecord('never-provisioned', 1),
          });
          return;
        }
        await expect(write).rejects.toBeInstanceOf(StoreError);
        await expect(write).rejects.toMatchObject({ code: missingCode, kind: 'permanent' });
      });
    });
  });
}
