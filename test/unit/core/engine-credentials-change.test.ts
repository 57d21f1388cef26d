/**
 * Credentials that take effect without a force (issue 16, item 5; `functions/core/credentials-change.ts`):
 * a permanent failure is lifted by a new version of the credentials secret, found when the run is
 * told of it (`credentialsChanged`) or, while blocked, at each scheduled run; never by a trigger alone.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { RefreshEngine } from '../../../functions/core/engine.js';
import { ProviderError, StoreError } from '../../../functions/core/errors.js';
import { METRIC_NAMES } from '../../../functions/core/ports.js';
import type { Credentials } from '../../../functions/core/types.js';
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

const MINUTE = 60_000;
const GOOD: Credentials = { clientId: 'client-1', clientSecret: 'good-secret-4c1e' };
const WRONG: Credentials = { clientId: 'client-1', clientSecret: 'wrong-secret-77ab' };
const CREDENTIALS_ID = FakeCredentialsStore.secretId('acme');

function config(overrides: Record<string, unknown> = {}): ProviderConfig {
  return providerConfigSchema.parse({
    name: 'acme',
    grant: 'client_credentials',
    tokenUrl: 'https://auth.example.com/token',
    ...overrides,
  });
}

/** A token endpoint that accepts the good client secret (and refresh tokens it issued) only. */
function checkingProvider(
  provider: ScriptedProvider,
  refuse: (credentials: Credentials) => string | undefined,
) {
  const requestToken = provider.requestToken.bind(provider);
  provider.requestToken = async (input) => {
    const code = refuse(input.credentials);
    if (code === undefined) return requestToken(input);
    provider.requests.push({ ...input.credentials });
    throw new ProviderError(code, code, 'permanent', { status: 400 });
  };
  return provider;
}

