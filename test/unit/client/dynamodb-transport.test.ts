/**
 * The DynamoDB source's transports (issue 17): the `fetch` transport's exact signed `GetItem`, its
 * answers and error codes side by side with the SDK's (a fake fetch against `aws-sdk-client-mock`),
 * and the transport choice, which follows the Secrets Manager source's rules.
 */
import 'aws-sdk-client-mock-vitest/extend';
import {
  type AttributeValue,
  DynamoDBClient,
  GetItemCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createDynamoDbTokenClient, TokenClientError } from '../../../functions/client/dynamodb.js';
import {
  checkDynamoDbSourceOptions,
  planDynamoDbTransport,
} from '../../../functions/client/dynamodb-transport.js';
import type { HttpFetch, HttpRequestInit } from '../../../functions/client/http.js';
import { createTokenClient } from '../../../functions/client/index.js';
import { awsError } from '../aws/helpers.js';
import { FakeClock, HOUR, T0 } from './fakes.js';

const TABLE = 'prod-tokens';
const ACCESS_TOKEN = 'ddb-access-token-fetch-3c3c';
const ITEM: Record<string, AttributeValue> = {
  provider: { S: 'github' },
  accessToken: { S: ACCESS_TOKEN },
  tokenType: { S: 'Bearer' },
  expiresAt: { S: new Date(T0 + HOUR).toISOString() },
};

/** Static credentials of the `fetch` transport's tests: never in an error. */
const CREDENTIALS = {
  accessKeyId: 'AKIDDYNAMODB',
  secretAccessKey: 'ddb-secret-access-key-never-shown',
  sessionToken: 'ddb-session-token-never-shown',
};

/** A fake fetch answering DynamoDB's scripted answers in order (the last one repeats). */
function fakeDynamoDb(...answers: (() => Response | Error)[]) {
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

const itemAnswer = (item: Record<string, AttributeValue> | undefined) => () =>
  new Response(JSON.stringify(item === undefined ? {} : { Item: item }), {
    headers: { 'content-type': 'application/x-amz-json-1.0' },
  });

/** An error answer as DynamoDB sends it: JSON 1.0, `__type` with the service's namespace. */
const awsFailure =
  (status: number, type: string, message = 'failure') =>
  () =>
    new Response(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message }), {
      status,
      headers: { 'content-type': 'application/x-amz-json-1.0' },
    });

const viaFetch = (fetch: HttpFetch, clock = new FakeClock(), maxAttempts?: number) =>
  createDynamoDbTokenClient({
    tableName: TABLE,
    clientConfig: {
      region: 'eu-west-1',
      credentials: CREDENTIALS,
      ...(maxAttempts === undefined ? {} : { maxAttempts }),
    },
    fetch,
    clock,
  });

