/**
 * The client with source `dynamodb` against real parts (issue 16, item 1): the refresh handler keeps
 * a provider's 2-minute tokens (and another's 60 s tokens) in the DynamoDB token table on moto, issued by oidc-provider, and a
 * consumer reads them with its own client. Time is a stepped clock shared by both: the refresher runs
 * at each token's refresh time (as its precise one-time schedule), the consumer asks for the token
 * every 5 s. The consumer's `GetItem` calls are counted at its own edge (what AWS bills it for): on its
 * SDK client, or on the `fetch` function of the SDK-free transport.
 *
 * Every test runs on both transports (issue 17): `fetch` (one signed `GetItem` request, the default)
 * and `sdk` (the AWS SDK's `DynamoDBClient`). The answers and error codes of the token item's cases
 * are compared side by side, word for word, on one moto server.
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoDbTokenStore, NO_TOKEN_VERSION } from '../../functions/aws/dynamodb-token-store.js';
import { DynamoDbStateTable } from '../../functions/aws/state-table.js';
import {
  createDynamoDbTokenClient,
  type DynamoDbTransport,
  type TokenClient,
} from '../../functions/client/dynamodb.js';
import { type HttpFetch, nodeHttpFetch } from '../../functions/client/http.js';
import { createTokenClient } from '../../functions/client/index.js';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import { providerTableInput } from '../../functions/local/resources.js';
import { refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { createUserWithPolicy, IAM_SETUP_REQUESTS } from '../support/iam.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { captureProcessOutput } from '../support/output.js';
import { provision } from '../support/resources.js';

const TRANSPORTS: readonly DynamoDbTransport[] = ['fetch', 'sdk'];
const TABLE = 'client-ddb-state';
const TOKEN_TABLE = 'client-ddb-tokens';
const PREFIX = 'client-ddb';
/** The oidc-provider client of each lifetime: 2-minute tokens, and the shortest the config accepts. */
const LIFETIMES = [
  { seconds: 120, clientId: 'client-ddb', provider: 'short' },
  { seconds: 60, clientId: 'client-ddb-minute', provider: 'minute' },
] as const;
const GENERATIONS = 10;
const READ_EVERY_MS = 5_000;
const CLIENT_SECRET = 'client-ddb-secret-5c2e';

/** A clock that only moves when the test moves it. */
class SteppedClock {
  constructor(private at: number) {}

  now(): number {
    return this.at;
  }

  advance(ms: number): void {
    this.at += ms;
  }
}

