import 'aws-sdk-client-mock-vitest/extend';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { HttpFetch, HttpRequestInit } from '../../../functions/client/http.js';
import {
  createSecretsManagerTokenClient,
  parseTokenSecret,
  TokenClientError,
  translateSecretsManagerError,
} from '../../../functions/client/secrets-manager.js';
import { planSecretsManagerTransport } from '../../../functions/client/secrets-manager-transport.js';
import { awsError } from '../aws/helpers.js';
import { FakeClock, HOUR, T0 } from './fakes.js';

const SECRET_ID = 'token-refresher/github/token';
const ACCESS_TOKEN = 'gho_secret-access-token-4b1d';

/** The token secret's JSON as the refresher writes it. */
function record(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    provider: 'github',
    accessToken: ACCESS_TOKEN,
    tokenType: 'Bearer',
    expiresAt: new Date(T0 + HOUR).toISOString(),
    issuedAt: new Date(T0).toISOString(),
    scope: 'repo',
    generation: 3,
    ...overrides,
  };
}

describe('Function: createSecretsManagerTokenClient', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  let clock: FakeClock;

  beforeEach(() => {
    secretsManager.reset();
    clock = new FakeClock();
  });

  const build = (options: { secretPrefix?: string } = {}) =>
    createSecretsManagerTokenClient({
      client: new SecretsManagerClient({ region: 'us-east-1' }),
      clock,
      ...options,
    });

  it('reads AWSCURRENT of token-refresher/<provider>/token once for 1,000 getToken calls', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(record()) });
    const client = build();

    // Act
    const tokens = await Promise.all(Array.from({ length: 1_000 }, () => client.getToken('github')));

    // Assess
    expect(tokens[999]).toStrictEqual({
      provider: 'github',
      accessToken: ACCESS_TOKEN,
      tokenType: 'Bearer',
      expiresAt: '2030-01-01T01:00:00.000Z',
    });
    expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, {
      SecretId: SECRET_ID,
      VersionStage: 'AWSCURRENT',
    });
    expect(secretsManager).toReceiveCommandTimes(GetSecretValueCommand, 1);
  });

  it('reads <secretPrefix>/<provider>/token when a prefix is given', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(record()) });

    // Act
    await build({ secretPrefix: 'prod/tokens' }).getToken('github');

    // Assess
    expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, {
      SecretId: 'prod/tokens/github/token',
      VersionStage: 'AWSCURRENT',
    });
  });

  it('answers token_not_ready while the secret holds the placeholder', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: '{"status":"pending"}' });

    // Act
    const reading = build().getToken('github');

    // Assess
    await expect(reading).rejects.toMatchObject({
      name: 'TokenClientError',
      code: 'token_not_ready',
      message: expect.stringContaining(`"${SECRET_ID}"`),
    });
  });

  it('answers token_expired for a stored token that has expired', async () => {
    // Prepare
    secretsManager
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify(record({ expiresAt: new Date(T0 - 1).toISOString() })) });

    // Act
    const reading = build().getToken('github');

    // Assess
    await expect(reading).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('with a 401 reads the secret again, bypassing the cache, and retries with the newer token', async () => {
    // Prepare
    const newer = record({ accessToken: 'gho_newer-token-77aa', generation: 4 });
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify(record()) })
      .resolvesOnce({ SecretString: JSON.stringify(newer) });
    const client = build();
    const seen: string[] = [];

    // Act
    const result = await client.withToken('github', async (t) => {
      seen.push(t.accessToken);
      return { status: t.accessToken === ACCESS_TOKEN ? 401 : 200 };
    });

    // Assess
    expect(result).toStrictEqual({ status: 200 });
    expect(seen).toStrictEqual([ACCESS_TOKEN, 'gho_newer-token-77aa']);
    expect(secretsManager).toReceiveCommandTimes(GetSecretValueCommand, 2);
    expect(secretsManager).toReceiveNthCommandWith(GetSecretValueCommand, 2, {
      SecretId: SECRET_ID,
      VersionStage: 'AWSCURRENT',
    });
  });

  it('with a 401 returns it without a retry when the secret still holds the refused token', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(record()) });
    const client = build();
    let calls = 0;

    // Act
    const result = await client.withToken('github', async () => {
      calls += 1;
      return { status: 401 };
    });

    // Assess
    expect(result).toStrictEqual({ status: 401 });
    expect(calls).toBe(1);
    expect(secretsManager).toReceiveCommandTimes(GetSecretValueCommand, 2);
  });

  it.each([[''], ['prefix/']])('refuses secretPrefix %j with invalid_options', (secretPrefix) => {
    // Act
    const creating = () => build({ secretPrefix });

    // Assess
    expect(creating).toThrow(expect.objectContaining({ code: 'invalid_options' }));
  });
});

