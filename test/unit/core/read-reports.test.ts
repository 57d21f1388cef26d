/**
 * Reports of a refused token on the read path (issue #15): a report that names a token other than the
 * cached one is answered from the cache (finding 6); a refusal is remembered until its retry time, so
 * that repeated reports cost no refresh invocation and no secret read (finding 3); a container whose
 * refresh loses the lease answers at once instead of polling into a 503 (finding 4); and one caller
 * gets only its share of the provider's on-demand refreshes.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { RefreshEngine } from '../../../functions/core/engine.js';
import { ProviderError } from '../../../functions/core/errors.js';
import { IN_FLIGHT_RETRY_MS } from '../../../functions/core/on-demand-gate.js';
import type { RefreshTrigger } from '../../../functions/core/ports.js';
import { IN_FLIGHT_PAUSE_MS, TokenReader, TokenUnavailableError } from '../../../functions/core/read.js';
import { sha256Hex } from '../../../functions/core/token-hash.js';
import type { RefreshResult } from '../../../functions/core/types.js';
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

function config(overrides: Record<string, unknown> = {}): ProviderConfig {
  return providerConfigSchema.parse({
    name: 'acme',
    grant: 'client_credentials',
    tokenUrl: 'https://auth.example.com/token',
    ...overrides,
  });
}

/** The engine over fakes, as the read function's trigger; counts the invocations. */
class EngineTrigger implements RefreshTrigger {
  readonly requests: { provider: string; onDemand: { rejectedTokenSha256?: string } }[] = [];
  constructor(
    readonly engine: RefreshEngine,
    readonly cfg: ProviderConfig,
  ) {}
  async refresh(input: Parameters<RefreshTrigger['refresh']>[0]): Promise<RefreshResult> {
    this.requests.push({ provider: input.provider, onDemand: input.onDemand });
    return this.engine.refresh({ config: this.cfg, onDemand: input.onDemand, remainingTimeMs: 60_000 });
  }
}

/** What a report ended with: the token served, or the refusal's status, code and Retry-After. */
async function outcome(report: Promise<unknown>): Promise<unknown> {
  try {
    const served = (await report) as { accessToken: string };
    return { status: 200, accessToken: served.accessToken };
  } catch (error) {
    if (!(error instanceof TokenUnavailableError)) throw error;
    return { status: error.status, code: error.code, retryAfterSeconds: error.retryAfterSeconds };
  }
}