describe.each(TRANSPORTS)(
  'Client (source dynamodb, transport %s) reading 2-minute tokens the refresher keeps in the token table',
  (transport) => {
    let moto: MotoServer;
    let oauth: OAuthServer;
    const captured: string[] = [];

    beforeAll(async () => {
      [moto, oauth] = await Promise.all([
        startMoto(),
        startOAuthServer({
          clients: LIFETIMES.map(({ seconds, clientId }) => ({
            clientId,
            clientSecret: CLIENT_SECRET,
            tokenEndpointAuthMethod: 'client_secret_basic' as const,
            grantTypes: ['client_credentials' as const],
            accessTokenTtlSeconds: seconds,
          })),
        }),
      ]);
      captureProcessOutput(captured);
      await provision({
        clientConfig: moto.clientConfig,
        tableName: TABLE,
        tokenTableName: TOKEN_TABLE,
        secretPrefix: PREFIX,
        credentials: Object.fromEntries(
          LIFETIMES.map(({ provider, clientId }) => [provider, { clientId, clientSecret: CLIENT_SECRET }]),
        ),
        dynamodbProviders: LIFETIMES.map(({ provider }) => provider),
      });
    });

    afterAll(async () => {
      vi.restoreAllMocks();
      await Promise.all([moto?.stop(), oauth?.stop()]);
    });

    it.each(LIFETIMES)(
      `is never served an expired token of $seconds s over ${GENERATIONS} generations, with one GetItem per generation`,
      async ({ seconds, provider: PROVIDER }) => {
        // Prepare
        const clock = new SteppedClock(Date.now());
        const refresh = refreshHandlerFromEnvironment(
          {
            TABLE_NAME: TABLE,
            TOKEN_TABLE_NAME: TOKEN_TABLE,
            PROVIDERS_CONFIG: deployedConfigJson({
              secretPrefix: PREFIX,
              providers: [
                {
                  name: PROVIDER,
                  grant: 'client_credentials',
                  tokenUrl: oauth.tokenUrl,
                  tokenStore: 'dynamodb',
                  expectedLifetime: seconds,
                },
              ],
            }),
          },
          { clientConfig: moto.clientConfig, clock },
        );
        const state = new DynamoDbStateTable({ clientConfig: moto.clientConfig, tableName: TABLE });
        let getItems = 0;
        const consumerClient = new DynamoDBClient(moto.clientConfig);
        consumerClient.middlewareStack.add(
          (next, context) => async (args) => {
            if (context.commandName === 'GetItemCommand') getItems += 1;
            return next(args);
          },
          { step: 'initialize', name: 'countGetItem' },
        );
        const countingFetch: HttpFetch = (url, init) => {
          if (init.headers['x-amz-target'] === 'DynamoDB_20120810.GetItem') getItems += 1;
          return nodeHttpFetch(url, init);
        };
        const consumer = createDynamoDbTokenClient({
          tableName: TOKEN_TABLE,
          ...(transport === 'sdk'
            ? { client: consumerClient }
            : { clientConfig: moto.clientConfig, fetch: countingFetch }),
          transport,
          clock,
        });
        const runRefresh = async () => {
          const result = await refresh(
            { provider: PROVIDER, trigger: 'precise' },
            { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 60_000 },
          );
          expect(result.status).toBe('refreshed');
          return (await state.read(PROVIDER))?.nextRefreshAt ?? Number.NaN;
        };

        const tokenRequestsBefore = oauth.tokenRequests.total;

        // Act: the first refresh, then refreshes at their times and reads every 5 s between them.
        let nextRefreshAt = await runRefresh();
        const served = new Map<string, number>();
        const expiredServed: string[] = [];
        let refreshes = 1;
        while (refreshes < GENERATIONS || served.size < GENERATIONS) {
          if (clock.now() >= nextRefreshAt) {
            nextRefreshAt = await runRefresh();
            refreshes += 1;
          }
          const token = await consumer.getToken(PROVIDER);
          if (Date.parse(token.expiresAt) <= clock.now()) expiredServed.push(token.expiresAt);
          served.set(token.accessToken, (served.get(token.accessToken) ?? 0) + 1);
          clock.advance(READ_EVERY_MS);
        }

        // Assess
        const reads = [...served.values()].reduce((sum, count) => sum + count, 0);
        console.info(
          `FIGURES client-dynamodb transport=${transport} lifetime=${seconds}s generations=${served.size} refreshes=${refreshes} reads=${reads} getItems=${getItems} ` +
            `getItemsPerGeneration=${getItems / served.size} expiredServed=${expiredServed.length}`,
        );
        expect(expiredServed).toEqual([]);
        expect(served.size).toBe(GENERATIONS);
        expect(getItems).toBe(GENERATIONS);
        expect(oauth.tokenRequests.total - tokenRequestsBefore).toBe(refreshes);
        consumerClient.destroy();
      },
    );

    it('createTokenClient({ source: "dynamodb" }) reads the same item', async () => {
      // Act
      const token = await createTokenClient({
        source: 'dynamodb',
        tableName: TOKEN_TABLE,
        clientConfig: moto.clientConfig,
        transport,
      }).getToken('short');

      // Assess: the refresher's last token (the first test's), not yet expired on the real clock.
      expect(token).toMatchObject({ provider: 'short', tokenType: 'Bearer' });
    });
  },
);

const CASES_TABLE = 'client-ddb-cases-tokens';
const HOUR = 3_600_000;

/** A client of each transport, as a consumer builds it; `clientConfig` signs as moto's default user. */
function clientsOf(clientConfig: MotoServer['clientConfig']): Record<DynamoDbTransport, TokenClient> {
  return {
    fetch: createDynamoDbTokenClient({ tableName: CASES_TABLE, clientConfig, transport: 'fetch' }),
    sdk: createDynamoDbTokenClient({ tableName: CASES_TABLE, clientConfig, transport: 'sdk' }),
  };
}