describe('Function: parseTokenSecret', () => {
  it('returns provider, accessToken, tokenType and expiresAt of a token record', () => {
    // Act
    const token = parseTokenSecret('github', JSON.stringify(record()), SECRET_ID);

    // Assess
    expect(token).toStrictEqual({
      provider: 'github',
      accessToken: ACCESS_TOKEN,
      tokenType: 'Bearer',
      expiresAt: '2030-01-01T01:00:00.000Z',
    });
    expect(Object.isFrozen(token)).toBe(true);
  });

  it.each([
    ['no SecretString (a binary secret)', undefined, 'invalid_token_record', 'has no SecretString'],
    ['a string that is not JSON', `not json ${ACCESS_TOKEN}`, 'invalid_token_record', 'does not hold JSON'],
    ['a JSON array', '[]', 'invalid_token_record', 'is not a JSON object'],
    ['the placeholder', '{"status":"pending"}', 'token_not_ready', 'holds no token yet'],
    [
      'no accessToken',
      JSON.stringify(record({ accessToken: undefined })),
      'invalid_token_record',
      '"accessToken" must be a non-empty string',
    ],
    [
      'an empty tokenType',
      JSON.stringify(record({ tokenType: '' })),
      'invalid_token_record',
      '"tokenType" must be a non-empty string',
    ],
    [
      'an expiresAt without offset',
      JSON.stringify(record({ expiresAt: '2030-01-01T01:00:00' })),
      'invalid_token_record',
      '"expiresAt" must be an ISO-8601 date-time',
    ],
    [
      'an expiresAt in epoch seconds',
      JSON.stringify(record({ expiresAt: 1_893_459_600 })),
      'invalid_token_record',
      '"expiresAt" must be an ISO-8601 date-time',
    ],
    [
      'no provider',
      JSON.stringify(record({ provider: undefined })),
      'invalid_token_record',
      '"provider" must be a non-empty string',
    ],
    [
      'the record of another provider',
      JSON.stringify(record({ provider: 'gitlab' })),
      'provider_mismatch',
      'holds the token of provider "gitlab", not "github"',
    ],
  ])('refuses %s and never quotes the token', (_case, secretString, code, fragment) => {
    // Act
    const parsing = () => parseTokenSecret('github', secretString, SECRET_ID);

    // Assess
    expect(parsing).toThrow(TokenClientError);
    expect(parsing).toThrow(expect.objectContaining({ code, message: expect.stringContaining(fragment) }));
    expect(parsing).not.toThrow(expect.objectContaining({ message: expect.stringContaining(ACCESS_TOKEN) }));
  });
});

describe('Function: translateSecretsManagerError', () => {
  it.each([
    [
      'ResourceNotFoundException',
      'secret_not_found',
      new ResourceNotFoundException({ message: 'not found', $metadata: {} }),
    ],
    ['AccessDeniedException', 'access_denied', awsError('AccessDeniedException', 'denied', 400)],
    ['DecryptionFailure', 'access_denied', awsError('DecryptionFailure', 'kms', 400)],
    ['ThrottlingException', 'read_failed', awsError('ThrottlingException', 'slow down', 400)],
    ['InternalServiceError', 'read_failed', awsError('InternalServiceError', 'oops', 500)],
    ['a network error', 'read_failed', new Error('connect ECONNREFUSED')],
  ])('translates %s into %s, keeping it as the cause', (_case, code, sdkError) => {
    // Act
    const error = translateSecretsManagerError(sdkError, SECRET_ID);

    // Assess
    expect(error).toMatchObject({ name: 'TokenClientError', code, cause: sdkError });
    expect(error.message).toContain(SECRET_ID);
    expect(JSON.stringify(error)).not.toContain('cause');
  });
});

