/**
 * Credentials that take effect without a force (issue 16, item 5), end to end against moto and
 * oidc-provider: a provider blocked by `invalid_client` (a wrong client secret) recovers after the
 * operator's `put-secret-value` of the right one,
 *
 * - through the event path: the synthesized credentials-change rule, put on moto's EventBridge with a
 *   queue as its target, routes the CloudTrail event of that call, and the refresh handler takes the
 *   delivered event as it is;
 * - through the fallback: the provider's next scheduled run, without any event.
 *
 * AWS calls are counted at the emulator, token requests at the OAuth server. Figures are printed
 * (`FIGURES credentials-change ...`).
 */
import { randomUUID } from 'node:crypto';
import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DynamoDbStateTable } from '../../functions/aws/state-table.js';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import type { RefreshResult } from '../../functions/core/types.js';
import { type RefreshHandler, refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { build } from '../infra/support.js';
import { createUserWithPolicy, type PolicyStatement } from '../support/iam.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { captureProcessOutput } from '../support/output.js';
import { provision, putCredentials } from '../support/resources.js';
import { RecordingLogger } from '../unit/core/fakes.js';

const ACCOUNT = '123456789012';
const TABLE = 'cc-state';
const PREFIX = 'cc-it';
const GROUP = 'cc-next-runs';
const PROVIDER = 'acme';
const CREDENTIALS_SECRET = `${PREFIX}/${PROVIDER}/credentials`;
const RIGHT_SECRET = 'cc-right-secret-5d0e';
const WRONG_SECRET = 'cc-wrong-secret-a913';
const REFRESH_ROLE_NAME = 'cc-refresh-role';

/** The CloudTrail record of a Secrets Manager call, as EventBridge delivers it (`detail` only is sent). */
function cloudTrailDetail(input: {
  readonly eventName: string;
  readonly secretId: string;
  readonly callerArn: string;
  readonly errorCode?: string;
}): Record<string, unknown> {
  return {
    eventVersion: '1.09',
    userIdentity: { type: 'AssumedRole', arn: input.callerArn, accountId: ACCOUNT },
    eventTime: new Date().toISOString(),
    eventSource: 'secretsmanager.amazonaws.com',
    eventName: input.eventName,
    awsRegion: 'us-east-1',
    requestParameters: { secretId: input.secretId, clientRequestToken: randomUUID() },
    ...(input.errorCode === undefined
      ? { responseElements: { arn: 'ignored' } }
      : { errorCode: input.errorCode }),
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ACCOUNT,
  };
}

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** The statements of the refresh function's role (the function with `TABLE_NAME`), as synthesized. */
function refreshRoleStatements(template: Template): PolicyStatement[] {
  const resources = Object.values(template.Resources);
  const refresh = resources.find(
    (resource) =>
      resource.Type === 'AWS::Lambda::Function' &&
      JSON.stringify(resource.Properties?.Environment ?? {}).includes('"TABLE_NAME"'),
  );
  if (refresh === undefined) throw new Error('the template has no refresh function');
  const role = refresh.Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined;
  const roleId = role?.['Fn::GetAtt'][0];
  return resources
    .filter(
      (resource) =>
        resource.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(resource.Properties?.Roles ?? []).includes(`"${roleId}"`),
    )
    .flatMap(
      (resource) =>
        (resource.Properties as { PolicyDocument: { Statement: PolicyStatement[] } }).PolicyDocument
          .Statement,
    );
}

/** A template value as CloudFormation resolves it here (moto's account and region, the role's name). */
function resolveIntrinsics(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolveIntrinsics);
  if (value === null || typeof value !== 'object') return value;
  const node = value as Record<string, unknown>;
  if ('Ref' in node) {
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': 'us-east-1',
      'AWS::AccountId': ACCOUNT,
    };
    return pseudo[String(node.Ref)] ?? REFRESH_ROLE_NAME; // the one other reference: the refresh role
  }
  if ('Fn::Join' in node) {
    const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map(resolveIntrinsics).join(separator);
  }
  return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, resolveIntrinsics(item)]));
}

