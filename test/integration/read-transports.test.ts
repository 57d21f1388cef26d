/**
 * The read function on both AWS transports (issue 17): `fetch` (SDK-free signed requests, the default)
 * and `sdk` (`TOKEN_REFRESHER_AWS_TRANSPORT=sdk`) drive the same requests end to end against moto
 * (Secrets Manager, DynamoDB, IAM checks), oidc-provider and Lambda's Invoke API in front of the real
 * refresh handler (test/support/lambda-front.ts: moto cannot run a function), and must give the same
 * answers, the same codes and the same logged error codes. Endpoints, region and credentials come
 * from the environment, as on Lambda, so both transports resolve them themselves.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AwsTransport } from '../../functions/aws/aws-transport.js';
import { FetchRefreshTrigger } from '../../functions/aws/fetch-refresh-trigger.js';
import { LambdaRefreshTrigger } from '../../functions/aws/refresh-invoker.js';
import { nodeHttpFetch } from '../../functions/client/http.js';
import { ReadFunctionTokenSource } from '../../functions/client/read-function.js';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import { toRefresherError } from '../../functions/core/errors.js';
import type { Logger, RefreshTrigger } from '../../functions/core/ports.js';
import { sha256Hex } from '../../functions/core/token-hash.js';
import { assumeEmulatorRole } from '../../functions/local/local-caller.js';
import { type ReadHandler, readHandlerFromEnvironment, type UrlResponse } from '../../functions/read/app.js';
import { refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { createUserWithPolicy, IAM_SETUP_REQUESTS } from '../support/iam.js';
import { type LambdaFront, type RecordedInvoke, startLambdaFront } from '../support/lambda-front.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { captureProcessOutput } from '../support/output.js';
import { provision } from '../support/resources.js';

const PREFIX = 'rt-it';
const TABLE = 'rt-state';
const TOKEN_TABLE = 'rt-tokens';
const SECRET = 'rt-secret-51c2';
const REFRESH_FUNCTION = 'rt-refresh';
const CRASHING_FUNCTION = 'rt-crashing';
const ROLE = 'arn:aws:iam::123456789012:role/rt-consumer';
const CALLER = 'arn:aws:sts::123456789012:assumed-role/rt-consumer/session';
const TRANSPORTS: readonly AwsTransport[] = ['fetch', 'sdk'];

/** What a consumer sees of an answer, and the codes the container logged on the way. */
interface Observed {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly logged: readonly string[];
}

/** The log lines' messages and codes (never durations). */
class CodeLog implements Logger {
  readonly lines: string[] = [];
  debug(): void {}
  info(message: string, attributes?: Record<string, unknown>): void {
    this.#add(message, attributes);
  }
  warn(message: string, attributes?: Record<string, unknown>): void {
    this.#add(message, attributes);
  }
  error(message: string, attributes?: Record<string, unknown>): void {
    this.#add(message, attributes);
  }
  #add(message: string, attributes: Record<string, unknown> = {}): void {
    const { code, errorCode, status } = attributes;
    this.lines.push([message, status, code, errorCode].filter((part) => part !== undefined).join(' '));
  }
}

