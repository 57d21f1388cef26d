/**
 * The engine with the real refresh_token provider and its real response parser (issue 11): a 2xx
 * answer that rotated the refresh token is stored before anything else is judged, and a call whose
 * outcome is unknown is never replayed automatically. Only the token endpoint is faked (a fetch).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { RefreshEngine } from '../../../functions/core/engine.js';
import { METRIC_NAMES } from '../../../functions/core/ports.js';
import { RefreshTokenProvider } from '../../../functions/providers/refresh-token.js';
import type { FetchFunction } from '../../../functions/providers/transport.js';
import {
  FakeClock,
  FakeCredentialsStore,
  FakeSecrets,
  FakeStateTable,
  FakeTokenStore,
  RecordingEvents,
  RecordingLogger,
  RecordingMetrics,
} from './fakes.js';

const SPENT = 'refresh-token-spent-0001';
const ROTATED = 'refresh-token-rotated-0002';
const CLIENT_SECRET = 'client-secret-rotation-0003';

function config(overrides: Record<string, unknown> = {}): ProviderConfig {
  return providerConfigSchema.parse({
    name: 'acme',
    grant: 'refresh_token',
    tokenUrl: 'https://auth.example.com/token',
    ...overrides,
  });
}

describe('Class: RefreshEngine, with the real refresh_token provider', () => {
  let clock: FakeClock;
  let secrets: FakeSecrets;
  let tokens: FakeTokenStore;
  let credentials: FakeCredentialsStore;
  let state: FakeStateTable;
  let metrics: RecordingMetrics;
  let logger: RecordingLogger;
  let events: RecordingEvents;
  /** What the token endpoint does with the next request. */
  let answer: (body: URLSearchParams) => Promise<Response>;
  /** Refresh tokens the endpoint received, in order. */
  let sent: string[];
  let engine: RefreshEngine;

  beforeEach(() => {
    clock = new FakeClock();
    secrets = new FakeSecrets();
    tokens = new FakeTokenStore(secrets);
    credentials = new FakeCredentialsStore(secrets);
    state = new FakeStateTable();
    metrics = new RecordingMetrics();
    logger = new RecordingLogger();
    events = new RecordingEvents();
    sent = [];
    secrets.seed(FakeTokenStore.secretId('acme'), { status: 'pending' });
    secrets.seed(FakeCredentialsStore.secretId('acme'), {
      clientId: 'client-1',
      clientSecret: CLIENT_SECRET,
      refreshToken: SPENT,
    });
    const fetch: FetchFunction = async (_url, init) => {
      const body = new URLSearchParams(String(init?.body));
      sent.push(body.get('refresh_token') ?? '');
      return answer(body);
    };
    engine = new RefreshEngine({
      tokens,
      credentials,
      state,
      providerFor: (entry) =>
        new RefreshTokenProvider(entry as Extract<ProviderConfig, { grant: 'refresh_token' }>, {
          clock,
          fetch,
        }),
      clock,
      metrics,
      logger,
      events,
      random: () => 0.5,
      sleep: async (ms) => clock.advance(ms),
    });
  });

  const json = (body: unknown, status = 200) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const run = (force = false) => engine.refresh({ config: config(), remainingTimeMs: 60_000, force });

  describe('an answer that rotated the refresh token but is unusable otherwise', () => {
    it.each([
      ['expires_in 0', { expires_in: 0 }, 'invalid_lifetime', false],
      ['a negative expires_in', { expires_in: -30 }, 'invalid_lifetime', false],
      ['an expires_in over one year', { expires_in: 40_000_000 }, 'invalid_lifetime', false],
      ['a non-numeric string expires_in', { expires_in: 'soon' }, 'invalid_lifetime', false],
      ['a non-string scope', { expires_in: 3600, scope: 42 }, 'malformed_response', false],
      ['an unsupported token_type', { expires_in: 3600, token_type: 'mac' }, 'unsupported_token_type', true],
    ])(
      'stores the rotated refresh token first, then records the failure (%s)',
      async (_case, fields, code, permanent) => {
        // Prepare
        answer = async () =>
          json({ access_token: 'access-unusable', token_type: 'Bearer', refresh_token: ROTATED, ...fields });

        // Act
        const result = await run();

        // Assess: the spent refresh token is gone from the secret, no access token was stored.
        expect(result).toMatchObject({ status: 'failed', code, permanent, attempted: true });
        expect(credentials.credentials('acme').refreshToken).toBe(ROTATED);
        expect(tokens.token('acme')).toBeUndefined();
        expect(logger.text()).not.toContain(ROTATED);
        expect(logger.text()).not.toContain('access-unusable');
      },
    );

    it('sends the rotated refresh token, not the spent one, at the next attempt', async () => {
      // Prepare
      answer = async () => json({ access_token: 'a0', refresh_token: ROTATED, expires_in: 0 });
      await run();
      answer = async () =>
        json({ access_token: 'a1', refresh_token: 'refresh-token-third', expires_in: 3600 });

      // Act: after the backoff (30 s × 2⁰ with equal jitter at 0.5 = 22.5 s).
      clock.advance(23_000);
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'refreshed', refreshTokenRotated: true });
      expect(sent).toEqual([SPENT, ROTATED]);
      expect(credentials.credentials('acme').refreshToken).toBe('refresh-token-third');
    });

    it('writes no credentials when the unusable answer sends back the same refresh token', async () => {
      // Prepare
      answer = async () => json({ access_token: 'a0', refresh_token: SPENT, expires_in: 0 });

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'failed', code: 'invalid_lifetime' });
      expect(credentials.writes).toHaveLength(0);
    });
  });

  describe('a call whose outcome is unknown', () => {
    const timeout = async (): Promise<Response> => {
      throw new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    };

    it('records rotation_outcome_unknown, permanent, and publishes needs-reauthorization once', async () => {
      // Prepare
      answer = timeout;

      // Act
      const result = await run();

      // Assess
      expect(result).toMatchObject({
        status: 'failed',
        code: 'rotation_outcome_unknown',
        permanent: true,
        attempted: true,
      });
      expect(events.published).toEqual([
        expect.objectContaining({
          type: 'needs-reauthorization',
          provider: 'acme',
          errorCode: 'rotation_outcome_unknown',
        }),
      ]);
      expect(metrics.values(METRIC_NAMES.refreshFailedPermanent)).toEqual([1]);
      expect(credentials.credentials('acme').refreshToken).toBe(SPENT);
    });

    it('never replays the refresh token on its own: unforced runs make no call, a forced run makes one', async () => {
      // Prepare
      answer = timeout;
      await run();
      answer = async () => json({ access_token: 'a1', refresh_token: ROTATED, expires_in: 3600 });

      // Act: the schedule keeps ticking for an hour, then an operator forces a refresh.
      const ticks = [];
      for (let minute = 5; minute <= 60; minute += 5) {
        clock.advance(5 * 60_000);
        ticks.push(await run());
      }
      const forced = await run(true);

      // Assess
      expect(sent).toEqual([SPENT, SPENT]);
      expect(ticks.every((tick) => tick.status === 'failed' && !tick.attempted)).toBe(true);
      // The permanent-failure metric keeps the alarm up while the provider is blocked.
      expect(metrics.values(METRIC_NAMES.refreshFailedPermanent)).toHaveLength(1 + ticks.length);
      expect(forced).toMatchObject({ status: 'refreshed', refreshTokenRotated: true });
    });

    it('keeps a connection reset after sending unknown, but a refused connection stays a transient network error', async () => {
      // Prepare
      const failing = (code: string) => async (): Promise<Response> => {
        throw new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) });
      };

      // Act
      answer = failing('ECONNRESET');
      const reset = await run();
      answer = failing('ECONNREFUSED');
      const refused = await run(true);

      // Assess
      expect(reset).toMatchObject({ code: 'rotation_outcome_unknown', permanent: true });
      expect(refused).toMatchObject({ code: 'network_error', permanent: false });
    });

    it('counts consecutive failures in the ConsecutiveFailures metric and never emits it on success', async () => {
      // Prepare
      answer = async () => json({ error: 'temporarily_unavailable' }, 503);

      // Act
      await run();
      clock.advance(60_000);
      await run();
      answer = async () => json({ access_token: 'a1', expires_in: 3600 });
      clock.advance(120_000);
      const result = await run();

      // Assess
      expect(result).toMatchObject({ status: 'refreshed' });
      expect(metrics.values(METRIC_NAMES.consecutiveFailures)).toEqual([1, 2]);
      expect(metrics.values(METRIC_NAMES.refreshFailedPermanent)).toEqual([]);
    });
  });
});
