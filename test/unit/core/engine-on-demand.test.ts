/**
 * The engine's on-demand budget and the answer of an on-demand run that loses the lease (issue #15,
 * findings 3 and 4), with the fakes and a fake clock.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { RefreshEngine } from '../../../functions/core/engine.js';
import { ProviderError } from '../../../functions/core/errors.js';
import { IN_FLIGHT_RETRY_MS } from '../../../functions/core/on-demand-gate.js';
import { sha256Hex } from '../../../functions/core/token-hash.js';
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
const HOUR = 60 * MINUTE;

function config(overrides: Record<string, unknown> = {}): ProviderConfig {
  return providerConfigSchema.parse({
    name: 'acme',
    grant: 'refresh_token',
    tokenUrl: 'https://auth.example.com/token',
    onDemandRefreshesPerHour: 2,
    ...overrides,
  });
}

describe('Class: RefreshEngine (on-demand budget)', () => {
  let clock: FakeClock;
  let secrets: FakeSecrets;
  let tokens: FakeTokenStore;
  let state: FakeStateTable;
  let provider: ScriptedProvider;
  let engine: RefreshEngine;

  const tokenReads = () => secrets.calls.filter((call) => call === 'read test/acme/token').length;

  /** An engine of another container: the same stores, its own instance. */
  const container = () =>
    new RefreshEngine({
      tokens,
      credentials: new FakeCredentialsStore(secrets),
      state,
      providerFor: () => provider,
      clock,
      metrics: new RecordingMetrics(),
      logger: new RecordingLogger(),
      random: () => 0.5,
    });

  beforeEach(() => {
    clock = new FakeClock();
    secrets = new FakeSecrets();
    tokens = new FakeTokenStore(secrets);
    state = new FakeStateTable();
    provider = new ScriptedProvider();
    secrets.seed(FakeTokenStore.secretId('acme'), { status: 'pending' });
    secrets.seed(FakeCredentialsStore.secretId('acme'), {
      clientId: 'client-1',
      clientSecret: 'client-secret-value',
      refreshToken: 'refresh-token-value',
    });
    engine = container();
  });

  const schedule = (target = engine, cfg = config()) =>
    target.refresh({ config: cfg, remainingTimeMs: 60_000 });
  const report = (token: string, target = engine, cfg = config()) =>
    target.refresh({
      config: cfg,
      onDemand: { rejectedTokenSha256: sha256Hex(token) },
      remainingTimeMs: 60_000,
    });
  const current = () => tokens.token('acme')?.accessToken ?? 'none';

  describe('Method: refresh (budget)', () => {
    it('refuses the report after the hour holds onDemandRefreshesPerHour refreshes, until the oldest leaves the hour', async () => {
      // Prepare: the first token; then reports, each of the token current at the time, 2 min apart.
      await schedule();
      const start = clock.now();
      const results = [];

      // Act: four reports in the first 8 minutes (the budget is 2), then one after the hour.
      for (let i = 0; i < 4; i += 1) {
        clock.advance(2 * MINUTE);
        results.push(await report(current()));
      }
      clock.current = start + 2 * MINUTE + HOUR + 1;
      const afterHour = await report(current());

      // Assess
      expect(results.map((result) => result.status)).toEqual([
        'refreshed',
        'refreshed',
        'throttled',
        'throttled',
      ]);
      expect(results[2]).toEqual({
        status: 'throttled',
        provider: 'acme',
        retryAt: new Date(start + 2 * MINUTE + HOUR).toISOString(),
        reason: 'budget-spent',
      });
      expect(afterHour).toMatchObject({ status: 'refreshed' });
      expect(provider.requests).toHaveLength(4);
    });

    it('holds across containers: the log is in the state item, written under the lease', async () => {
      // Prepare
      await schedule();
      clock.advance(2 * MINUTE);
      await report(current(), container());
      clock.advance(2 * MINUTE);
      await report(current(), container());

      // Act: a third container, a third report.
      clock.advance(2 * MINUTE);
      const third = await report(current(), container());

      // Assess
      expect(third).toMatchObject({ status: 'throttled', reason: 'budget-spent' });
      expect(state.items.get('acme')?.onDemandRefreshes).toEqual([
        clock.now() - 4 * MINUTE,
        clock.now() - 2 * MINUTE,
      ]);
      expect(state.items.get('acme')?.leaseOwner).toBeUndefined();
    });

    it('answers a spent budget from the state alone: no lease, no secret read', async () => {
      // Prepare: the budget is spent.
      await schedule();
      for (let i = 0; i < 2; i += 1) {
        clock.advance(2 * MINUTE);
        await report(current());
      }
      clock.advance(2 * MINUTE);
      state.calls.length = 0;
      secrets.calls.length = 0;

      // Act
      const result = await report(current());

      // Assess
      expect(result).toMatchObject({ status: 'throttled', reason: 'budget-spent' });
      expect(state.calls).toEqual(['read']);
      expect(tokenReads()).toBe(0);
    });

    it('counts the refresh before the provider call: a failed call spends it too', async () => {
      // Prepare
      await schedule();
      clock.advance(2 * MINUTE);
      provider.answerNext(() => {
        throw new ProviderError('HTTP 503', 'http_503', 'transient', { status: 503 });
      });

      // Act
      const failed = await report(current());

      // Assess
      expect(failed).toMatchObject({ status: 'failed', code: 'http_503', attempted: true });
      expect(state.items.get('acme')?.onDemandRefreshes).toEqual([clock.now()]);
      expect(state.calls).toContain('recordOnDemandRefreshes');
    });

    it('does not count a refresh the schedule would make anyway, nor one for a missing or lapsed token', async () => {
      // Prepare: the first token comes from an on-demand read (nothing stored), then the budget is spent.
      await engine.refresh({ config: config(), onDemand: {}, remainingTimeMs: 60_000 });
      for (let i = 0; i < 2; i += 1) {
        clock.advance(2 * MINUTE);
        await report(current());
      }

      // Act: the token comes due (55 min after issue): a report now refreshes, outside the budget.
      clock.advance(56 * MINUTE);
      const due = await report(current());
      // The token lapses (its schedule stopped): a read with nothing usable refreshes, outside it too.
      clock.advance(61 * MINUTE);
      const lapsed = await engine.refresh({ config: config(), onDemand: {}, remainingTimeMs: 60_000 });

      // Assess
      expect(due).toMatchObject({ status: 'refreshed' });
      expect(lapsed).toMatchObject({ status: 'refreshed' });
      expect(state.items.get('acme')?.onDemandRefreshes).toHaveLength(2);
    });

    it('does not touch the budget when the reported token was already replaced or is too young', async () => {
      // Prepare
      await schedule();
      clock.advance(2 * MINUTE);
      const old = current();
      await report(old);

      // Act
      const replaced = await report(old);
      const young = await report(current());

      // Assess
      expect(replaced).toMatchObject({ status: 'fresh', reason: 'already-replaced' });
      expect(young).toEqual({
        status: 'throttled',
        provider: 'acme',
        retryAt: new Date(clock.now() + MINUTE).toISOString(),
      });
      expect(state.items.get('acme')?.onDemandRefreshes).toHaveLength(1);
    });
  });

  describe('Method: refresh (lease lost on demand)', () => {
    /** Another container holds the lease (a refresh or a decision under way). */
    const holdLease = () =>
      state.acquire({
        provider: 'acme',
        owner: 'other',
        now: clock.now(),
        leaseExpiresAt: clock.now() + MINUTE,
      });

    it("answers a young token's report with its true retry time, from the state, without a secret read", async () => {
      // Prepare
      await schedule();
      clock.advance(15_000);
      await holdLease();
      secrets.calls.length = 0;
      state.calls.length = 0;

      // Act
      const result = await report(current());

      // Assess: not "in-progress" alone, which made the read path wait 20 s for a refresh that never came.
      expect(result).toEqual({
        status: 'throttled',
        provider: 'acme',
        retryAt: new Date(clock.now() + 45_000).toISOString(),
      });
      expect(tokenReads()).toBe(0);
      expect(state.calls).toEqual(['read', 'acquire', 'read']);
    });

    it('answers a report the holder is acting on with in-progress and a retry time', async () => {
      // Prepare
      await schedule();
      clock.advance(2 * MINUTE);
      await holdLease();
      secrets.calls.length = 0;

      // Act
      const result = await report(current());

      // Assess
      expect(result).toEqual({
        status: 'in-progress',
        provider: 'acme',
        retryAt: new Date(clock.now() + IN_FLIGHT_RETRY_MS).toISOString(),
      });
      expect(tokenReads()).toBe(0);
    });

    it('answers in-progress, without a retry time, to a read that finds no usable token', async () => {
      // Prepare
      await holdLease();

      // Act
      const result = await engine.refresh({ config: config(), onDemand: {}, remainingTimeMs: 60_000 });

      // Assess: the read path waits for that first refresh, as before.
      expect(result).toEqual({ status: 'in-progress', provider: 'acme' });
    });

    it('leaves a scheduled run that loses the lease as it was: in-progress, no token read', async () => {
      // Prepare
      await schedule();
      clock.advance(56 * MINUTE);
      await holdLease();
      secrets.calls.length = 0;

      // Act
      const result = await schedule();

      // Assess
      expect(result).toEqual({ status: 'in-progress', provider: 'acme' });
      expect(tokenReads()).toBe(0);
    });
  });
});
