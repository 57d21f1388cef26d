import { beforeEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { CREDENTIALS_RETRY_MIN_LEASE_MS, RefreshEngine } from '../../../functions/core/engine.js';
import {
  CredentialsError,
  ProviderError,
  StoreError,
  WriteConflictError,
} from '../../../functions/core/errors.js';
import { METRIC_NAMES } from '../../../functions/core/ports.js';
import { sha256Hex } from '../../../functions/core/token-hash.js';
import {
  FakeClock,
  FakeCredentialsStore,
  FakeSecrets,
  FakeStateTable,
  FakeTokenStore,
  RecordingEvents,
  RecordingLogger,
  RecordingMetrics,
  ScriptedProvider,
} from './fakes.js';

const CLIENT_SECRET = 'client-secret-value-9f8e7d';
const REFRESH_TOKEN = 'refresh-token-value-1a2b3c';
const MINUTE = 60_000;

function config(overrides: Record<string, unknown> = {}): ProviderConfig {
  return providerConfigSchema.parse({
    name: 'acme',
    grant: 'refresh_token',
    tokenUrl: 'https://auth.example.com/token',
    ...overrides,
  });
}

describe('Class: RefreshEngine', () => {
  let clock: FakeClock;
  let secrets: FakeSecrets;
  let tokens: FakeTokenStore;
  let credentials: FakeCredentialsStore;
  let state: FakeStateTable;
  let provider: ScriptedProvider;
  let metrics: RecordingMetrics;
  let logger: RecordingLogger;
  let engine: RefreshEngine;
  /** The engine's pauses between attempts of a write; they move the fake clock. */
  let pauses: number[];
  let events: RecordingEvents;

  beforeEach(() => {
    pauses = [];
    events = new RecordingEvents();
    clock = new FakeClock();
    secrets = new FakeSecrets();
    tokens = new FakeTokenStore(secrets);
    credentials = new FakeCredentialsStore(secrets);
    state = new FakeStateTable();
    provider = new ScriptedProvider();
    metrics = new RecordingMetrics();
    logger = new RecordingLogger();
    secrets.seed(FakeTokenStore.secretId('acme'), { status: 'pending' });
    secrets.seed(FakeCredentialsStore.secretId('acme'), {
      clientId: 'client-1',
      clientSecret: CLIENT_SECRET,
      refreshToken: REFRESH_TOKEN,
    });
    engine = new RefreshEngine({
      tokens,
      credentials,
      state,
      providerFor: () => provider,
      clock,
      metrics,
      logger,
      random: () => 0.5,
      events,
      sleep: async (ms) => {
        pauses.push(ms);
        clock.advance(ms);
      },
    });
  });

  const run = (
    overrides: {
      force?: boolean;
      remainingTimeMs?: number;
      cfg?: ProviderConfig;
      onDemand?: { rejectedTokenSha256?: string };
    } = {},
  ) =>
    engine.refresh({
      config: overrides.cfg ?? config(),
      remainingTimeMs: overrides.remainingTimeMs ?? 60_000,
      ...(overrides.force === undefined ? {} : { force: overrides.force }),
      ...(overrides.onDemand === undefined ? {} : { onDemand: overrides.onDemand }),
    });

  describe('Method: refresh', () => {
    it('writes the first token, records the state and releases the lease when nothing was stored yet', async () => {
      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'refreshed', provider: 'acme', generation: 1 });
      expect(tokens.token('acme')).toEqual({
        provider: 'acme',
        accessToken: 'access-token-1',
        tokenType: 'Bearer',
        expiresAt: new Date(clock.now() + 3600_000).toISOString(),
        issuedAt: new Date(clock.now()).toISOString(),
        generation: 1,
      });
      const item = state.items.get('acme');
      expect(item?.leaseOwner).toBeUndefined();
      expect(item).toMatchObject({
        fence: 1,
        tokenExpiresAt: clock.now() + 3600_000,
        nextRefreshAt: clock.now() + 3600_000 - 5 * MINUTE,
        lastSuccessAt: clock.now(),
        consecutiveFailures: 0,
      });
      expect(metrics.values(METRIC_NAMES.refreshSucceeded)).toEqual([1]);
      expect(metrics.values(METRIC_NAMES.secondsToExpiry)).toEqual([3600]);
    });

    it('makes no provider call and only one state read when the token is not due', async () => {
      // Prepare
      await run();
      state.calls.length = 0;
      clock.advance(10 * MINUTE);

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'fresh', reason: 'not-due' });
      expect(provider.requests).toHaveLength(1);
      expect(state.calls).toEqual(['read']);
      expect(metrics.values(METRIC_NAMES.secondsToExpiry).at(-1)).toBe(3000);
    });

    it('refreshes again once refreshBefore before expiry has come', async () => {
      // Prepare
      await run();
      clock.advance(55 * MINUTE);

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'refreshed', generation: 2 });
      expect(tokens.token('acme')?.accessToken).toBe('access-token-2');
    });

    it('refreshes a short-lived token at half its lifetime rather than at once', async () => {
      // Prepare: a 4-minute token with the default 5-minute refreshBefore.
      provider.answerNext(() => ({ accessToken: 'short', tokenType: 'Bearer', expiresInSeconds: 240 }));
      await run();

      // Act: due at 120 s; a run up to 5 s early counts as due (EARLY_RUN_TOLERANCE_MS).
      clock.advance(114_999);
      const early = await run();
      clock.advance(1);
      const due = await run();

      // Assess
      expect(early).toMatchObject({ status: 'fresh', reason: 'not-due' });
      expect(due).toMatchObject({ status: 'refreshed' });
    });

    it('uses expectedLifetime when the provider gives no expires_in', async () => {
      // Prepare
      provider.answerNext(() => ({ accessToken: 'no-expiry', tokenType: 'Bearer' }));

      // Act
      const result = await run({ cfg: config({ expectedLifetime: '2h' }) });

      // Assess
      expect(result).toMatchObject({
        status: 'refreshed',
        expiresAt: new Date(clock.now() + 2 * 3600_000).toISOString(),
      });
    });

    it('returns in-progress and emits LeaseContended when another holder has a live lease', async () => {
      // Prepare
      await state.acquire({
        provider: 'acme',
        owner: 'other',
        now: clock.now(),
        leaseExpiresAt: clock.now() + 30_000,
      });

      // Act
      const result = await run();

      // Assess
      expect(result).toEqual({ status: 'in-progress', provider: 'acme' });
      expect(provider.requests).toHaveLength(0);
      expect(metrics.values(METRIC_NAMES.leaseContended)).toEqual([1]);
    });

    it('lets exactly one of many concurrent triggers call the provider', async () => {
      // Act
      const results = await Promise.all(Array.from({ length: 20 }, () => run()));

      // Assess
      expect(provider.requests).toHaveLength(1);
      expect(results.filter((result) => result.status === 'refreshed')).toHaveLength(1);
      expect(results.filter((result) => result.status === 'in-progress')).toHaveLength(19);
    });

    it("takes over a crashed holder's lease once it has expired", async () => {
      // Prepare: a holder took the lease and never released it.
      await state.acquire({
        provider: 'acme',
        owner: 'crashed',
        now: clock.now(),
        leaseExpiresAt: clock.now() + 30_000,
      });
      const blocked = await run();
      clock.advance(30_001);

      // Act
      const result = await run();

      // Assess
      expect(blocked.status).toBe('in-progress');
      expect(result).toMatchObject({ status: 'refreshed', generation: 2 });
    });

    it('releases without a provider call when the double-check finds a token another holder wrote', async () => {
      // Prepare: state says due (no item) but the secret already holds a fresh token.
      secrets.seed(FakeTokenStore.secretId('acme'), {
        provider: 'acme',
        accessToken: 'written-by-other',
        tokenType: 'Bearer',
        expiresAt: new Date(clock.now() + 3600_000).toISOString(),
        issuedAt: new Date(clock.now()).toISOString(),
        generation: 7,
      });

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'fresh', reason: 'refreshed-by-other' });
      expect(provider.requests).toHaveLength(0);
      expect(state.items.get('acme')).toMatchObject({ tokenExpiresAt: clock.now() + 3600_000 });
      expect(state.items.get('acme')?.leaseOwner).toBeUndefined();
    });

    it.each([
      ['after', 1_000, { consecutiveFailures: 0 }, 'fresh'],
      ['before', -60_000, { consecutiveFailures: 1, lastErrorCode: 'http_503' }, 'failed'],
    ] as const)(
      'ends a failure streak when the token it finds was issued %s the last failure, or keeps it',
      async (_when, issuedOffsetMs, expectedState, laterStatus) => {
        // Prepare: a transient failure is recorded; then a token appears that no holder recorded
        // (its writer's lease was taken over, or its release failed).
        provider.answerNext(() => {
          throw new ProviderError('Token endpoint answered HTTP 503', 'http_503', 'transient', {
            status: 503,
          });
        });
        await run();
        const failedAt = clock.now();
        clock.advance(MINUTE); // past the backoff
        secrets.seed(FakeTokenStore.secretId('acme'), {
          provider: 'acme',
          accessToken: 'written-unrecorded',
          tokenType: 'Bearer',
          expiresAt: new Date(clock.now() + 3600_000).toISOString(),
          issuedAt: new Date(failedAt + issuedOffsetMs).toISOString(),
          generation: 2,
        });

        // Act
        const observed = await run();
        clock.advance(MINUTE);
        const later = await run();

        // Assess: the status views and every later run report what is true.
        expect(observed).toMatchObject({ status: 'fresh', reason: 'refreshed-by-other' });
        expect(provider.requests).toHaveLength(1);
        expect(state.items.get('acme')).toMatchObject(expectedState);
        expect(later.status).toBe(laterStatus);
        expect(events.published.map((event) => event.type)).toEqual(
          laterStatus === 'fresh' ? ['failing', 'recovered'] : ['failing'],
        );
        if (laterStatus === 'fresh') {
          expect(state.items.get('acme')?.lastSuccessAt).toBe(failedAt + issuedOffsetMs);
          expect(state.items.get('acme')?.lastErrorCode).toBeUndefined();
          expect(state.items.get('acme')?.lastErrorPermanent).toBeUndefined();
        }
      },
    );

    it('answers fresh, not failed, when another holder stored a servable token during the call', async () => {
      // Prepare: while our provider call runs, a holder whose lease we took over stores its token.
      provider.answerNext(() => {
        secrets.seed(FakeTokenStore.secretId('acme'), {
          provider: 'acme',
          accessToken: 'newer',
          tokenType: 'Bearer',
          expiresAt: new Date(clock.now() + 3600_000).toISOString(),
          issuedAt: new Date(clock.now()).toISOString(),
          generation: 1,
        });
        return { accessToken: 'dropped', tokenType: 'Bearer', expiresInSeconds: 3600 };
      });

      // Act
      const result = await run();

      // Assess: the newer token stays and is recorded; no failure is counted or reported.
      expect(result).toMatchObject({ status: 'fresh', reason: 'refreshed-by-other' });
      expect(tokens.token('acme')?.accessToken).toBe('newer');
      expect(metrics.values(METRIC_NAMES.refreshFailed)).toEqual([]);
      expect(metrics.values(METRIC_NAMES.leaseContended)).toEqual([1]);
      expect(state.items.get('acme')).toMatchObject({
        consecutiveFailures: 0,
        tokenExpiresAt: clock.now() + 3600_000,
      });
      expect(state.items.get('acme')?.leaseOwner).toBeUndefined();
      expect(events.published).toEqual([]);
    });

    it('fails with write_conflict and keeps the newer value when it is no servable token', async () => {
      // Prepare: while our provider call runs, a newer holder writes a token.
      provider.answerNext(() => {
        secrets.seed(FakeTokenStore.secretId('acme'), {
          provider: 'acme',
          accessToken: 'newer',
          tokenType: 'Bearer',
        });
        return { accessToken: 'stale', tokenType: 'Bearer', expiresInSeconds: 3600 };
      });

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'failed', code: 'write_conflict', permanent: false });
      expect(secrets.valueOf(FakeTokenStore.secretId('acme'))).toMatchObject({ accessToken: 'newer' });
    });

    it('stores a rotated refresh token before writing the access token', async () => {
      // Prepare
      provider.answerNext(() => ({
        accessToken: 'a1',
        tokenType: 'Bearer',
        expiresInSeconds: 3600,
        refreshToken: 'rotated-refresh-token',
      }));

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'refreshed', refreshTokenRotated: true });
      expect(credentials.credentials('acme')).toEqual({
        clientId: 'client-1',
        clientSecret: CLIENT_SECRET,
        refreshToken: 'rotated-refresh-token',
      });
      const writes = secrets.calls.filter((call) => call.startsWith('write'));
      expect(writes).toEqual(['write test/acme/credentials', 'write test/acme/token']);
    });

    describe('a rotated refresh token that cannot be stored at once', () => {
      const rotating = () =>
        provider.answerNext(() => ({
          accessToken: 'a1',
          tokenType: 'Bearer',
          expiresInSeconds: 3600,
          refreshToken: 'rotated-refresh-token',
        }));
      const unavailable = () =>
        new StoreError(
          'Secrets Manager PutSecretValue failed (ThrottlingException)',
          'secrets_manager_unavailable',
          'transient',
        );

      it('repeats the write (resuming it) after transient failures and then refreshes', async () => {
        // Prepare
        rotating();
        credentials.failNextWrites.push(unavailable(), unavailable());

        // Act
        const result = await run();

        // Assess
        expect(result).toMatchObject({ status: 'refreshed', refreshTokenRotated: true });
        expect(provider.requests).toHaveLength(1);
        expect(credentials.credentials('acme').refreshToken).toBe('rotated-refresh-token');
        expect(credentials.writes.map((write) => write.resume ?? false)).toEqual([false, true, true]);
        expect(
          new Set(credentials.writes.map((write) => `${write.fence}/${write.expectedVersionId}`)).size,
        ).toBe(1);
        expect(pauses).toEqual([250, 500]);
        expect(tokens.token('acme')?.accessToken).toBe('a1');
        expect(logger.lines.filter((entry) => entry.level === 'warn')).toHaveLength(2);
      });

      it('stops repeating when the lease runs out, fails transiently and writes no access token', async () => {
        // Prepare
        rotating();
        credentials.failNextWrites.push(...Array.from({ length: 100 }, unavailable));
        const startedAt = clock.now();

        // Act
        const result = await run({ remainingTimeMs: 30_000, cfg: config({ requestTimeout: '10s' }) });

        // Assess
        expect(result).toMatchObject({
          status: 'failed',
          code: 'secrets_manager_unavailable',
          permanent: false,
        });
        expect(pauses).toEqual([250, 500, 1_000, 2_000, 4_000, 4_000, 4_000, 4_000, 4_000, 4_000]);
        // Every attempt started with at least the minimum lease left; the next pause would not leave it.
        const lastAttemptAt = startedAt + pauses.reduce((sum, pause) => sum + pause, 0);
        expect(startedAt + 30_000 - lastAttemptAt).toBeGreaterThanOrEqual(CREDENTIALS_RETRY_MIN_LEASE_MS);
        expect(startedAt + 30_000 - lastAttemptAt - 4_000).toBeLessThan(CREDENTIALS_RETRY_MIN_LEASE_MS);
        expect(credentials.writes).toHaveLength(11);
        expect(tokens.token('acme')).toBeUndefined();
        expect(state.items.get('acme')?.leaseOwner).toBeUndefined();
      });

      it.each([
        ['a lost compare-and-swap', () => new WriteConflictError('AWSCURRENT moved')],
        [
          'a permanent store error',
          () => new StoreError('Access denied', 'secrets_manager_access_denied', 'permanent'),
        ],
      ])('does not repeat the write after %s', async (_case, failure) => {
        // Prepare
        rotating();
        credentials.failNextWrites.push(failure());

        // Act
        const result = await run();

        // Assess
        expect(result).toMatchObject({ status: 'failed' });
        expect(credentials.writes).toHaveLength(1);
        expect(pauses).toEqual([]);
      });
    });

    it('asks the credentials store to finish an earlier unfinished write for refresh_token only', async () => {
      // Prepare
      secrets.seed(FakeTokenStore.secretId('other'), { status: 'pending' });
      secrets.seed(FakeCredentialsStore.secretId('other'), {
        clientId: 'client-2',
        clientSecret: CLIENT_SECRET,
      });

      // Act
      const results = [
        await run(),
        await run({ cfg: config({ name: 'other', grant: 'client_credentials' }) }),
      ];

      // Assess: the refresh_token read carries the lease generation; client_credentials never rotates.
      expect(results.map((result) => result.status)).toEqual(['refreshed', 'refreshed']);
      expect(credentials.reads).toStrictEqual([{ fence: 1 }, undefined]);
    });

    it("says so in the log when the read finished an interrupted refresh's write", async () => {
      // Prepare
      credentials.recoverNext = 7;

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'refreshed' });
      expect(logger.lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          message: 'Finished storing the rotated refresh token of an interrupted refresh',
          attributes: expect.objectContaining({ provider: 'acme', interruptedGeneration: 7 }),
        }),
      );
    });

    it('keeps the old refresh token when the server does not return one', async () => {
      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'refreshed', refreshTokenRotated: false });
      expect(credentials.credentials('acme').refreshToken).toBe(REFRESH_TOKEN);
      expect(secrets.calls).not.toContain('write test/acme/credentials');
    });

    it('does not write the access token when storing the rotated refresh token fails', async () => {
      // Prepare: an operator re-seeds the credentials during the call.
      provider.answerNext(() => {
        secrets.seed(FakeCredentialsStore.secretId('acme'), {
          clientId: 'client-1',
          refreshToken: 'reseeded',
        });
        return { accessToken: 'a1', tokenType: 'Bearer', expiresInSeconds: 3600, refreshToken: 'rotated' };
      });

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'failed', code: 'write_conflict' });
      expect(tokens.token('acme')).toBeUndefined();
      expect(credentials.credentials('acme').refreshToken).toBe('reseeded');
    });

    it('keeps the current token, counts failures and backs off after a transient failure', async () => {
      // Prepare
      await run();
      clock.advance(56 * MINUTE);
      provider.answerNext(() => {
        throw new ProviderError('Token endpoint answered HTTP 503', 'http_503', 'transient', { status: 503 });
      });

      // Act
      const result = await run();

      // Assess: random 0.5 → 22.5 s for the first failure (half of 30 s fixed, half jittered).
      expect(result).toMatchObject({
        status: 'failed',
        code: 'http_503',
        permanent: false,
        attempted: true,
        retryAt: new Date(clock.now() + 22_500).toISOString(),
      });
      expect(tokens.token('acme')?.accessToken).toBe('access-token-1');
      expect(state.items.get('acme')).toMatchObject({
        consecutiveFailures: 1,
        lastErrorCode: 'http_503',
        lastErrorPermanent: false,
        nextRefreshAt: clock.now() + 22_500,
      });
      expect(state.items.get('acme')?.leaseOwner).toBeUndefined();
      expect(metrics.values(METRIC_NAMES.refreshFailed)).toEqual([1]);
      expect(metrics.values(METRIC_NAMES.secondsToExpiry).at(-1)).toBe(4 * 60);
    });

    it('does not call the provider again before the backoff has passed, and resets failures on success', async () => {
      // Prepare
      provider.answerNext(() => {
        throw new ProviderError('rate limited', 'rate_limited', 'transient', {
          status: 429,
          retryAfterSeconds: 120,
        });
      });
      const failed = await run();
      const retryAt = new Date(clock.now() + 120_000).toISOString();

      // Act
      clock.advance(119_000);
      const early = await run();
      clock.advance(1_000);
      const retried = await run();

      // Assess
      expect(failed).toMatchObject({ status: 'failed', code: 'rate_limited', retryAt });
      expect(early).toMatchObject({ status: 'failed', code: 'rate_limited', attempted: false, retryAt });
      expect(retried).toMatchObject({ status: 'refreshed' });
      expect(provider.requests).toHaveLength(2);
      expect(state.items.get('acme')).toMatchObject({ consecutiveFailures: 0 });
      expect(state.items.get('acme')?.lastErrorCode).toBeUndefined();
    });

    it('grows the backoff exponentially with consecutive failures', async () => {
      // Prepare
      const delays: number[] = [];
      for (let attempt = 0; attempt < 4; attempt += 1) {
        provider.answerNext(() => {
          throw new ProviderError('timeout', 'timeout', 'transient');
        });
        const before = clock.now();
        await run();
        const nextRefreshAt = state.items.get('acme')?.nextRefreshAt ?? 0;
        delays.push(nextRefreshAt - before);
        clock.current = nextRefreshAt;
      }

      // Assess: ceiling 30 s, 60 s, 120 s, 240 s with random 0.5 → three quarters of each.
      expect(delays).toEqual([22_500, 45_000, 90_000, 180_000]);
      expect(state.items.get('acme')?.consecutiveFailures).toBe(4);
    });

    it('stops calling the provider after a permanent failure until a forced refresh', async () => {
      // Prepare
      provider.answerNext(() => {
        throw new ProviderError('invalid_grant', 'invalid_grant', 'permanent', { status: 400 });
      });
      const failed = await run();
      clock.advance(48 * 60 * MINUTE);

      // Act
      const blocked = await run();
      const forced = await run({ force: true });

      // Assess
      expect(failed).toMatchObject({
        status: 'failed',
        code: 'invalid_grant',
        permanent: true,
        attempted: true,
      });
      expect(blocked).toMatchObject({
        status: 'failed',
        code: 'invalid_grant',
        permanent: true,
        attempted: false,
      });
      expect(forced).toMatchObject({ status: 'refreshed' });
      expect(provider.requests).toHaveLength(2);
      expect(metrics.values(METRIC_NAMES.refreshFailed)).toEqual([1, 1]);
    });

    it('treats a token with a lifetime of 0 as a transient provider error and stores no access token', async () => {
      // Prepare
      provider.answerNext(() => ({ accessToken: 'zero', tokenType: 'Bearer', expiresInSeconds: 0 }));

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'failed', code: 'invalid_lifetime', permanent: false });
      expect(tokens.token('acme')).toBeUndefined();
    });

    it('still stores the rotated refresh token when the access token has an unusable lifetime', async () => {
      // Prepare
      provider.answerNext(() => ({
        accessToken: 'zero',
        tokenType: 'Bearer',
        expiresInSeconds: 0,
        refreshToken: 'rotated-with-a-bad-token',
      }));

      // Act
      const result = await run();

      // Assess: the old refresh token is spent; the next attempt must present the new one.
      expect(result).toMatchObject({ status: 'failed', code: 'invalid_lifetime' });
      expect(credentials.credentials('acme').refreshToken).toBe('rotated-with-a-bad-token');
      expect(tokens.token('acme')).toBeUndefined();
    });

    it('does not call the provider when the lease cannot cover the request timeout', async () => {
      // Act: 12 s left, the request timeout is 10 s and the writes need 5 s.
      const result = await run({ remainingTimeMs: 12_000 });

      // Assess
      expect(result).toMatchObject({ status: 'failed', code: 'lease_lost', permanent: false });
      expect(provider.requests).toHaveLength(0);
      expect(state.items.get('acme')?.leaseOwner).toBeUndefined();
    });

    it('fails permanently with the credentials error code when the credentials are unusable', async () => {
      // Prepare
      provider.answerNext(() => {
        throw new CredentialsError('The credentials secret has no "refreshToken"', 'credentials_invalid');
      });

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'failed', code: 'credentials_invalid', permanent: true });
    });

    it('wraps an unexpected error as internal_error without losing the token', async () => {
      // Prepare
      await run();
      clock.advance(56 * MINUTE);
      provider.answerNext(() => {
        throw new RangeError(`boom ${CLIENT_SECRET}`);
      });

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'failed', code: 'internal_error', permanent: false });
      expect(tokens.token('acme')?.accessToken).toBe('access-token-1');
    });

    it('never logs a token, refresh token or client secret', async () => {
      // Prepare: a success with rotation, a transient and a permanent failure.
      provider
        .answerNext(() => ({
          accessToken: 'secret-access-1',
          tokenType: 'Bearer',
          expiresInSeconds: 3600,
          refreshToken: 'rt-2',
        }))
        .answerNext(() => {
          throw new RangeError(`boom ${CLIENT_SECRET} ${REFRESH_TOKEN}`);
        })
        .answerNext(() => {
          throw new ProviderError('invalid_client', 'invalid_client', 'permanent');
        });

      // Act
      await run();
      await run({ force: true });
      await run({ force: true });

      // Assess
      const logged = logger.text() + JSON.stringify(metrics.recorded);
      for (const secret of [CLIENT_SECRET, REFRESH_TOKEN, 'secret-access-1', 'rt-2']) {
        expect(logged).not.toContain(secret);
      }
    });
  });
  describe('Method: refresh (state-change events)', () => {
    const fail = (code: string, kind: 'transient' | 'permanent') =>
      provider.answerNext(() => {
        throw new ProviderError(`Token endpoint refused: ${code}`, code, kind, { status: 400 });
      });
    const types = () => events.published.map((event) => event.type);

    it('publishes failing once per streak and recovered when a token is stored again', async () => {
      // Prepare
      await run();
      clock.advance(56 * MINUTE);
      fail('http_503', 'transient');
      fail('timeout', 'transient');

      // Act: two failures, then a success (each after the backoff).
      const first = await run();
      clock.advance(MINUTE);
      const second = await run();
      clock.advance(5 * MINUTE);
      const third = await run();

      // Assess
      expect([first.status, second.status, third.status]).toEqual(['failed', 'failed', 'refreshed']);
      expect(events.published).toStrictEqual([
        {
          type: 'failing',
          provider: 'acme',
          errorCode: 'http_503',
          permanent: false,
          occurredAt: new Date(clock.now() - 6 * MINUTE).toISOString(),
        },
        {
          type: 'recovered',
          provider: 'acme',
          failedAttempts: 2,
          lastErrorCode: 'timeout',
          occurredAt: new Date(clock.now()).toISOString(),
        },
      ]);
    });

    it('publishes needs-reauthorization for invalid_grant, also after another failure, and only once', async () => {
      // Prepare
      fail('http_503', 'transient');
      fail('invalid_grant', 'permanent');
      fail('invalid_grant', 'permanent');

      // Act
      await run();
      clock.advance(MINUTE);
      await run();
      await run({ force: true });

      // Assess
      expect(types()).toEqual(['failing', 'needs-reauthorization']);
      expect(events.published[1]).toMatchObject({ provider: 'acme', errorCode: 'invalid_grant' });
    });

    it('publishes nothing for a healthy refresh, a not-due tick or a lost lease', async () => {
      // Act
      await run();
      await run();
      clock.advance(56 * MINUTE);
      await run();

      // Assess
      expect(events.published).toEqual([]);
    });

    it('leaves the event to the newer holder when its lease was taken over before the release', async () => {
      // Prepare: while the provider call fails, another holder takes the lease over.
      provider.answerNext(() => {
        const item = state.items.get('acme');
        if (item !== undefined)
          state.items.set('acme', { ...item, leaseOwner: 'newer', fence: item.fence + 1 });
        throw new ProviderError('Token endpoint answered HTTP 503', 'http_503', 'transient', { status: 503 });
      });

      // Act
      const result = await run();

      // Assess: the failure is reported to the caller, but not recorded and not published.
      expect(result).toMatchObject({ status: 'failed', code: 'http_503' });
      expect(state.items.get('acme')).toMatchObject({ leaseOwner: 'newer', consecutiveFailures: 0 });
      expect(events.published).toEqual([]);
    });

    it('still refreshes and logs a warning when publishing fails', async () => {
      // Prepare
      fail('invalid_client', 'permanent');
      events.failNext = true;

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'failed', code: 'invalid_client', permanent: true });
      expect(logger.lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          message: 'Could not publish the state-change event',
          attributes: expect.objectContaining({ provider: 'acme', eventType: 'failing' }),
        }),
      );
      expect(logger.text()).not.toContain(CLIENT_SECRET);
    });
  });

  describe('Method: refresh (on demand)', () => {
    it('refreshes a token reported as refused when it is still the current one', async () => {
      // Prepare
      await run();
      clock.advance(2 * MINUTE);

      // Act
      const result = await run({ onDemand: { rejectedTokenSha256: sha256Hex('access-token-1') } });

      // Assess
      expect(result).toMatchObject({ status: 'refreshed', generation: 2 });
      expect(tokens.token('acme')?.accessToken).toBe('access-token-2');
      expect(provider.requests).toHaveLength(2);
      expect(logger.lines.at(-1)?.attributes).toMatchObject({ trigger: 'rejected-token' });
    });

    it('returns the current token without a provider call when the refused token was already replaced', async () => {
      // Prepare: token 1, then token 2 (forced); a consumer still reports token 1.
      await run();
      clock.advance(2 * MINUTE);
      await run({ force: true });

      // Act
      const result = await run({ onDemand: { rejectedTokenSha256: sha256Hex('access-token-1') } });

      // Assess
      expect(result).toMatchObject({ status: 'fresh', reason: 'already-replaced' });
      expect(provider.requests).toHaveLength(2);
      expect(state.items.get('acme')?.leaseOwner).toBeUndefined();
    });

    it('is throttled, without a provider call, when the refused token is younger than onDemandRefreshInterval', async () => {
      // Prepare
      await run();
      clock.advance(20_000);

      // Act
      const result = await run({ onDemand: { rejectedTokenSha256: sha256Hex('access-token-1') } });

      // Assess: the default interval is 60 s from issue.
      expect(result).toEqual({
        status: 'throttled',
        provider: 'acme',
        retryAt: new Date(clock.now() + 40_000).toISOString(),
      });
      expect(provider.requests).toHaveLength(1);
      expect(state.items.get('acme')?.leaseOwner).toBeUndefined();
      expect(metrics.values(METRIC_NAMES.refreshFailed)).toEqual([]);
    });

    it('without a refused token, refreshes only when no usable token is stored', async () => {
      // Act: nothing stored yet → refresh; then a usable token → kept.
      const first = await run({ onDemand: {} });
      clock.advance(MINUTE);
      const second = await run({ onDemand: {} });

      // Assess
      expect(first).toMatchObject({ status: 'refreshed' });
      expect(second).toMatchObject({ status: 'fresh', reason: 'still-valid' });
      expect(provider.requests).toHaveLength(1);
    });

    it('refreshes on demand when the stored token expired even though the state says not due', async () => {
      // Prepare: the state claims a refresh is far away, but the stored token is expired.
      await run();
      clock.advance(61 * MINUTE);
      const item = state.items.get('acme');
      if (item === undefined) throw new Error('no state');
      state.items.set('acme', { ...item, nextRefreshAt: clock.now() + 60 * MINUTE });

      // Act
      const scheduled = await run();
      const onDemand = await run({ onDemand: {} });

      // Assess
      expect(scheduled).toMatchObject({ status: 'fresh', reason: 'not-due' });
      expect(onDemand).toMatchObject({ status: 'refreshed' });
    });

    it('still honours a permanent failure and the backoff of a transient one', async () => {
      // Prepare: a transient failure starts a backoff.
      await run();
      clock.advance(56 * MINUTE);
      provider.answerNext(() => {
        throw new ProviderError('HTTP 503', 'http_503', 'transient', { status: 503 });
      });
      await run();

      // Act
      const duringBackoff = await run({ onDemand: { rejectedTokenSha256: sha256Hex('access-token-1') } });

      // Assess
      expect(duringBackoff).toMatchObject({ status: 'failed', code: 'http_503', attempted: false });
      expect(provider.requests).toHaveLength(2);
    });
  });
});
