import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CfnElement,
  Duration,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
  Stack,
} from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/config.js';
import { parseRefresherConfig } from '../../functions/core/config-schema.js';
import { ENV, readReadEnvironment } from '../../functions/core/env.js';
import {
  LAMBDA_ENVIRONMENT_LIMIT_BYTES,
  PROVIDERS_CONFIG_FILE_NAME,
  READ_5XX_ALARM_THRESHOLD,
  TokenRefresher,
} from '../../infra/token-refresher.js';
import { MAX_PROVIDERS_PER_STACK } from '../../infra/validate-props.js';
import { build, PROVIDERS } from './support.js';

const built = build();
const { stack, template } = built;
const refresher = stack.refresher;
const ref = (value: unknown) => stack.resolve(value);
const keyArn = ref(refresher.encryptionKey.keyArn);

/** The synthesized resources of each stack a test built (see {@link synthesized}). */
const templates = new Map<Stack, Record<string, { Properties: never }>>([
  [stack, template.toJSON().Resources],
]);

/** Synthesize another build and remember its resources; call after the grants under test. */
function synthesized(other: ReturnType<typeof build>): ReturnType<typeof build>['template'] {
  const otherTemplate = other.template;
  templates.set(other.stack, otherTemplate.toJSON().Resources);
  return otherTemplate;
}

/** The template properties of the resource a construct defines. */
function propertiesOf(scope: Stack, construct: Construct): never {
  const resources = templates.get(scope);
  if (resources === undefined) throw new Error('synthesize the stack first (synthesized)');
  const id = scope.getLogicalId(construct.node.defaultChild as CfnElement);
  const resource = resources[id];
  if (resource === undefined) throw new Error(`${construct.node.path} (${id}) is not in the template`);
  return resource.Properties;
}

interface Statement {
  Sid?: string;
  Effect: string;
  Action: unknown;
  Resource: unknown;
  Condition?: unknown;
}

/** The statements of a role's default policy. */
function policyOf(role: iam.IRole, scope: Stack = stack): Statement[] {
  const policy = (role as iam.Role).node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
  if (policy === undefined) throw new Error(`${role.node.path} has no default policy`);
  return (scope.resolve(policy.document) as { Statement: Statement[] }).Statement;
}

/**
 * Evaluate the intrinsics a deployed environment variable would hold: `Fn::Join` joins, and
 * `Fn::GetAtt [<role>, Arn]` becomes `arn:aws:iam::111111111111:role/<role>` (what CloudFormation
 * would put there).
 */
function evaluate(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join !== undefined) return join[1].map(evaluate).join(join[0]);
  const getAtt = (value as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
  if (getAtt !== undefined && getAtt[1] === 'Arn') return `arn:aws:iam::111111111111:role/${getAtt[0]}`;
  throw new Error(`cannot evaluate ${JSON.stringify(value)}`);
}

function readEnvironmentOf(scope: Stack, target: TokenRefresher): Record<string, unknown> {
  return (propertiesOf(scope, target.readFunction) as { Environment: { Variables: Record<string, unknown> } })
    .Environment.Variables;
}