/** Static credentials of the `fetch` transport's tests: never in an error. */
const CREDENTIALS = {
  accessKeyId: 'AKIDSECRETSMANAGER',
  secretAccessKey: 'sm-secret-access-key-never-shown',
  sessionToken: 'sm-session-token-never-shown',
};

/** A fake fetch answering Secrets Manager's scripted answers in order (the last one repeats). */
function fakeSecretsManager(...answers: (() => Response | Error)[]) {
  const sent: { url: string; init: HttpRequestInit }[] = [];
  const fetch = vi.fn<HttpFetch>(async (url, init) => {
    sent.push({ url: String(url), init });
    const answer = (answers.length > 1 ? answers.shift() : answers[0])?.();
    if (answer === undefined) throw new Error('no scripted answer');
    if (answer instanceof Error) throw answer;
    return answer;
  });
  return { fetch, sent };
}

const secretValue =
  (value: Record<string, unknown> = record()) =>
  () =>
    new Response(
      JSON.stringify({ Name: SECRET_ID, SecretString: JSON.stringify(value), VersionStages: ['AWSCURRENT'] }),
    );
const awsFailure =
  (status: number, type: string, message = 'failure') =>
  () =>
    new Response(JSON.stringify({ __type: type, message }), {
      status,
      headers: { 'content-type': 'application/x-amz-json-1.1' },
    });

