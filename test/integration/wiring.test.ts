/**
 * The synthesized stack fits the handler code: the refresh function's environment is taken from the
 * template and the handler runs with it against moto (wiring), and with credentials whose policy is
 * exactly the refresh role's synthesized statements (permissions, with moto's IAM action checks on).
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Logger } from '../../functions/core/ports.js';
import { type ReadHandler, readHandlerFromEnvironment, type UrlResponse } from '../../functions/read/app.js';
import {
  inProcessRefreshTrigger,
  type RefreshHandler,
  refreshHandlerFromEnvironment,
} from '../../functions/refresh/app.js';
import { build } from '../infra/support.js';
import { createUserWithPolicy, type PolicyStatement } from '../support/iam.js';
import { type AwsClientConfig, type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { captureProcessOutput } from '../support/output.js';
import { putCredentials } from '../support/resources.js';

const ACCOUNT = '123456789012';
const PREFIX = 'wired';
const SECRET_CC = 'wired-cc-secret-7c1d';
const SECRET_RT = 'wired-rt-secret-2b9e';
const CONFIG_CONSUMER = `arn:aws:iam::${ACCOUNT}:role/config-consumer`;

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
  let readEnvironment: Record<string, string>;
  let readStatements: PolicyStatement[];

  // The deployed refresh function's timeout with a refresh_token provider: its 30 s default request
  // timeout + 5 s write reserve + 25 s (infra refreshTimeout).
  const context = () => ({ awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 60_000 });
  const handlerAs = (clientConfig: AwsClientConfig, logger: Logger): RefreshHandler =>
    refreshHandlerFromEnvironment(environment, { clientConfig: { ...clientConfig, maxAttempts: 1 }, logger });

  /** What the handlers write (logs, EMF): kept out of the test output, scanned for secrets at the end. */
  const captured: string[] = [];

  beforeAll(async () => {
    captureProcessOutput(captured, ['stdout']);
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
    const built = build({
      secretPrefix: PREFIX,
      // The requests below carry the caller in the event (userArn), not a caller proof.
      refresher: { trustDirectInvoke: true },
      providers: [
        { name: 'cc', grant: 'client_credentials', tokenUrl: oauth.tokenUrl, consumers: [CONFIG_CONSUMER] },
        { name: 'rt', grant: 'refresh_token', tokenUrl: oauth.tokenUrl },
      ],
    });
    // A consumer granted in code: its role ARN reaches the read function through EXTRA_CONSUMERS.
    const { stack } = built;
    const consumer = new Role(stack, 'GrantedConsumer', {
      roleName: 'granted-consumer',
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    });
    stack.refresher.grantReadViaFunction(consumer, 'rt');
    const template = built.template; // synthesized only now, after the grant
    const resources = (template.toJSON() as Template).Resources;
    const physicalIds = await deployToMoto(resources, moto.clientConfig);

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

    const found = functionWithVariable(resources, 'TABLE_NAME');
    if (found === undefined) throw new Error('the template has no refresh function');
    const [functionId, properties] = found;
    environment = environmentOf(properties, physicalIds);
    statements = roleStatements(resources, properties);
    expect(functionId).not.toBe('');
    expect(statements.length).toBeGreaterThan(0);

    const read = functionWithVariable(resources, 'REFRESH_FUNCTION_NAME');
    if (read === undefined) throw new Error('the template has no read function');
    const [, readProperties] = read;
    readEnvironment = environmentOf(readProperties, physicalIds);
    readStatements = roleStatements(resources, readProperties);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    await Promise.all([moto?.stop(), oauth?.stop()]);
    const output = captured.join('');
    for (const secret of [SECRET_CC, SECRET_RT, ...(oauth?.issuedTokens.map((token) => token.value) ?? [])]) {
      if (output.includes(secret)) throw new Error("a secret or token reached the handlers' output");
    }
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
        // Told of a credentials change, a run looks at the credentials' version (DescribeSecret; issue
        // 16): unchanged here, so it ends as a scheduled run, or warns when it cannot look.
        const looked = await handler({ provider: 'cc', trigger: 'credentials-changed' }, context());
        return { results, looked, warnings: logger.warnings };
      } finally {
        await moto.resetAuth(Number.POSITIVE_INFINITY);
      }
    }

    it("refreshes with exactly the refresh role's synthesized statements", async () => {
      // Act
      const { results, looked, warnings } = await refreshAs(statements);

      // Assess
      expect(results.map((result) => result.status)).toEqual(['refreshed', 'refreshed']);
      expect(looked).toMatchObject({ status: 'fresh' });
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

    it('publishes the state-change event with these statements, and cannot without events:PutEvents', async () => {
      // Prepare: a healthy refresh ends any failure streak; then the client secret is wrong, so the
      // next refresh is the first failure of a streak: a "Provider Failing" event.
      const good = { clientId: 'wired-cc', clientSecret: SECRET_CC };
      const firstFailureAs = async (allowed: readonly PolicyStatement[]) => {
        await putCredentials(moto.clientConfig, `${PREFIX}/cc/credentials`, good);
        await refreshAs(statements);
        await putCredentials(moto.clientConfig, `${PREFIX}/cc/credentials`, {
          ...good,
          clientSecret: 'not-the-client-secret',
        });
        try {
          return await refreshAs(allowed);
        } finally {
          await putCredentials(moto.clientConfig, `${PREFIX}/cc/credentials`, good);
        }
      };
      const withoutPutEvents = statements.flatMap((statement) => {
        const remaining = ([statement.Action].flat() as string[]).filter(
          (action) => action !== 'events:PutEvents',
        );
        return remaining.length === 0 ? [] : [{ ...statement, Action: remaining }];
      });

      // Act
      const allowed = await firstFailureAs(statements);
      const denied = await firstFailureAs(withoutPutEvents);

      // Assess
      const notPublished = 'Could not publish the state-change event';
      expect(environment.EVENT_BUS_NAME).toMatch(/^arn:aws:events:[a-z0-9-]+:\d{12}:event-bus\/default$/);
      expect(allowed.results[0]).toMatchObject({ status: 'failed', code: 'invalid_client' });
      expect(allowed.warnings).not.toContain(notPublished);
      expect(denied.results[0]).toMatchObject({ status: 'failed', code: 'invalid_client' });
      expect(denied.warnings).toContain(notPublished);
    });
  });
  describe('read function', () => {
    const urlGet = (provider: string, caller: string) => ({
      rawPath: `/tokens/${provider}`,
      requestContext: { http: { method: 'GET' }, authorizer: { iam: { userArn: caller } } },
    });
    const readAs = (clientConfig: AwsClientConfig, logger: Logger): ReadHandler =>
      readHandlerFromEnvironment(readEnvironment, {
        clientConfig: { ...clientConfig, maxAttempts: 1 },
        logger,
        // moto cannot run Lambda functions: the refresh function runs in-process with its template environment.
        trigger: inProcessRefreshTrigger(handlerAs(moto.clientConfig, new WarningLogger())),
      });
    const configCaller = `arn:aws:sts::${ACCOUNT}:assumed-role/config-consumer/session`;
    const grantedCaller = `arn:aws:sts::${ACCOUNT}:assumed-role/granted-consumer/session`;

    it('starts with the template environment and serves the config consumer and the role granted in code', async () => {
      // Prepare
      const logger = new WarningLogger();
      const handler = readAs(moto.clientConfig, logger);

      // Act
      const answers = (await Promise.all([
        handler(urlGet('cc', configCaller)),
        handler(urlGet('rt', grantedCaller)),
        handler(urlGet('rt', configCaller)),
        handler(urlGet('cc', grantedCaller)),
      ])) as UrlResponse[];

      // Assess
      expect(Object.keys(readEnvironment).sort()).toEqual(
        expect.arrayContaining(['EXTRA_CONSUMERS', 'PROVIDERS_CONFIG', 'REFRESH_FUNCTION_NAME']),
      );
      expect(answers.map((answer) => answer.statusCode)).toEqual([200, 200, 403, 403]);
      expect(logger.warnings).toEqual([]);
    });

    it("serves a token with exactly the read role's synthesized statements, and not without GetSecretValue", async () => {
      // Prepare
      const serveAs = async (allowed: readonly PolicyStatement[]) => {
        await moto.resetAuth(Number.POSITIVE_INFINITY);
        const clientConfig = await createUserWithPolicy(
          moto.clientConfig,
          `r-${randomUUID().slice(0, 8)}`,
          allowed,
        );
        await moto.resetAuth(0);
        try {
          return (await readAs(clientConfig, new WarningLogger())(urlGet('cc', configCaller))) as UrlResponse;
        } finally {
          await moto.resetAuth(Number.POSITIVE_INFINITY);
        }
      };
      const withoutGet = readStatements.flatMap((statement) => {
        const remaining = ([statement.Action].flat() as string[]).filter(
          (action) => action !== 'secretsmanager:GetSecretValue',
        );
        return remaining.length === 0 ? [] : [{ ...statement, Action: remaining }];
      });

      // Act
      const allowed = await serveAs(readStatements);
      const denied = await serveAs(withoutGet);

      // Assess
      expect(allowed.statusCode).toBe(200);
      expect(denied.statusCode).toBe(503);
      expect(JSON.parse(denied.body)).toMatchObject({ code: 'store_unavailable' });
      const actions = readStatements.flatMap((statement) => [statement.Action].flat() as string[]).sort();
      expect(actions).not.toContain('secretsmanager:PutSecretValue');
      expect(actions.some((action) => action.startsWith('dynamodb:'))).toBe(false);
    });
  });
});