describe('Credentials that take effect without a force, against moto and oidc-provider', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let offsetMs = 0;
  const clock = { now: () => Date.now() + offsetMs };
  const captured: string[] = [];
  let handler: RefreshHandler;

  const environment = () => ({
    TABLE_NAME: TABLE,
    PROVIDERS_CONFIG: deployedConfigJson({
      secretPrefix: PREFIX,
      providers: [
        { name: PROVIDER, grant: 'client_credentials', tokenUrl: oauth.tokenUrl, requestTimeout: 2 },
      ],
    }),
    SCHEDULER_GROUP: GROUP,
    SCHEDULER_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/cc-scheduler`,
    REFRESH_FUNCTION_ARN: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:cc-refresh`,
  });
  const invoke = async (event: unknown) =>
    (await handler(event, {
      awsRequestId: randomUUID(),
      getRemainingTimeInMillis: () => 60_000,
    })) as RefreshResult;
  /** A scheduled run (EventBridge Scheduler's input), five minutes after the last. */
  const tick = async () => {
    offsetMs += 5 * 60_000;
    return invoke({ provider: PROVIDER });
  };
  const state = () =>
    new DynamoDbStateTable({ clientConfig: moto.clientConfig, tableName: TABLE }).read(PROVIDER);
  const currentVersion = async () => {
    const client = new SecretsManagerClient(moto.clientConfig);
    const { VersionIdsToStages } = await client.send(
      new DescribeSecretCommand({ SecretId: CREDENTIALS_SECRET }),
    );
    client.destroy();
    return Object.entries(VersionIdsToStages ?? {}).find(([, stages]) => stages.includes('AWSCURRENT'))?.[0];
  };

  /** The wrong client secret is put, and the first refresh is refused: blocked by invalid_client. */
  const blockedByInvalidClient = async () => {
    await putCredentials(moto.clientConfig, CREDENTIALS_SECRET, {
      clientId: 'cc-client',
      clientSecret: WRONG_SECRET,
    });
    const refused = await invoke({ provider: PROVIDER });
    expect(refused).toMatchObject({
      status: 'failed',
      code: 'invalid_client',
      permanent: true,
      attempted: true,
    });
    expect(await state()).toMatchObject({
      lastErrorPermanent: true,
      credentialsVersionId: await currentVersion(),
    });
  };

  beforeAll(async () => {
    [moto, oauth] = await Promise.all([
      startMoto(),
      startOAuthServer({
        clients: [
          {
            clientId: 'cc-client',
            clientSecret: RIGHT_SECRET,
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
    const output = captured.join('');
    for (const secret of [
      RIGHT_SECRET,
      WRONG_SECRET,
      ...(oauth?.issuedTokens.map((token) => token.value) ?? []),
    ]) {
      if (output.includes(secret)) throw new Error("a secret or token reached the handler's output");
    }
  });

  beforeEach(async () => {
    offsetMs = 0;
    await moto.reset();
    oauth.resetCounters();
    await provision({
      clientConfig: moto.clientConfig,
      tableName: TABLE,
      secretPrefix: PREFIX,
      credentials: { [PROVIDER]: undefined },
    });
    const scheduler = new SchedulerClient(moto.clientConfig);
    await scheduler.send(new CreateScheduleGroupCommand({ Name: GROUP }));
    scheduler.destroy();
    handler = refreshHandlerFromEnvironment(environment(), {
      clientConfig: { ...moto.clientConfig, maxAttempts: 1 },
      clock,
    });
  });

  it('costs one AWS call more per scheduled run only while blocked, and never calls the provider again with the same credentials', async () => {
    // Prepare: a healthy provider first (the right secret), then blocked (the wrong one, forced).
    await putCredentials(moto.clientConfig, CREDENTIALS_SECRET, {
      clientId: 'cc-client',
      clientSecret: RIGHT_SECRET,
    });
    await invoke({ provider: PROVIDER });
    await moto.startCounting();
    await tick();
    const healthyTick = await moto.countOperations();
    await putCredentials(moto.clientConfig, CREDENTIALS_SECRET, {
      clientId: 'cc-client',
      clientSecret: WRONG_SECRET,
    });
    expect(await invoke({ provider: PROVIDER, force: true })).toMatchObject({ code: 'invalid_client' });
    oauth.resetCounters();

    // Act
    await moto.startCounting();
    const blocked = await tick();
    const blockedTick = await moto.countOperations();
    for (let run = 0; run < 5; run += 1) await tick();
    await moto.stopCounting();

    // Assess
    expect(healthyTick).toEqual({ 'DynamoDB_20120810.GetItem': 1 });
    expect(blocked).toMatchObject({ status: 'failed', code: 'invalid_client', attempted: false });
    expect(blockedTick).toEqual({ 'DynamoDB_20120810.GetItem': 1, 'secretsmanager.DescribeSecret': 1 });
    expect(oauth.tokenRequests.total).toBe(0);
    console.info(
      `FIGURES credentials-change callsPerTick healthy=${JSON.stringify(healthyTick)} blocked=${JSON.stringify(blockedTick)}`,
    );
  });

  it('recovers at the first scheduled run after put-secret-value, with no event and no CLI step', async () => {
    // Prepare
    await blockedByInvalidClient();
    const stillBlocked = await tick();
    await putCredentials(moto.clientConfig, CREDENTIALS_SECRET, {
      clientId: 'cc-client',
      clientSecret: RIGHT_SECRET,
    });

    // Act
    await moto.startCounting();
    const recovered = await tick();
    const recoveryCalls = await moto.countOperations();
    await moto.stopCounting();

    // Assess
    expect(stillBlocked).toMatchObject({ status: 'failed', attempted: false });
    expect(recovered).toMatchObject({ status: 'refreshed', generation: 2 });
    const item = await state();
    expect(item).toMatchObject({ consecutiveFailures: 0, credentialsVersionId: await currentVersion() });
    expect(item).not.toHaveProperty('lastErrorPermanent');
    expect(oauth.tokenRequests.total).toBe(2); // the refusal, and the one refresh with the new secret
    console.info(
      `FIGURES credentials-change fallback ticksToRecovery=1 callsOfRecoveringTick=${JSON.stringify(recoveryCalls)}`,
    );
  });

  it("looks at the version with exactly the refresh role's synthesized statements, and cannot without DescribeSecret", async () => {
    // Prepare
    await blockedByInvalidClient();
    const statements = refreshRoleStatements(
      build({
        secretPrefix: PREFIX,
        providers: [
          { name: PROVIDER, grant: 'client_credentials', tokenUrl: 'https://auth.example.com/token' },
        ],
      }).template.toJSON() as Template,
    );
    const withoutDescribe = statements.flatMap((statement) => {
      const actions = [statement.Action]
        .flat()
        .filter((action) => action !== 'secretsmanager:DescribeSecret');
      return actions.length === 0 ? [] : [{ ...statement, Action: actions }];
    });
    const lookAs = async (allowed: readonly PolicyStatement[]) => {
      await moto.resetAuth(Number.POSITIVE_INFINITY);
      const clientConfig = await createUserWithPolicy(
        moto.clientConfig,
        `u-${randomUUID().slice(0, 8)}`,
        allowed,
      );
      await moto.resetAuth(0);
      try {
        const logger = new RecordingLogger();
        const looking = refreshHandlerFromEnvironment(environment(), {
          clientConfig: { ...clientConfig, maxAttempts: 1 },
          clock,
          logger,
        });
        await looking({ provider: PROVIDER }, { getRemainingTimeInMillis: () => 60_000 });
        return logger.lines.filter((line) => line.level === 'warn').map((line) => line.attributes?.errorCode);
      } finally {
        await moto.resetAuth(Number.POSITIVE_INFINITY);
      }
    };

    // Act
    const allowed = await lookAs(statements);
    const denied = await lookAs(withoutDescribe);

    // Assess
    expect(allowed).toEqual([]);
    // moto answers an IAM denial of a JSON-protocol call with an XML body, which the SDK cannot parse:
    // the code is not AWS's (secrets_manager_access_denied), but the look failed, and said so.
    expect(denied).toHaveLength(1);
  });

  describe('through the synthesized rule on EventBridge (moto), delivered to the handler as it is', () => {
    let events: EventBridgeClient;
    let sqs: SQSClient;
    let queueUrl: string;

    /** The synthesized rule's pattern, resolved, on moto's default bus with a queue as its target. */
    beforeEach(async () => {
      const { template } = build({
        secretPrefix: PREFIX,
        providers: [
          { name: PROVIDER, grant: 'client_credentials', tokenUrl: 'https://auth.example.com/token' },
        ],
      });
      const [rule] = Object.values(template.findResources('AWS::Events::Rule')) as {
        Properties: { EventPattern: unknown };
      }[];
      events = new EventBridgeClient(moto.clientConfig);
      sqs = new SQSClient(moto.clientConfig);
      queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'credentials-change' }))).QueueUrl ?? '';
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
      );
      await events.send(
        new PutRuleCommand({
          Name: 'credentials-change',
          EventPattern: JSON.stringify(resolveIntrinsics(rule?.Properties.EventPattern)),
        }),
      );
      await events.send(
        new PutTargetsCommand({
          Rule: 'credentials-change',
          Targets: [{ Id: 'refresh', Arn: Attributes?.QueueArn }],
        }),
      );
    });

    /** What CloudTrail would send for each call; returns the events the rule delivered, in order. */
    const route = async (details: readonly Record<string, unknown>[]) => {
      await events.send(
        new PutEventsCommand({
          Entries: details.map((detail) => ({
            Source: 'aws.secretsmanager',
            DetailType: 'AWS API Call via CloudTrail',
            Detail: JSON.stringify(detail),
          })),
        }),
      );
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
      );
      return (Messages ?? []).map((message) => JSON.parse(message.Body ?? '{}') as Record<string, unknown>);
    };
    const operator = `arn:aws:sts::${ACCOUNT}:assumed-role/operator/jane`;
    const refreshSession = `arn:aws:sts::${ACCOUNT}:assumed-role/${REFRESH_ROLE_NAME}/cc-refresh`;
    const arnOf = (name: string) => `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:${name}`;

    it("routes an operator's successful write by name or ARN, and not the refresh function's own writes, refused calls or other secrets", async () => {
      // Act
      const delivered = await route([
        cloudTrailDetail({ eventName: 'PutSecretValue', secretId: CREDENTIALS_SECRET, callerArn: operator }),
        cloudTrailDetail({
          eventName: 'UpdateSecret',
          secretId: arnOf(`${CREDENTIALS_SECRET}-AbC123`),
          callerArn: operator,
        }),
        cloudTrailDetail({
          eventName: 'PutSecretValue',
          secretId: arnOf(CREDENTIALS_SECRET),
          callerArn: operator,
        }),
        cloudTrailDetail({
          eventName: 'PutSecretValue',
          secretId: CREDENTIALS_SECRET,
          callerArn: refreshSession,
        }),
        cloudTrailDetail({
          eventName: 'PutSecretValue',
          secretId: `${PREFIX}/${PROVIDER}/token`,
          callerArn: refreshSession,
        }),
        cloudTrailDetail({
          eventName: 'PutSecretValue',
          secretId: CREDENTIALS_SECRET,
          callerArn: operator,
          errorCode: 'AccessDenied',
        }),
        cloudTrailDetail({ eventName: 'GetSecretValue', secretId: CREDENTIALS_SECRET, callerArn: operator }),
        cloudTrailDetail({
          eventName: 'PutSecretValue',
          secretId: 'other-app/acme/credentials',
          callerArn: operator,
        }),
      ]);

      // Assess
      expect(
        delivered.map(
          (event) => (event.detail as { requestParameters: { secretId: string } }).requestParameters.secretId,
        ),
      ).toEqual([CREDENTIALS_SECRET, arnOf(`${CREDENTIALS_SECRET}-AbC123`), arnOf(CREDENTIALS_SECRET)]);
    });

    it('recovers a blocked provider within the one invocation the put causes; an unchanged secret costs two AWS calls and no provider call', async () => {
      // Prepare
      await blockedByInvalidClient();
      const [unchangedEvent] = await route([
        cloudTrailDetail({ eventName: 'UpdateSecret', secretId: CREDENTIALS_SECRET, callerArn: operator }),
      ]);
      await moto.startCounting();
      const unchanged = await invoke(unchangedEvent);
      const unchangedCalls = await moto.countOperations();
      await putCredentials(moto.clientConfig, CREDENTIALS_SECRET, {
        clientId: 'cc-client',
        clientSecret: RIGHT_SECRET,
      });
      const [putEvent] = await route([
        cloudTrailDetail({ eventName: 'PutSecretValue', secretId: CREDENTIALS_SECRET, callerArn: operator }),
      ]);

      // Act
      await moto.startCounting();
      const recovered = await invoke(putEvent);
      const recoveryCalls = await moto.countOperations();
      const again = await invoke(putEvent);
      await moto.stopCounting();

      // Assess
      expect(unchanged).toMatchObject({ status: 'failed', code: 'invalid_client', attempted: false });
      expect(unchangedCalls).toEqual({ 'DynamoDB_20120810.GetItem': 1, 'secretsmanager.DescribeSecret': 1 });
      expect(recovered).toMatchObject({ status: 'refreshed', generation: 2 });
      expect(again).toMatchObject({ status: 'fresh', reason: 'not-due' });
      expect(oauth.tokenRequests.total).toBe(2);
      expect(await state()).not.toHaveProperty('lastErrorPermanent');
      console.info(
        `FIGURES credentials-change event invocationsToRecovery=1 callsOfUnchangedEvent=${JSON.stringify(unchangedCalls)} ` +
          `callsOfRecoveringEvent=${JSON.stringify(recoveryCalls)}`,
      );
    });
  });
});