describe('Function: createSecretsManagerTokenClient (transport fetch)', () => {
  let clock: FakeClock;

  beforeEach(() => {
    clock = new FakeClock();
  });

  const build = (fetch: HttpFetch) =>
    createSecretsManagerTokenClient({
      clientConfig: { region: 'eu-west-1', credentials: CREDENTIALS },
      fetch,
      clock,
    });

  it('reads AWSCURRENT of token-refresher/<provider>/token with one signed request for 1,000 getToken calls', async () => {
    // Prepare
    const { fetch, sent } = fakeSecretsManager(secretValue());
    const client = build(fetch);

    // Act
    const tokens = await Promise.all(Array.from({ length: 1_000 }, () => client.getToken('github')));

    // Assess
    expect(tokens[999]).toStrictEqual({
      provider: 'github',
      accessToken: ACCESS_TOKEN,
      tokenType: 'Bearer',
      expiresAt: '2030-01-01T01:00:00.000Z',
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.url).toBe('https://secretsmanager.eu-west-1.amazonaws.com/');
    expect(JSON.parse(sent[0]?.init.body ?? '')).toStrictEqual({
      SecretId: SECRET_ID,
      VersionStage: 'AWSCURRENT',
    });
    expect(sent[0]?.init.headers).toMatchObject({
      'x-amz-target': 'secretsmanager.GetSecretValue',
      'x-amz-date': '20300101T000000Z',
      authorization: expect.stringMatching(
        /^AWS4-HMAC-SHA256 Credential=AKIDSECRETSMANAGER\/20300101\/eu-west-1\/secretsmanager\/aws4_request, /,
      ),
    });
  });

  it('with a 401 reads the secret again and retries with the newer token', async () => {
    // Prepare
    const { fetch, sent } = fakeSecretsManager(
      secretValue(),
      secretValue(record({ accessToken: 'gho_newer-token-77aa', generation: 4 })),
    );
    const client = build(fetch);
    const seen: string[] = [];

    // Act
    const result = await client.withToken('github', async (t) => {
      seen.push(t.accessToken);
      return { status: t.accessToken === ACCESS_TOKEN ? 401 : 200 };
    });

    // Assess
    expect(result).toStrictEqual({ status: 200 });
    expect(seen).toStrictEqual([ACCESS_TOKEN, 'gho_newer-token-77aa']);
    expect(sent).toHaveLength(2);
  });

  it('answers invalid_token_record for a secret without SecretString (a binary secret)', async () => {
    // Prepare
    const { fetch } = fakeSecretsManager(
      () => new Response(JSON.stringify({ Name: SECRET_ID, SecretBinary: 'AA==' })),
    );

    // Act
    const reading = build(fetch).getToken('github');

    // Assess
    await expect(reading).rejects.toMatchObject({
      code: 'invalid_token_record',
      message: expect.stringContaining('has no SecretString'),
    });
  });
});

describe('Error codes: the same on both transports', () => {
  const secretsManager = mockClient(SecretsManagerClient);

  beforeEach(() => {
    secretsManager.reset();
  });

  it.each([
    [
      'ResourceNotFoundException',
      awsFailure(400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret."),
      new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret.",
        $metadata: {},
      }),
      'secret_not_found',
    ],
    [
      'AccessDeniedException',
      awsFailure(400, 'AccessDeniedException', 'User is not authorized'),
      awsError('AccessDeniedException', 'User is not authorized', 400),
      'access_denied',
    ],
    [
      'DecryptionFailure',
      awsFailure(400, 'DecryptionFailure', 'kms'),
      awsError('DecryptionFailure', 'kms', 400),
      'access_denied',
    ],
    [
      'ThrottlingException (every attempt)',
      awsFailure(400, 'ThrottlingException', 'Rate exceeded'),
      awsError('ThrottlingException', 'Rate exceeded', 400),
      'read_failed',
    ],
    [
      'InternalServiceError (every attempt)',
      awsFailure(500, 'InternalServiceError', 'oops'),
      awsError('InternalServiceError', 'oops', 500),
      'read_failed',
    ],
    [
      'a network failure (every attempt)',
      () =>
        Object.assign(new TypeError('fetch failed'), {
          cause: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
        }),
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' }),
      'read_failed',
    ],
  ])('%s', async (_case, fetchAnswer, sdkError, code) => {
    // Prepare
    const { fetch } = fakeSecretsManager(fetchAnswer);
    const viaFetch = createSecretsManagerTokenClient({
      clientConfig: { region: 'eu-west-1', credentials: CREDENTIALS, maxAttempts: 2 },
      fetch,
    });
    secretsManager.on(GetSecretValueCommand).rejects(sdkError);
    const viaSdk = createSecretsManagerTokenClient({
      client: new SecretsManagerClient({ region: 'eu-west-1' }),
    });

    // Act
    const errors = await Promise.all(
      [viaFetch, viaSdk].map((client) =>
        client.getToken('github').then(
          () => undefined,
          (e: unknown) => e as TokenClientError,
        ),
      ),
    );

    // Assess: same class, code and message; nothing of the credentials or a token in either
    const [fromFetch, fromSdk] = errors;
    expect(fromFetch).toBeInstanceOf(TokenClientError);
    expect(fromFetch?.code).toBe(code);
    expect(fromSdk?.code).toBe(code);
    expect(fromFetch?.message.replace(/\(E[A-Z]+\)|\(Error\)/, '(…)')).toBe(
      fromSdk?.message.replace(/\(E[A-Z]+\)|\(Error\)/, '(…)'),
    );
    const shown = JSON.stringify(errors) + errors.map((error) => `${error?.message} ${error?.stack}`).join();
    for (const hidden of [CREDENTIALS.secretAccessKey, CREDENTIALS.sessionToken, ACCESS_TOKEN]) {
      expect(shown).not.toContain(hidden);
    }
  });

  it('token_not_ready, token_expired and provider_mismatch', async () => {
    // Prepare
    const values = [
      { status: 'pending' },
      record({ expiresAt: new Date(T0 - 1).toISOString() }),
      record({ provider: 'gitlab' }),
    ];
    const codes: [string | undefined, string | undefined][] = [];

    // Act
    for (const value of values) {
      const clock = new FakeClock();
      const { fetch } = fakeSecretsManager(secretValue(value));
      const viaFetch = createSecretsManagerTokenClient({
        clientConfig: { region: 'eu-west-1', credentials: CREDENTIALS },
        fetch,
        clock,
      });
      secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(value) });
      const viaSdk = createSecretsManagerTokenClient({
        client: new SecretsManagerClient({ region: 'eu-west-1' }),
        clock,
      });
      const [a, b] = await Promise.all(
        [viaFetch, viaSdk].map((client) =>
          client.getToken('github').catch((e: unknown) => (e as TokenClientError).code),
        ),
      );
      codes.push([a as string | undefined, b as string | undefined]);
    }

    // Assess
    expect(codes).toStrictEqual([
      ['token_not_ready', 'token_not_ready'],
      ['token_expired', 'token_expired'],
      ['provider_mismatch', 'provider_mismatch'],
    ]);
  });
});

