/**
 * Caller proofs end to end (issue 15, finding 1): the real client (source read-function) signs them,
 * the real read handler (composeReadHandler, behind the local Function-URL-shaped endpoint) checks
 * them and sends them to moto's STS, which answers GetCallerIdentity per access key (roles assumed on
 * moto). STS calls are counted at the emulator (its request recorder) and at the handler's fetch.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AwsCredentials } from '../../functions/aws/client-config.js';
import { SecretsManagerTokenStore } from '../../functions/aws/token-store.js';
import {
  createReadFunctionTokenClient,
  ReadFunctionTokenSource,
  TokenClientError,
} from '../../functions/client/read-function.js';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import { readReadEnvironment } from '../../functions/core/env.js';
import type { Clock } from '../../functions/core/ports.js';
import { assumeEmulatorRole } from '../../functions/local/local-caller.js';
import { type ReadServer, startReadServer } from '../../functions/local/read-server.js';
import { LOCAL_AWS_CREDENTIALS } from '../../functions/local/session.js';
import { composeReadHandler, type ReadHandler } from '../../functions/read/app.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { provision } from '../support/resources.js';

const PREFIX = 'proof-it';
const FUNCTION_NAME = 'proof-it-ReadFunction-A1b2C3';
const ACCOUNT = '123456789012';
const ROLE_A = `arn:aws:iam::${ACCOUNT}:role/consumer-a`;
const ROLE_B = `arn:aws:iam::${ACCOUNT}:role/consumer-b`;
const ROLE_STRANGER = `arn:aws:iam::${ACCOUNT}:role/stranger`;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A clock the test moves; starts at the real time (moto's own clock does not matter here). */
class SteppedClock implements Clock {
  current = Date.now();
  now(): number {
    return this.current;
  }
}

