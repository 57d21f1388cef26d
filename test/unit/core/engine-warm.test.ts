/**
 * Issue 17: a warm container refreshes with fewer calls. The token read is skipped when the state
 * item the lease came with shows the stored token (`stored-state.ts`), and the credentials come from
 * the container's cache when the item records their version (`credentials-cache.ts`). Each engine
 * is a container; they share the fake stores.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { RefreshEngine } from '../../../functions/core/engine.js';
import { ProviderError } from '../../../functions/core/errors.js';
import type { Credentials, TokenRecord } from '../../../functions/core/types.js';
import {
  FakeClock,
  FakeCredentialsStore,
  FakeSecrets,
  FakeStateTable,
  FakeTokenStore,
  RecordingLogger,
  RecordingMetrics,
  ScriptedProvider,
} from './fakes.js';

const MINUTE = 60_000;
/** A 1-hour token is due 5 min before it expires. */
const DUE = 56 * MINUTE;
const TOKEN = FakeTokenStore.secretId('acme');
const CREDENTIALS = FakeCredentialsStore.secretId('acme');

function config(grant: 'client_credentials' | 'refresh_token' = 'client_credentials'): ProviderConfig {
  return providerConfigSchema.parse({ name: 'acme', grant, tokenUrl: 'https://auth.example.com/token' });
}

const refusal = (code: 'invalid_client' | 'invalid_grant') => () => {
  throw new ProviderError(`The token endpoint refused the request (${code})`, code, 'permanent', {
    status: 400,
  });
};