describe('Function: createDynamoDbTokenClient (transport fetch)', () => {
  it("reads the provider's item with one signed, strongly consistent GetItem of the token fields for 1,000 getToken calls", async () => {
    // Prepare
    const { fetch, sent } = fakeDynamoDb(itemAnswer({ ...ITEM, versionId: { S: 'v1' }, fence: { N: '3' } }));
    const client = viaFetch(fetch);

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
    expect(sent[0]?.url).toBe('https://dynamodb.eu-west-1.amazonaws.com/');
    expect(JSON.parse(sent[0]?.init.body ?? '')).toStrictEqual({
      TableName: TABLE,
      Key: { provider: { S: 'github' } },
      ConsistentRead: true,
      ProjectionExpression: '#provider, #accessToken, #tokenType, #expiresAt',
      ExpressionAttributeNames: {
        '#provider': 'provider',
        '#accessToken': 'accessToken',
        '#tokenType': 'tokenType',
        '#expiresAt': 'expiresAt',
      },
    });
    expect(sent[0]?.init.headers).toMatchObject({
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.GetItem',
      'x-amz-date': '20300101T000000Z',
      'x-amz-security-token': CREDENTIALS.sessionToken,
      authorization: expect.stringMatching(
        /^AWS4-HMAC-SHA256 Credential=AKIDDYNAMODB\/20300101\/eu-west-1\/dynamodb\/aws4_request, /,
      ),
    });
  });

  it('sends to AWS_ENDPOINT_URL_DYNAMODB, signing with the environment credentials, as on Lambda', async () => {
    // Prepare
    vi.stubEnv('AWS_REGION', 'eu-central-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'ASIAENVIRONMENT');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'environment-secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'environment-session');
    vi.stubEnv('AWS_PROFILE', undefined);
    vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', 'http://127.0.0.1:4566');
    vi.stubEnv('AWS_ENDPOINT_URL', 'http://127.0.0.1:9');
    const { fetch, sent } = fakeDynamoDb(itemAnswer(ITEM));

    try {
      // Act
      await createDynamoDbTokenClient({ tableName: TABLE, fetch, clock: new FakeClock() }).getToken('github');
    } finally {
      vi.unstubAllEnvs();
    }

    // Assess
    expect(sent[0]?.url).toBe('http://127.0.0.1:4566/');
    expect(sent[0]?.init.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=ASIAENVIRONMENT\/20300101\/eu-central-1\/dynamodb\/aws4_request, /,
    );
  });

  it('with a 401 reads the item again and retries with the newer token', async () => {
    // Prepare
    const { fetch, sent } = fakeDynamoDb(
      itemAnswer(ITEM),
      itemAnswer({ ...ITEM, accessToken: { S: 'newer-ddb-token' } }),
    );
    const client = viaFetch(fetch);
    const seen: string[] = [];

    // Act
    const result = await client.withToken('github', async (t) => {
      seen.push(t.accessToken);
      return { status: t.accessToken === ACCESS_TOKEN ? 401 : 200 };
    });

    // Assess
    expect(result).toStrictEqual({ status: 200 });
    expect(seen).toStrictEqual([ACCESS_TOKEN, 'newer-ddb-token']);
    expect(sent).toHaveLength(2);
  });

  it('answers read_failed, quoting nothing, for an Item that is not a map', async () => {
    // Prepare
    const { fetch } = fakeDynamoDb(() => new Response(JSON.stringify({ Item: ACCESS_TOKEN })));

    // Act
    const error = await viaFetch(fetch)
      .getToken('github')
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ code: 'read_failed' });
    expect((error as Error).message).toBe(`Reading token table "${TABLE}" failed (SerializationError)`);
  });
});