describe('Caller proofs through the real client and handler, against moto STS', () => {
  let moto: MotoServer;
  let server: ReadServer | undefined;
  let clock: SteppedClock;
  let stsCalls: number;
  let roles: Record<'a' | 'b' | 'stranger', Required<AwsCredentials>>;
  let tokens: Record<'alpha' | 'beta', string>;
  let logged: string[];
  const logger = {
    debug: () => undefined,
    info: (message: string, attributes?: Record<string, unknown>) =>
      logged.push(JSON.stringify({ message, ...attributes })),
    warn: (message: string, attributes?: Record<string, unknown>) =>
      logged.push(JSON.stringify({ message, ...attributes })),
    error: (message: string, attributes?: Record<string, unknown>) =>
      logged.push(JSON.stringify({ message, ...attributes })),
  };

  const config = deployedConfigJson({
    secretPrefix: PREFIX,
    providers: [
      {
        name: 'alpha',
        grant: 'client_credentials',
        tokenUrl: 'https://auth.example.com/t',
        consumers: [ROLE_A],
      },
      {
        name: 'beta',
        grant: 'client_credentials',
        tokenUrl: 'https://auth.example.com/t',
        consumers: [ROLE_B],
      },
    ],
  });
  /** One read container: its own caches; every STS call it makes is counted. */
  const container = (): ReadHandler =>
    composeReadHandler(
      readReadEnvironment({
        PROVIDERS_CONFIG: config,
        REFRESH_FUNCTION_NAME: 'not-called',
        AWS_LAMBDA_FUNCTION_NAME: FUNCTION_NAME,
      }),
      {
        clientConfig: { ...moto.clientConfig, maxAttempts: 1 },
        clock,
        logger,
        trigger: {
          refresh: async () => {
            throw new Error('no refresh in this test');
          },
        },
        stsFetch: async (input, init) => {
          stsCalls += 1;
          return fetch(input, init);
        },
      },
    );
  const clientOptions = (credentials: AwsCredentials, url: string) => ({
    url,
    functionName: FUNCTION_NAME,
    region: moto.clientConfig.region,
    stsEndpoint: moto.endpoint,
    credentials,
    clock,
  });
  const serve = async (handler: ReadHandler): Promise<string> => {
    server = await startReadServer(handler, { port: 0 });
    return server.url;
  };

  beforeAll(async () => {
    moto = await startMoto();
  });

  afterAll(async () => {
    await moto?.stop();
  });

  beforeEach(async () => {
    await moto.reset();
    clock = new SteppedClock();
    stsCalls = 0;
    logged = [];
    await provision({
      clientConfig: moto.clientConfig,
      tableName: 'proof-it-state',
      secretPrefix: PREFIX,
      credentials: { alpha: undefined, beta: undefined },
    });
    const store = new SecretsManagerTokenStore({ clientConfig: moto.clientConfig, secretPrefix: PREFIX });
    tokens = { alpha: 'alpha-access-token-61c2', beta: 'beta-access-token-0d9e' };
    for (const provider of ['alpha', 'beta'] as const) {
      await store.write({
        provider,
        fence: 1,
        token: {
          provider,
          accessToken: tokens[provider],
          tokenType: 'Bearer',
          expiresAt: new Date(clock.now() + 3 * HOUR).toISOString(),
          issuedAt: new Date(clock.now()).toISOString(),
          generation: 1,
        },
        expectedVersionId: (await store.readCurrent(provider)).versionId,
      });
    }
    const assume = (roleArn: string, sessionName: string) =>
      assumeEmulatorRole({
        stsEndpoint: moto.endpoint,
        region: moto.clientConfig.region,
        roleArn,
        sessionName,
      });
    roles = {
      a: await assume(ROLE_A, 'consumer-a-fn'),
      b: await assume(ROLE_B, 'consumer-b-fn'),
      stranger: await assume(ROLE_STRANGER, 'stranger-fn'),
    };
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("serves each consumer its own provider through the real client, and refuses the other's", async () => {
    // Prepare
    const url = await serve(container());
    const clientA = createReadFunctionTokenClient(clientOptions(roles.a, url));
    const clientB = createReadFunctionTokenClient(clientOptions(roles.b, url));
    const stranger = createReadFunctionTokenClient(clientOptions(roles.stranger, url));

    // Act
    const alpha = await clientA.getToken('alpha');
    const beta = await clientB.getToken('beta');
    const refused = await Promise.all([
      clientA.getToken('beta').catch((error: unknown) => error),
      clientB.getToken('alpha').catch((error: unknown) => error),
      stranger.getToken('alpha').catch((error: unknown) => error),
    ]);

    // Assess
    expect(alpha.accessToken).toBe(tokens.alpha);
    expect(beta.accessToken).toBe(tokens.beta);
    for (const error of refused) {
      expect(error).toBeInstanceOf(TokenClientError);
      expect(error).toMatchObject({ code: 'forbidden', status: 403 });
    }
  });

  it('refuses every forged or misdirected attempt, by Function URL event, Invoke and HTTP', async () => {
    // Prepare: the attempts someone allowed lambda:InvokeFunction (not a consumer) can make.
    const handler = container();
    const url = await serve(handler);
    const proofOf = async (credentials: AwsCredentials, overrides: Record<string, unknown> = {}) => {
      let proof = '';
      const source = new ReadFunctionTokenSource({
        ...clientOptions(credentials, url),
        ...overrides,
        fetch: async (_input, init) => {
          proof = new Headers(init?.headers).get('x-token-refresher-proof') ?? '';
          return new Response('{}', { status: 500 });
        },
      });
      await source.read('alpha').catch(() => undefined);
      return proof;
    };
    const urlEvent = (provider: string, extra: Record<string, unknown>) => ({
      version: '2.0',
      rawPath: `/tokens/${provider}`,
      headers: {},
      requestContext: { http: { method: 'GET' }, ...extra },
    });
    const consumerArn = `arn:aws:sts::${ACCOUNT}:assumed-role/consumer-a/consumer-a-fn`;
    const attempts: [string, () => Promise<unknown>][] = [
      ...['alpha', 'beta'].flatMap((provider): [string, () => Promise<unknown>][] => [
        [
          `URL event claiming consumer-a (${provider})`,
          () => handler(urlEvent(provider, { authorizer: { iam: { userArn: consumerArn } } })),
        ],
        [
          `URL event claiming role consumer-b (${provider})`,
          () => handler(urlEvent(provider, { authorizer: { iam: { userArn: ROLE_B } } })),
        ],
        [`URL event without identity (${provider})`, () => handler(urlEvent(provider, {}))],
        [`Invoke without proof (${provider})`, () => handler({ provider })],
        [
          `Invoke refresh without proof (${provider})`,
          () => handler({ provider, action: 'refresh', rejectedTokenSha256: 'a'.repeat(64) }),
        ],
      ]),
      [
        'proof for another read function',
        async () =>
          handler({
            provider: 'alpha',
            callerProof: await proofOf(roles.a, { functionName: 'other-ReadFunction' }),
          }),
      ],
      [
        'proof addressed to regional AWS STS',
        async () =>
          handler({
            provider: 'alpha',
            callerProof: await proofOf(roles.a, { stsEndpoint: 'https://sts.us-east-1.amazonaws.com/' }),
          }),
      ],
      [
        'proof addressed to an attacker',
        async () =>
          handler({
            provider: 'alpha',
            callerProof: await proofOf(roles.a, { stsEndpoint: 'https://attacker.example/' }),
          }),
      ],
      [
        'proof signed 6 minutes ago',
        async () => {
          clock.current -= 6 * MINUTE;
          const proof = await proofOf(roles.a);
          clock.current += 6 * MINUTE;
          return handler({ provider: 'alpha', callerProof: proof });
        },
      ],
      [
        'proof of a non-consumer role',
        async () => handler({ provider: 'alpha', callerProof: await proofOf(roles.stranger) }),
      ],
      [
        'proof of an IAM user key (not a role)',
        async () => handler({ provider: 'alpha', callerProof: await proofOf(LOCAL_AWS_CREDENTIALS) }),
      ],
      [
        'proof of consumer-b for alpha',
        async () => handler({ provider: 'alpha', callerProof: await proofOf(roles.b) }),
      ],
      [
        'HTTP with a proof for another read function',
        async () => {
          const proof = await proofOf(roles.a, { functionName: 'other-ReadFunction' });
          const response = await fetch(`${url}tokens/alpha`, {
            headers: { 'x-token-refresher-proof': proof },
          });
          return { statusCode: response.status, body: await response.text() };
        },
      ],
      [
        'HTTP without a proof, claiming the caller in a header',
        async () => {
          const response = await fetch(`${url}tokens/alpha`, {
            headers: { 'x-token-refresher-caller': ROLE_A },
          });
          return { statusCode: response.status, body: await response.text() };
        },
      ],
    ];

    // Act
    const answers: [string, string][] = [];
    for (const [name, attempt] of attempts) answers.push([name, JSON.stringify(await attempt())]);

    // Assess: none served a token; each answered a 401 or 403.
    const refused = answers.filter(([, answer]) => /"statusCode":40[13]|"status":40[13]/.test(answer));
    const leaked = answers.filter(
      ([, answer]) => answer.includes(tokens.alpha) || answer.includes(tokens.beta),
    );
    expect(attempts.length).toBe(19);
    expect(leaked).toEqual([]);
    expect(refused.map(([name]) => name)).toEqual(attempts.map(([name]) => name));
    // Finding 12: one line per request names the caller or why none was identified; no secret in it.
    const lines = logged.filter((line) => line.includes('"Read request"'));
    expect(lines).toHaveLength(attempts.length);
    expect(lines.every((line) => /"caller":"(unidentified|arn:aws:sts::[^"]+)"/.test(line))).toBe(true);
    for (const secret of [roles.a.sessionToken, roles.a.secretAccessKey, roles.stranger.sessionToken]) {
      expect(logged.join('\n')).not.toContain(secret);
    }
  });

  it('with the emulator checking signatures, a proof signed with a wrong secret is refused as STS refuses it', async () => {
    // Prepare: warm the token cache, then let moto verify every signature (reset-auth).
    const handler = container();
    const url = await serve(handler);
    const honest = createReadFunctionTokenClient(clientOptions(roles.a, url));
    await honest.getToken('alpha');
    const forger = createReadFunctionTokenClient(
      clientOptions({ ...roles.a, secretAccessKey: 'guessed' }, url),
    );
    await moto.resetAuth(0);
    try {
      // Act
      const forged = await forger.getToken('alpha').catch((error: unknown) => error);
      clock.current += 5 * MINUTE;
      const again = await createReadFunctionTokenClient(clientOptions(roles.a, url)).getToken('alpha');

      // Assess
      expect(forged).toMatchObject({ code: 'caller_proof_rejected', status: 401 });
      expect((forged as Error).message).toContain('SignatureDoesNotMatch');
      expect(again.accessToken).toBe(tokens.alpha);
    } finally {
      await moto.resetAuth(Number.POSITIVE_INFINITY);
    }
  });

  it('a direct Invoke with the real client’s proof reads the caller’s own provider', async () => {
    // Prepare
    const handler = container();
    let proof = '';
    const source = new ReadFunctionTokenSource({
      ...clientOptions(roles.a, 'http://127.0.0.1:9/'),
      fetch: async (_input, init) => {
        proof = new Headers(init?.headers).get('x-token-refresher-proof') ?? '';
        return new Response('{}', { status: 500 });
      },
    });
    await source.read('alpha').catch(() => undefined);

    // Act
    const served = (await handler({ provider: 'alpha', callerProof: proof })) as { accessToken?: string };
    const other = await handler({ provider: 'beta', callerProof: proof });

    // Assess
    expect(served.accessToken).toBe(tokens.alpha);
    expect(other).toMatchObject({ error: { status: 403, code: 'forbidden' } });
  });

  it('STS calls per 1,000 reads from one consumer container: 1 in a burst, 15 over an hour', async () => {
    // Prepare: every read goes to the read function (the source, not the caching client).
    const url = await serve(container());
    const source = new ReadFunctionTokenSource(clientOptions(roles.a, url));
    await moto.startCounting();

    // Act: 1,000 reads at once (in batches of 50), then 1,000 reads 3.6 s apart.
    for (let batch = 0; batch < 20; batch += 1) {
      await Promise.all(Array.from({ length: 50 }, () => source.read('alpha')));
    }
    const burst = { handler: stsCalls, emulator: (await moto.countOperations())['POST /'] ?? 0 };
    clock.current += 5 * MINUTE;
    stsCalls = 0;
    await moto.startCounting();
    for (let read = 0; read < 1000; read += 1) {
      await source.read('alpha');
      clock.current += 3_600;
    }
    const hour = { handler: stsCalls, emulator: (await moto.countOperations())['POST /'] ?? 0 };

    // Assess: the client re-signs every 4 minutes; the read container asks STS once per proof.
    expect(burst).toStrictEqual({ handler: 1, emulator: 1 });
    expect(hour).toStrictEqual({ handler: 15, emulator: 15 });
  });
});