describe('Class: TokenRefresher (read path)', () => {
  describe('Read function', () => {
    const properties = propertiesOf(stack, refresher.readFunction) as Record<string, unknown>;

    it('runs Node.js 24 on arm64 with 256 MB and a 30 s timeout, the handler of the bundle', () => {
      expect(properties).toMatchObject({
        Runtime: lambda.Runtime.NODEJS_24_X.name,
        Architectures: ['arm64'],
        MemorySize: 256,
        Timeout: 30,
        Handler: 'index.handler',
        Role: ref(refresher.readFunction.role?.roleArn),
      });
      expect(refresher.readFunction.runtime).toBe(lambda.Runtime.NODEJS_24_X);
    });

    it('sets exactly the environment the read handler reads: the same configuration as the refresh function', () => {
      const variables = readEnvironmentOf(stack, refresher);
      expect(Object.keys(variables).sort()).toEqual(
        [ENV.providersConfig, ENV.refreshFunctionName, ENV.extraConsumers, 'NODE_OPTIONS'].sort(),
      );
      const refreshProperties = propertiesOf(stack, refresher.refreshFunction) as {
        FunctionName: string;
        Environment: { Variables: Record<string, unknown> };
      };
      expect(variables[ENV.providersConfig]).toBe(
        refreshProperties.Environment.Variables[ENV.providersConfig],
      );
      expect(JSON.parse(variables[ENV.providersConfig] as string)).toEqual(
        // Normalized at synth (defaults applied, durations in seconds): the functions check only its shape.
        parseRefresherConfig({ secretPrefix: 'token-refresher', providers: PROVIDERS }),
      );
      expect(variables[ENV.refreshFunctionName]).toBe(refreshProperties.FunctionName);
      // No grant in code: an empty object, never a missing variable.
      expect(variables[ENV.extraConsumers]).toBe('{}');
      expect(variables.NODE_OPTIONS).toBe('--enable-source-maps');
    });

    it('starts with the environment the template gives it (the handler’s own parser accepts it)', () => {
      const variables = readEnvironmentOf(stack, refresher) as Record<string, string>;
      const environment = readReadEnvironment(variables);
      expect(environment.refreshFunctionName).toBe(variables[ENV.refreshFunctionName]);
      expect(environment.config.providers.map((provider) => provider.name)).toEqual([
        'github',
        'salesforce',
        'billing',
      ]);
    });

    it('takes the configuration from the bundle above 3 KB, like the refresh function', () => {
      const many = Array.from({ length: 30 }, (_, index) => ({
        name: `provider-${index}`,
        grant: 'client_credentials' as const,
        tokenUrl: `https://auth${index}.example.com/oauth2/token`,
      }));
      const big = build({ providers: many });
      synthesized(big);
      const variables = readEnvironmentOf(big.stack, big.stack.refresher);
      expect(variables[ENV.providersConfig]).toBeUndefined();
      expect(variables[ENV.providersConfigFile]).toBe(PROVIDERS_CONFIG_FILE_NAME);
    });

    it('logs to its own log group, kept as long as the refresh function’s', () => {
      expect(properties).toMatchObject({
        LoggingConfig: { LogGroup: ref(refresher.readLogGroup.logGroupName) },
      });
      expect(refresher.readLogGroup).not.toBe(refresher.refreshLogGroup);
      expect(propertiesOf(stack, refresher.readLogGroup)).toEqual({ RetentionInDays: 30 });

      const other = build({ refresher: { logRetention: logs.RetentionDays.ONE_WEEK } });
      synthesized(other);
      for (const group of [other.stack.refresher.readLogGroup, other.stack.refresher.refreshLogGroup]) {
        expect(propertiesOf(other.stack, group)).toEqual({ RetentionInDays: 7 });
      }
    });
  });

  describe('Read role', () => {
    const token = (name: string) => ref(refresher.tokenSecret(name).secretArn);

    it('may read the token secrets, decrypt through Secrets Manager, invoke the refresh function, log; nothing else', () => {
      expect(policyOf(refresher.readFunction.role as iam.IRole)).toEqual([
        {
          Sid: 'ReadTokenSecrets',
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: [token('github'), token('salesforce'), token('billing')],
        },
        {
          Sid: 'DecryptViaSecretsManager',
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: keyArn,
          Condition: {
            StringEquals: {
              'kms:ViaService': {
                'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']],
              },
            },
          },
        },
        {
          Sid: 'InvokeRefresh',
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          Resource: ref(refresher.refreshFunction.functionArn),
        },
        {
          Sid: 'Logs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: ref(refresher.readLogGroup.logGroupArn),
        },
      ]);
    });

    it('names no credentials secret, the table, or a write action anywhere', () => {
      const text = JSON.stringify(policyOf(refresher.readFunction.role as iam.IRole));
      for (const name of ['github', 'salesforce', 'billing']) {
        expect(text).not.toContain(JSON.stringify(ref(refresher.credentialsSecret(name).secretArn)));
      }
      expect(text).not.toContain('shared/billing');
      expect(text).not.toMatch(/dynamodb|PutSecretValue|UpdateSecretVersionStage|scheduler|iam:PassRole/);
      const role = propertiesOf(stack, refresher.readFunction.role as iam.Role) as Record<string, unknown>;
      expect(role.ManagedPolicyArns).toBeUndefined();
      expect(role.Policies).toBeUndefined();
    });

    it("names each provider's token secret by its name pattern above 20 providers, which matches no other secret", () => {
      // Issue 15, finding 8: the former <prefix>/*/token-?????? pattern matched across "/".
      const many = Array.from({ length: 21 }, (_, index) => ({
        name: `p${index}`,
        grant: 'refresh_token' as const,
        tokenUrl: 'https://auth.example.com/token',
      }));
      const { stack: big } = build({ providers: many, secretPrefix: 'prod/tokens' });
      const [secrets] = policyOf(big.refresher.readFunction.role as iam.IRole, big);
      const pattern = (name: string) => ({
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':secretsmanager:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            `:secret:prod/tokens/${name}/token-??????`,
          ],
        ],
      });
      expect(secrets).toEqual({
        Sid: 'ReadTokenSecrets',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: many.map((provider) => pattern(provider.name)),
      });
      // IAM's matching: `*` any run of characters, `?` one character.
      const glob = 'prod/tokens/p3/token-??????';
      const matcher = new RegExp(
        `^${glob
          .replace(/[.+^${}()|[\]\\/]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}$`,
      );
      expect(matcher.test('prod/tokens/p3/token-AbC123')).toBe(true);
      expect(matcher.test('prod/tokens/p3/credentials-AbC123')).toBe(false);
      expect(matcher.test('prod/tokens/token-x/credentials-AbC123')).toBe(false);
      expect(matcher.test('prod/tokens/p30/token-AbC123')).toBe(false);
      expect(matcher.test('prod/tokens/team/p3/token-AbC123')).toBe(false);
    });
  });

  describe('Function URL', () => {
    it('uses AWS_IAM auth, no CORS, on the read function', () => {
      template.resourceCountIs('AWS::Lambda::Url', 1);
      expect(propertiesOf(stack, refresher.readFunctionUrl)).toEqual({
        AuthType: 'AWS_IAM',
        TargetFunctionArn: ref(refresher.readFunction.functionArn),
      });
      expect(refresher.readFunctionUrl.authType).toBe(lambda.FunctionUrlAuthType.AWS_IAM);
    });

    it('grants nobody anything by itself (no resource-based permission on the read function)', () => {
      // The one permission in the template lets the credentials-change rule invoke the refresh function.
      const permissions = Object.values(template.findResources('AWS::Lambda::Permission')).map(
        (resource) => resource.Properties,
      );
      const readFunctionArn = stack.resolve(refresher.readFunction.functionArn);
      expect(permissions.filter((permission) => permission?.FunctionName === readFunctionArn)).toEqual([]);
      expect(permissions).toEqual([
        expect.objectContaining({
          Principal: 'events.amazonaws.com',
          FunctionName: stack.resolve(refresher.refreshFunction.functionArn),
        }),
      ]);
    });

    it('is a stack output, with the function names', () => {
      const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
      expect(outputs.ReadFunctionUrl?.Value).toEqual(ref(refresher.readFunctionUrl.url));
      expect(outputs.ReadFunctionName?.Value).toEqual(ref(refresher.readFunction.functionName));
      expect(outputs.RefreshFunctionName?.Value).toEqual(ref(refresher.refreshFunction.functionName));
    });
  });

  describe('Method: grantReadViaFunction', () => {
    it('grants InvokeFunctionUrl (AWS_IAM) and InvokeFunction only via the URL, nothing else', () => {
      // Prepare
      const other = build();
      const consumer = new iam.Role(other.stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });

      // Act
      other.stack.refresher.grantReadViaFunction(consumer, 'github');

      // Assess
      const functionArn = other.stack.resolve(other.stack.refresher.readFunction.functionArn);
      const statements = policyOf(consumer, other.stack);
      expect(statements).toEqual([
        {
          Effect: 'Allow',
          Action: 'lambda:InvokeFunctionUrl',
          Resource: functionArn,
          Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
        },
        {
          Effect: 'Allow',
          Action: 'lambda:InvokeFunction',
          Resource: functionArn,
          // Without it the consumer of one provider could Invoke directly and read every provider.
          Condition: { Bool: { 'lambda:InvokedViaFunctionUrl': true } },
        },
      ]);
      expect(
        statements.some((statement) => JSON.stringify(statement.Action).includes('secretsmanager')),
      ).toBe(false);
    });

    it('adds the role ARN to EXTRA_CONSUMERS for that provider only, as the read handler parses it', () => {
      // Prepare
      const other = build();
      const target = other.stack.refresher;
      const consumerFn = new lambda.Function(other.stack, 'ConsumerFn', {
        runtime: lambda.Runtime.NODEJS_24_X,
        handler: 'index.handler',
        code: lambda.Code.fromInline('export const handler = async () => {};'),
      });
      const orders = new iam.Role(other.stack, 'Orders', { assumedBy: new iam.AccountRootPrincipal() });
      const imported = iam.Role.fromRoleArn(
        other.stack,
        'Imported',
        'arn:aws:iam::210987654321:role/team/billing-reader',
      );

      // Act
      target.grantReadViaFunction(consumerFn, 'github');
      target.grantReadViaFunction(orders, 'github');
      target.grantReadViaFunction(orders, 'github'); // twice: listed once
      target.grantReadViaFunction(orders, 'salesforce');
      target.grantReadViaFunction(imported, 'billing');
      synthesized(other);

      // Assess
      const variables = readEnvironmentOf(other.stack, target);
      const extra = JSON.parse(evaluate(variables[ENV.extraConsumers])) as Record<string, string[]>;
      const arnOf = (role: iam.IRole) => evaluate(other.stack.resolve(role.roleArn));
      expect(extra).toEqual({
        github: [arnOf(consumerFn.role as iam.IRole), arnOf(orders)],
        salesforce: [arnOf(orders)],
        billing: ['arn:aws:iam::210987654321:role/team/billing-reader'],
      });
      // The handler's own parser accepts the deployed value and merges it with the config's consumers.
      const environment = readReadEnvironment(
        Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, evaluate(value)])),
      );
      expect(environment.consumers.get('github')).toEqual(extra.github);
      expect(environment.consumers.get('salesforce')).toEqual(extra.salesforce);
      expect(environment.consumers.get('billing')).toEqual(extra.billing);
    });

    it('grants a role of another account through the function’s resource policy, with the same conditions', () => {
      const other = build();
      const foreign = iam.Role.fromRoleArn(other.stack, 'Foreign', 'arn:aws:iam::210987654321:role/orders', {
        mutable: false,
      });
      other.stack.refresher.grantReadViaFunction(foreign, 'github');
      const otherTemplate = synthesized(other);
      const functionArn = other.stack.resolve(other.stack.refresher.readFunction.functionArn);
      const permissions = Object.values(otherTemplate.findResources('AWS::Lambda::Permission'))
        .map((resource) => resource.Properties)
        // Those of the read function (the refresh function's is the credentials-change rule's).
        .filter((permission) => JSON.stringify(permission?.FunctionName) === JSON.stringify(functionArn));
      expect(permissions).toEqual(
        expect.arrayContaining([
          {
            Action: 'lambda:InvokeFunctionUrl',
            FunctionName: functionArn,
            FunctionUrlAuthType: 'AWS_IAM',
            Principal: 'arn:aws:iam::210987654321:role/orders',
          },
          {
            Action: 'lambda:InvokeFunction',
            FunctionName: functionArn,
            InvokedViaFunctionUrl: true,
            Principal: 'arn:aws:iam::210987654321:role/orders',
          },
        ]),
      );
      expect(permissions).toHaveLength(2);
    });

    it('throws for an unknown provider, naming the configured ones, and grants nothing', () => {
      const other = build();
      const consumer = new iam.Role(other.stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });
      expect(() => other.stack.refresher.grantReadViaFunction(consumer, 'nope')).toThrow(
        /unknown provider "nope"; configured: github, salesforce, billing/,
      );
      expect(consumer.node.tryFindChild('DefaultPolicy')).toBeUndefined();
      synthesized(other);
      expect(readEnvironmentOf(other.stack, other.stack.refresher)[ENV.extraConsumers]).toBe('{}');
    });

    it('throws when the grantee is not an IAM role, saying why and what to pass', () => {
      const other = build();
      const user = new iam.User(other.stack, 'User');
      const imported = lambda.Function.fromFunctionArn(
        other.stack,
        'ImportedFn',
        'arn:aws:lambda:eu-west-1:123456789012:function:consumer',
      );
      for (const grantee of [
        user,
        new iam.AccountRootPrincipal(),
        new iam.ServicePrincipal('ec2.amazonaws.com'),
        imported,
      ]) {
        expect(() => other.stack.refresher.grantReadViaFunction(grantee, 'github')).toThrow(
          /grantReadViaFunction\("github"\): the grantee's principal .* is not an IAM role\. The read function authorizes a Function URL caller by its IAM role.*Pass a Lambda function or an iam\.Role/,
        );
      }
      expect(user.node.tryFindChild('DefaultPolicy')).toBeUndefined();
    });

    it('fails synth when the granted roles would push the environment over 4 KB', () => {
      const other = build();
      for (let index = 0; index < 40; index++) {
        const role = new iam.Role(other.stack, `Consumer${index}`, {
          assumedBy: new iam.AccountRootPrincipal(),
        });
        other.stack.refresher.grantReadViaFunction(role, 'github');
      }
      expect(() => other.app.synth()).toThrow(
        /read function's environment would take about \d+ bytes, over Lambda's 4096-byte limit: grantReadViaFunction added 40 role ARNs to EXTRA_CONSUMERS/,
      );
    });

    it('synthesizes with a few granted roles', () => {
      const other = build();
      for (let index = 0; index < 5; index++) {
        const role = new iam.Role(other.stack, `Consumer${index}`, {
          assumedBy: new iam.AccountRootPrincipal(),
        });
        other.stack.refresher.grantReadViaFunction(role, 'github');
      }
      expect(() => other.app.synth()).not.toThrow();
    });
  });

  describe('Alarms', () => {
    const actions = [ref(refresher.alarmTopic.topicArn)];
    const dimensions = [{ Name: 'FunctionName', Value: ref(refresher.readFunction.functionName) }];
    const common = {
      Namespace: 'AWS/Lambda',
      Dimensions: dimensions,
      Period: 300,
      AlarmActions: actions,
      OKActions: actions,
    };
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (resource) => resource.Properties as Record<string, unknown>,
    );
    const readAlarm = (metricName: string) => {
      const found = alarms.filter(
        (alarm) =>
          alarm.MetricName === metricName && JSON.stringify(alarm.Dimensions) === JSON.stringify(dimensions),
      );
      expect(found).toHaveLength(1);
      return found[0];
    };

    it('alarms on read function errors (>= 1 in 5 minutes)', () => {
      expect(readAlarm('Errors')).toEqual({
        ...common,
        MetricName: 'Errors',
        Statistic: 'Sum',
        Threshold: 1,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmDescription: expect.stringMatching(/read function failed to run.*What to do/),
      });
    });

    it('alarms on Function URL 5xx answers (503: no valid token could be served)', () => {
      expect(READ_5XX_ALARM_THRESHOLD).toBe(5);
      expect(readAlarm('Url5xxCount')).toEqual({
        ...common,
        MetricName: 'Url5xxCount',
        Statistic: 'Sum',
        Threshold: 5,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmDescription: expect.stringMatching(/503 means no valid token could be served.*What to do/),
      });
    });

    it('alarms on read function throttles (>= 1 in 5 minutes)', () => {
      expect(readAlarm('Throttles')).toEqual({
        ...common,
        MetricName: 'Throttles',
        Statistic: 'Sum',
        Threshold: 1,
        EvaluationPeriods: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmDescription: expect.stringMatching(/read function was throttled.*What to do/),
      });
    });

    it('alarms on Duration p99 above 3 s for 3 of 3 periods, and honours readLatencyAlarmThreshold', () => {
      expect(readAlarm('Duration')).toEqual({
        ...common,
        MetricName: 'Duration',
        ExtendedStatistic: 'p99',
        Threshold: 3000,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 3,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
        AlarmDescription: expect.stringMatching(/p99 above 3 s.*What to do/),
      });
      const other = build({ refresher: { readLatencyAlarmThreshold: Duration.millis(1500) } });
      other.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Duration',
        ExtendedStatistic: 'p99',
        Threshold: 1500,
        AlarmDescription: Match.stringLikeRegexp('p99 above 1.5 s'),
      });
    });

    it('rejects a latency threshold of 0 or above the 30 s timeout', () => {
      for (const threshold of [Duration.seconds(0), Duration.seconds(31)]) {
        let thrown: unknown;
        try {
          new TokenRefresher(new Stack(), 'Tokens', {
            providers: PROVIDERS,
            readLatencyAlarmThreshold: threshold,
          });
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(ConfigError);
        expect((thrown as ConfigError).problems).toEqual([
          expect.stringMatching(
            /^readLatencyAlarmThreshold: is .*; it must be above 0 and at most .*30 seconds/,
          ),
        ]);
      }
    });

    it('has 9 shared alarms plus one staleness alarm per provider', () => {
      template.resourceCountIs('AWS::CloudWatch::Alarm', 9 + 3);
    });
  });

  describe('Dashboard', () => {
    it('shows read requests, 4xx/5xx, throttles and latency p50/p99 of the read function', () => {
      const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
      if (dashboard === undefined) throw new Error('no dashboard');
      // The body is a Fn::Join of JSON text and tokens; tokens become a placeholder string.
      const join = dashboard.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] };
      const parts = join['Fn::Join'][1];
      const body = JSON.parse(parts.map((part) => (typeof part === 'string' ? part : 'TOKEN')).join('')) as {
        widgets: { properties: { title?: string; metrics?: unknown[][] } }[];
      };
      const widget = (title: string) =>
        body.widgets.find((candidate) => candidate.properties.title === title);
      const metricsOf = (title: string) =>
        (widget(title)?.properties.metrics ?? []).map((metric) => ({
          name: metric[1],
          options: metric.at(-1) as { stat?: string; label?: string },
        }));

      const requests = metricsOf('Read function: requests');
      expect(requests.map((metric) => metric.name)).toEqual([
        'UrlRequestCount',
        'Url4xxCount',
        'Url5xxCount',
        'Invocations',
        'Errors',
        'Throttles',
      ]);
      expect(requests.slice(0, 3).every((metric) => metric.options.stat === 'Sum')).toBe(true);
      const latency = metricsOf('Read function: latency (ms)');
      expect(latency.map((metric) => [metric.name, metric.options.stat])).toEqual([
        ['Duration', 'p50'],
        ['Duration', 'p99'],
      ]);
    });
  });

  describe('Synthesis', () => {
    it('passes cdk-nag with a consumer granted through the function', () => {
      const other = build({ nag: true });
      const consumer = new iam.Role(other.stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });
      other.stack.refresher.grantReadViaFunction(consumer, 'github');
      const assembly = other.app.synth();
      const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
        pluginReports: { violations?: unknown[] }[];
      };
      expect(report.pluginReports.flatMap((plugin) => plugin.violations ?? [])).toEqual([]);
    });

    it('keeps the read function environment under 4 KB with the most providers a stack holds', () => {
      const providers = Array.from({ length: MAX_PROVIDERS_PER_STACK }, (_, index) => ({
        name: `provider-${String(index).padStart(3, '0')}`,
        grant: 'client_credentials' as const,
        tokenUrl: `https://auth${index}.example.com/oauth2/token`,
      }));
      const big = build({ providers });
      synthesized(big);
      const variables = readEnvironmentOf(big.stack, big.stack.refresher);
      expect(variables[ENV.providersConfigFile]).toBe(PROVIDERS_CONFIG_FILE_NAME);
      const bytes = Object.entries(variables).reduce(
        (total, [name, value]) => total + name.length + evaluate(value).length,
        0,
      );
      expect(bytes).toBeLessThan(LAMBDA_ENVIRONMENT_LIMIT_BYTES);
    });
  });
});