/** The token, or the error's name, code, status and message: what a consumer could tell apart. */
function outcomeOf(client: TokenClient, provider: string) {
  return client.getToken(provider).then(
    (token) => ({ token }),
    (error: unknown) => {
      const { name, code, status, message } = error as {
        name: string;
        code: string;
        status?: number;
        message: string;
      };
      return { name, code, status, message };
    },
  );
}

describe('Client (source dynamodb): the same answers and error codes on transports fetch and sdk, against moto server', () => {
  let moto: MotoServer;
  let admin: DynamoDBClient;
  let store: DynamoDbTokenStore;
  const startedAt = Date.now();

  let fence = 0;

  /** What the refresher writes: the token item, with the store's compare-and-swap over the current one. */
  async function writeToken(provider: string, accessToken: string, expiresAtMs: number): Promise<void> {
    const { versionId } = await store.readCurrent(provider);
    fence += 1;
    await store.write({
      provider,
      fence,
      token: {
        provider,
        accessToken,
        tokenType: 'Bearer',
        expiresAt: new Date(expiresAtMs).toISOString(),
        issuedAt: new Date(startedAt - HOUR).toISOString(),
        generation: fence,
      },
      expectedVersionId: versionId === NO_TOKEN_VERSION ? undefined : versionId,
    });
  }

  beforeAll(async () => {
    moto = await startMoto();
    admin = new DynamoDBClient(moto.clientConfig);
    store = new DynamoDbTokenStore({ clientConfig: moto.clientConfig, tableName: CASES_TABLE });
  });

  afterAll(async () => {
    admin?.destroy();
    await moto?.stop();
  });

  beforeEach(async () => {
    await moto.reset();
    await admin.send(new CreateTableCommand(providerTableInput(CASES_TABLE)));
  });

  // "Another provider in the item" cannot be stored: `provider` is the table's key, so the item read
  // for provider X always names X (parseTokenItem's provider_mismatch is covered by the unit tests).
  it.each([
    {
      case: 'a good token',
      prepare: () => writeToken('github', 'good-ddb-token', startedAt + HOUR),
      expected: { token: { provider: 'github', accessToken: 'good-ddb-token', tokenType: 'Bearer' } },
    },
    {
      case: 'no item (no refresh has succeeded yet)',
      prepare: async () => {},
      expected: { code: 'token_not_ready' },
    },
    {
      case: 'no table (a wrong tableName or region)',
      prepare: () => moto.reset(),
      expected: { code: 'table_not_found' },
    },
    {
      case: 'an item without accessToken',
      prepare: () =>
        admin.send(
          new PutItemCommand({
            TableName: CASES_TABLE,
            Item: {
              provider: { S: 'github' },
              tokenType: { S: 'Bearer' },
              expiresAt: { S: new Date(startedAt + HOUR).toISOString() },
            },
          }),
        ),
      expected: { code: 'invalid_token_record', message: expect.stringContaining('"accessToken"') },
    },
    {
      case: 'an expiresAt stored as a number',
      prepare: () =>
        admin.send(
          new PutItemCommand({
            TableName: CASES_TABLE,
            Item: {
              provider: { S: 'github' },
              accessToken: { S: 'malformed-ddb-token' },
              tokenType: { S: 'Bearer' },
              expiresAt: { N: String(startedAt + HOUR) },
            },
          }),
        ),
      expected: { code: 'invalid_token_record', message: expect.stringContaining('"expiresAt"') },
    },
    {
      case: 'an expired token',
      prepare: () => writeToken('github', 'expired-ddb-token', startedAt - 1),
      expected: { code: 'token_expired' },
    },
  ])('$case', async ({ prepare, expected }) => {
    // Prepare
    await prepare();
    const clients = clientsOf(moto.clientConfig);

    // Act
    const fromFetch = await outcomeOf(clients.fetch, 'github');
    const fromSdk = await outcomeOf(clients.sdk, 'github');

    // Assess: the expected answer, and the same on both, word for word; no token value in a message
    expect(fromFetch).toMatchObject(expected);
    expect(fromFetch).toStrictEqual(fromSdk);
    if ('message' in fromFetch) expect(fromFetch.message).not.toMatch(/ddb-token/);
  });

  describe.each(TRANSPORTS)('transport %s', (transport) => {
    it('reads with nothing but the environment a Lambda function has (and AWS_ENDPOINT_URL_DYNAMODB)', async () => {
      // Prepare
      await writeToken('github', 'environment-ddb-token', startedAt + HOUR);
      const { region, credentials } = moto.clientConfig;
      for (const [name, value] of Object.entries({
        AWS_REGION: region,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_SESSION_TOKEN: 'session-token-of-the-function-role',
        AWS_ENDPOINT_URL_DYNAMODB: moto.endpoint,
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9/',
        AWS_PROFILE: undefined,
        AWS_CONFIG_FILE: '/nonexistent/aws-config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
      })) {
        vi.stubEnv(name, value);
      }
      await moto.startCounting();

      try {
        // Act
        const token = await createDynamoDbTokenClient({ tableName: CASES_TABLE, transport }).getToken(
          'github',
        );

        // Assess
        expect(token.accessToken).toBe('environment-ddb-token');
        expect((await moto.countOperations())['DynamoDB_20120810.GetItem']).toBe(1);
      } finally {
        vi.unstubAllEnvs();
      }
    });

    it('after a 401 in withToken reads the item again and retries once with the token written meanwhile', async () => {
      // Prepare
      await writeToken('github', 'old-ddb-token', startedAt + HOUR);
      const client = createDynamoDbTokenClient({
        tableName: CASES_TABLE,
        clientConfig: moto.clientConfig,
        transport,
      });
      await client.getToken('github');
      await writeToken('github', 'new-ddb-token', startedAt + 2 * HOUR);
      const seen: string[] = [];

      // Act
      const status = await client.withToken('github', async (token) => {
        seen.push(token.accessToken);
        return { status: token.accessToken === 'new-ddb-token' ? 200 : 401 };
      });

      // Assess
      expect(status).toStrictEqual({ status: 200 });
      expect(seen).toStrictEqual(['old-ddb-token', 'new-ddb-token']);
    });

    it("with moto's IAM checks on: the reader's signed GetItem is accepted, a wrong key and a missing permission are refused", async () => {
      // Prepare: two users (IAM_SETUP_REQUESTS each, unchecked), then every request checked
      await writeToken('github', 'checked-ddb-token', startedAt + HOUR);
      await moto.resetAuth(2 * IAM_SETUP_REQUESTS);
      try {
        const reader = await createUserWithPolicy(moto.clientConfig, `ddb-reader-${transport}`, [
          { Effect: 'Allow', Action: 'dynamodb:GetItem' },
        ]);
        const other = await createUserWithPolicy(moto.clientConfig, `ddb-other-${transport}`, [
          { Effect: 'Allow', Action: 'dynamodb:Query' },
        ]);
        const clientAs = (clientConfig: typeof moto.clientConfig) =>
          createDynamoDbTokenClient({ tableName: CASES_TABLE, clientConfig, transport });
        const wrongKey = {
          ...reader,
          credentials: { ...reader.credentials, secretAccessKey: 'not-the-secret-key-of-the-reader' },
        };

        // Act
        const read = await clientAs(reader).getToken('github');
        const refused = await Promise.all(
          [wrongKey, other].map((config) =>
            clientAs(config)
              .getToken('github')
              .catch((e: unknown) => e),
          ),
        );

        // Assess: moto checked the signature and the action. It answers its refusals with an XML body
        // (AWS answers AccessDeniedException in JSON: access_denied, see the unit tests), which neither
        // transport reads as an AWS error: read_failed on both.
        expect(read.accessToken).toBe('checked-ddb-token');
        for (const error of refused) {
          expect(error).toMatchObject({ name: 'TokenClientError', code: 'read_failed', status: undefined });
          expect((error as Error).message).toMatch(
            /^Reading token table "client-ddb-cases-tokens" failed \(\w+\)$/,
          );
        }
        const shown = JSON.stringify(refused) + refused.map(String).join();
        expect(shown).not.toContain(reader.credentials.secretAccessKey);
        expect(shown).not.toContain('checked-ddb-token');
      } finally {
        await moto.resetAuth(Number.POSITIVE_INFINITY);
      }
    });
  });
});