describe('Function: planSecretsManagerTransport', () => {
  const LAMBDA = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'ASIA', AWS_SECRET_ACCESS_KEY: 's' };

  it("takes fetch by default on Lambda: the region and the SDK's endpoint from the environment", () => {
    // Act
    const plan = planSecretsManagerTransport({}, LAMBDA);

    // Assess
    expect(plan).toStrictEqual({
      kind: 'fetch',
      region: 'eu-west-1',
      endpoint: new URL('https://secretsmanager.eu-west-1.amazonaws.com'),
      credentials: undefined,
      maxAttempts: 3,
      attemptTimeoutMs: 8_000,
    });
  });

  it('takes fetch with clientConfig region, endpoint, credentials and maxAttempts', () => {
    // Act
    const plan = planSecretsManagerTransport(
      {
        clientConfig: {
          region: 'us-east-1',
          endpoint: 'http://127.0.0.1:5000',
          credentials: CREDENTIALS,
          maxAttempts: 5,
        },
      },
      { AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:6000' },
    );

    // Assess
    expect(plan).toMatchObject({
      kind: 'fetch',
      region: 'us-east-1',
      endpoint: new URL('http://127.0.0.1:5000'),
      credentials: CREDENTIALS,
      maxAttempts: 5,
    });
  });

  it.each([
    ['transport "sdk"', { transport: 'sdk' as const }, LAMBDA, 'transport "sdk"'],
    ['a client', { client: new SecretsManagerClient({}) }, LAMBDA, 'a client is given'],
    [
      'SDK-only clientConfig settings',
      { clientConfig: { requestHandler: { requestTimeout: 1 }, logger: console } },
      LAMBDA,
      'clientConfig sets requestHandler, logger',
    ],
    [
      'a region provider',
      { clientConfig: { region: async () => 'eu-west-1' } },
      LAMBDA,
      'clientConfig sets region',
    ],
    [
      'no region anywhere',
      {},
      { AWS_ACCESS_KEY_ID: 'x' },
      'no region is set (clientConfig.region or AWS_REGION)',
    ],
    ['FIPS endpoints', {}, { ...LAMBDA, AWS_USE_FIPS_ENDPOINT: 'true' }, 'AWS_USE_FIPS_ENDPOINT is set'],
  ])('takes the SDK with %s', (_case, options, environment, reason) => {
    // Act
    const plan = planSecretsManagerTransport(options, environment);

    // Assess
    expect(plan).toStrictEqual({ kind: 'sdk', reason });
  });

  it.each([
    ['an unknown transport', { transport: 'http' }, 'transport must be "fetch" or "sdk", not "http"'],
    [
      'transport "fetch" with a client',
      { transport: 'fetch', client: new SecretsManagerClient({}) },
      'transport "fetch" cannot be used: a client is given; use transport "sdk"',
    ],
    [
      'transport "fetch" with SDK-only settings',
      { transport: 'fetch', clientConfig: { requestHandler: {} } },
      'clientConfig sets requestHandler',
    ],
  ])('refuses %s with invalid_options', (_case, options, fragment) => {
    // Act
    const planning = () => planSecretsManagerTransport(options as never, LAMBDA);

    // Assess
    expect(planning).toThrow(
      expect.objectContaining({ code: 'invalid_options', message: expect.stringContaining(fragment) }),
    );
  });

  it('refuses transport "fetch" without a region, naming the fix', () => {
    // Act
    const planning = () => planSecretsManagerTransport({ transport: 'fetch' }, {});

    // Assess
    expect(planning).toThrow(
      expect.objectContaining({
        code: 'invalid_options',
        message: expect.stringContaining('no region is set (clientConfig.region or AWS_REGION)'),
      }),
    );
  });
});
