/**
 * The DynamoDB token store (issue 16, item 1) end to end: the refresh handler and the read handler,
 * composed from their environment as deployed, against moto (DynamoDB, Secrets Manager, Scheduler)
 * and oidc-provider issuing 2-minute tokens. One provider keeps its token in the token table, one in
 * its token secret: each lands in its own store, and the read function serves both. AWS calls are
 * counted at the emulator, token requests at the OAuth server; time moves with an injected clock.
 */
import { randomUUID } from 'node:crypto';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoDbTokenStore } from '../../functions/aws/dynamodb-token-store.js';
import { SecretsManagerTokenStore } from '../../functions/aws/token-store.js';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import { readReadEnvironment } from '../../functions/core/env.js';
import type { RefreshResult } from '../../functions/core/types.js';
import { composeReadHandler, type UrlResponse } from '../../functions/read/app.js';
import { inProcessRefreshTrigger, refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { captureProcessOutput } from '../support/output.js';
import { provision } from '../support/resources.js';

const TABLE = 'ddb-state';
const TOKEN_TABLE = 'ddb-tokens';
const PREFIX = 'ddb-it';
const GROUP = 'ddb-next-runs';
const CLIENT_SECRET = 'ddb-cc-secret-71d4';
const TOKEN_LIFETIME_S = 120;
const CALLER = 'arn:aws:sts::123456789012:assumed-role/consumer/lambda-session';

describe('DynamoDB token store: refresh and read handlers against moto and oidc-provider', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let offsetMs = 0;
  const clock = { now: () => Date.now() + offsetMs };
  const captured: string[] = [];

  const config = () => ({
    secretPrefix: PREFIX,
    trustDirectInvoke: true,
    providers: ['short', 'hourly'].map((name) => ({
      name,
      grant: 'client_credentials',
      tokenUrl: oauth.tokenUrl,
      requestTimeout: 2,
      consumers: ['arn:aws:iam::123456789012:role/consumer'],
      ...(name === 'short' ? { tokenStore: 'dynamodb', expectedLifetime: TOKEN_LIFETIME_S } : {}),
    })),
  });
  const environment = () => ({
    TABLE_NAME: TABLE,
    TOKEN_TABLE_NAME: TOKEN_TABLE,
    PROVIDERS_CONFIG: deployedConfigJson(config()),
    SCHEDULER_GROUP: GROUP,
    SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/ddb-scheduler',
    REFRESH_FUNCTION_ARN: 'arn:aws:lambda:us-east-1:123456789012:function:ddb-refresh',
  });
  const refreshHandler = () =>
    refreshHandlerFromEnvironment(environment(), {
      clientConfig: { ...moto.clientConfig, maxAttempts: 1 },
      clock,
    });
  const refresh = async (provider: string) =>
    (await refreshHandler()(
      { provider },
      { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 60_000 },
    )) as RefreshResult;
  const readHandler = () =>
    composeReadHandler(readReadEnvironment({ ...environment(), REFRESH_FUNCTION_NAME: 'in-process' }), {
      clientConfig: { ...moto.clientConfig, maxAttempts: 1 },
      clock,
      trigger: inProcessRefreshTrigger(refreshHandler()),
    });
  const itemToken = async (provider: string) =>
    (
      await new DynamoDbTokenStore({ clientConfig: moto.clientConfig, tableName: TOKEN_TABLE }).readCurrent(
        provider,
      )
    ).token;

  beforeAll(async () => {
    [moto, oauth] = await Promise.all([
      startMoto(),
      startOAuthServer({
        accessTokenTtlSeconds: TOKEN_LIFETIME_S,
        clients: [
          {
            clientId: 'ddb-cc',
            clientSecret: CLIENT_SECRET,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['client_credentials'],
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
    offsetMs = 0;
    await moto.reset();
    oauth.resetCounters();
    const credentials = { clientId: 'ddb-cc', clientSecret: CLIENT_SECRET };
    await provision({
      clientConfig: moto.clientConfig,
      tableName: TABLE,
      tokenTableName: TOKEN_TABLE,
      secretPrefix: PREFIX,
      credentials: { short: credentials, hourly: credentials },
      dynamodbProviders: ['short'],
    });
    const scheduler = new SchedulerClient(moto.clientConfig);
    await scheduler.send(new CreateScheduleGroupCommand({ Name: GROUP }));
    scheduler.destroy();
  });

  it("writes each provider's token to the store its tokenStore names, and the read function serves both", async () => {
    // Act
    const results = [await refresh('short'), await refresh('hourly')];
    const read = readHandler();
    const served = await Promise.all(
      ['short', 'hourly'].map(async (provider) => {
        const response = (await read({
          version: '2.0',
          rawPath: `/tokens/${provider}`,
          headers: {},
          isBase64Encoded: false,
          requestContext: {
            http: { method: 'GET', path: `/tokens/${provider}` },
            authorizer: { iam: { userArn: CALLER } },
          },
        })) as UrlResponse;
        return { status: response.statusCode, body: JSON.parse(response.body) as { accessToken?: string } };
      }),
    );
    const secrets = new SecretsManagerTokenStore({ clientConfig: moto.clientConfig, secretPrefix: PREFIX });

    // Assess
    expect(results.map((result) => result.status)).toEqual(['refreshed', 'refreshed']);
    const short = await itemToken('short');
    expect(short).toMatchObject({ provider: 'short', tokenType: 'Bearer', generation: 1 });
    expect(Date.parse(short?.expiresAt ?? '') - Date.parse(short?.issuedAt ?? '')).toBe(
      TOKEN_LIFETIME_S * 1000,
    );
    await expect(secrets.readCurrent('short')).rejects.toMatchObject({ code: 'secret_not_found' });
    expect(await itemToken('hourly')).toBeUndefined();
    expect((await secrets.readCurrent('hourly')).token?.provider).toBe('hourly');
    expect(served.map((answer) => answer.status)).toEqual([200, 200]);
    expect(served[0]?.body.accessToken).toBe(short?.accessToken);
    expect(oauth.tokenRequests.total).toBe(2);
  });

  it('refreshes a 2-minute token one minute before it expires, with these AWS calls per scheduled refresh and tick', async () => {
    // Prepare: the first token, then just before and at its refresh time (lead: half the lifetime).
    await refresh('short');
    const first = await itemToken('short');
    const issuedAt = Date.parse(first?.issuedAt ?? '');

    // Act
    offsetMs += issuedAt + 50_000 - clock.now();
    await moto.startCounting();
    const early = await refresh('short');
    const tickCalls = await moto.countOperations();
    offsetMs += issuedAt + 60_000 - clock.now();
    await moto.startCounting();
    const due = await refresh('short');
    const refreshCalls = await moto.countOperations();
    await moto.stopCounting();

    // Assess
    expect(early.status).toBe('fresh');
    expect(tickCalls).toEqual({ 'DynamoDB_20120810.GetItem': 1 });
    expect(due.status).toBe('refreshed');
    expect((await itemToken('short'))?.generation).toBe(2);
    // State read, lease, credentials read (each refresh here is a new container's first run), token
    // write from the version the state item records (no token read: issue 17), record and release,
    // the next precise run.
    expect(refreshCalls).toEqual({
      'DynamoDB_20120810.GetItem': 1,
      'DynamoDB_20120810.UpdateItem': 2,
      'DynamoDB_20120810.PutItem': 1,
      'secretsmanager.GetSecretValue': 1,
      // UpdateSchedule: the one-time schedule of the first refresh exists.
      'PUT /schedules/next-short': 1,
    });
    console.info(`FIGURES dynamodb-store callsPerScheduledRefresh=${JSON.stringify(refreshCalls)}`);
  });
});
