/**
 * The client with source `dynamodb` against real parts (issue 16, item 1): the refresh handler keeps
 * a provider's 2-minute tokens (and another's 60 s tokens) in the DynamoDB token table on moto, issued by oidc-provider, and a
 * consumer reads them with its own client. Time is a stepped clock shared by both: the refresher runs
 * at each token's refresh time (as its precise one-time schedule), the consumer asks for the token
 * every 5 s. The consumer's `GetItem` calls are counted on its own SDK client (what AWS bills it for).
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbStateTable } from '../../functions/aws/state-table.js';
import { createDynamoDbTokenClient } from '../../functions/client/dynamodb.js';
import { createTokenClient } from '../../functions/client/index.js';
import { refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { captureProcessOutput } from '../support/output.js';
import { provision } from '../support/resources.js';

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

describe('Client (source dynamodb) reading 2-minute tokens the refresher keeps in the token table', () => {
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
          PROVIDERS_CONFIG: JSON.stringify({
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
      const consumerClient = new DynamoDBClient(moto.clientConfig);
      let getItems = 0;
      consumerClient.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'GetItemCommand') getItems += 1;
          return next(args);
        },
        { step: 'initialize', name: 'countGetItem' },
      );
      const consumer = createDynamoDbTokenClient({ tableName: TOKEN_TABLE, client: consumerClient, clock });
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
        `FIGURES client-dynamodb lifetime=${seconds}s generations=${served.size} refreshes=${refreshes} reads=${reads} getItems=${getItems} ` +
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
    }).getToken('short');

    // Assess: the refresher's last token (the first test's), not yet expired on the real clock.
    expect(token).toMatchObject({ provider: 'short', tokenType: 'Bearer' });
  });
});