describe('Class: RefreshEngine — credentials changes', () => {
  let clock: FakeClock;
  let secrets: FakeSecrets;
  let credentials: FakeCredentialsStore;
  let state: FakeStateTable;
  let provider: ScriptedProvider;
  let metrics: RecordingMetrics;
  let logger: RecordingLogger;
  let events: RecordingEvents;
  let engine: RefreshEngine;

  beforeEach(() => {
    clock = new FakeClock();
    secrets = new FakeSecrets();
    credentials = new FakeCredentialsStore(secrets);
    state = new FakeStateTable();
    metrics = new RecordingMetrics();
    logger = new RecordingLogger();
    events = new RecordingEvents();
    provider = checkingProvider(new ScriptedProvider(), (used) =>
      used.clientSecret === GOOD.clientSecret ? undefined : 'invalid_client',
    );
    secrets.seed(FakeTokenStore.secretId('acme'), { status: 'pending' });
    engine = new RefreshEngine({
      tokens: new FakeTokenStore(secrets),
      credentials,
      state,
      providerFor: () => provider,
      clock,
      metrics,
      logger,
      events,
      random: () => 0.5,
      sleep: async () => {},
    });
  });

  const run = (options: { credentialsChanged?: boolean; force?: boolean; cfg?: ProviderConfig } = {}) =>
    engine.refresh({
      config: options.cfg ?? config(),
      remainingTimeMs: 60_000,
      ...(options.credentialsChanged ? { credentialsChanged: true } : {}),
      ...(options.force ? { force: true } : {}),
    });

  /** The AWS-side calls of one run: state table and secrets, in order. */
  const callsOf = async (act: () => Promise<unknown>) => {
    state.calls.length = 0;
    secrets.calls.length = 0;
    await act();
    return { state: [...state.calls], secrets: [...secrets.calls] };
  };

  /** A provider blocked by `invalid_client`, refused with the wrong client secret. */
  const blockedByInvalidClient = async () => {
    const wrongVersion = secrets.seed(CREDENTIALS_ID, WRONG);
    const failed = await run();
    expect(failed).toMatchObject({ status: 'failed', code: 'invalid_client', permanent: true });
    clock.advance(5 * MINUTE);
    return wrongVersion;
  };

  describe('Method: refresh (the permanent failure records the credentials it tried)', () => {
    it('records the version of the refused credentials with the permanent failure', async () => {
      // Act
      const wrongVersion = await blockedByInvalidClient();

      // Assess
      expect(state.items.get('acme')).toMatchObject({
        lastErrorCode: 'invalid_client',
        lastErrorPermanent: true,
        credentialsVersionId: wrongVersion,
      });
    });

    it('records the version that holds the placeholder when the credentials are not set', async () => {
      // Prepare
      const placeholder = secrets.seed(CREDENTIALS_ID, { status: 'pending' });

      // Act
      const failed = await run();

      // Assess
      expect(failed).toMatchObject({ code: 'credentials_not_set', permanent: true });
      expect(state.items.get('acme')?.credentialsVersionId).toBe(placeholder);
    });

    it('records the version a success used', async () => {
      // Prepare
      const good = secrets.seed(CREDENTIALS_ID, GOOD);

      // Act
      await run();

      // Assess
      expect(state.items.get('acme')?.credentialsVersionId).toBe(good);
    });
  });

  describe('Method: refresh (scheduled runs of a blocked provider: the fallback without a trail)', () => {
    it('refreshes at the first scheduled run after the credentials were re-seeded, and the block is gone', async () => {
      // Prepare
      await blockedByInvalidClient();
      const goodVersion = secrets.seed(CREDENTIALS_ID, GOOD);

      // Act
      const tick = await run();

      // Assess
      expect(tick).toMatchObject({ status: 'refreshed', generation: 2 });
      expect(provider.requests.map((used) => used.clientSecret)).toEqual([
        WRONG.clientSecret,
        GOOD.clientSecret,
      ]);
      const item = state.items.get('acme');
      expect(item).toMatchObject({ consecutiveFailures: 0, credentialsVersionId: goodVersion });
      expect(item).not.toHaveProperty('lastErrorPermanent');
      expect(events.published.map((event) => event.type)).toEqual(['failing', 'recovered']);
      expect(logger.text()).not.toContain(GOOD.clientSecret);
      expect(logger.text()).not.toContain(WRONG.clientSecret);
    });

    it('costs one call more per scheduled run only while blocked, and never calls the provider with the same credentials', async () => {
      // Prepare
      secrets.seed(CREDENTIALS_ID, GOOD);
      await run();
      clock.advance(5 * MINUTE);
      const healthyTick = await callsOf(() => run());
      await blockedByInvalidClientAfterSuccess();

      // Act
      const blockedTicks = [];
      for (let tick = 0; tick < 10; tick += 1) {
        blockedTicks.push(await callsOf(() => run()));
        clock.advance(5 * MINUTE);
      }

      // Assess: before (healthy, not due): one state read; blocked: the state read and one look.
      expect(healthyTick).toEqual({ state: ['read'], secrets: [] });
      for (const calls of blockedTicks) {
        expect(calls).toEqual({ state: ['read'], secrets: [`describe ${CREDENTIALS_ID}`] });
      }
      expect(provider.requests).toHaveLength(2); // the success, and the refusal that blocked it
      expect(metrics.values(METRIC_NAMES.refreshFailedPermanent)).toHaveLength(11);
    });

    /** After a success with the good credentials: the wrong ones are put, and a forced run is refused. */
    const blockedByInvalidClientAfterSuccess = async () => {
      secrets.seed(CREDENTIALS_ID, WRONG);
      expect(await run({ force: true })).toMatchObject({ code: 'invalid_client', permanent: true });
    };

    it('lifts a credentials_not_set block once the operator puts the credentials', async () => {
      // Prepare
      secrets.seed(CREDENTIALS_ID, { status: 'pending' });
      await run();
      clock.advance(5 * MINUTE);
      const stillPending = await run();
      secrets.seed(CREDENTIALS_ID, GOOD);

      // Act
      const tick = await run();

      // Assess
      expect(stillPending).toMatchObject({ code: 'credentials_not_set', attempted: false });
      expect(tick).toMatchObject({ status: 'refreshed' });
    });

    it('leaves a block recorded without a credentials version (before this release) to a forced refresh', async () => {
      // Prepare: an item as an earlier release wrote it.
      await blockedByInvalidClient();
      const { credentialsVersionId: _dropped, ...legacy } = state.items.get('acme') ?? {
        provider: 'acme',
        fence: 0,
        consecutiveFailures: 0,
      };
      state.items.set('acme', legacy);
      secrets.seed(CREDENTIALS_ID, GOOD);

      // Act
      const tick = await callsOf(() => run());
      const told = await run({ credentialsChanged: true });
      const forced = await run({ force: true });

      // Assess
      expect(tick).toEqual({ state: ['read'], secrets: [] });
      expect(told).toMatchObject({ status: 'failed', code: 'invalid_client', attempted: false });
      expect(forced).toMatchObject({ status: 'refreshed' });
    });

    it('stays blocked, and says why in the log, when the credentials version cannot be looked at', async () => {
      // Prepare
      await blockedByInvalidClient();
      secrets.seed(CREDENTIALS_ID, GOOD);
      credentials.currentVersionId = async () => {
        throw new StoreError(
          'Secrets Manager DescribeSecret failed',
          'secrets_manager_unavailable',
          'transient',
        );
      };

      // Act
      const tick = await run();

      // Assess
      expect(tick).toMatchObject({ status: 'failed', code: 'invalid_client', attempted: false });
      expect(provider.requests).toHaveLength(1);
      expect(logger.lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          attributes: expect.objectContaining({ errorCode: 'secrets_manager_unavailable' }),
        }),
      );
    });
  });

  describe('Method: refresh (told of a change: credentialsChanged)', () => {
    it('refreshes a blocked provider at once when its credentials have a new version', async () => {
      // Prepare
      await blockedByInvalidClient();
      secrets.seed(CREDENTIALS_ID, GOOD);

      // Act
      const told = await run({ credentialsChanged: true });

      // Assess
      expect(told).toMatchObject({ status: 'refreshed' });
      expect(logger.lines).toContainEqual(
        expect.objectContaining({
          message: 'Token refreshed',
          attributes: expect.objectContaining({ trigger: 'credentials-changed' }),
        }),
      );
    });

    it('is a no-op for a blocked provider whose credentials did not change, however often it is told', async () => {
      // Prepare
      await blockedByInvalidClient();

      // Act
      const results = [];
      for (let time = 0; time < 20; time += 1) results.push(await run({ credentialsChanged: true }));

      // Assess
      expect(results.every((result) => result.status === 'failed' && !result.attempted)).toBe(true);
      expect(provider.requests).toHaveLength(1);
      expect(state.items.get('acme')?.fence).toBe(1); // no lease was taken
    });

    it('is a scheduled run for a healthy provider whose credentials did not change: no lease, no provider call', async () => {
      // Prepare
      secrets.seed(CREDENTIALS_ID, GOOD);
      await run();
      clock.advance(MINUTE);

      // Act
      const calls = await callsOf(async () => {
        expect(await run({ credentialsChanged: true })).toMatchObject({ status: 'fresh', reason: 'not-due' });
      });

      // Assess
      expect(calls).toEqual({ state: ['read'], secrets: [`describe ${CREDENTIALS_ID}`] });
      expect(provider.requests).toHaveLength(1);
    });

    it('refreshes a healthy provider once when its credentials changed, although its token is not due', async () => {
      // Prepare
      secrets.seed(CREDENTIALS_ID, GOOD);
      await run();
      clock.advance(MINUTE);
      const rotatedSecret = { ...GOOD, clientSecret: 'rotated-secret-0d3f' };
      secrets.seed(CREDENTIALS_ID, rotatedSecret);
      provider = checkingProvider(new ScriptedProvider(), () => undefined);

      // Act
      const first = await run({ credentialsChanged: true });
      const second = await run({ credentialsChanged: true });

      // Assess
      expect(first).toMatchObject({ status: 'refreshed', generation: 2 });
      expect(second).toMatchObject({ status: 'fresh', reason: 'not-due' });
      expect(provider.requests.map((used) => used.clientSecret)).toEqual([rotatedSecret.clientSecret]);
    });

    it('calls the provider once when two runs are told of the same change and it fails again', async () => {
      // Prepare: the second run takes its state read before the first records its failure.
      await blockedByInvalidClient();
      const stillWrong = secrets.seed(CREDENTIALS_ID, { ...WRONG, clientSecret: 'still-wrong-5e21' });
      const acquire = state.acquire.bind(state);
      let first: Awaited<ReturnType<typeof run>> | undefined;
      state.acquire = async (input) => {
        if (first === undefined) {
          state.acquire = acquire;
          first = await run({ credentialsChanged: true });
        }
        return acquire(input);
      };

      // Act
      const second = await run({ credentialsChanged: true });

      // Assess
      expect(first).toMatchObject({ status: 'failed', code: 'invalid_client', attempted: true });
      expect(second).toMatchObject({ status: 'failed', code: 'invalid_client', attempted: false });
      expect(provider.requests).toHaveLength(2); // the first refusal, and the one try of the new version
      const item = state.items.get('acme');
      expect(item).toMatchObject({ credentialsVersionId: stillWrong, consecutiveFailures: 2, fence: 3 });
      expect(item).not.toHaveProperty('leaseOwner');
    });
  });

  describe('Method: refresh (rotating refresh tokens)', () => {
    const rotating = () => config({ grant: 'refresh_token' });

    beforeEach(() => {
      // The server accepts the refresh tokens it issued (and the seeded one), once each.
      const spent = new Set<string>();
      let issued = 0;
      provider = new ScriptedProvider();
      provider.requestToken = async (input) => {
        provider.requests.push({ ...input.credentials });
        const sent = input.credentials.refreshToken ?? '';
        if (spent.has(sent) || !sent.startsWith('refresh-')) {
          throw new ProviderError('invalid_grant', 'invalid_grant', 'permanent', { status: 400 });
        }
        spent.add(sent);
        issued += 1;
        return {
          accessToken: `access-${issued}`,
          tokenType: 'Bearer',
          expiresInSeconds: 3600,
          refreshToken: `refresh-r${issued}`,
        };
      };
    });

    it('takes its own write of a rotated refresh token for no change, and records that version', async () => {
      // Prepare
      secrets.seed(CREDENTIALS_ID, { ...GOOD, refreshToken: 'refresh-seed' });
      await run({ cfg: rotating() });
      clock.advance(MINUTE);

      // Act
      const told = await run({ cfg: rotating(), credentialsChanged: true });

      // Assess
      expect(told).toMatchObject({ status: 'fresh', reason: 'not-due' });
      expect(state.items.get('acme')?.credentialsVersionId).toBe(secrets.current.get(CREDENTIALS_ID));
      expect(provider.requests).toHaveLength(1);
    });

    it('uses a re-seeded refresh token after invalid_grant, and never replays the refused one', async () => {
      // Prepare: the stored refresh token was spent elsewhere.
      secrets.seed(CREDENTIALS_ID, { ...GOOD, refreshToken: 'spent-elsewhere' });
      await run({ cfg: rotating() });
      clock.advance(5 * MINUTE);
      await run({ cfg: rotating() });
      await run({ cfg: rotating(), credentialsChanged: true });
      secrets.seed(CREDENTIALS_ID, { ...GOOD, refreshToken: 'refresh-reseeded' });

      // Act
      const recovered = await run({ cfg: rotating(), credentialsChanged: true });

      // Assess
      expect(recovered).toMatchObject({ status: 'refreshed', refreshTokenRotated: true });
      expect(provider.requests.map((used) => used.refreshToken)).toEqual([
        'spent-elsewhere',
        'refresh-reseeded',
      ]);
      expect(credentials.credentials('acme').refreshToken).toBe('refresh-r1');
    });

    it('lifts a rotation_outcome_unknown block only with a re-seeded refresh token', async () => {
      // Prepare: the provider got the refresh token and no answer came back.
      secrets.seed(CREDENTIALS_ID, { ...GOOD, refreshToken: 'refresh-seed' });
      const request = provider.requestToken.bind(provider);
      provider.requestToken = async (input) => {
        provider.requestToken = request;
        provider.requests.push({ ...input.credentials });
        throw new ProviderError('no answer', 'rotation_outcome_unknown', 'permanent', {
          outcomeUnknown: true,
        });
      };
      await run({ cfg: rotating() });
      clock.advance(5 * MINUTE);

      // Act
      const untouched = [
        await run({ cfg: rotating() }),
        await run({ cfg: rotating(), credentialsChanged: true }),
      ];
      secrets.seed(CREDENTIALS_ID, { ...GOOD, refreshToken: 'refresh-reseeded' });
      const reseeded = await run({ cfg: rotating() });

      // Assess
      expect(untouched.map((result) => result.status === 'failed' && result.code)).toEqual([
        'rotation_outcome_unknown',
        'rotation_outcome_unknown',
      ]);
      expect(reseeded).toMatchObject({ status: 'refreshed' });
      expect(provider.requests.map((used) => used.refreshToken)).toEqual([
        'refresh-seed',
        'refresh-reseeded',
      ]);
    });
  });
});
