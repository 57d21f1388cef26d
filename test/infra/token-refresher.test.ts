import {
  type Duration,
  aws_events as events,
  aws_iam as iam,
  aws_lambda as lambda,
  Stack,
} from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/config.js';
import { parseRefresherConfig } from '../../functions/core/config-schema.js';
import { ENV } from '../../functions/core/env.js';
import { PLACEHOLDER_SECRET_STRING } from '../../functions/core/names.js';
import { METRIC_DIMENSION, METRIC_NAMES, METRIC_NAMESPACE } from '../../functions/core/ports.js';
import { TokenRefresher } from '../../infra/token-refresher.js';
import { build, PROVIDERS } from './support.js';

const built = build();
const { stack, template } = built;
const refresher = stack.refresher;
const ref = (value: unknown) => stack.resolve(value);
const keyArn = ref(refresher.encryptionKey.keyArn);
/** The account's default event bus, where the state-change events go by default. */
const defaultBusArn = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':events:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':event-bus/default',
    ],
  ],
};

describe('Class: TokenRefresher', () => {
  describe('State table', () => {
    it('is on-demand, with PITR, TTL on "ttl", the key, retained', () => {
      template.resourceCountIs('AWS::DynamoDB::Table', 1);
      template.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          KeySchema: [{ AttributeName: 'provider', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'provider', AttributeType: 'S' }],
          BillingMode: 'PAY_PER_REQUEST',
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
          SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn },
        },
      });
    });

    it('creates a key with rotation when none is given', () => {
      template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    });
  });

  describe('Secrets', () => {
    it('creates a token secret per provider with the placeholder, encrypted, retained', () => {
      for (const name of ['github', 'salesforce', 'billing']) {
        template.hasResource('AWS::SecretsManager::Secret', {
          DeletionPolicy: 'Retain',
          Properties: {
            Name: `token-refresher/${name}/token`,
            SecretString: PLACEHOLDER_SECRET_STRING,
            KmsKeyId: keyArn,
            Description: Match.stringLikeRegexp(`Access token of provider "${name}"`),
          },
        });
      }
    });

    it('creates a credentials secret unless credentialsSecretArn is given, describing the JSON per grant', () => {
      template.resourceCountIs('AWS::SecretsManager::Secret', 5);
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: 'token-refresher/github/credentials',
        SecretString: PLACEHOLDER_SECRET_STRING,
        Description: Match.stringLikeRegexp('\\{"clientId":"\\.\\.\\.","clientSecret":"\\.\\.\\."\\}'),
      });
      template.hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: 'token-refresher/salesforce/credentials',
        Description: Match.stringLikeRegexp('"refreshToken":"\\.\\.\\."'),
      });
      expect(
        Object.values(template.findResources('AWS::SecretsManager::Secret')).some(
          (resource) => resource.Properties.Name === 'token-refresher/billing/credentials',
        ),
      ).toBe(false);
      expect(ref(refresher.credentialsSecret('billing').secretArn)).toBe(PROVIDERS[2]?.credentialsSecretArn);
    });

    it('names the http placeholders in the credentials description', () => {
      const { template: other } = build({
        providers: [{ ...(PROVIDERS[2] as object), credentialsSecretArn: undefined } as never],
      });
      other.hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: 'token-refresher/billing/credentials',
        Description: Match.stringLikeRegexp('\\{"apiKey":"\\.\\.\\."\\}'),
      });
    });
  });

  describe('Refresh function', () => {
    it('runs Node.js 24 on arm64 with 256 MB and a timeout covering the longest request', () => {
      expect(refreshFunctionProperties(template)).toMatchObject({
        Runtime: lambda.Runtime.NODEJS_24_X.name,
        Architectures: ['arm64'],
        MemorySize: 256,
        // salesforce: requestTimeout 45 s + 5 s write reserve + 25 s
        Timeout: 75,
        Handler: 'index.handler',
      });
    });

    it('sets exactly the environment the handler reads', () => {
      const fn = { Properties: refreshFunctionProperties(template) };
      const variables = fn.Properties.Environment.Variables as Record<string, unknown>;
      expect(Object.keys(variables).sort()).toEqual(
        [
          ENV.tableName,
          ENV.providersConfig,
          ENV.schedulerGroup,
          ENV.schedulerRoleArn,
          ENV.refreshFunctionArn,
          ENV.eventBusName,
          'NODE_OPTIONS',
        ].sort(),
      );
      expect(variables[ENV.eventBusName]).toEqual(defaultBusArn);
      expect(variables[ENV.tableName]).toEqual(ref(refresher.table.tableName));
      expect(JSON.parse(variables[ENV.providersConfig] as string)).toEqual(
        // Normalized at synth (defaults applied, durations in seconds): the functions check only its shape.
        parseRefresherConfig({ secretPrefix: 'token-refresher', providers: PROVIDERS }),
      );
      expect(variables[ENV.schedulerGroup]).toBe(refresher.scheduleGroup.scheduleGroupName);
      expect(variables[ENV.schedulerRoleArn]).toEqual(ref(refresher.schedulerRole.roleArn));
      expect(variables[ENV.refreshFunctionArn]).toEqual({
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':lambda:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            `:function:${fn.Properties.FunctionName}`,
          ],
        ],
      });
      expect(String(fn.Properties.FunctionName).length).toBeLessThanOrEqual(64);
    });

    it('sends the state-change events to a given bus, or to none with eventBus: false', () => {
      const busArn = 'arn:aws:events:eu-west-1:123456789012:event-bus/ops';
      const bus = events.EventBus.fromEventBusArn(new Stack(), 'Ops', busArn);
      const custom = build({ refresher: { eventBus: bus } });
      const none = build({ refresher: { eventBus: false } });

      const customVariables = refreshFunctionProperties(custom.template).Environment.Variables;
      const noneVariables = refreshFunctionProperties(none.template).Environment.Variables;
      const sid = (statements: readonly { Sid?: string; Resource?: unknown }[]) =>
        statements.find((statement) => statement.Sid === 'StateChangeEvents');

      expect(customVariables[ENV.eventBusName]).toBe(busArn);
      expect(
        sid(policyOf(custom.stack.refresher.refreshFunction.role as iam.Role, custom.stack))?.Resource,
      ).toBe(busArn);
      expect(noneVariables[ENV.eventBusName]).toBeUndefined();
      expect(
        sid(policyOf(none.stack.refresher.refreshFunction.role as iam.Role, none.stack)),
      ).toBeUndefined();
      expect(none.stack.refresher.eventBus).toBeUndefined();
    });

    it('moves a configuration over 3 KB into a file in the bundle', () => {
      const many = Array.from({ length: 30 }, (_, index) => ({
        name: `provider-${index}`,
        grant: 'client_credentials' as const,
        tokenUrl: `https://auth${index}.example.com/oauth2/token`,
      }));
      const { template: big } = build({ providers: many });
      const variables = refreshFunctionProperties(big).Environment.Variables as Record<string, unknown>;
      expect(variables[ENV.providersConfig]).toBeUndefined();
      expect(variables[ENV.providersConfigFile]).toBe('providers-config.json');
    });

    it('keeps logs for one month by default', () => {
      template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
    });
  });

  describe('Schedules', () => {
    it('has one schedule per provider in the group, with input, retries, DLQ and a flexible window', () => {
      template.resourceCountIs('AWS::Scheduler::Schedule', 3);
      template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
      for (const { name, schedule } of [
        { name: 'github', schedule: 'rate(5 minutes)' },
        { name: 'salesforce', schedule: 'rate(5 minutes)' },
        { name: 'billing', schedule: 'rate(10 minutes)' },
      ]) {
        template.hasResourceProperties('AWS::Scheduler::Schedule', {
          GroupName: refresher.scheduleGroup.scheduleGroupName,
          ScheduleExpression: schedule,
          FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 1 },
          State: 'ENABLED',
          Target: {
            Arn: ref(refresher.refreshFunction.functionArn),
            RoleArn: ref(refresher.schedulerRole.roleArn),
            Input: JSON.stringify({ provider: name }),
            RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 3 },
            DeadLetterConfig: { Arn: ref(refresher.deadLetterQueue.queueArn) },
          },
        });
      }
    });

    it('creates every schedule after its group (the group is named by a literal, not a reference)', () => {
      const groupId = Object.keys(template.findResources('AWS::Scheduler::ScheduleGroup'))[0];
      const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule'));
      expect(groupId).toBeDefined();
      expect(schedules).toHaveLength(3);
      for (const schedule of schedules) expect(schedule.DependsOn).toContain(groupId);
    });

    it('uses an encrypted dead-letter queue that refuses plain HTTP', () => {
      template.hasResourceProperties('AWS::SQS::Queue', { KmsMasterKeyId: keyArn });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    });

    it('lets the scheduler role invoke the function, send to the DLQ and use the key, nothing else', () => {
      const policy = policyOf(refresher.schedulerRole);
      expect(policy).toEqual(
        expect.arrayContaining([
          // Issue 15, finding 9: the key only when SQS uses it for the role (the dead-letter queue).
          {
            Effect: 'Allow',
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Resource: keyArn,
            Condition: {
              StringEquals: {
                'kms:ViaService': { 'Fn::Join': ['', ['sqs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
              },
            },
          },
          {
            Effect: 'Allow',
            Action: 'lambda:InvokeFunction',
            Resource: [
              ref(refresher.refreshFunction.functionArn),
              { 'Fn::Join': ['', [ref(refresher.refreshFunction.functionArn), ':*']] },
            ],
          },
          { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: ref(refresher.deadLetterQueue.queueArn) },
        ]),
      );
      expect(policy).toHaveLength(3);
      template.hasResourceProperties('AWS::IAM::Role', {
        AssumeRolePolicyDocument: {
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'scheduler.amazonaws.com' },
              Action: 'sts:AssumeRole',
              // Issue 15, finding 9: and only for a schedule of the construct's group.
              Condition: {
                StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
                ArnEquals: {
                  'aws:SourceArn': {
                    'Fn::Join': [
                      '',
                      [
                        'arn:',
                        { Ref: 'AWS::Partition' },
                        ':scheduler:',
                        { Ref: 'AWS::Region' },
                        ':',
                        { Ref: 'AWS::AccountId' },
                        `:schedule-group/${refresher.scheduleGroup.scheduleGroupName}`,
                      ],
                    ],
                  },
                },
              },
            },
          ],
        },
      });
    });
  });

  describe('Refresh role', () => {
    it('has exactly the statements the refresh needs', () => {
      const token = (name: string) => ref(refresher.tokenSecret(name).secretArn);
      const credentials = (name: string) => ref(refresher.credentialsSecret(name).secretArn);
      expect(policyOf(refresher.refreshFunction.role as iam.Role)).toEqual([
        {
          Sid: 'TokenSecrets',
          Effect: 'Allow',
          Action: [
            'secretsmanager:GetSecretValue',
            'secretsmanager:PutSecretValue',
            'secretsmanager:UpdateSecretVersionStage',
          ],
          Resource: [token('github'), token('salesforce'), token('billing')],
        },
        {
          Sid: 'ReadCredentials',
          Effect: 'Allow',
          // DescribeSecret: a blocked provider's run looks at the credentials' version (issue 16).
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Resource: [credentials('github'), credentials('salesforce'), PROVIDERS[2]?.credentialsSecretArn],
        },
        {
          Sid: 'WriteRotatedCredentials',
          Effect: 'Allow',
          Action: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
          Resource: credentials('salesforce'),
        },
        {
          Sid: 'StateTable',
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          Resource: ref(refresher.table.tableArn),
        },
        {
          Sid: 'EncryptionKey',
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'],
          Resource: keyArn,
        },
        // Issue 15, finding 2: the credentials secrets have a key of their own.
        {
          Sid: 'CredentialsKey',
          Effect: 'Allow',
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: ref(refresher.credentialsEncryptionKey?.keyArn),
          Condition: {
            StringEquals: {
              'kms:ViaService': {
                'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']],
              },
            },
          },
        },
        {
          Sid: 'NextRunSchedules',
          Effect: 'Allow',
          Action: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule'],
          Resource: {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':scheduler:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                `:schedule/${refresher.scheduleGroup.scheduleGroupName}/*`,
              ],
            ],
          },
        },
        {
          Sid: 'PassSchedulerRole',
          Effect: 'Allow',
          Action: 'iam:PassRole',
          Resource: ref(refresher.schedulerRole.roleArn),
          Condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
        },
        {
          Sid: 'Logs',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          Resource: ref(refresher.refreshLogGroup.logGroupArn),
        },
        {
          Sid: 'StateChangeEvents',
          Effect: 'Allow',
          Action: 'events:PutEvents',
          Resource: defaultBusArn,
        },
      ]);
      // No managed policies (no AWSLambdaBasicExecutionRole with its log-group wildcard).
      const role = template.findResources('AWS::IAM::Role', {
        Properties: {
          AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'lambda.amazonaws.com' } }] },
        },
      });
      // The refresh and the read functions' roles.
      expect(Object.values(role).map((resource) => resource.Properties.ManagedPolicyArns)).toEqual([
        undefined,
        undefined,
      ]);
    });

    it("names each provider's secrets by their name patterns above 20 providers, split into statements", () => {
      // Issue 15, finding 8: the former <prefix>/*/<kind>-?????? patterns matched across "/".
      const many = Array.from({ length: 21 }, (_, index) => ({
        name: `p${index}`,
        grant: 'client_credentials' as const,
        tokenUrl: 'https://auth.example.com/token',
      }));
      const { stack: big } = build({ providers: many, secretPrefix: 'prod/tokens' });
      const role = big.refresher.refreshFunction.role as iam.Role;
      // Above the inline limit CDK moves statements into managed policies (OverflowPolicy<n>).
      const statements = [
        ...policyOf(role, big),
        ...role.node.children
          .filter((child): child is iam.ManagedPolicy => child instanceof iam.ManagedPolicy)
          .flatMap((policy) => (big.resolve(policy.document) as { Statement: Statement[] }).Statement),
      ];
      const arn = (name: string, kind: string) => ({
        'Fn::Join': [
          '',
          [
            'arn:',
            { Ref: 'AWS::Partition' },
            ':secretsmanager:',
            { Ref: 'AWS::Region' },
            ':',
            { Ref: 'AWS::AccountId' },
            `:secret:prod/tokens/${name}/${kind}-??????`,
          ],
        ],
      });
      const resources = (sid: string) =>
        statements
          .filter((s) => new RegExp(`^${sid}\\d*$`).test(s.Sid ?? ''))
          .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]));
      expect(resources('TokenSecrets')).toEqual(many.map((p) => arn(p.name, 'token')));
      expect(resources('ReadCredentials')).toEqual(many.map((p) => arn(p.name, 'credentials')));
      expect(resources('WriteRotatedCredentials')).toEqual([]);
    });
  });

  describe('Method: grantRead', () => {
    it('grants GetSecretValue on that one token secret, and kms:Decrypt through Secrets Manager only', () => {
      const { stack: other } = build();
      const consumer = new iam.Role(other, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });
      other.refresher.grantRead(consumer, 'github');
      const statements = policyOf(consumer, other);
      expect(statements).toEqual([
        {
          Effect: 'Allow',
          Action: 'secretsmanager:GetSecretValue',
          Resource: other.resolve(other.refresher.tokenSecret('github').secretArn),
        },
        {
          Effect: 'Allow',
          Action: 'kms:Decrypt',
          Resource: other.resolve(other.refresher.encryptionKey.keyArn),
          // The key also encrypts the table, the topic and the queue: a token reader decrypts secrets only.
          Condition: {
            StringEquals: {
              'kms:ViaService': {
                'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']],
              },
            },
          },
        },
      ]);
    });

    it('throws for an unknown provider, naming the configured ones', () => {
      expect(() => refresher.tokenSecret('nope')).toThrow(
        /unknown provider "nope"; configured: github, salesforce, billing/,
      );
    });
  });

  describe('Alarms', () => {
    const actions = [ref(refresher.alarmTopic.topicArn)];

    it('has a staleness alarm per provider on the engine metric, missing data breaching', () => {
      for (const [name, threshold, periods] of [
        ['github', 150, 2],
        ['salesforce', 300, 2],
        ['billing', 150, 3],
      ] as const) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: METRIC_NAMESPACE,
          MetricName: METRIC_NAMES.secondsToExpiry,
          Dimensions: [{ Name: METRIC_DIMENSION, Value: name }],
          Statistic: 'Minimum',
          Period: 300,
          Threshold: threshold,
          ComparisonOperator: 'LessThanThreshold',
          EvaluationPeriods: periods,
          DatapointsToAlarm: periods,
          TreatMissingData: 'breaching',
          AlarmActions: actions,
          AlarmDescription: Match.stringLikeRegexp(`provider "${name}" is stale.*What to do`),
        });
      }
    });

    it('honours staleThreshold', () => {
      const { template: other } = build({ refresher: { staleThreshold: 42 } });
      expect(
        Object.values(other.findResources('AWS::CloudWatch::Alarm'))
          .filter((alarm) => alarm.Properties.MetricName === METRIC_NAMES.secondsToExpiry)
          .map((alarm) => alarm.Properties.Threshold),
      ).toEqual([42, 42, 42]);
    });

    it('alarms on refresh failures of any provider through Metrics Insights queries', () => {
      // Permanent failures page at once, transient ones when they persist (failure-alarms.test.ts).
      for (const [expression, threshold] of [
        [`SELECT SUM(RefreshFailedPermanent) FROM SCHEMA("${METRIC_NAMESPACE}", ${METRIC_DIMENSION})`, 1],
        [`SELECT MAX(ConsecutiveFailures) FROM SCHEMA("${METRIC_NAMESPACE}", ${METRIC_DIMENSION})`, 2],
      ] as const) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Metrics: [Match.objectLike({ Expression: expression, Period: 300 })],
          Threshold: threshold,
          DatapointsToAlarm: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          AlarmActions: actions,
          AlarmDescription: Match.stringLikeRegexp('What to do'),
        });
      }
    });

    it('alarms on refresh function errors, throttles and DLQ messages', () => {
      for (const [namespace, metricName] of [
        ['AWS/Lambda', 'Errors'],
        ['AWS/Lambda', 'Throttles'],
        ['AWS/SQS', 'ApproximateNumberOfMessagesVisible'],
      ]) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          Namespace: namespace,
          MetricName: metricName,
          ...(namespace === 'AWS/Lambda'
            ? { Dimensions: [{ Name: 'FunctionName', Value: ref(refresher.refreshFunction.functionName) }] }
            : {}),
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          AlarmActions: actions,
          AlarmDescription: Match.stringLikeRegexp('What to do'),
        });
      }
      // 5 of the refresh path, 4 of the read path (read-path.test.ts), 3 staleness alarms.
      template.resourceCountIs('AWS::CloudWatch::Alarm', 5 + 4 + 3);
    });

    it('sends to an encrypted, SSL-only topic and subscribes alarmEmail', () => {
      template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: keyArn });
      template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
      const { template: other } = build({ refresher: { alarmEmail: 'ops@example.com' } });
      other.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'ops@example.com',
      });
    });

    it('exposes per-provider metrics built from the engine names', () => {
      const metric = refresher.metricRefreshFailures('github') as unknown as {
        namespace: string;
        metricName: string;
        dimensions: Record<string, string>;
        period: Duration;
      };
      expect(metric.namespace).toBe(METRIC_NAMESPACE);
      expect(metric.metricName).toBe(METRIC_NAMES.refreshFailed);
      expect(metric.dimensions).toEqual({ [METRIC_DIMENSION]: 'github' });
      expect(metric.period.toSeconds()).toBe(300);
    });

    it('has a dashboard', () => {
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    });
  });

  describe('Validation', () => {
    it('throws one ConfigError naming the construct and listing every problem', () => {
      const stack = new Stack();
      let thrown: unknown;
      try {
        new TokenRefresher(stack, 'Tokens', {
          providers: [
            { name: 'Bad Name', grant: 'client_credentials', tokenUrl: 'http://example.com/token' },
            {
              name: 'fast',
              grant: 'client_credentials',
              tokenUrl: 'https://example.com/token',
              expectedLifetime: '10m',
            },
          ],
          staleThreshold: -1,
        });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      const error = thrown as ConfigError;
      expect(error.message).toMatch(/^Default\/Tokens: invalid TokenRefresher props:/);
      expect(error.problems).toEqual([
        expect.stringMatching(/^providers\[0\] \(Bad Name\)\.name: must match/),
        expect.stringMatching(/^providers\[0\] \(Bad Name\)\.tokenUrl: must use https/),
        expect.stringMatching(/^staleThreshold: /),
      ]);
    });

    it('fails on the Secrets Manager write rate', () => {
      expect(
        () =>
          new TokenRefresher(new Stack(), 'Tokens', {
            providers: [
              {
                name: 'fast',
                grant: 'client_credentials',
                tokenUrl: 'https://example.com/token',
                expectedLifetime: '10m',
              },
            ],
          }),
      ).toThrow(/providers\[0\] \(fast\): tokens would be written every 300 s/);
    });
  });
});

interface Statement {
  Sid?: string;
  Effect: string;
  Action: unknown;
  Resource: unknown;
  Condition?: unknown;
}

/** The refresh function's template properties (the template also holds the read function). */
function refreshFunctionProperties(from: Template): {
  FunctionName: string;
  Environment: { Variables: Record<string, unknown> };
} {
  const functions = Object.values(from.findResources('AWS::Lambda::Function')).filter((resource) =>
    String(resource.Properties.FunctionName).endsWith('-refresh'),
  );
  if (functions.length !== 1) throw new Error(`expected one refresh function, found ${functions.length}`);
  return functions[0]?.Properties;
}

/** The statements of the default policy of a role. */
function policyOf(role: iam.IRole, scope: Stack = stack): Statement[] {
  const policy = (role as iam.Role).node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
  if (policy === undefined) throw new Error(`${role.node.path} has no default policy`);
  return (scope.resolve(policy.document) as { Statement: Statement[] }).Statement;
}
