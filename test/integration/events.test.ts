/**
 * State-change events against real parts: the refresh handler publishes to moto's EventBridge, a rule
 * routes `source: token-refresher` to an SQS queue, and the test reads what a user's rule would get.
 * The OAuth server is oidc-provider; faults are injected in front of its token endpoint.
 */
import { randomUUID } from 'node:crypto';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import type { RefreshResult } from '../../functions/core/types.js';
import { refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { captureProcessOutput } from '../support/output.js';
import { provision } from '../support/resources.js';

const PREFIX = 'events-it';
const MINUTE = 60_000;
const CLIENT_SECRET = 'events-client-secret-4f1a9c';

describe('State-change events on EventBridge (moto) from the refresh handler', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let queueUrl: string;
  let offsetMs = 0;
  const clock = { now: () => Date.now() + offsetMs };
  const captured: string[] = [];

  beforeAll(async () => {
    [moto, oauth] = await Promise.all([
      startMoto(),
      startOAuthServer({
        clients: [
          {
            clientId: 'svc',
            clientSecret: CLIENT_SECRET,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['client_credentials'],
          },
          {
            clientId: 'app',
            clientSecret: CLIENT_SECRET,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['refresh_token'],
          },
        ],
      }),
    ]);
    await provision({
      clientConfig: moto.clientConfig,
      tableName: 'events-state',
      secretPrefix: PREFIX,
      credentials: {
        cc: { clientId: 'svc', clientSecret: CLIENT_SECRET },
        rotating: {
          clientId: 'app',
          clientSecret: CLIENT_SECRET,
          refreshToken: 'never-issued-refresh-token',
        },
      },
    });
    const sqs = new SQSClient(moto.clientConfig);
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'token-events' }))).QueueUrl ?? '';
    const queueArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes?.QueueArn;
    const eventBridge = new EventBridgeClient(moto.clientConfig);
    // The rule a user writes to route the events (docs/events.md).
    await eventBridge.send(
      new PutRuleCommand({ Name: 'token-refresher-events', EventPattern: '{"source":["token-refresher"]}' }),
    );
    await eventBridge.send(
      new PutTargetsCommand({ Rule: 'token-refresher-events', Targets: [{ Id: 'queue', Arn: queueArn }] }),
    );
    captureProcessOutput(captured);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all([moto?.stop(), oauth?.stop()]);
  });

  const handler = () =>
    refreshHandlerFromEnvironment(
      {
        TABLE_NAME: 'events-state',
        EVENT_BUS_NAME: 'default',
        PROVIDERS_CONFIG: deployedConfigJson({
          secretPrefix: PREFIX,
          providers: [
            { name: 'cc', grant: 'client_credentials', tokenUrl: oauth.tokenUrl, requestTimeout: 2 },
            { name: 'rotating', grant: 'refresh_token', tokenUrl: oauth.tokenUrl, requestTimeout: 2 },
          ],
        }),
      },
      { clientConfig: { ...moto.clientConfig, maxAttempts: 1 }, clock },
    );
  const refresh = async (provider: string) =>
    (await handler()(
      { provider },
      { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 30_000 },
    )) as RefreshResult;
  const received = async () => {
    const output = await new SQSClient(moto.clientConfig).send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
    );
    return (output.Messages ?? []).map(
      (message) =>
        JSON.parse(message.Body ?? '{}') as {
          source: string;
          'detail-type': string;
          detail: Record<string, unknown>;
        },
    );
  };

  it('publishes failing, then recovered, once each, and needs-reauthorization for invalid_grant', async () => {
    // Act: healthy, two failures, recovery (each after the backoff); a refused refresh token.
    const results = [await refresh('cc')];
    offsetMs += 56 * MINUTE;
    oauth.setFault({ kind: 'status', status: 503, times: 2 });
    results.push(await refresh('cc'));
    offsetMs += MINUTE;
    results.push(await refresh('cc'));
    offsetMs += 5 * MINUTE;
    results.push(await refresh('cc'));
    results.push(await refresh('rotating'));
    const events = await received();

    // Assess
    expect(results.map((result) => (result.status === 'failed' ? result.code : result.status))).toEqual([
      'refreshed',
      'http_503',
      'http_503',
      'refreshed',
      'invalid_grant',
    ]);
    expect(events.map((event) => [event.source, event['detail-type'], event.detail.provider])).toEqual([
      ['token-refresher', 'Provider Failing', 'cc'],
      ['token-refresher', 'Provider Recovered', 'cc'],
      ['token-refresher', 'Provider Needs Reauthorization', 'rotating'],
    ]);
    expect(events[0]?.detail).toMatchObject({ errorCode: 'http_503', permanent: false, deployment: PREFIX });
    expect(events[1]?.detail).toMatchObject({ failedAttempts: 2, lastErrorCode: 'http_503' });
    const everything = JSON.stringify(events) + captured.join('');
    for (const secret of [
      CLIENT_SECRET,
      'never-issued-refresh-token',
      ...oauth.issuedTokens.map((t) => t.value),
    ]) {
      expect(everything).not.toContain(secret);
    }
  });
});
