/**
 * The refresh Lambda against real parts: moto server (Secrets Manager, DynamoDB) and oidc-provider
 * (client_credentials and rotating refresh tokens). No mocks. Token-endpoint calls are counted on the
 * OAuth server's side; AWS calls on the emulator's side.
 */
import { randomUUID } from 'node:crypto';
import { CreateScheduleGroupCommand, GetScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SecretsManagerCredentialsStore } from '../../functions/aws/credentials-store.js';
import { DynamoDbStateTable } from '../../functions/aws/state-table.js';
import { SecretsManagerTokenStore } from '../../functions/aws/token-store.js';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import type { Provider } from '../../functions/core/ports.js';
import type { RefreshResult } from '../../functions/core/types.js';
import { createProvider } from '../../functions/providers/index.js';
import { type RefreshHandler, refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { captureProcessOutput } from '../support/output.js';
import { provision, putCredentials } from '../support/resources.js';

const TABLE = 'it-state';
const PREFIX = 'it';
const MINUTE = 60_000;
const SECRET_BASIC = 'basic-secret: with/odd+chars%';
const SECRET_POST = 'post-secret-5d1c7a';
const SECRET_ROTATING = 'rotating-secret-a8e2f0';

describe('Refresh Lambda against moto server and oidc-provider', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let handler: RefreshHandler;
  let offsetMs = 0;
  const clock = { now: () => Date.now() + offsetMs };
  const captured: string[] = [];
  const seededRefreshTokens: string[] = [];
  /** Every token the OAuth server issued in any test (its own log is reset per test). */
  const allIssued: string[] = [];

  const providersConfig = () => ({
    secretPrefix: PREFIX,
    providers: [
      { name: 'cc-basic', grant: 'client_credentials', tokenUrl: oauth.tokenUrl, requestTimeout: 2 },
      {
        name: 'cc-post',
        grant: 'client_credentials',
        tokenUrl: oauth.tokenUrl,
        clientAuth: 'client_secret_post',
        scope: 'api:read',
        audience: 'https://api.example.com',
        requestTimeout: 2,
      },
      { name: 'rotating', grant: 'refresh_token', tokenUrl: oauth.tokenUrl, requestTimeout: 2 },
    ],
  });
  const environment = () => ({ TABLE_NAME: TABLE, PROVIDERS_CONFIG: deployedConfigJson(providersConfig()) });
  const build = (providerFor?: (config: Parameters<typeof createProvider>[0]) => Provider) =>
    refreshHandlerFromEnvironment(environment(), {
      clientConfig: { ...moto.clientConfig, maxAttempts: 1 },
      clock,
      ...(providerFor === undefined ? {} : { providerFor }),
    });
  const context = () => ({ awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 30_000 });
  const refresh = (provider: string, force?: boolean) =>
    handler(force === undefined ? { provider } : { provider, force }, context()) as Promise<RefreshResult>;

  const tokens = () =>
    new SecretsManagerTokenStore({ clientConfig: moto.clientConfig, secretPrefix: PREFIX });
  const storedToken = async (provider: string) => (await tokens().readCurrent(provider)).token;
  const storedCredentials = async (provider: string) =>
    (
      await new SecretsManagerCredentialsStore({
        clientConfig: moto.clientConfig,
        secretPrefix: PREFIX,
      }).read(provider)
    ).credentials;
  const table = () => new DynamoDbStateTable({ clientConfig: moto.clientConfig, tableName: TABLE });
  const issuedAccessTokens = () =>
    oauth.issuedTokens.filter((token) => token.type === 'access_token').map((t) => t.value);

  beforeAll(async () => {
    [moto, oauth] = await Promise.all([
      startMoto(),
      startOAuthServer({
        clients: [
          {
            clientId: 'svc-basic',
            clientSecret: SECRET_BASIC,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['client_credentials'],
          },
          {
            clientId: 'svc-post',
            clientSecret: SECRET_POST,
            tokenEndpointAuthMethod: 'client_secret_post',
            grantTypes: ['client_credentials'],
          },
          {
            clientId: 'app-rotating',
            clientSecret: SECRET_ROTATING,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['refresh_token'],
          },
        ],
      }),
    ]);
    // Every log line and EMF document the handler writes, for the leak scan at the end.
    captureProcessOutput(captured);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all([moto?.stop(), oauth?.stop()]);
  });

  afterEach(() => {
    allIssued.push(...oauth.issuedTokens.map((token) => token.value));
  });

  beforeEach(async () => {
    await moto.reset();
    oauth.setFault(undefined);
    offsetMs = 0;
    const refreshToken = await oauth.seedRefreshToken({ clientId: 'app-rotating' });
    seededRefreshTokens.push(refreshToken);
    await provision({
      clientConfig: moto.clientConfig,
      tableName: TABLE,
      secretPrefix: PREFIX,
      credentials: {
        'cc-basic': { clientId: 'svc-basic', clientSecret: SECRET_BASIC },
        'cc-post': { clientId: 'svc-post', clientSecret: SECRET_POST },
        rotating: { clientId: 'app-rotating', clientSecret: SECRET_ROTATING, refreshToken },
      },
    });
    handler = build();
    oauth.resetCounters();
  });

  it('creates the first token, then makes no provider call and exactly one DynamoDB read when not due', async () => {
    // Act
    const first = await refresh('cc-basic');
    offsetMs += 10 * MINUTE;
    await moto.startCounting();
    const second = await refresh('cc-basic');
    const operations = await moto.countOperations();

    // Assess
    expect(first).toMatchObject({ status: 'refreshed', generation: 1 });
    expect(second).toMatchObject({ status: 'fresh', reason: 'not-due' });
    expect(oauth.tokenRequests.client_credentials).toBe(1);
    expect(operations).toEqual({ 'DynamoDB_20120810.GetItem': 1 });
    const token = await storedToken('cc-basic');
    expect(token).toMatchObject({ provider: 'cc-basic', tokenType: 'Bearer', generation: 1 });
    expect(issuedAccessTokens()).toEqual([token?.accessToken]);
    expect(Date.parse(token?.expiresAt ?? '') - Date.parse(token?.issuedAt ?? '')).toBe(3600_000);
  });

  it('sends client_secret_post credentials with scope and audience', async () => {
    // Act
    const result = await refresh('cc-post');

    // Assess
    expect(result).toMatchObject({ status: 'refreshed' });
    expect(oauth.tokenResponses).toEqual([
      expect.objectContaining({ status: 200, grantType: 'client_credentials' }),
    ]);
    const token = await storedToken('cc-post');
    const payload = JSON.parse(
      Buffer.from(token?.accessToken.split('.')[1] ?? '', 'base64url').toString('utf8'),
    );
    expect(payload).toMatchObject({
      aud: 'https://api.example.com',
      client_id: 'svc-post',
      scope: 'api:read',
    });
  });

  it('makes exactly one token-endpoint call for 50 concurrent invocations and stores the token issued', async () => {
    // Act
    const results = await Promise.all(Array.from({ length: 50 }, () => refresh('cc-basic')));

    // Assess
    expect(results).toHaveLength(50);
    expect(oauth.tokenRequests.total).toBe(1);
    expect(results.filter((result) => result.status === 'refreshed')).toHaveLength(1);
    for (const result of results) expect(['refreshed', 'in-progress', 'fresh']).toContain(result.status);
    expect(issuedAccessTokens()).toEqual([(await storedToken('cc-basic'))?.accessToken]);
  });

  it('is blocked by a crashed holder only until its lease ends, then refreshes', async () => {
    // Prepare: a holder took the lease for 20 s and never released it.
    await table().acquire({
      provider: 'cc-basic',
      owner: 'crashed',
      now: clock.now(),
      leaseExpiresAt: clock.now() + 20_000,
    });

    // Act
    const blocked = await refresh('cc-basic');
    offsetMs += 20_001;
    const after = await refresh('cc-basic');

    // Assess
    expect(blocked).toEqual({ status: 'in-progress', provider: 'cc-basic' });
    expect(after).toMatchObject({ status: 'refreshed', generation: 2 });
    expect(oauth.tokenRequests.total).toBe(1);
    expect((await table().read('cc-basic'))?.leaseOwner).toBeUndefined();
  });

  it("refuses a stale holder's write (compare-and-swap), keeps the newer token and counts no failure", async () => {
    // Prepare: holder A pauses inside its provider call until released.
    let release: () => void = () => {};
    const paused = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reachedProvider: () => void = () => {};
    const atProvider = new Promise<void>((resolve) => {
      reachedProvider = resolve;
    });
    const stale = build((config) => {
      const real = createProvider(config);
      return {
        requestToken: async (input) => {
          reachedProvider();
          await paused;
          return real.requestToken(input);
        },
      };
    });

    // Act: A takes the lease and stalls; its lease runs out; B refreshes; then A resumes.
    const staleRun = stale({ provider: 'cc-basic' }, context()) as Promise<RefreshResult>;
    await atProvider;
    offsetMs += 31_000;
    const newer = await refresh('cc-basic');
    const newerToken = await storedToken('cc-basic');
    release();
    const staleResult = await staleRun;

    // Assess
    expect(newer).toMatchObject({ status: 'refreshed', generation: 2 });
    expect(staleResult).toMatchObject({ status: 'fresh', reason: 'refreshed-by-other' });
    expect(oauth.tokenRequests.total).toBe(2);
    expect(await storedToken('cc-basic')).toEqual(newerToken);
    expect(await table().read('cc-basic')).toMatchObject({ fence: 2, consecutiveFailures: 0 });
  });

  describe('when the provider fails', () => {
    beforeEach(async () => {
      await refresh('cc-basic');
      offsetMs += 56 * MINUTE;
      oauth.resetCounters();
    });

    it.each([
      [
        'an HTML 503 page',
        { kind: 'status', status: 503, body: '<html>down</html>', headers: { 'content-type': 'text/html' } },
        'http_503',
        false,
      ],
      ['a stall beyond the request timeout', { kind: 'delay', ms: 4_000 }, 'timeout', false],
      ['a connection reset', { kind: 'disconnect' }, 'network_error', false],
      [
        'a truncated JSON body',
        { kind: 'body', status: 200, contentType: 'application/json', body: '{"access_tok' },
        'malformed_response',
        false,
      ],
      [
        'expires_in of 0',
        {
          kind: 'body',
          status: 200,
          contentType: 'application/json',
          body: '{"access_token":"x0","token_type":"Bearer","expires_in":0}',
        },
        'invalid_lifetime',
        false,
      ],
      [
        'an invalid_client error',
        {
          kind: 'body',
          status: 401,
          contentType: 'application/json',
          body: '{"error":"invalid_client"}',
        },
        'invalid_client',
        true,
      ],
    ] as const)('keeps the old token and records %s as %s', async (_label, fault, code, permanent) => {
      // Prepare
      const before = await storedToken('cc-basic');
      oauth.setFault({ ...fault, times: 1 });

      // Act
      const result = await refresh('cc-basic');

      // Assess
      expect(result).toMatchObject({ status: 'failed', code, permanent, attempted: true });
      expect(await storedToken('cc-basic')).toEqual(before);
      expect(await table().read('cc-basic')).toMatchObject({
        lastErrorCode: code,
        lastErrorPermanent: permanent,
        consecutiveFailures: 1,
      });
    });

    it('honours Retry-After of a 429 and refreshes on the first healthy answer after it', async () => {
      // Prepare
      oauth.setFault({ kind: 'status', status: 429, headers: { 'retry-after': '120' }, times: 1 });

      // Act
      const limited = await refresh('cc-basic');
      const limitedAt = clock.now();
      offsetMs += 60_000;
      const early = await refresh('cc-basic');
      const callsWhileBackingOff = oauth.tokenRequests.total;
      offsetMs += 61_000;
      const recovered = await refresh('cc-basic');

      // Assess
      expect(limited).toMatchObject({ status: 'failed', code: 'rate_limited', permanent: false });
      expect(Date.parse((limited as { retryAt: string }).retryAt)).toBeGreaterThanOrEqual(
        limitedAt + 119_000,
      );
      expect(early).toMatchObject({ status: 'failed', code: 'rate_limited', attempted: false });
      expect(callsWhileBackingOff).toBe(1);
      expect(recovered).toMatchObject({ status: 'refreshed', generation: 3 });
      expect(await table().read('cc-basic')).toMatchObject({ consecutiveFailures: 0 });
    });
  });

  it('ends a failure streak when it finds a token that another holder wrote but could not record', async () => {
    // Prepare: a failure is recorded; then a holder writes a token and dies before its release.
    await refresh('cc-basic');
    offsetMs += 56 * MINUTE;
    oauth.setFault({ kind: 'status', status: 503, times: 1 });
    const failed = await refresh('cc-basic');
    const current = await tokens().readCurrent('cc-basic');
    if (current.token === undefined) throw new Error('no token after the first refresh');
    const issuedAt = clock.now() + 1_000;
    await tokens().write({
      provider: 'cc-basic',
      fence: 99,
      token: {
        ...current.token,
        accessToken: 'written-by-a-holder-that-died',
        issuedAt: new Date(issuedAt).toISOString(),
        expiresAt: new Date(issuedAt + 60 * MINUTE).toISOString(),
        generation: 99,
      },
      expectedVersionId: current.versionId,
    });
    offsetMs += MINUTE;
    const callsBefore = oauth.tokenRequests.total;

    // Act
    const observed = await refresh('cc-basic');
    offsetMs += MINUTE;
    const later = await refresh('cc-basic');

    // Assess
    expect(failed).toMatchObject({ status: 'failed', code: 'http_503' });
    expect(observed).toMatchObject({ status: 'fresh', reason: 'refreshed-by-other' });
    expect(later).toMatchObject({ status: 'fresh', reason: 'not-due' });
    expect(oauth.tokenRequests.total).toBe(callsBefore);
    const state = await table().read('cc-basic');
    expect(state).toMatchObject({ consecutiveFailures: 0, lastSuccessAt: issuedAt });
    expect(state?.lastErrorCode).toBeUndefined();
  });

  it('treats invalid_grant as permanent: no further provider calls until forced', async () => {
    // Prepare: a refresh token the server never issued.
    await putCredentials(moto.clientConfig, `${PREFIX}/rotating/credentials`, {
      clientId: 'app-rotating',
      clientSecret: SECRET_ROTATING,
      refreshToken: 'never-issued-refresh-token',
    });

    // Act
    const failed = await refresh('rotating');
    offsetMs += 3 * 60 * MINUTE;
    const blocked = [await refresh('rotating'), await refresh('rotating')];
    const callsWhileBlocked = oauth.tokenRequests.total;
    const reseeded = await oauth.seedRefreshToken({ clientId: 'app-rotating' });
    seededRefreshTokens.push(reseeded);
    await putCredentials(moto.clientConfig, `${PREFIX}/rotating/credentials`, {
      clientId: 'app-rotating',
      clientSecret: SECRET_ROTATING,
      refreshToken: reseeded,
    });
    const forced = await refresh('rotating', true);

    // Assess
    expect(failed).toMatchObject({
      status: 'failed',
      code: 'invalid_grant',
      permanent: true,
      attempted: true,
    });
    for (const result of blocked)
      expect(result).toMatchObject({ status: 'failed', code: 'invalid_grant', attempted: false });
    expect(callsWhileBlocked).toBe(1);
    expect(forced).toMatchObject({ status: 'refreshed', refreshTokenRotated: true });
    expect(oauth.tokenRequests.total).toBe(2);
  });

  it("uses an operator's re-seed, not the AWSPENDING version an earlier rotation left behind", async () => {
    // Prepare: a rotation leaves AWSPENDING and AWSCURRENT on our version; a re-seed with
    // put-secret-value (no stages, as the console and CLI do) moves AWSCURRENT alone.
    const rotated = await refresh('rotating', true);
    const reseeded = await oauth.seedRefreshToken({ clientId: 'app-rotating' });
    seededRefreshTokens.push(reseeded);
    await putCredentials(moto.clientConfig, `${PREFIX}/rotating/credentials`, {
      clientId: 'app-rotating',
      clientSecret: SECRET_ROTATING,
      refreshToken: reseeded,
      note: 're-seeded',
    });
    const callsBefore = oauth.tokenRequests.refresh_token;

    // Act
    const forced = await refresh('rotating', true);

    // Assess: the refresh presented the re-seeded token (the stored credentials keep its extra field).
    expect(rotated).toMatchObject({ status: 'refreshed', refreshTokenRotated: true });
    expect(forced).toMatchObject({ status: 'refreshed', refreshTokenRotated: true });
    expect(oauth.tokenRequests.refresh_token - callsBefore).toBe(1);
    expect(await storedCredentials('rotating')).toMatchObject({ note: 're-seeded' });
    expect(oauth.tokenResponses.filter((response) => response.errorDetail !== undefined)).toEqual([]);
  });

  it('keeps the latest rotated refresh token through 20 consecutive refreshes without reuse', async () => {
    // Act
    const results: RefreshResult[] = [];
    const storedRefreshTokens: (string | undefined)[] = [];
    for (let round = 0; round < 20; round += 1) {
      results.push(await refresh('rotating'));
      storedRefreshTokens.push((await storedCredentials('rotating')).refreshToken);
      offsetMs += 56 * MINUTE;
    }

    // Assess
    const issuedRefreshTokens = oauth.issuedTokens
      .filter((token) => token.type === 'refresh_token')
      .map((t) => t.value);
    expect(results.map((result) => result.status)).toEqual(Array(20).fill('refreshed'));
    expect(results.every((result) => result.status === 'refreshed' && result.refreshTokenRotated)).toBe(true);
    expect(oauth.tokenRequests.refresh_token).toBe(20);
    expect(issuedRefreshTokens).toHaveLength(20);
    expect(storedRefreshTokens).toEqual(issuedRefreshTokens);
    expect(new Set(storedRefreshTokens).size).toBe(20);
    // (A stalled request of an earlier test may complete meanwhile: look at this grant only.)
    const refreshResponses = oauth.tokenResponses.filter(
      (response) => response.grantType === 'refresh_token',
    );
    expect(refreshResponses.map((response) => [response.status, response.errorDetail])).toEqual(
      Array(20).fill([200, undefined]),
    );
  });

  it('schedules the next precise run at expiresAt − refreshBefore, moving it on every refresh', async () => {
    // Prepare
    const scheduler = new SchedulerClient(moto.clientConfig);
    await scheduler.send(new CreateScheduleGroupCommand({ Name: 'it-group' }));
    const precise = refreshHandlerFromEnvironment(
      {
        ...environment(),
        SCHEDULER_GROUP: 'it-group',
        SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/it-scheduler',
        REFRESH_FUNCTION_ARN: 'arn:aws:lambda:us-east-1:123456789012:function:it-refresh',
      },
      { clientConfig: moto.clientConfig, clock },
    );
    const schedule = () =>
      scheduler.send(new GetScheduleCommand({ Name: 'next-cc-basic', GroupName: 'it-group' }));

    // Act
    const first = await precise({ provider: 'cc-basic' }, context());
    const afterFirst = await schedule();
    offsetMs += 56 * MINUTE;
    const second = await precise({ provider: 'cc-basic' }, context());
    const afterSecond = await schedule();

    // Assess
    const dueAt = (result: object) =>
      `at(${new Date(Math.ceil((Date.parse('expiresAt' in result ? String(result.expiresAt) : '') - 5 * MINUTE) / 1000) * 1000).toISOString().slice(0, 19)})`;
    expect(afterFirst).toMatchObject({
      ScheduleExpression: dueAt(first),
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: 'arn:aws:lambda:us-east-1:123456789012:function:it-refresh',
        Input: '{"provider":"cc-basic","trigger":"precise"}',
      },
    });
    expect(afterSecond.ScheduleExpression).toBe(dueAt(second));
    expect(afterSecond.ScheduleExpression).not.toBe(afterFirst.ScheduleExpression);
    scheduler.destroy();
  });

  it('rejects a malformed event and an unknown provider without reading or writing anything', async () => {
    // Act
    await moto.startCounting();
    const malformed = await handler({ provider: 42 }, context());
    const unknown = await handler({ provider: 'nope' }, context());
    const empty = await handler(undefined, context());
    const operations = await moto.countOperations();

    // Assess
    expect(malformed).toMatchObject({ status: 'rejected', code: 'invalid_event' });
    expect(unknown).toMatchObject({ status: 'rejected', code: 'unknown_provider' });
    expect(empty).toMatchObject({ status: 'rejected', code: 'invalid_event' });
    expect(operations).toEqual({});
    expect(oauth.tokenRequests.total).toBe(0);
  });

  it('emitted EMF metrics with the provider dimension, and never logged a token or secret (runs last)', () => {
    // Prepare
    const output = captured.join('');
    const documents = output
      .split('\n')
      .filter((line) => line.includes('"_aws"'))
      .map(
        (line) =>
          JSON.parse(line) as {
            _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] };
          },
      );
    const secrets = [
      SECRET_BASIC,
      SECRET_POST,
      SECRET_ROTATING,
      'never-issued-refresh-token',
      ...seededRefreshTokens,
      ...allIssued,
    ];

    // Assess
    const names = new Set(
      documents.flatMap((doc) => doc._aws.CloudWatchMetrics.flatMap((m) => m.Metrics.map((x) => x.Name))),
    );
    expect([...names].sort()).toEqual([
      'ConsecutiveFailures',
      'LeaseContended',
      'RefreshDuration',
      'RefreshFailed',
      'RefreshFailedPermanent',
      'RefreshSucceeded',
      'SecondsToExpiry',
    ]);
    for (const doc of documents) expect(doc._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['provider']]);
    expect(output).toContain('"Refresh finished"');
    expect(allIssued.length).toBeGreaterThan(40);
    const leaked = secrets.filter((secret) => output.includes(secret));
    expect(leaked).toEqual([]);
  });
});
