import { beforeEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { RefreshEngine } from '../../../functions/core/engine.js';
import { ProviderError, StoreError } from '../../../functions/core/errors.js';
import type { RefreshTrigger } from '../../../functions/core/ports.js';
import { TokenReader, TokenUnavailableError } from '../../../functions/core/read.js';
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

function config(): ProviderConfig {
  return providerConfigSchema.parse({
    name: 'acme',
    grant: 'client_credentials',
    tokenUrl: 'https://auth.example.com/token',
  });
}

/** The engine over fakes, as the read function's trigger; counts what it was asked. */
class EngineTrigger implements RefreshTrigger {
  readonly requests: { provider: string; onDemand: { rejectedTokenSha256?: string } }[] = [];
  constructor(readonly engine: RefreshEngine) {}
  async refresh(input: Parameters<RefreshTrigger['refresh']>[0]): Promise<RefreshResult> {
    this.requests.push({ provider: input.provider, onDemand: input.onDemand });
    return this.engine.refresh({ config: config(), onDemand: input.onDemand, remainingTimeMs: 60_000 });
  }
}

describe('Class: TokenReader', () => {
  let clock: FakeClock;
  let secrets: FakeSecrets;
  let tokens: FakeTokenStore;
  let provider: ScriptedProvider;
  let engine: RefreshEngine;
  let trigger: EngineTrigger;
  let logger: RecordingLogger;
  let reader: TokenReader;
  let slept: number[];

  const tokenReads = () => secrets.calls.filter((call) => call === 'read test/acme/token').length;

  beforeEach(() => {
    clock = new FakeClock();
    secrets = new FakeSecrets();
    tokens = new FakeTokenStore(secrets);
    provider = new ScriptedProvider();
    logger = new RecordingLogger();
    slept = [];
    secrets.seed(FakeTokenStore.secretId('acme'), { status: 'pending' });
    secrets.seed(FakeCredentialsStore.secretId('acme'), { clientId: 'c', clientSecret: 's' });
    engine = new RefreshEngine({
      tokens,
      credentials: new FakeCredentialsStore(secrets),
      state: new FakeStateTable(),
      providerFor: () => provider,
      clock,
      metrics: new RecordingMetrics(),
      logger: new RecordingLogger(),
      random: () => 0.5,
    });
    trigger = new EngineTrigger(engine);
    reader = new TokenReader({
      tokens,
      trigger,
      clock,
      logger,
      sleep: async (ms) => {
        slept.push(ms);
        clock.advance(ms);
      },
    });
  });

  describe('Method: get', () => {
    it('waits for the first token when nothing was refreshed yet, through one on-demand refresh', async () => {
      // Act
      const served = await reader.get('acme');

      // Assess
      expect(served).toEqual({
        provider: 'acme',
        accessToken: 'access-token-1',
        tokenType: 'Bearer',
        expiresAt: new Date(clock.now() + 3600_000).toISOString(),
        expiresIn: 3600,
      });
      expect(trigger.requests).toEqual([{ provider: 'acme', onDemand: {} }]);
      expect(provider.requests).toHaveLength(1);
    });

    it('reads the token secret once per generation, however many reads and however concurrent', async () => {
      // Prepare
      await engine.refresh({ config: config(), remainingTimeMs: 60_000 });
      secrets.calls.length = 0;

      // Act: 100 concurrent reads, then 1,000 more over the next 50 minutes.
      await Promise.all(Array.from({ length: 100 }, () => reader.get('acme')));
      for (let i = 0; i < 1000; i += 1) {
        clock.advance(3_000);
        await reader.get('acme');
      }

      // Assess
      expect(tokenReads()).toBe(1);
      expect(trigger.requests).toHaveLength(0);
    });

    it('reads again once the cache margin (30 s before expiry) is reached, and serves the new token', async () => {
      // Prepare
      await engine.refresh({ config: config(), remainingTimeMs: 60_000 });
      await reader.get('acme');
      clock.advance(56 * MINUTE);
      await engine.refresh({ config: config(), remainingTimeMs: 60_000 });

      // Act
      const beforeMargin = await reader.get('acme');
      clock.advance(3.5 * MINUTE);
      const afterMargin = await reader.get('acme');

      // Assess
      expect(beforeMargin.accessToken).toBe('access-token-1');
      expect(afterMargin.accessToken).toBe('access-token-2');
    });

    it('never serves an expired token: an expired stored token triggers an on-demand refresh', async () => {
      // Prepare: a token that the refresher did not replace (its schedule stopped) and that expired.
      await engine.refresh({ config: config(), remainingTimeMs: 60_000 });
      clock.advance(61 * MINUTE);

      // Act
      const served = await reader.get('acme');

      // Assess
      expect(served.accessToken).toBe('access-token-2');
      expect(served.expiresIn).toBe(3600);
    });

    it('answers 503 with Retry-After and the error code when no token exists and the refresh fails', async () => {
      // Prepare
      provider.answerNext(() => {
        throw new ProviderError('HTTP 503', 'http_503', 'transient', { status: 503 });
      });

      // Act
      const failure = await reader.get('acme').catch((error: unknown) => error);

      // Assess
      expect(failure).toBeInstanceOf(TokenUnavailableError);
      expect(failure).toMatchObject({ status: 503, code: 'refresh_failed', retryAfterSeconds: 23 });
      expect((failure as Error).message).toContain('http_503');
    });

    it('serves the cached token while it is valid when the token secret cannot be read', async () => {
      // Prepare
      await engine.refresh({ config: config(), remainingTimeMs: 60_000 });
      await reader.get('acme');
      clock.advance(59 * MINUTE + 40_000);
      const readCurrent = tokens.readCurrent.bind(tokens);
      tokens.readCurrent = async () => {
        throw new StoreError('throttled', 'secrets_manager_unavailable', 'transient');
      };

      // Act
      const served = await reader.get('acme');
      clock.advance(20_000);
      const failure = await reader.get('acme').catch((error: unknown) => error);
      tokens.readCurrent = readCurrent;

      // Assess: 20 s left → cached copy served; then it is expired → 503, never the expired token.
      expect(served).toMatchObject({ accessToken: 'access-token-1', expiresIn: 20 });
      expect(failure).toMatchObject({ status: 503, code: 'store_unavailable' });
    });

    it('polls the token secret while another refresh holds the lease and serves its token', async () => {
      // Prepare: another holder has the lease; it writes its token after 300 ms of polling.
      const state = new FakeStateTable();
      const busyEngine = new RefreshEngine({
        tokens,
        credentials: new FakeCredentialsStore(secrets),
        state,
        providerFor: () => provider,
        clock,
        metrics: new RecordingMetrics(),
        logger: new RecordingLogger(),
      });
      await state.acquire({
        provider: 'acme',
        owner: 'other',
        now: clock.now(),
        leaseExpiresAt: clock.now() + MINUTE,
      });
      const polling = new TokenReader({
        tokens,
        trigger: {
          refresh: (input) =>
            busyEngine.refresh({ config: config(), onDemand: input.onDemand, remainingTimeMs: 60_000 }),
        },
        clock,
        logger,
        sleep: async (ms) => {
          slept.push(ms);
          clock.advance(ms);
          if (slept.length === 2) {
            const { versionId } = await tokens.readCurrent('acme');
            await tokens.write({
              provider: 'acme',
              fence: 1,
              token: {
                provider: 'acme',
                accessToken: 'from-other-holder',
                tokenType: 'Bearer',
                issuedAt: new Date(clock.now()).toISOString(),
                expiresAt: new Date(clock.now() + 3600_000).toISOString(),
                generation: 1,
              },
              expectedVersionId: versionId,
            });
          }
        },
      });

      // Act
      const served = await polling.get('acme');

      // Assess
      expect(served.accessToken).toBe('from-other-holder');
      expect(slept).toEqual([100, 200]);
      expect(provider.requests).toHaveLength(0);
    });

    it('gives up polling at the wait bound with 503 token_unavailable', async () => {
      // Prepare
      const state = new FakeStateTable();
      await state.acquire({
        provider: 'acme',
        owner: 'other',
        now: clock.now(),
        leaseExpiresAt: clock.now() + MINUTE,
      });
      const stuck = new RefreshEngine({
        tokens,
        credentials: new FakeCredentialsStore(secrets),
        state,
        providerFor: () => provider,
        clock,
        metrics: new RecordingMetrics(),
        logger: new RecordingLogger(),
      });
      const bounded = new TokenReader({
        tokens,
        trigger: {
          refresh: (input) =>
            stuck.refresh({ config: config(), onDemand: input.onDemand, remainingTimeMs: 60_000 }),
        },
        clock,
        logger,
        refreshWaitMs: 5_000,
        sleep: async (ms) => {
          slept.push(ms);
          clock.advance(ms);
        },
      });

      // Act
      const failure = await bounded.get('acme').catch((error: unknown) => error);

      // Assess
      expect(failure).toMatchObject({ status: 503, code: 'token_unavailable', retryAfterSeconds: 2 });
      expect(slept.reduce((sum, ms) => sum + ms, 0)).toBeLessThanOrEqual(5_000);
    });
  });

  describe('Method: refreshRejected', () => {
    it('refreshes once when many callers report the same current token', async () => {
      // Prepare
      await engine.refresh({ config: config(), remainingTimeMs: 60_000 });
      clock.advance(2 * MINUTE);
      const refused = sha256Hex('access-token-1');

      // Act: two containers, 50 concurrent reports each.
      const other = new TokenReader({ tokens, trigger, clock, logger });
      const served = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          (i % 2 === 0 ? reader : other).refreshRejected('acme', refused),
        ),
      );

      // Assess
      expect(provider.requests).toHaveLength(2);
      expect(new Set(served.map((token) => token.accessToken))).toEqual(new Set(['access-token-2']));
    });

    it('returns the current token without a refresh when the reported token was already replaced', async () => {
      // Prepare
      await engine.refresh({ config: config(), remainingTimeMs: 60_000 });
      clock.advance(2 * MINUTE);
      await engine.refresh({ config: config(), force: true, remainingTimeMs: 60_000 });

      // Act
      const served = await reader.refreshRejected('acme', sha256Hex('access-token-1'));

      // Assess
      expect(served.accessToken).toBe('access-token-2');
      expect(trigger.requests).toHaveLength(0);
      expect(provider.requests).toHaveLength(2);
    });

    it('answers 429 with Retry-After when the refused token is younger than onDemandRefreshInterval', async () => {
      // Prepare
      await engine.refresh({ config: config(), remainingTimeMs: 60_000 });
      clock.advance(15_000);

      // Act
      const failure = await reader
        .refreshRejected('acme', sha256Hex('access-token-1'))
        .catch((error: unknown) => error);

      // Assess
      expect(failure).toMatchObject({ status: 429, code: 'refresh_rate_limited', retryAfterSeconds: 45 });
      expect(provider.requests).toHaveLength(1);
    });

    it('drops a refused token from the cache so the next get does not serve it', async () => {
      // Prepare
      await engine.refresh({ config: config(), remainingTimeMs: 60_000 });
      await reader.get('acme');
      clock.advance(2 * MINUTE);

      // Act
      await reader.refreshRejected('acme', sha256Hex('access-token-1'));
      const next = await reader.get('acme');

      // Assess
      expect(next.accessToken).toBe('access-token-2');
    });

    it('never logs the token it serves or the hash it was given', async () => {
      // Prepare
      await engine.refresh({ config: config(), remainingTimeMs: 60_000 });
      clock.advance(2 * MINUTE);
      const refused = sha256Hex('access-token-1');

      // Act
      await reader.refreshRejected('acme', refused);
      await reader.get('acme');

      // Assess
      const logged = JSON.stringify(logger.lines);
      expect(logged).not.toContain('access-token-');
      expect(logged).not.toContain(refused);
    });
  });
});