describe('Class: TokenReader (reports of a refused token)', () => {
  let clock: FakeClock;
  let secrets: FakeSecrets;
  let tokens: FakeTokenStore;
  let state: FakeStateTable;
  let provider: ScriptedProvider;
  let engine: RefreshEngine;
  let slept: number[];

  const tokenReads = () => secrets.calls.filter((call) => call === 'read test/acme/token').length;
  const current = () => tokens.token('acme')?.accessToken ?? 'none';
  const hashOf = sha256Hex;

  /** A read function container: its own reader (cache, holds), the engine as its trigger. */
  const container = (options: { cfg?: ProviderConfig; withConfig?: boolean } = {}) => {
    const cfg = options.cfg ?? config();
    const trigger = new EngineTrigger(engine, cfg);
    const reader = new TokenReader({
      tokens,
      trigger,
      clock,
      logger: new RecordingLogger(),
      sleep: async (ms) => {
        slept.push(ms);
        clock.advance(ms);
      },
      ...(options.withConfig === false ? {} : { providers: [cfg] }),
    });
    return { reader, trigger };
  };

  beforeEach(async () => {
    clock = new FakeClock();
    secrets = new FakeSecrets();
    tokens = new FakeTokenStore(secrets);
    state = new FakeStateTable();
    provider = new ScriptedProvider();
    slept = [];
    secrets.seed(FakeTokenStore.secretId('acme'), { status: 'pending' });
    secrets.seed(FakeCredentialsStore.secretId('acme'), { clientId: 'c', clientSecret: 's' });
    engine = new RefreshEngine({
      tokens,
      credentials: new FakeCredentialsStore(secrets),
      state,
      providerFor: () => provider,
      clock,
      metrics: new RecordingMetrics(),
      logger: new RecordingLogger(),
      random: () => 0.5,
    });
    await engine.refresh({ config: config(), remainingTimeMs: 60_000 });
  });

  describe('finding 6: a report of a token other than the cached one', () => {
    it('is answered from the cache: 1,000 reports with unknown hashes read the token secret once', async () => {
      // Prepare: the container has the current token cached.
      const { reader, trigger } = container();
      secrets.calls.length = 0;
      await reader.get('acme');

      // Act
      const served = [];
      for (let i = 0; i < 1000; i += 1) {
        served.push(await reader.refreshRejected('acme', hashOf(`some-other-token-${i}`)));
      }

      // Assess
      expect(new Set(served.map((token) => token.accessToken))).toEqual(new Set(['access-token-1']));
      expect(tokenReads()).toBe(1);
      expect(trigger.requests).toHaveLength(0);
    });

    it('still reads the secret when the report names the cached token', async () => {
      // Prepare
      const { reader } = container();
      await reader.get('acme');
      clock.advance(2 * MINUTE);
      secrets.calls.length = 0;

      // Act
      const served = await reader.refreshRejected('acme', hashOf('access-token-1'));

      // Assess
      expect(served.accessToken).toBe('access-token-2');
      expect(tokenReads()).toBeGreaterThanOrEqual(1);
    });
  });

  describe('finding 3: the reader remembers a refusal until its retry time', () => {
    it("holds the engine's throttle: more reports cost no invocation and no secret read until retryAt", async () => {
      // Prepare: a reader without the config, so the engine is the one that throttles.
      const { reader, trigger } = container({ withConfig: false });
      clock.advance(15_000);
      const first = await outcome(reader.refreshRejected('acme', hashOf('access-token-1')));
      const invoked = trigger.requests.length;
      secrets.calls.length = 0;
      state.calls.length = 0;

      // Act: one report a second until the retry time.
      const held = [];
      for (let i = 0; i < 44; i += 1) {
        clock.advance(1_000);
        held.push(await outcome(reader.refreshRejected('acme', hashOf('access-token-1'))));
      }
      const whileHeld = { tokenReads: tokenReads(), stateCalls: state.calls.length };
      clock.advance(1_000);
      const after = await outcome(reader.refreshRejected('acme', hashOf('access-token-1')));

      // Assess
      expect(first).toEqual({ status: 429, code: 'refresh_rate_limited', retryAfterSeconds: 45 });
      expect(held.every((entry) => (entry as { status: number }).status === 429)).toBe(true);
      expect(held.at(-1)).toEqual({ status: 429, code: 'refresh_rate_limited', retryAfterSeconds: 1 });
      expect(whileHeld).toEqual({ tokenReads: 0, stateCalls: 0 });
      expect(trigger.requests.length - invoked).toBe(1); // only the report after the retry time
      expect(after).toEqual({ status: 200, accessToken: 'access-token-2' });
    });

    it('refuses a report of a too young token itself when it has the config: no invocation at all', async () => {
      // Prepare
      const { reader, trigger } = container();
      clock.advance(20_000);
      secrets.calls.length = 0;

      // Act
      const results = [];
      for (let i = 0; i < 10; i += 1) {
        results.push(await outcome(reader.refreshRejected('acme', hashOf('access-token-1'))));
        clock.advance(1_000);
      }

      // Assess
      expect(results[0]).toEqual({ status: 429, code: 'refresh_rate_limited', retryAfterSeconds: 40 });
      expect(results[9]).toEqual({ status: 429, code: 'refresh_rate_limited', retryAfterSeconds: 31 });
      expect(trigger.requests).toHaveLength(0);
      expect(tokenReads()).toBe(1);
    });

    it('holds a spent budget, and reads the secret again only once the token is due, to serve its replacement', async () => {
      // Prepare: the budget (default 4) spent by four reports, each of the then current token. Tokens
      // come due 10 min before expiry, so the 5th is due (58 min) before the budget frees (62 min).
      const cfg = config({ refreshBefore: '10m' });
      const { reader } = container({ cfg });
      for (let i = 0; i < 4; i += 1) {
        clock.advance(2 * MINUTE);
        await reader.refreshRejected('acme', hashOf(current()), `caller-${i}`);
      }
      clock.advance(2 * MINUTE);
      const spent = await outcome(reader.refreshRejected('acme', hashOf(current()), 'caller-4'));
      secrets.calls.length = 0;

      // Act: reports every 10 s for 60 minutes; the scheduled refresh replaces the token when it is due.
      const refused = current();
      let servedReplacement = false;
      let readerReads = 0;
      for (let i = 0; i < 360 && !servedReplacement; i += 1) {
        clock.advance(10_000);
        await engine.refresh({ config: cfg, remainingTimeMs: 60_000 });
        const before = tokenReads();
        const result = await outcome(reader.refreshRejected('acme', hashOf(refused), 'caller-4'));
        readerReads += tokenReads() - before;
        servedReplacement = (result as { status: number }).status === 200;
      }

      // Assess: no read before the token came due (50 min after its issue), one as it did.
      expect(spent).toMatchObject({ status: 429, code: 'refresh_rate_limited' });
      expect(servedReplacement).toBe(true);
      expect(current()).toBe('access-token-6');
      expect(readerReads).toBe(1);
    });

    it('holds a failed refresh until its retry time', async () => {
      // Prepare
      const { reader, trigger } = container();
      clock.advance(2 * MINUTE);
      provider.answerNext(() => {
        throw new ProviderError('HTTP 503', 'http_503', 'transient', { status: 503 });
      });
      const failed = await outcome(reader.refreshRejected('acme', hashOf('access-token-1')));

      // Act
      clock.advance(1_000);
      const again = await outcome(reader.refreshRejected('acme', hashOf('access-token-1')));

      // Assess
      expect(failed).toMatchObject({ status: 503, code: 'refresh_failed' });
      expect(again).toMatchObject({ status: 503, code: 'refresh_failed' });
      expect(trigger.requests).toHaveLength(1);
    });
  });

  describe('finding 4: a container whose refresh loses the lease', () => {
    const holdLease = () =>
      state.acquire({
        provider: 'acme',
        owner: 'other',
        now: clock.now(),
        leaseExpiresAt: clock.now() + MINUTE,
      });

    it('answers 429 with the true Retry-After at once when the holder keeps a young token: one secret read', async () => {
      // Prepare: 20 s after the refresh; another container holds the lease.
      const { reader } = container({ withConfig: false });
      clock.advance(20_000);
      await holdLease();
      secrets.calls.length = 0;

      // Act
      const result = await outcome(reader.refreshRejected('acme', hashOf('access-token-1')));

      // Assess: before, 20 s of polling (about 25 reads) and a 503 with Retry-After 2.
      expect(result).toEqual({ status: 429, code: 'refresh_rate_limited', retryAfterSeconds: 40 });
      expect(tokenReads()).toBe(1);
      expect(slept).toEqual([]);
    });

    it.each([
      { when: 'within the first pause', storesInPause: 1, reads: 2, waits: [IN_FLIGHT_PAUSE_MS] },
      {
        when: 'after the first pause, before the retry time',
        storesInPause: 2,
        reads: 3,
        waits: [IN_FLIGHT_PAUSE_MS, IN_FLIGHT_RETRY_MS - IN_FLIGHT_PAUSE_MS],
      },
    ])(
      'serves the new token when the holder stores it $when: $reads secret reads',
      async ({ storesInPause, reads, waits }) => {
        // Prepare: the holder is refreshing; it stores its token while this container pauses.
        clock.advance(2 * MINUTE);
        await holdLease();
        const storeHoldersToken = async () => {
          const { versionId } = await tokens.readCurrent('acme');
          await tokens.write({
            provider: 'acme',
            fence: 2,
            token: {
              provider: 'acme',
              accessToken: 'from-holder',
              tokenType: 'Bearer',
              issuedAt: new Date(clock.now()).toISOString(),
              expiresAt: new Date(clock.now() + 3600_000).toISOString(),
              generation: 2,
            },
            expectedVersionId: versionId,
          });
        };
        let holderReads = 0;
        const pausing = new TokenReader({
          tokens,
          trigger: new EngineTrigger(engine, config()),
          clock,
          logger: new RecordingLogger(),
          providers: [config()],
          sleep: async (ms) => {
            slept.push(ms);
            clock.advance(ms);
            if (slept.length !== storesInPause) return;
            const before = tokenReads();
            await storeHoldersToken();
            holderReads += tokenReads() - before;
          },
        });
        secrets.calls.length = 0;

        // Act
        const result = await outcome(pausing.refreshRejected('acme', hashOf('access-token-1')));

        // Assess
        expect(result).toEqual({ status: 200, accessToken: 'from-holder' });
        expect(slept).toEqual(waits);
        expect(tokenReads() - holderReads).toBe(reads);
      },
    );

    it('answers 429 refresh_in_progress when the new token is not there by the retry time: three secret reads, 2 s of waiting', async () => {
      // Prepare
      const { reader, trigger } = container();
      clock.advance(2 * MINUTE);
      await holdLease();
      secrets.calls.length = 0;

      // Act
      const result = await outcome(reader.refreshRejected('acme', hashOf('access-token-1')));
      const again = await outcome(reader.refreshRejected('acme', hashOf('access-token-1')));

      // Assess: the second report is held (no invocation, no read) until the retry time.
      expect(result).toEqual({ status: 429, code: 'refresh_in_progress', retryAfterSeconds: 2 });
      expect(again).toEqual({ status: 429, code: 'refresh_in_progress', retryAfterSeconds: 2 });
      expect(tokenReads()).toBe(3);
      expect(slept).toEqual([IN_FLIGHT_PAUSE_MS, IN_FLIGHT_RETRY_MS - IN_FLIGHT_PAUSE_MS]);
      expect(trigger.requests).toHaveLength(1);
    });
  });

  describe('the per-caller limit', () => {
    it("gives one caller half the provider's budget per container; other callers keep theirs", async () => {
      // Prepare: the default budget is 4, so a caller's share is 2.
      const { reader, trigger } = container();
      const results = [];

      // Act: caller A reports three times, each time the current token, 2 min apart; then caller B.
      for (let i = 0; i < 3; i += 1) {
        clock.advance(2 * MINUTE);
        results.push(await outcome(reader.refreshRejected('acme', hashOf(current()), 'caller-a')));
      }
      clock.advance(2 * MINUTE);
      const other = await outcome(reader.refreshRejected('acme', hashOf(current()), 'caller-b'));

      // Assess
      expect(results.map((entry) => (entry as { status: number }).status)).toEqual([200, 200, 429]);
      expect(results[2]).toEqual({
        status: 429,
        code: 'refresh_rate_limited',
        retryAfterSeconds: 60 * 60 - 4 * 60,
      });
      expect(other).toEqual({ status: 200, accessToken: 'access-token-4' });
      expect(trigger.requests).toHaveLength(3);
    });

    it('answers a caller that used its share from a hold that reads the secret at most every 5 s', async () => {
      // Prepare: caller A uses its share (2) on two refreshes; the token is then current and old enough.
      const { reader, trigger } = container();
      for (let i = 0; i < 2; i += 1) {
        clock.advance(2 * MINUTE);
        await reader.refreshRejected('acme', hashOf(current()), 'caller-a');
      }
      clock.advance(2 * MINUTE);
      const refused = current();
      secrets.calls.length = 0;

      // Act: 100 reports of that token, a second apart; after 50 s another container replaces it.
      const answers: string[] = [];
      for (let i = 0; i < 100; i += 1) {
        clock.advance(1_000);
        if (i === 50) await engine.refresh({ config: config(), force: true, remainingTimeMs: 60_000 });
        const result = (await outcome(reader.refreshRejected('acme', hashOf(refused), 'caller-a'))) as {
          status: number;
          code?: string;
        };
        answers.push(`${result.status} ${result.code ?? ''}`.trim());
      }

      // Assess: refused until the replacement was read (within 5 s), then served; one read per 5 s at most.
      const firstServed = answers.indexOf('200');
      expect(answers.slice(0, 50)).toEqual(Array.from({ length: 50 }, () => '429 refresh_rate_limited'));
      expect(firstServed).toBeGreaterThanOrEqual(50);
      expect(firstServed).toBeLessThan(55);
      expect(tokenReads() - 1).toBeLessThanOrEqual(Math.ceil(firstServed / 5) + 1); // one read was the engine's
      expect(trigger.requests).toHaveLength(2);
    });
  });
});
