/**
 * The synthesized stack fits the handler code: the refresh function's environment is taken from the
 * template and the handler runs with it against moto (wiring), and with credentials whose policy is
 * exactly the refresh role's synthesized statements (permissions, with moto's IAM action checks on).
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '../../functions/core/ports.js';
import { type RefreshHandler, refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { build } from '../infra/support.js';
import { createUserWithPolicy, type PolicyStatement } from '../support/iam.js';
import { type AwsClientConfig, type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { putCredentials } from '../support/resources.js';

const ACCOUNT = '123456789012';
const PREFIX = 'wired';
const SECRET_CC = 'wired-cc-secret-7c1d';
const SECRET_RT = 'wired-rt-secret-2b9e';

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };

/** Resolve the few intrinsic functions the refresh function's environment uses, as CloudFormation would. */
function resolve(value: unknown, physicalIds: Readonly<Record<string, string>>): string {
  if (typeof value === 'string') return value;
  const node = value as Record<string, unknown>;
  if ('Ref' in node) {
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws',
      'AWS::Region': 'us-east-1',
      'AWS::AccountId': ACCOUNT,
    };
    const id = String(node.Ref);
    const resolved = pseudo[id] ?? physicalIds[id];
    if (resolved === undefined) throw new Error(`unresolved Ref ${id}`);
    return resolved;
  }
  if ('Fn::Join' in node) {
    const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map((part) => resolve(part, physicalIds)).join(separator);
  }
  if ('Fn::GetAtt' in node) {
    const [id, attribute] = node['Fn::GetAtt'] as [string, string];
    const resolved = physicalIds[`${id}.${attribute}`];
    if (resolved === undefined) throw new Error(`unresolved GetAtt ${id}.${attribute}`);
    return resolved;
  }
  throw new Error(`unsupported intrinsic ${JSON.stringify(value)}`);
}

class WarningLogger implements Logger {
  readonly warnings: string[] = [];
  debug(): void {}
  info(): void {}
  warn(message: string): void {
    this.warnings.push(message);
  }
  error(message: string): void {
    this.warnings.push(message);
  }
}