describe('Class: RefreshEngine, warm containers (issue 17)', () => {
  let clock: FakeClock;
  let secrets: FakeSecrets;
  let tokens: FakeTokenStore;
  let credentials: FakeCredentialsStore;
  let state: FakeStateTable;
  let provider: ScriptedProvider;

  /** A container: its own engine (and so its own credentials cache) over the shared stores. */
  const container = () =>
    new RefreshEngine({
      tokens,
      credentials,
      state,
      providerFor: () => provider,
      clock,
      metrics: new RecordingMetrics(),
      logger: new RecordingLogger(),
      random: () => 0.5,
      sleep: async (ms) => clock.advance(ms),
    });
  const run = (
    engine: RefreshEngine,
    input: { force?: boolean; credentialsChanged?: boolean; grant?: 'refresh_token' } = {},
  ) =>
    engine.refresh({
      config: config(input.grant),
      remainingTimeMs: 60_000,
      ...(input.force ? { force: true } : {}),
      ...(input.credentialsChanged ? { credentialsChanged: true } : {}),
    });
  /** A 1-hour token issued now. */
  const tokenIssuedNow = (accessToken: string, generation: number): TokenRecord => ({
    provider: 'acme',
    accessToken,
    tokenType: 'Bearer',
    issuedAt: new Date(clock.now()).toISOString(),
    expiresAt: new Date(clock.now() + 60 * MINUTE).toISOString(),
    generation,
  });
  /** The secret reads since the last call. */
  const reads = () => secrets.calls.splice(0).filter((call) => call.startsWith('read '));

  beforeEach(() => {
    clock = new FakeClock();
    secrets = new FakeSecrets();
    tokens = new FakeTokenStore(secrets);
    credentials = new FakeCredentialsStore(secrets);
    state = new FakeStateTable();
    provider = new ScriptedProvider();
    secrets.seed(TOKEN, { status: 'pending' });
    secrets.seed(CREDENTIALS, { clientId: 'client-1', clientSecret: 'secret-1', refreshToken: 'rt-1' });
  });

  describe('Method: refresh, token read', () => {
    it('reads no secret at a scheduled refresh after its own refresh, and writes from the recorded version', async () => {
      // Prepare
      const engine = container();
      await run(engine);
      reads();
      clock.advance(DUE);

      // Act
      const result = await run(engine);

      // Assess
      expect(result).toMatchObject({ status: 'refreshed', generation: 2 });
      expect(reads()).toEqual([]);
      expect(tokens.token('acme')?.accessToken).toBe('access-token-2');
      expect(state.items.get('acme')).toMatchObject({ recordedFence: 2, consecutiveFailures: 0 });
    });

    it('reads the token when a holder took the lease and left no record: finds its token and calls nobody', async () => {
      // Prepare: generation 2 wrote a token and died before its release (its lease expired).
      const engine = container();
      await run(engine);
      clock.advance(DUE);
      const lease = await state.acquire({
        provider: 'acme',
        owner: 'dead',
        now: clock.now(),
        leaseExpiresAt: clock.now() + 1,
      });
      const written = await tokens.readCurrent('acme');
      await tokens.write({
        provider: 'acme',
        fence: lease?.fence ?? 0,
        token: tokenIssuedNow('access-dead', lease?.fence ?? 0),
        expectedVersionId: written.versionId,
      });
      clock.advance(MINUTE);
      reads();

      // Act
      const result = await run(engine);

      // Assess
      expect(result).toMatchObject({ status: 'fresh', reason: 'refreshed-by-other' });
      expect(reads()).toEqual([`read ${TOKEN}`]);
      expect(provider.requests).toHaveLength(1);
      expect(state.items.get('acme')).toMatchObject({
        recordedFence: 3,
        tokenVersionId: secrets.current.get(TOKEN),
      });
    });

    it('keeps a token another holder recorded after this run read the state, without reading a secret', async () => {
      // Prepare: another container refreshes between this run's cheap check and its lease.
      const engine = container();
      const other = container();
      await run(engine);
      clock.advance(DUE);
      const read = state.read.bind(state);
      state.read = async (name) => {
        state.read = read; // once
        const before = await read(name);
        await run(other);
        return before;
      };
      reads();

      // Act
      const result = await run(engine);

      // Assess
      expect(result).toMatchObject({ status: 'fresh', reason: 'refreshed-by-other' });
      expect(provider.requests).toHaveLength(2);
      // The other container's credentials read (its cache is cold); this run read nothing.
      expect(reads()).toEqual([`read ${CREDENTIALS}`]);
      expect(state.items.get('acme')).toMatchObject({ recordedFence: 3 });
      expect(state.items.get('acme')).not.toHaveProperty('leaseOwner');
    });

    it('writes again from the stored version when the recorded one moved to a token that cannot be served', async () => {
      // Prepare: a revoke put a placeholder as the current version after the last record.
      const engine = container();
      await run(engine);
      clock.advance(DUE);
      secrets.compareAndSwap(TOKEN, { status: 'revoked' }, secrets.current.get(TOKEN));

      // Act
      const result = await run(engine);

      // Assess
      expect(result).toMatchObject({ status: 'refreshed' });
      expect(tokens.token('acme')?.accessToken).toBe('access-token-2');
      expect(state.items.get('acme')?.tokenVersionId).toBe(secrets.current.get(TOKEN));
    });

    it('keeps a servable token written over the recorded version (a stale holder), and drops its own', async () => {
      // Prepare
      const engine = container();
      await run(engine);
      clock.advance(DUE);
      const stale = await tokens.readCurrent('acme');
      const token = tokenIssuedNow('access-stale', 1);
      await tokens.write({ provider: 'acme', fence: 99, token, expectedVersionId: stale.versionId });

      // Act
      const result = await run(engine);

      // Assess
      expect(result).toMatchObject({ status: 'fresh', reason: 'refreshed-by-other' });
      expect(tokens.token('acme')?.accessToken).toBe('access-stale');
    });
  });

  describe('Method: refresh, credentials cache', () => {
    it('reads the credentials in a new container, and again at a forced run, a credentials change or after a failure', async () => {
      // Prepare
      await run(container());
      const warm = container();
      clock.advance(DUE);
      await run(warm); // cold: reads
      reads();

      // Act
      clock.advance(DUE);
      await run(warm);
      const warmReads = reads();
      await run(warm, { force: true });
      const forcedReads = reads();
      secrets.seed(CREDENTIALS, { clientId: 'client-1', clientSecret: 'secret-2' });
      await run(warm, { credentialsChanged: true });
      const changedReads = reads();
      provider.answerNext(() => {
        throw new ProviderError('HTTP 503', 'http_503', 'transient', { status: 503 });
      });
      await run(warm, { force: true });
      clock.advance(DUE);
      reads();
      await run(warm);
      const afterFailureReads = reads();

      // Assess
      expect(warmReads).toEqual([]);
      expect(forcedReads).toEqual([`read ${CREDENTIALS}`]);
      expect(changedReads).toEqual([`read ${CREDENTIALS}`]);
      expect(afterFailureReads).toEqual([`read ${TOKEN}`, `read ${CREDENTIALS}`]);
      expect(provider.requests.at(-1)).toMatchObject({ clientSecret: 'secret-2' });
    });

    it('uses the refresh token it rotated, without reading it back', async () => {
      // Prepare
      const engine = container();
      provider.answerNext(() => ({
        accessToken: 'access-1',
        tokenType: 'Bearer',
        expiresInSeconds: 3600,
        refreshToken: 'rt-2',
      }));
      await run(engine, { grant: 'refresh_token' });
      clock.advance(DUE);
      reads();
      provider.answerNext(() => ({
        accessToken: 'access-2',
        tokenType: 'Bearer',
        expiresInSeconds: 3600,
        refreshToken: 'rt-3',
      }));

      // Act
      const result = await run(engine, { grant: 'refresh_token' });

      // Assess
      expect(result).toMatchObject({ status: 'refreshed', refreshTokenRotated: true });
      expect(reads()).toEqual([]);
      expect(provider.requests.map((sent) => sent.refreshToken)).toEqual(['rt-1', 'rt-2']);
      expect(credentials.credentials('acme').refreshToken).toBe('rt-3');
      expect(state.items.get('acme')?.credentialsVersionId).toBe(secrets.current.get(CREDENTIALS));
    });

    it('records the refresh token it rotated before losing the compare-and-swap, so no cache replays the spent one', async () => {
      // Prepare: two warm containers; then a stale holder writes a servable token over the recorded version.
      const first = container();
      const second = container();
      await run(first, { grant: 'refresh_token' });
      clock.advance(DUE);
      await run(second, { grant: 'refresh_token' }); // caches the credentials too
      clock.advance(DUE);
      const stale = await tokens.readCurrent('acme');
      await tokens.write({
        provider: 'acme',
        fence: 99,
        token: tokenIssuedNow('access-stale', 1),
        expectedVersionId: stale.versionId,
      });
      clock.advance(MINUTE); // the stale token is not due; the state still says due
      provider.answerNext(() => ({
        accessToken: 'access-lost',
        tokenType: 'Bearer',
        expiresInSeconds: 3600,
        refreshToken: 'rt-2',
      }));
      const lost = await run(first, { grant: 'refresh_token' });
      clock.advance(DUE);
      provider.answerNext(() => ({
        accessToken: 'access-next',
        tokenType: 'Bearer',
        expiresInSeconds: 3600,
        refreshToken: 'rt-3',
      }));

      // Act
      const next = await run(second, { grant: 'refresh_token' });

      // Assess
      expect(lost).toMatchObject({ status: 'fresh', reason: 'refreshed-by-other' });
      expect(next).toMatchObject({ status: 'refreshed' });
      expect(provider.requests.map((sent) => sent.refreshToken)).toEqual(['rt-1', 'rt-1', 'rt-1', 'rt-2']);
      expect(credentials.credentials('acme').refreshToken).toBe('rt-3');
    });

    it('reads the credentials again after invalid_client and calls once more with the version an operator put', async () => {
      // Prepare
      const engine = container();
      await run(engine);
      clock.advance(DUE);
      const operatorVersion = secrets.seed(CREDENTIALS, { clientId: 'client-1', clientSecret: 'secret-2' });
      provider.answerNext(refusal('invalid_client'));

      // Act
      const result = await run(engine);

      // Assess
      expect(result).toMatchObject({ status: 'refreshed' });
      expect(provider.requests.slice(1).map((sent) => sent.clientSecret)).toEqual(['secret-1', 'secret-2']);
      expect(state.items.get('acme')?.credentialsVersionId).toBe(operatorVersion);
    });

    it('lets invalid_client stand when the credentials did not change, recording the refused version', async () => {
      // Prepare
      const engine = container();
      await run(engine);
      const refused = secrets.current.get(CREDENTIALS);
      clock.advance(DUE);
      provider.answerNext(refusal('invalid_client'));

      // Act
      const result = await run(engine);

      // Assess
      expect(result).toMatchObject({ status: 'failed', code: 'invalid_client', permanent: true });
      expect(provider.requests).toHaveLength(2);
      expect(state.items.get('acme')?.credentialsVersionId).toBe(refused);
    });

    it('never replays a refresh token: invalid_grant with a new version holding the same refresh token stands', async () => {
      // Prepare
      const engine = container();
      await run(engine, { grant: 'refresh_token' });
      const refused = secrets.current.get(CREDENTIALS);
      clock.advance(DUE);
      const same: Credentials = { clientId: 'client-1', clientSecret: 'secret-2', refreshToken: 'rt-1' };
      secrets.seed(CREDENTIALS, same);
      provider.answerNext(refusal('invalid_grant'));

      // Act
      const result = await run(engine, { grant: 'refresh_token' });

      // Assess
      expect(result).toMatchObject({ status: 'failed', code: 'invalid_grant' });
      expect(provider.requests.map((sent) => sent.refreshToken)).toEqual(['rt-1', 'rt-1']);
      expect(state.items.get('acme')?.credentialsVersionId).toBe(refused);
    });

    it('keeps an operator re-seed that lands after its cache: the rotated write conflicts, and the next run uses the re-seed', async () => {
      // Prepare: the cached refresh token is still accepted (the old family is alive).
      const engine = container();
      await run(engine, { grant: 'refresh_token' });
      clock.advance(DUE);
      secrets.seed(CREDENTIALS, {
        clientId: 'client-1',
        clientSecret: 'secret-1',
        refreshToken: 'rt-operator',
      });
      provider.answerNext(() => ({
        accessToken: 'access-old-family',
        tokenType: 'Bearer',
        expiresInSeconds: 3600,
        refreshToken: 'rt-old-2',
      }));

      // Act
      const first = await run(engine, { grant: 'refresh_token' });
      clock.advance(5 * MINUTE);
      provider.answerNext(() => ({
        accessToken: 'access-new-family',
        tokenType: 'Bearer',
        expiresInSeconds: 3600,
        refreshToken: 'rt-operator-2',
      }));
      const second = await run(engine, { grant: 'refresh_token' });

      // Assess
      expect(first).toMatchObject({ status: 'failed', code: 'write_conflict' });
      expect(second).toMatchObject({ status: 'refreshed' });
      expect(provider.requests.map((sent) => sent.refreshToken)).toEqual(['rt-1', 'rt-1', 'rt-operator']);
      expect(credentials.credentials('acme').refreshToken).toBe('rt-operator-2');
    });
  });
});