describe('Answers and error codes: the same on both transports', () => {
  const dynamodb = mockClient(DynamoDBClient);

  beforeEach(() => {
    dynamodb.reset();
  });

  const viaSdk = (clock = new FakeClock()) =>
    createDynamoDbTokenClient({
      tableName: TABLE,
      client: new DynamoDBClient({ region: 'eu-west-1' }),
      clock,
    });

  /** The outcome of one getToken: the token's access token, or the error's code and message. */
  const outcome = (client: ReturnType<typeof viaSdk>) =>
    client.getToken('github').then(
      (token) => ({ token: token.accessToken }),
      (error: unknown) => ({
        code: (error as TokenClientError).code,
        message: (error as TokenClientError).message,
        error: error as TokenClientError,
      }),
    );

  it.each([
    ['a good token', ITEM, { token: ACCESS_TOKEN }],
    ['no item', undefined, { code: 'token_not_ready' }],
    ['an item without accessToken', { ...ITEM, accessToken: undefined }, { code: 'invalid_token_record' }],
    ['an expiresAt that is a number', { ...ITEM, expiresAt: { N: '1' } }, { code: 'invalid_token_record' }],
    ['an empty tokenType', { ...ITEM, tokenType: { S: '' } }, { code: 'invalid_token_record' }],
    ['another provider in the item', { ...ITEM, provider: { S: 'gitlab' } }, { code: 'provider_mismatch' }],
    [
      'an expired token',
      { ...ITEM, expiresAt: { S: new Date(T0 - 1).toISOString() } },
      { code: 'token_expired' },
    ],
  ])('%s', async (_case, item, expected) => {
    // Prepare
    const stored =
      item === undefined ? undefined : (JSON.parse(JSON.stringify(item)) as Record<string, AttributeValue>);
    const { fetch, sent } = fakeDynamoDb(itemAnswer(stored));
    dynamodb.on(GetItemCommand).resolves(stored === undefined ? {} : { Item: stored });

    // Act
    const [fromFetch, fromSdk] = await Promise.all([outcome(viaFetch(fetch)), outcome(viaSdk())]);

    // Assess: the same answer, word for word, and never a token value in a message
    expect(fromFetch).toMatchObject(expected);
    expect(sent).toHaveLength(1);
    expect({ ...fromFetch, error: undefined }).toStrictEqual({ ...fromSdk, error: undefined });
    if ('message' in fromFetch) expect(fromFetch.message).not.toContain(ACCESS_TOKEN);
  });

  it.each([
    [
      'ResourceNotFoundException',
      awsFailure(400, 'ResourceNotFoundException', 'Requested resource not found'),
      new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: {} }),
      'table_not_found',
    ],
    [
      'AccessDeniedException',
      awsFailure(400, 'AccessDeniedException', 'User is not authorized to perform: dynamodb:GetItem'),
      awsError('AccessDeniedException', 'User is not authorized to perform: dynamodb:GetItem', 400),
      'access_denied',
    ],
    [
      'ProvisionedThroughputExceededException (every attempt)',
      awsFailure(400, 'ProvisionedThroughputExceededException', 'Rate exceeded'),
      awsError('ProvisionedThroughputExceededException', 'Rate exceeded', 400),
      'read_failed',
    ],
    [
      'InternalServerError (every attempt)',
      awsFailure(500, 'InternalServerError', 'oops'),
      awsError('InternalServerError', 'oops', 500),
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
    const { fetch, sent } = fakeDynamoDb(fetchAnswer);
    dynamodb.on(GetItemCommand).rejects(sdkError);

    // Act
    const errors = await Promise.all(
      [viaFetch(fetch, new FakeClock(), 2), viaSdk()].map((client) =>
        client.getToken('github').then(
          () => undefined,
          (e: unknown) => e as TokenClientError,
        ),
      ),
    );

    // Assess: same class, code and message (a network error's name aside); no credentials in either
    const [fromFetch, fromSdk] = errors;
    expect(fromFetch).toBeInstanceOf(TokenClientError);
    expect(fromFetch?.code).toBe(code);
    expect(fromSdk?.code).toBe(code);
    expect(fromFetch?.message.replace(/\(E[A-Z]+\)|\(Error\)/, '(…)')).toBe(
      fromSdk?.message.replace(/\(E[A-Z]+\)|\(Error\)/, '(…)'),
    );
    expect(fromFetch?.message).toContain(TABLE);
    // Retried as the SDK retries: throttling, 5xx and network failures, not the others.
    expect(sent).toHaveLength(code === 'read_failed' ? 2 : 1);
    const shown = JSON.stringify(errors) + errors.map((error) => `${error?.message} ${error?.stack}`).join();
    for (const hidden of [CREDENTIALS.secretAccessKey, CREDENTIALS.sessionToken]) {
      expect(shown).not.toContain(hidden);
    }
  });
});