type TemplateResources = Template['Resources'];

/** "Deploy" the template's table, secrets and schedule group to moto; @returns the physical ids `resolve` needs. */
async function deployToMoto(
  resources: TemplateResources,
  clientConfig: MotoServer['clientConfig'],
): Promise<Record<string, string>> {
  const physicalIds: Record<string, string> = {};
  const dynamodb = new DynamoDBClient(clientConfig);
  const secrets = new SecretsManagerClient(clientConfig);
  const scheduler = new SchedulerClient(clientConfig);
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
    } else {
      Object.assign(physicalIds, referencedIds(id, resource.Type, properties));
    }
  }
  dynamodb.destroy();
  secrets.destroy();
  scheduler.destroy();
  return physicalIds;
}

/** What the functions' environments reference of a role (its ARN) or a function (its name). */
function referencedIds(
  id: string,
  type: string,
  properties: Record<string, unknown>,
): Record<string, string> {
  if (type === 'AWS::IAM::Role') {
    return { [`${id}.Arn`]: `arn:aws:iam::${ACCOUNT}:role/${String(properties.RoleName ?? id)}` };
  }
  if (type === 'AWS::Lambda::Function') return { [id]: String(properties.FunctionName ?? id) };
  return {};
}

/** The function whose environment names `variable`: its logical id and properties. */
function functionWithVariable(
  resources: TemplateResources,
  variable: string,
): [string, Record<string, unknown>] | undefined {
  const found = Object.entries(resources).find(
    ([, resource]) =>
      resource.Type === 'AWS::Lambda::Function' &&
      JSON.stringify(resource.Properties?.Environment ?? {}).includes(variable),
  );
  return found === undefined ? undefined : [found[0], found[1].Properties ?? {}];
}

/** A function's environment variables, references resolved to the physical ids on moto. */
function environmentOf(
  properties: Record<string, unknown>,
  physicalIds: Readonly<Record<string, string>>,
): Record<string, string> {
  const variables = (properties.Environment as { Variables: Record<string, unknown> }).Variables;
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, resolve(value, physicalIds)]),
  );
}

/** The statements of every policy attached to a function's role. */
function roleStatements(
  resources: TemplateResources,
  properties: Record<string, unknown>,
): PolicyStatement[] {
  const roleId = (properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return Object.values(resources)
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