describe('Read function on transports fetch and sdk, against moto, oidc-provider and a Lambda front', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let front: LambdaFront;
  let offsetMs = 0;
  const clock = { now: () => Date.now() + offsetMs };
  const captured: string[] = [];

  const config = () => ({
    secretPrefix: PREFIX,
    // The caller is the event's userArn; caller proofs have their own tests (caller-proof.test.ts).
    trustDirectInvoke: true,
    providers: [
      {
        name: 'alpha',
        grant: 'client_credentials',
        tokenUrl: oauth.tokenUrl,
        requestTimeout: 2,
        consumers: [ROLE],
      },
      {
        name: 'short',
        grant: 'client_credentials',
        tokenUrl: oauth.tokenUrl,
        requestTimeout: 2,
        tokenStore: 'dynamodb',
        expectedLifetime: 120,
        consumers: [ROLE],
      },
      // Configured, but its token secret was never created (a stack deployed without it).
      { name: 'ghost', grant: 'client_credentials', tokenUrl: oauth.tokenUrl, consumers: [ROLE] },
    ],
  });
  const refreshEnvironment = () => ({
    TABLE_NAME: TABLE,
    TOKEN_TABLE_NAME: TOKEN_TABLE,
    // Normalized, as the construct delivers it.
    PROVIDERS_CONFIG: deployedConfigJson(config()),
  });
  const refreshHandler = () =>
    refreshHandlerFromEnvironment(refreshEnvironment(), {
      clientConfig: { ...moto.clientConfig, maxAttempts: 1 },
      logger: new CodeLog(),
      clock,
    });
  const refresh = (provider: string) =>
    refreshHandler()({ provider }, { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 30_000 });

  /**
   * One read container as Lambda builds it: `readHandlerFromEnvironment` with the function's variables,
   * the AWS ones stubbed into `process.env` (where the SDK reads them).
   */
  const container = (
    transport: AwsTransport,
    logger: Logger,
    overrides: Readonly<Record<string, string>> = {},
  ): ReadHandler => {
    // The SDK reads its variables from process.env itself.
    for (const [name, value] of Object.entries(overrides)) {
      if (name.startsWith('AWS_')) vi.stubEnv(name, value);
    }
    return readHandlerFromEnvironment(
      {
        ...process.env,
        ...refreshEnvironment(),
        REFRESH_FUNCTION_NAME: REFRESH_FUNCTION,
        TOKEN_REFRESHER_AWS_TRANSPORT: transport,
        ...overrides,
      },
      // A failed Invoke is followed by polling the store until this bound: short for those cases.
      { logger, clock, refreshWaitMs: overrides.REFRESH_FUNCTION_NAME === undefined ? 10_000 : 1_000 },
    );
  };

  const get = async (handler: ReadHandler, provider: string) =>
    (await handler({
      version: '2.0',
      rawPath: `/tokens/${provider}`,
      headers: {},
      isBase64Encoded: false,
      requestContext: {
        http: { method: 'GET', path: `/tokens/${provider}` },
        authorizer: { iam: { userArn: CALLER } },
      },
    })) as UrlResponse;

  const reportRefused = async (handler: ReadHandler, provider: string, token: string) =>
    (await handler({
      version: '2.0',
      rawPath: `/tokens/${provider}/refresh`,
      headers: { 'content-type': 'application/json' },
      isBase64Encoded: false,
      body: JSON.stringify({ rejectedTokenSha256: sha256Hex(token) }),
      requestContext: {
        http: { method: 'POST', path: `/tokens/${provider}/refresh` },
        authorizer: { iam: { userArn: CALLER } },
      },
    })) as UrlResponse;

  /** A POST to moto's own API (configuration, canned answers). */
  const motoApi = async (path: string, body: unknown) => {
    const response = await fetch(`${moto.endpoint}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.status, path).toBeLessThan(300);
  };

  /** Run `work` on a fresh container of each transport; what each observed, by transport. */
  async function onBoth(
    work: (handler: ReadHandler) => Promise<UrlResponse>,
    options: { readonly before?: () => Promise<void>; readonly overrides?: Record<string, string> } = {},
  ): Promise<Record<AwsTransport, Observed>> {
    const observed: Partial<Record<AwsTransport, Observed>> = {};
    for (const transport of TRANSPORTS) {
      await options.before?.();
      const logger = new CodeLog();
      const answer = await work(container(transport, logger, options.overrides));
      observed[transport] = {
        status: answer.statusCode,
        body: JSON.parse(answer.body) as Record<string, unknown>,
        logged: logger.lines,
      };
    }
    return observed as Record<AwsTransport, Observed>;
  }

  beforeAll(async () => {
    captureProcessOutput(captured, ['stdout']);
    [moto, oauth] = await Promise.all([
      startMoto(),
      startOAuthServer({
        clients: [
          {
            clientId: 'svc-rt',
            clientSecret: SECRET,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['client_credentials'],
            accessTokenTtlSeconds: 3600,
          },
        ],
      }),
    ]);
    front = await startLambdaFront({
      region: moto.clientConfig.region,
      credentials: moto.clientConfig.credentials,
      functions: {
        [REFRESH_FUNCTION]: (payload) =>
          refreshHandler()(payload as never, {
            awsRequestId: randomUUID(),
            getRemainingTimeInMillis: () => 30_000,
          }),
        [CRASHING_FUNCTION]: async () => {
          throw new TypeError('the refresh function crashed');
        },
      },
    });
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all([moto?.stop(), oauth?.stop(), front?.stop()]);
  });

  beforeEach(async () => {
    await moto.reset();
    await provision({
      clientConfig: moto.clientConfig,
      tableName: TABLE,
      tokenTableName: TOKEN_TABLE,
      secretPrefix: PREFIX,
      credentials: {
        alpha: { clientId: 'svc-rt', clientSecret: SECRET },
        short: { clientId: 'svc-rt', clientSecret: SECRET },
      },
      dynamodbProviders: ['short'],
    });
    front.invokes.length = 0;
    offsetMs = 0;
    oauth.resetCounters();
    const { region, credentials, endpoint } = moto.clientConfig;
    for (const [name, value] of Object.entries({
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_ENDPOINT_URL: endpoint,
      AWS_ENDPOINT_URL_LAMBDA: front.url,
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    })) {
      vi.stubEnv(name, value);
    }
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('serves a stored token from each store with one read per container, the same answer on both', async () => {
    // Prepare
    await refresh('alpha');
    await refresh('short');
    const calls: Record<string, Record<string, number>> = {};

    // Act
    const observed = await onBoth(async (handler) => {
      await moto.startCounting();
      await Promise.all(Array.from({ length: 20 }, () => get(handler, 'alpha')));
      const answer = await get(handler, 'short');
      await get(handler, 'short');
      calls[Object.keys(calls).length === 0 ? 'fetch' : 'sdk'] = await moto.countOperations();
      return answer;
    });

    // Assess
    expect(observed.fetch.status).toBe(200);
    expect(observed.fetch.body).toMatchObject({ provider: 'short', tokenType: 'Bearer' });
    expect({ ...observed.sdk.body, expiresIn: 0 }).toEqual({ ...observed.fetch.body, expiresIn: 0 });
    expect(calls.fetch).toEqual({ 'secretsmanager.GetSecretValue': 1, 'DynamoDB_20120810.GetItem': 1 });
    expect(calls.sdk).toEqual(calls.fetch);
    expect(front.invokes).toEqual([]);
  });

  it('answers a provider whose token secret does not exist, and a missing token table, the same on both', async () => {
    // Act
    const noSecret = await onBoth((handler) => get(handler, 'ghost'));
    const noTable = await onBoth((handler) => get(handler, 'short'), {
      overrides: { TOKEN_TABLE_NAME: 'rt-no-such-table' },
    });

    // Assess
    expect(noSecret.fetch).toMatchObject({ status: 503, body: { code: 'store_unavailable' } });
    expect(noSecret.fetch.logged).toContain('Could not read the token secret secret_not_found');
    expect(noSecret.sdk).toEqual(noSecret.fetch);
    expect(noTable.fetch).toMatchObject({ status: 503, body: { code: 'store_unavailable' } });
    expect(noTable.fetch.logged).toContain('Could not read the token secret token_table_not_found');
    expect(noTable.sdk).toEqual(noTable.fetch);
    expect(front.invokes).toEqual([]);
  });

  it.each([
    ['alpha', 'the token secret holds its placeholder'],
    ['short', 'the token table has no item'],
  ])(
    'refreshes %s on demand through one Invoke when %s, with the same request and answer on both',
    async (provider) => {
      // Act: a fresh placeholder (or no item) before each transport's container.
      const observed = await onBoth((handler) => get(handler, provider), {
        before: async () => {
          await moto.reset();
          await provision({
            clientConfig: moto.clientConfig,
            tableName: TABLE,
            tokenTableName: TOKEN_TABLE,
            secretPrefix: PREFIX,
            credentials: {
              alpha: { clientId: 'svc-rt', clientSecret: SECRET },
              short: { clientId: 'svc-rt', clientSecret: SECRET },
            },
            dynamodbProviders: ['short'],
          });
        },
      });

      // Assess: each got the token its own Invoke's refresh stored.
      expect(observed.fetch).toMatchObject({ status: 200, body: { provider, tokenType: 'Bearer' } });
      expect(observed.sdk).toMatchObject({ status: 200, body: { provider, tokenType: 'Bearer' } });
      expect(observed.sdk.body.accessToken).not.toBe(observed.fetch.body.accessToken);
      expect(observed.sdk.logged).toEqual(observed.fetch.logged);
      expect(oauth.tokenRequests.client_credentials).toBe(2);
      const [byFetch, bySdk] = front.invokes;
      expect(front.invokes).toHaveLength(2);
      expect(byFetch).toMatchObject({
        method: 'POST',
        path: `/2015-03-31/functions/${REFRESH_FUNCTION}/invocations`,
        headers: { 'x-amz-invocation-type': 'RequestResponse' },
        payload: { provider, onDemand: {} },
      });
      // The SDK also signs its bookkeeping headers (invocation id, user agent, content-length).
      const { signedHeaders: fetchSigned, ...fetchRequest } = byFetch as RecordedInvoke;
      const { signedHeaders: sdkSigned, ...sdkRequest } = bySdk as RecordedInvoke;
      expect(fetchRequest).toEqual(sdkRequest);
      expect(sdkSigned).toEqual(expect.arrayContaining([...fetchSigned]));
      expect([
        sdkSigned.includes('amz-sdk-invocation-id'),
        fetchSigned.includes('amz-sdk-invocation-id'),
      ]).toEqual([true, false]);
      expect(fetchSigned).toEqual(
        expect.arrayContaining(['content-type', 'host', 'x-amz-date', 'x-amz-invocation-type']),
      );
    },
  );

  it('refreshes after a 401 report through Invoke, passing the refused token hash the same way on both', async () => {
    // Prepare
    await refresh('alpha');
    const before = await get(container('fetch', new CodeLog()), 'alpha');
    const refused = String((JSON.parse(before.body) as { accessToken: string }).accessToken);
    // Past onDemandRefreshInterval: a report of a token this young would be refused (429).
    offsetMs = 2 * 60_000;
    oauth.resetCounters();

    // Act
    const observed = await onBoth((handler) => reportRefused(handler, 'alpha', refused));

    // Assess: the first report replaced the token; the second transport's report named a token that
    // is no longer current, so it got the new one without a second provider call.
    expect(observed.fetch).toMatchObject({ status: 200, body: { provider: 'alpha' } });
    expect(observed.fetch.body.accessToken).not.toBe(refused);
    expect({ ...observed.sdk.body, expiresIn: 0 }).toEqual({ ...observed.fetch.body, expiresIn: 0 });
    expect(oauth.tokenRequests.client_credentials).toBe(1);
    expect(front.invokes).toHaveLength(1);
    expect(front.invokes[0]?.payload).toEqual({
      provider: 'alpha',
      onDemand: { rejectedTokenSha256: sha256Hex(refused) },
    });
  });

  it('answers an Invoke of an unknown or crashing refresh function the same on both', async () => {
    // Act
    const unknown = await onBoth((handler) => get(handler, 'alpha'), {
      overrides: { REFRESH_FUNCTION_NAME: 'rt-no-such-function' },
    });
    const crashing = await onBoth((handler) => get(handler, 'alpha'), {
      overrides: { REFRESH_FUNCTION_NAME: CRASHING_FUNCTION },
    });

    // Assess
    expect(unknown.fetch.status).toBeGreaterThanOrEqual(500);
    expect(unknown.fetch.logged.join('\n')).toContain('refresh_unavailable');
    expect(unknown.sdk).toEqual(unknown.fetch);
    expect(crashing.fetch.status).toBeGreaterThanOrEqual(500);
    expect(crashing.fetch.logged.join('\n')).toContain('refresh_function_error');
    expect(crashing.sdk).toEqual(crashing.fetch);
    expect(front.invokes.map((invoke) => invoke.path)).toEqual([
      '/2015-03-31/functions/rt-no-such-function/invocations',
      '/2015-03-31/functions/rt-no-such-function/invocations',
      `/2015-03-31/functions/${CRASHING_FUNCTION}/invocations`,
      `/2015-03-31/functions/${CRASHING_FUNCTION}/invocations`,
    ]);
  });

  it("with moto's IAM checks on: a reader allowed GetSecretValue is served, one without it is refused the same on both", async () => {
    // Prepare: a stored token; two users (unchecked setup), then every request checked.
    await refresh('alpha');
    await moto.resetAuth(2 * IAM_SETUP_REQUESTS);
    try {
      const reader = await createUserWithPolicy(moto.clientConfig, 'rt-reader', [
        { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue' },
      ]);
      const other = await createUserWithPolicy(moto.clientConfig, 'rt-other', [
        { Effect: 'Allow', Action: 'secretsmanager:ListSecrets' },
      ]);
      const as = (credentials: typeof reader.credentials) => ({
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      });

      // Act
      const allowed = await onBoth((handler) => get(handler, 'alpha'), { overrides: as(reader.credentials) });
      const denied = await onBoth((handler) => get(handler, 'alpha'), { overrides: as(other.credentials) });

      // Assess: moto checked the signature and the action. AWS answers a denial in JSON
      // (AccessDeniedException: secrets_manager_access_denied); moto answers in XML, which neither
      // transport reads as an AWS error: secrets_manager_unavailable on both, 503 to the consumer.
      expect(allowed.fetch).toMatchObject({ status: 200, body: { provider: 'alpha' } });
      expect({ ...allowed.sdk.body, expiresIn: 0 }).toEqual({ ...allowed.fetch.body, expiresIn: 0 });
      expect(denied.fetch).toMatchObject({ status: 503, body: { code: 'store_unavailable' } });
      expect(denied.fetch.logged).toContain('Could not read the token secret secrets_manager_unavailable');
      expect(denied.sdk).toEqual(denied.fetch);
    } finally {
      await moto.resetAuth(Number.POSITIVE_INFINITY);
    }
  });

  it("sends an Invoke that moto's Lambda API accepts, and maps its IAM refusal the same, on both", async () => {
    // Prepare: moto's Lambda backend without Docker answers each Invoke with a queued payload.
    const result = {
      status: 'fresh',
      provider: 'alpha',
      expiresAt: '2030-01-01T00:00:00.000Z',
      generation: 3,
    };
    await motoApi('/moto-api/config', { lambda: { use_docker: false } });
    const { region, endpoint, credentials } = moto.clientConfig;
    const triggers = (keys: typeof credentials): Record<AwsTransport, RefreshTrigger> => ({
      fetch: new FetchRefreshTrigger({
        functionName: REFRESH_FUNCTION,
        region,
        endpoint: new URL(endpoint),
        credentials: keys,
        fetch: nodeHttpFetch,
        now: () => Date.now(),
      }),
      sdk: new LambdaRefreshTrigger({
        clientConfig: { region, endpoint, credentials: keys },
        functionName: REFRESH_FUNCTION,
      }),
    });
    const invoke = (trigger: RefreshTrigger) =>
      trigger
        .refresh({ provider: 'alpha', onDemand: {}, signal: AbortSignal.timeout(10_000) })
        .catch((error: unknown) => toRefresherError(error).code);
    try {
      // Act
      const answers: Record<string, unknown> = {};
      for (const transport of TRANSPORTS) {
        await motoApi('/moto-api/static/lambda-simple/response', {
          results: [JSON.stringify(result)],
          region,
        });
        answers[transport] = await invoke(triggers(credentials)[transport]);
      }
      await moto.resetAuth(IAM_SETUP_REQUESTS);
      const other = await createUserWithPolicy(moto.clientConfig, 'rt-no-invoke', [
        { Effect: 'Allow', Action: 'lambda:GetFunction' },
      ]);
      const refusals: Record<string, unknown> = {};
      for (const transport of TRANSPORTS) {
        refusals[transport] = await invoke(triggers(other.credentials)[transport]);
      }

      // Assess
      expect(answers).toEqual({ fetch: result, sdk: result });
      expect(refusals).toEqual({ fetch: 'refresh_unavailable', sdk: 'refresh_unavailable' });
    } finally {
      await moto.resetAuth(Number.POSITIVE_INFINITY);
      await motoApi('/moto-api/config', { lambda: { use_docker: true } });
    }
  });

  it("checks caller proofs with STS over node:http: the caller's proof is believed, a forged one refused as STS refuses it", async () => {
    // Prepare: a stored token; the consumer's role assumed at moto's STS; its proofs as the client makes them.
    await refresh('alpha');
    const { region } = moto.clientConfig;
    const role = await assumeEmulatorRole({
      stsEndpoint: moto.endpoint,
      region,
      roleArn: ROLE,
      sessionName: 'rt-fn',
    });
    const proofOf = async (credentials: typeof role, signedLaterMs = 0) => {
      let proof = '';
      await new ReadFunctionTokenSource({
        url: 'http://127.0.0.1:9/',
        functionName: 'rt-read',
        region,
        stsEndpoint: moto.endpoint,
        credentials,
        clock: { now: () => Date.now() + signedLaterMs },
        fetch: async (_url, init) => {
          proof = init.headers['x-token-refresher-proof'] ?? '';
          return { status: 500, headers: { get: () => null }, text: async () => '{}' };
        },
      })
        .read('alpha')
        .catch(() => undefined);
      return proof;
    };
    const handler = container('fetch', new CodeLog(), {
      AWS_LAMBDA_FUNCTION_NAME: 'rt-read',
      AWS_ENDPOINT_URL_STS: moto.endpoint,
    });
    // The token is read (and cached) before moto checks signatures: its test keys are no IAM user's.
    const first = await handler({ provider: 'alpha', callerProof: await proofOf(role) });
    const honest = await proofOf(role, 2_000);
    const forged = await proofOf({ ...role, secretAccessKey: 'guessed-secret' }, 2_000);

    // Act: moto verifies every signature (reset-auth).
    await moto.resetAuth(0);
    let answers: unknown[];
    try {
      answers = [
        await handler({ provider: 'alpha', callerProof: honest }),
        await handler({ provider: 'alpha', callerProof: forged }),
      ];
    } finally {
      await moto.resetAuth(Number.POSITIVE_INFINITY);
    }

    // Assess
    expect(first).toMatchObject({ provider: 'alpha', tokenType: 'Bearer' });
    expect(answers[0]).toMatchObject({ accessToken: (first as { accessToken: string }).accessToken });
    expect(answers[1]).toMatchObject({ error: { status: 401, code: 'caller_proof_rejected' } });
    expect(JSON.stringify(answers[1])).toContain('SignatureDoesNotMatch');
  });

  it('never wrote a token or a client secret to the logs', () => {
    const logs = captured.join('');
    expect(logs).not.toContain(SECRET);
    for (const token of oauth.issuedTokens) expect(logs.includes(token.value)).toBe(false);
  });
});
