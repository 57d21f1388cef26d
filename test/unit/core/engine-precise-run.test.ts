/**
 * The precise run (issue 11): a run that arrives a little early refreshes, and a run that finds the
 * token not due makes sure the one-time schedule is armed for `nextRefreshAt` — one scheduler call,
 * and only when it is not.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { RefreshEngine } from '../../../functions/core/engine.js';
import { ProviderError } from '../../../functions/core/errors.js';
import { EARLY_RUN_TOLERANCE_MS } from '../../../functions/core/timing.js';
import {
  FakeClock,
  FakeCredentialsStore,
  FakeNextRunScheduler,
  FakeSecrets,
  FakeStateTable,
  FakeTokenStore,
  RecordingLogger,
  RecordingMetrics,
  ScriptedProvider,
} from './fakes.js';

function config(): ProviderConfig {
  return providerConfigSchema.parse({
    name: 'acme',
    grant: 'client_credentials',
    tokenUrl: 'https://auth.example.com/token',
  });
}

describe('Class: RefreshEngine, the precise run', () => {
  let clock: FakeClock;
  let state: FakeStateTable;
  let provider: ScriptedProvider;
  let scheduler: FakeNextRunScheduler;
  let withScheduler: RefreshEngine;
  /** The same ports without a scheduler: an operator's CLI refresh. */
  let withoutScheduler: RefreshEngine;

  beforeEach(() => {
    clock = new FakeClock();
    const secrets = new FakeSecrets();
    secrets.seed(FakeTokenStore.secretId('acme'), { status: 'pending' });
    secrets.seed(FakeCredentialsStore.secretId('acme'), { clientId: 'c', clientSecret: 's' });
    state = new FakeStateTable();
    provider = new ScriptedProvider();
    scheduler = new FakeNextRunScheduler();
    const parts = {
      tokens: new FakeTokenStore(secrets),
      credentials: new FakeCredentialsStore(secrets),
      state,
      providerFor: () => provider,
      clock,
      metrics: new RecordingMetrics(),
      logger: new RecordingLogger(),
      random: () => 0.5,
    };
    withScheduler = new RefreshEngine({ ...parts, scheduler });
    withoutScheduler = new RefreshEngine(parts);
  });

  /** Every time the precise run was armed for, in order. */
  const armed = () => scheduler.calls.map((call) => call.at);
  const run = (engine = withScheduler, precise = false, force = false) =>
    engine.refresh({ config: config(), remainingTimeMs: 60_000, precise, force });
  /** 1 h tokens with the default 5 min lead: due 55 min after issue. */
  const DUE_AFTER_MS = 55 * 60_000;

  it('refreshes a precise run that arrives up to 5 s early, and not one that arrives 5.001 s early', async () => {
    // Prepare
    await run();
    const dueAt = clock.now() + DUE_AFTER_MS;

    // Act
    clock.current = dueAt - EARLY_RUN_TOLERANCE_MS - 1;
    const tooEarly = await run(withScheduler, true);
    clock.current = dueAt - EARLY_RUN_TOLERANCE_MS;
    const early = await run(withScheduler, true);

    // Assess
    expect(tooEarly).toMatchObject({ status: 'fresh', reason: 'not-due' });
    expect(early).toMatchObject({ status: 'refreshed', generation: 2 });
    expect(provider.requests).toHaveLength(2);
  });

  it('arms the precise run with the refresh and records it, so recurring not-due ticks make no scheduler call', async () => {
    // Prepare
    await run();
    const dueAt = clock.now() + DUE_AFTER_MS;

    // Act: ten recurring ticks, 5 minutes apart, all before the due time.
    for (let tick = 0; tick < 10; tick += 1) {
      clock.advance(5 * 60_000);
      await run();
    }

    // Assess
    expect(armed()).toEqual([dueAt]);
    expect(state.items.get('acme')?.preciseRunFor).toBe(dueAt);
    expect(state.calls.filter((call) => call === 'recordPreciseRun')).toHaveLength(0);
  });

  it('re-arms at the new due time after a refresh made without a scheduler (an operator CLI run)', async () => {
    // Prepare: armed for the first token; then the CLI forces a new token 10 min later.
    await run();
    clock.advance(10 * 60_000);
    await run(withoutScheduler, false, true);
    const newDueAt = clock.now() + DUE_AFTER_MS;

    // Act: the old precise run arrives (at the first token's due time: early for the new one), then a tick.
    clock.advance(DUE_AFTER_MS - 10 * 60_000);
    const stalePrecise = await run(withScheduler, true);
    clock.advance(60_000);
    await run();

    // Assess: one re-arming, at the new due time, recorded; the tick after it makes no call.
    expect(stalePrecise).toMatchObject({ status: 'fresh', reason: 'not-due' });
    expect(armed().slice(1)).toEqual([newDueAt]);
    expect(state.items.get('acme')?.preciseRunFor).toBe(newDueAt);
  });

  it('re-arms at the next not-due run when arming failed with the refresh', async () => {
    // Prepare
    scheduler.failNext = true;
    await run();
    const dueAt = clock.now() + DUE_AFTER_MS;
    expect(state.items.get('acme')?.preciseRunFor).toBeUndefined();

    // Act
    clock.advance(5 * 60_000);
    await run();
    clock.advance(5 * 60_000);
    await run();

    // Assess
    expect(armed()).toEqual([dueAt]);
    expect(state.items.get('acme')?.preciseRunFor).toBe(dueAt);
  });

  it('re-arms a precise run that came early beyond the tolerance, late by as much as it was early', async () => {
    // Prepare: the scheduler's clock is 20 s ahead of ours.
    await run();
    const dueAt = clock.now() + DUE_AFTER_MS;
    clock.current = dueAt - 20_000;

    // Act
    const early = await run(withScheduler, true);

    // Assess: armed 20 s after the due time, which the same skew brings back to the due time.
    expect(early).toMatchObject({ status: 'fresh', reason: 'not-due' });
    expect(armed()).toEqual([dueAt, dueAt + 20_000]);
    expect(state.items.get('acme')?.preciseRunFor).toBe(dueAt);
  });

  it('retries a failed refresh of a 60 s token before the token expires, and the retry refreshes it in time', async () => {
    // Prepare: a 60 s token (lead 30 s); the refresh at its due time meets a 503.
    provider.answerNext(() => ({ accessToken: 'sixty', tokenType: 'Bearer', expiresInSeconds: 60 }));
    await run();
    const expiresAt = clock.now() + 60_000;
    clock.advance(30_000);
    provider.answerNext(() => {
      throw new ProviderError('Token endpoint answered HTTP 503', 'http_503', 'transient', { status: 503 });
    });

    // Act
    const failed = await run(withScheduler, true);
    clock.current = Date.parse(failed.status === 'failed' ? (failed.retryAt ?? '') : '');
    const retried = await run(withScheduler, true);

    // Assess: the retry comes while the token still has 15 s left, armed as the precise run.
    expect(failed).toMatchObject({ status: 'failed', code: 'http_503' });
    expect(expiresAt - clock.now()).toBe(15_000);
    expect(armed().at(-2)).toBe(clock.now());
    expect(retried).toMatchObject({ status: 'refreshed' });
  });

  it('never re-arms a precise run later than halfway from the due time to the expiry', async () => {
    // Prepare: a run 10 min early (a wildly skewed scheduler); the lead is 5 min.
    await run();
    const dueAt = clock.now() + DUE_AFTER_MS;
    clock.current = dueAt - 10 * 60_000;

    // Act
    await run(withScheduler, true);

    // Assess
    expect(armed()).toEqual([dueAt, dueAt + 150_000]);
  });
});