describe('Synthesized stack × refresh handler against moto', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let environment: Record<string, string>;
  let statements: PolicyStatement[];

  const context = () => ({ awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 30_000 });
  const handlerAs = (clientConfig: AwsClientConfig, logger: Logger): RefreshHandler =>
    refreshHandlerFromEnvironment(environment, { clientConfig: { ...clientConfig, maxAttempts: 1 }, logger });

  beforeAll(async () => {
    [moto, oauth] = await Promise.all([
      startMoto(),
      startOAuthServer({
        clients: [
          {
            clientId: 'wired-cc',
            clientSecret: SECRET_CC,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['client_credentials'],
          },
          {
            clientId: 'wired-rt',
            clientSecret: SECRET_RT,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['refresh_token'],
          },
        ],
      }),
    ]);

    // Synthesize, then "deploy" the template's table, secrets and schedule group to moto.
    const { template } = build({
      secretPrefix: PREFIX,
      providers: [
        { name: 'cc', grant: 'client_credentials', tokenUrl: oauth.tokenUrl },
        { name: 'rt', grant: 'refresh_token', tokenUrl: oauth.tokenUrl },
      ],
    });
    const resources = (template.toJSON() as Template).Resources;
    const physicalIds: Record<string, string> = {};
    const dynamodb = new DynamoDBClient(moto.clientConfig);
    const secrets = new SecretsManagerClient(moto.clientConfig);
    const scheduler = new SchedulerClient(moto.clientConfig);
    for (const [id, resource] of Object.entries(resources)) {
      const properties = resource.Properties ?? {};
      if (resource.Type === 'AWS::DynamoDB::Table') {
        physicalIds[id] = 'wired-state';
        await dynamodb.send(
          new CreateTableCommand({
            TableName: 'wired-state',
            BillingMode: 'PAY_PER_REQUEST',
            KeySchema: properties.KeySchema as never,
            AttributeDefinitions: properties.AttributeDefinitions as never,
          }),
        );
      } else if (resource.Type === 'AWS::SecretsManager::Secret') {
        await secrets.send(
          new CreateSecretCommand({
            Name: String(properties.Name),
            SecretString: String(properties.SecretString),
          }),
        );
      } else if (resource.Type === 'AWS::Scheduler::ScheduleGroup') {
        await scheduler.send(new CreateScheduleGroupCommand({ Name: String(properties.Name) }));
      } else if (resource.Type === 'AWS::IAM::Role') {
        physicalIds[`${id}.Arn`] = `arn:aws:iam::${ACCOUNT}:role/${id}`;
      }
    }
    dynamodb.destroy();
    secrets.destroy();
    scheduler.destroy();

    // The operator fills the credentials secrets.
    await putCredentials(moto.clientConfig, `${PREFIX}/cc/credentials`, {
      clientId: 'wired-cc',
      clientSecret: SECRET_CC,
    });
    await putCredentials(moto.clientConfig, `${PREFIX}/rt/credentials`, {
      clientId: 'wired-rt',
      clientSecret: SECRET_RT,
      refreshToken: await oauth.seedRefreshToken({ clientId: 'wired-rt' }),
    });

    const found = Object.entries(resources).find(
      ([, resource]) =>
        resource.Type === 'AWS::Lambda::Function' &&
        JSON.stringify(resource.Properties?.Environment ?? {}).includes('TABLE_NAME'),
    );
    if (found === undefined) throw new Error('the template has no refresh function');
    const [functionId, fn] = found;
    const properties = fn.Properties ?? {};
    const variables = (properties.Environment as { Variables: Record<string, unknown> }).Variables;
    environment = Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [name, resolve(value, physicalIds)]),
    );

    const roleId = (properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    statements = Object.values(resources)
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
    expect(functionId).not.toBe('');
    expect(statements.length).toBeGreaterThan(0);
  });

  afterAll(async () => {
    await Promise.all([moto?.stop(), oauth?.stop()]);
  });

  it('starts with exactly the environment the template sets and refreshes both providers', async () => {
    // Prepare
    const logger = new WarningLogger();
    const handler = handlerAs(moto.clientConfig, logger);

    // Act
    const results = [
      await handler({ provider: 'cc' }, context()),
      await handler({ provider: 'rt' }, context()),
    ];

    // Assess
    expect(Object.keys(environment).sort()).toEqual(
      expect.arrayContaining(['REFRESH_FUNCTION_ARN', 'SCHEDULER_GROUP', 'SCHEDULER_ROLE_ARN', 'TABLE_NAME']),
    );
    expect(results).toMatchObject([
      { status: 'refreshed', provider: 'cc' },
      { status: 'refreshed', provider: 'rt', refreshTokenRotated: true },
    ]);
    expect(logger.warnings).toEqual([]);
  });

  describe('with moto checking IAM actions', () => {
    /** Run a forced refresh of both providers as a user allowed exactly `allowed`. */
    async function refreshAs(allowed: readonly PolicyStatement[]) {
      await moto.resetAuth(Number.POSITIVE_INFINITY);
      const clientConfig = await createUserWithPolicy(
        moto.clientConfig,
        `u-${randomUUID().slice(0, 8)}`,
        allowed,
      );
      await moto.resetAuth(0);
      try {
        const logger = new WarningLogger();
        const handler = handlerAs(clientConfig, logger);
        const results = [
          await handler({ provider: 'cc', force: true }, context()),
          await handler({ provider: 'rt', force: true }, context()),
        ];
        return { results, warnings: logger.warnings };
      } finally {
        await moto.resetAuth(Number.POSITIVE_INFINITY);
      }
    }

    it("refreshes with exactly the refresh role's synthesized statements", async () => {
      // Act
      const { results, warnings } = await refreshAs(statements);

      // Assess
      expect(results.map((result) => result.status)).toEqual(['refreshed', 'refreshed']);
      expect(warnings).toEqual([]);
    });

    it('fails when any one action the emulator checks is removed', async () => {
      // Prepare: moto authorizes these services; KMS, Logs and PassRole are not exercised here.
      const actions = [
        ...new Set(statements.flatMap((statement) => [statement.Action].flat() as string[])),
      ].filter((action) => /^(secretsmanager|dynamodb|scheduler):/.test(action));
      expect(actions.length).toBeGreaterThanOrEqual(7);

      // Act
      const outcomes: Record<string, boolean> = {};
      for (const removed of actions) {
        const reduced = statements.flatMap((statement) => {
          const remaining = ([statement.Action].flat() as string[]).filter((action) => action !== removed);
          return remaining.length === 0 ? [] : [{ ...statement, Action: remaining }];
        });
        const { results, warnings } = await refreshAs(reduced);
        outcomes[removed] = results.some((result) => result.status !== 'refreshed') || warnings.length > 0;
      }

      // Assess: every removal broke something.
      expect(outcomes).toEqual(Object.fromEntries(actions.map((action) => [action, true])));
    });
  });
});
