/**
 * The read function against real parts: moto server (Secrets Manager, DynamoDB) and oidc-provider.
 * Each "container" is its own read handler with its own SDK clients and cache; on-demand refreshes
 * run the refresh handler in-process (the deployed read function invokes the refresh function).
 * AWS calls are counted at the emulator, token requests at the OAuth server.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { SecretsManagerTokenStore } from '../../functions/aws/token-store.js';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import { readReadEnvironment } from '../../functions/core/env.js';
import { sha256Hex } from '../../functions/core/token-hash.js';
import { composeReadHandler, type ReadHandler, type UrlResponse } from '../../functions/read/app.js';
import { inProcessRefreshTrigger, refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { captureProcessOutput } from '../support/output.js';
import { provision } from '../support/resources.js';

const TABLE = 'read-state';
const PREFIX = 'read-it';
const SECRET_CC = 'read-cc-secret-3f9a';
const SECRET_RT = 'read-rt-secret-8b1e';
const ROLE_A = 'arn:aws:iam::123456789012:role/consumer-a';
const ROLE_B = 'arn:aws:iam::123456789012:role/consumer-b';
const CALLER_A = 'arn:aws:sts::123456789012:assumed-role/consumer-a/lambda-session';
const CALLER_B = 'arn:aws:sts::123456789012:assumed-role/consumer-b/lambda-session';

interface Served {
  provider: string;
  accessToken: string;
  tokenType: string;
  expiresAt: string;
  expiresIn: number;
}

function urlEvent(method: string, path: string, caller: string | null, body?: unknown): unknown {
  return {
    version: '2.0',
    rawPath: path,
    headers: { 'content-type': 'application/json' },
    isBase64Encoded: false,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    requestContext: {
      http: { method, path },
      ...(caller === null ? {} : { authorizer: { iam: { userArn: caller } } }),
    },
  };
}

describe('Read function against moto server and oidc-provider', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let offsetMs = 0;
  const clock = { now: () => Date.now() + offsetMs };
  const captured: string[] = [];
  const issued: string[] = [];

  const config = () => ({
    secretPrefix: PREFIX,
    // These requests carry the caller in the event (userArn); caller proofs: caller-proof.test.ts.
    trustDirectInvoke: true,
    providers: [
      {
        name: 'alpha',
        grant: 'client_credentials',
        tokenUrl: oauth.tokenUrl,
        requestTimeout: 2,
        consumers: [ROLE_A],
      },
      {
        name: 'rotating',
        grant: 'refresh_token',
        tokenUrl: oauth.tokenUrl,
        requestTimeout: 2,
        consumers: [ROLE_B],
      },
    ],
  });
  const providersConfig = () => deployedConfigJson(config());
  const refreshHandler = () =>
    refreshHandlerFromEnvironment(
      { TABLE_NAME: TABLE, PROVIDERS_CONFIG: providersConfig() },
      { clientConfig: { ...moto.clientConfig, maxAttempts: 1 }, clock },
    );
  /** One read "container": its own clients, cache and refresh path. */
  const container = (): ReadHandler =>
    composeReadHandler(
      readReadEnvironment({ PROVIDERS_CONFIG: providersConfig(), REFRESH_FUNCTION_NAME: 'in-process' }),
      {
        clientConfig: { ...moto.clientConfig, maxAttempts: 1 },
        clock,
        trigger: inProcessRefreshTrigger(refreshHandler()),
      },
    );
  const get = async (handler: ReadHandler, provider: string, caller: string | null = CALLER_A) =>
    (await handler(urlEvent('GET', `/tokens/${provider}`, caller))) as UrlResponse;
  const reportRefused = async (handler: ReadHandler, provider: string, token: string, caller = CALLER_A) =>
    (await handler(
      urlEvent('POST', `/tokens/${provider}/refresh`, caller, { rejectedTokenSha256: sha256Hex(token) }),
    )) as UrlResponse;
  const served = (response: UrlResponse): Served => {
    expect(response.statusCode, response.body).toBe(200);
    return JSON.parse(response.body) as Served;
  };
  const stored = async (provider: string) =>
    (
      await new SecretsManagerTokenStore({
        clientConfig: moto.clientConfig,
        secretPrefix: PREFIX,
      }).readCurrent(provider)
    ).token;

  beforeAll(async () => {
    [moto, oauth] = await Promise.all([
      startMoto(),
      startOAuthServer({
        clients: [
          {
            clientId: 'svc-alpha',
            clientSecret: SECRET_CC,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['client_credentials'],
          },
          {
            clientId: 'app-rotating',
            clientSecret: SECRET_RT,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['refresh_token'],
          },
        ],
      }),
    ]);
    captureProcessOutput(captured);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all([moto?.stop(), oauth?.stop()]);
  });

  beforeEach(async () => {
    await moto.reset();
    offsetMs = 0;
    const refreshToken = await oauth.seedRefreshToken({ clientId: 'app-rotating' });
    issued.push(refreshToken);
    await provision({
      clientConfig: moto.clientConfig,
      tableName: TABLE,
      secretPrefix: PREFIX,
      credentials: {
        alpha: { clientId: 'svc-alpha', clientSecret: SECRET_CC },
        rotating: { clientId: 'app-rotating', clientSecret: SECRET_RT, refreshToken },
      },
    });
    oauth.resetCounters();
  });

  afterEach(() => {
    issued.push(...oauth.issuedTokens.map((token) => token.value));
  });

  it('answers the first read before any refresh with the first token, after one on-demand refresh', async () => {
    // Act
    const response = await get(container(), 'alpha');

    // Assess
    const token = served(response);
    expect(oauth.tokenRequests.client_credentials).toBe(1);
    expect(token).toMatchObject({
      provider: 'alpha',
      tokenType: 'Bearer',
      accessToken: (await stored('alpha'))?.accessToken,
    });
    expect(token.expiresIn).toBeGreaterThan(3590);
  });

  it('reads the token secret exactly once per container across 10,000 reads of one generation', async () => {
    // Prepare
    await refreshHandler()({ provider: 'alpha' }, { getRemainingTimeInMillis: () => 30_000 });
    const first = container();
    const second = container();
    await moto.startCounting();

    // Act: 10,000 reads in waves of 100 concurrent, then 100 on a second container.
    const tokens = new Set<string>();
    for (let wave = 0; wave < 100; wave += 1) {
      const answers = await Promise.all(Array.from({ length: 100 }, () => get(first, 'alpha')));
      for (const answer of answers) tokens.add(served(answer).accessToken);
    }
    const afterFirst = await moto.countOperations();
    await Promise.all(Array.from({ length: 100 }, () => get(second, 'alpha')));
    const afterSecond = await moto.countOperations();

    // Assess
    expect(tokens.size).toBe(1);
    expect(afterFirst).toEqual({ 'secretsmanager.GetSecretValue': 1 });
    expect(afterSecond).toEqual({ 'secretsmanager.GetSecretValue': 2 });
  });

  it.each([
    ['alpha', 'client_credentials', CALLER_A],
    ['rotating', 'refresh_token', CALLER_B],
  ] as const)(
    'turns 100 concurrent 401 reports of the same %s token from 10 containers into exactly 1 provider call',
    async (provider, grant, caller) => {
      // Prepare
      await refreshHandler()({ provider }, { getRemainingTimeInMillis: () => 30_000 });
      const refused = (await stored(provider))?.accessToken ?? '';
      offsetMs = 2 * 60_000;
      const containers = Array.from({ length: 10 }, container);
      oauth.resetCounters();

      // Act
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          reportRefused(containers[i % 10] as ReadHandler, provider, refused, caller),
        ),
      );

      // Assess
      expect(oauth.tokenRequests[grant]).toBe(1);
      const fresh = new Set(answers.map((answer) => served(answer).accessToken));
      expect(fresh.size).toBe(1);
      expect(fresh.has(refused)).toBe(false);
      expect([...fresh][0]).toBe((await stored(provider))?.accessToken);
      expect(oauth.serverErrors).toEqual([]);

      // Act: a late report of the token that was already replaced.
      oauth.resetCounters();
      const late = served(await reportRefused(container(), provider, refused, caller));

      // Assess: no provider call; the current token.
      expect(oauth.tokenRequests.total).toBe(0);
      expect(late.accessToken).toBe([...fresh][0]);
    },
  );

  it('enforces the consumers list: allowed, other provider, unknown provider, no identity, malformed ARN', async () => {
    // Prepare
    await refreshHandler()({ provider: 'alpha' }, { getRemainingTimeInMillis: () => 30_000 });
    await refreshHandler()({ provider: 'rotating' }, { getRemainingTimeInMillis: () => 30_000 });
    const handler = container();
    await moto.startCounting();

    // Act
    const denied = await Promise.all([
      get(handler, 'rotating', CALLER_A),
      get(handler, 'nope', CALLER_A),
      get(handler, 'alpha', null),
      get(handler, 'alpha', 'arn:aws:sts::123456789012:assumed-role/'),
      get(handler, 'alpha', ROLE_B.replace('consumer-b', 'consumer-c')),
    ]);
    const deniedCalls = await moto.countOperations();
    const allowed = await get(handler, 'alpha', CALLER_A);

    // Assess: refusals cost no AWS call, so they reveal nothing, not even a provider's existence.
    expect(denied.map((response) => [response.statusCode, JSON.parse(response.body).code])).toEqual([
      [403, 'forbidden'],
      [403, 'forbidden'],
      [401, 'missing_identity'],
      [403, 'forbidden'],
      [403, 'forbidden'],
    ]);
    expect(deniedCalls).toEqual({});
    expect(served(allowed).provider).toBe('alpha');
  });

  it('never wrote a token, refresh token or client secret to the logs', () => {
    const logs = captured.join('');
    expect(logs).toContain('Read request');
    const secrets = [SECRET_CC, SECRET_RT, ...issued];
    expect(secrets.length).toBeGreaterThan(6);
    for (const secret of secrets) expect(logs.includes(secret), 'a secret in the logs').toBe(false);
  });
});