describe('Function: planDynamoDbTransport', () => {
  const LAMBDA = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'ASIA', AWS_SECRET_ACCESS_KEY: 's' };

  it("takes fetch by default on Lambda: the region and DynamoDB's regional endpoint, the SDK's retries and timeouts", () => {
    // Act
    const plan = planDynamoDbTransport({}, LAMBDA);

    // Assess
    expect(plan).toStrictEqual({
      kind: 'fetch',
      region: 'eu-west-1',
      endpoint: new URL('https://dynamodb.eu-west-1.amazonaws.com'),
      credentials: undefined,
      maxAttempts: 3,
      attemptTimeoutMs: 8_000,
    });
  });

  it('takes AWS_ENDPOINT_URL_DYNAMODB over AWS_ENDPOINT_URL, and clientConfig.endpoint over both', () => {
    // Prepare
    const environment = {
      ...LAMBDA,
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:5001',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:5002',
    };

    // Act
    const plans = [
      planDynamoDbTransport({}, environment),
      planDynamoDbTransport({ clientConfig: { endpoint: 'http://127.0.0.1:5003' } }, environment),
    ];

    // Assess
    expect(plans.map((plan) => (plan.kind === 'fetch' ? plan.endpoint.href : plan.reason))).toStrictEqual([
      'http://127.0.0.1:5001/',
      'http://127.0.0.1:5003/',
    ]);
  });

  it.each([
    ['transport "sdk"', { transport: 'sdk' as const }, LAMBDA, 'transport "sdk"'],
    ['a client', { client: new DynamoDBClient({}) }, LAMBDA, 'a client is given'],
    [
      'account-based endpoints in clientConfig',
      { clientConfig: { accountIdEndpointMode: 'required' as const } },
      LAMBDA,
      'clientConfig sets accountIdEndpointMode',
    ],
    [
      'account-based endpoints required by the environment',
      {},
      { ...LAMBDA, AWS_ACCOUNT_ID_ENDPOINT_MODE: 'required' },
      'AWS_ACCOUNT_ID_ENDPOINT_MODE is "required" (account-based endpoints)',
    ],
    [
      'dual-stack endpoints',
      {},
      { ...LAMBDA, AWS_USE_DUALSTACK_ENDPOINT: 'true' },
      'AWS_USE_DUALSTACK_ENDPOINT is set',
    ],
    ['no region anywhere', {}, {}, 'no region is set (clientConfig.region or AWS_REGION)'],
  ])('takes the SDK with %s', (_case, options, environment, reason) => {
    // Act
    const plan = planDynamoDbTransport(options, environment);

    // Assess
    expect(plan).toStrictEqual({ kind: 'sdk', reason });
  });

  it('refuses transport "fetch" where it cannot do what the SDK would, naming the fix', () => {
    // Act
    const planning = () =>
      planDynamoDbTransport({ transport: 'fetch' }, { ...LAMBDA, AWS_ACCOUNT_ID_ENDPOINT_MODE: 'REQUIRED' });

    // Assess
    expect(planning).toThrow(
      expect.objectContaining({
        code: 'invalid_options',
        message:
          'transport "fetch" cannot be used: AWS_ACCOUNT_ID_ENDPOINT_MODE is "required" (account-based endpoints); use transport "sdk"',
      }),
    );
  });
});

describe('Function: checkDynamoDbSourceOptions (the index, at cold start)', () => {
  it.each([
    [
      'an unknown transport',
      { source: 'dynamodb', tableName: TABLE, transport: 'http' },
      'transport must be',
    ],
    [
      'transport "fetch" with a client',
      { source: 'dynamodb', tableName: TABLE, transport: 'fetch', client: new DynamoDBClient({}) },
      'a client is given',
    ],
    ['no tableName', { source: 'dynamodb' }, 'tableName must be'],
  ])('createTokenClient refuses %s with invalid_options, loading nothing', (_case, options, fragment) => {
    // Act
    const creating = () => createTokenClient(options as never);

    // Assess
    expect(creating).toThrow(
      expect.objectContaining({ code: 'invalid_options', message: expect.stringContaining(fragment) }),
    );
  });

  it('accepts the options the source accepts', () => {
    expect(() =>
      checkDynamoDbSourceOptions({
        tableName: TABLE,
        transport: 'fetch',
        clientConfig: { region: 'eu-west-1' },
      }),
    ).not.toThrow();
  });
});
