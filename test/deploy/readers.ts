/**
 * How the rehearsal reads a deployed resource back, per CloudFormation type: each reader asks the
 * service APIs (on the emulator) and answers in the template's shape (property names and nesting),
 * so that one comparison (verify.ts) checks every template property of every type.
 *
 * A reader gets the resource's physical id and its template properties, resolved; it uses the
 * latter only to find what the physical id does not name (a schedule's group, an inline policy's
 * roles). A type missing here, or a template property its reader does not answer and
 * `unobservable` does not list, fails the rehearsal naming it.
 */
import { createHash } from 'node:crypto';
import {
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeRuleCommand,
  EventBridgeClient,
  ListTargetsByRuleCommand,
} from '@aws-sdk/client-eventbridge';
import {
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import {
  GetFunctionCommand,
  GetFunctionUrlConfigCommand,
  GetPolicyCommand,
  LambdaClient,
} from '@aws-sdk/client-lambda';
import { GetScheduleCommand, GetScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import {
  DescribeSecretCommand,
  GetResourcePolicyCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { AwsClientConfig } from '../support/moto.js';
import { callJson, s3Object, topicAttributes } from './emulator-api.js';

/** The SDK clients the readers use, on the emulator. */
export class EmulatorClients {
  readonly dynamodb: DynamoDBClient;
  readonly events: EventBridgeClient;
  readonly iam: IAMClient;
  readonly lambda: LambdaClient;
  readonly scheduler: SchedulerClient;
  readonly secrets: SecretsManagerClient;
  readonly sqs: SQSClient;

  constructor(
    readonly endpoint: string,
    config: AwsClientConfig,
  ) {
    this.dynamodb = new DynamoDBClient(config);
    this.events = new EventBridgeClient(config);
    this.iam = new IAMClient(config);
    this.lambda = new LambdaClient(config);
    this.scheduler = new SchedulerClient(config);
    this.secrets = new SecretsManagerClient(config);
    this.sqs = new SQSClient(config);
  }

  destroy(): void {
    for (const client of [
      this.dynamodb,
      this.events,
      this.iam,
      this.lambda,
      this.scheduler,
      this.secrets,
      this.sqs,
    ]) {
      client.destroy();
    }
  }
}

type Properties = Record<string, unknown>;

/** Reads one deployed resource back, in the template's shape. */
export type Reader = (
  physicalId: string,
  expected: Properties,
  clients: EmulatorClients,
) => Promise<Properties>;

export interface ResourceType {
  readonly read: Reader;
  /** Template properties the emulator keeps no trace of, each with the reason (reported, not checked). */
  readonly unobservable?: Readonly<Record<string, string>>;
}

/** Types whose resources hold nothing to read back, with the reason. */
export const STATELESS_TYPES: Readonly<Record<string, string>> = {
  'AWS::CDK::Metadata': 'the CDK version report: CloudFormation keeps it, no service does',
};

const parseJson = (text: string | undefined): unknown => (text === undefined ? undefined : JSON.parse(text));

/** The same value from every place, or all of them (so that the comparison shows the odd one). */
function oneOf(values: unknown[]): unknown {
  const [first] = values;
  return values.every((value) => JSON.stringify(value) === JSON.stringify(first)) ? first : values;
}

function names(expected: Properties, property: string): string[] {
  return (expected[property] as string[] | undefined) ?? [];
}

async function secretProperties(arn: string, expected: Properties, c: EmulatorClients): Promise<Properties> {
  const described = await c.secrets.send(new DescribeSecretCommand({ SecretId: arn }));
  const listed = await c.secrets.send(
    new ListSecretVersionIdsCommand({ SecretId: arn, IncludeDeprecated: true }),
  );
  // The template's SecretString is the value the secret was created with: later versions (the
  // refreshed token, the filled credentials) come on top of it.
  const values = await Promise.all(
    (listed.Versions ?? []).map(async ({ VersionId }) => {
      const version = await c.secrets.send(new GetSecretValueCommand({ SecretId: arn, VersionId }));
      return version.SecretString;
    }),
  );
  return {
    Name: described.Name,
    Description: described.Description,
    KmsKeyId: described.KmsKeyId,
    SecretString: values.includes(expected.SecretString as string) ? expected.SecretString : values,
  };
}

async function tableProperties(name: string, _: Properties, c: EmulatorClients): Promise<Properties> {
  const [{ Table: table }, ttl, backups] = await Promise.all([
    c.dynamodb.send(new DescribeTableCommand({ TableName: name })),
    c.dynamodb.send(new DescribeTimeToLiveCommand({ TableName: name })),
    c.dynamodb.send(new DescribeContinuousBackupsCommand({ TableName: name })),
  ]);
  const sse = table?.SSEDescription;
  const pitr = backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription;
  return {
    TableName: table?.TableName,
    AttributeDefinitions: table?.AttributeDefinitions,
    KeySchema: table?.KeySchema,
    BillingMode: table?.BillingModeSummary?.BillingMode ?? 'PROVISIONED',
    GlobalSecondaryIndexes: table?.GlobalSecondaryIndexes,
    SSESpecification:
      sse === undefined
        ? { SSEEnabled: false }
        : { SSEEnabled: sse.Status === 'ENABLED', SSEType: sse.SSEType, KMSMasterKeyId: sse.KMSMasterKeyArn },
    TimeToLiveSpecification: {
      AttributeName: ttl.TimeToLiveDescription?.AttributeName,
      Enabled: ttl.TimeToLiveDescription?.TimeToLiveStatus === 'ENABLED',
    },
    PointInTimeRecoverySpecification: {
      PointInTimeRecoveryEnabled: pitr?.PointInTimeRecoveryStatus === 'ENABLED',
    },
    DeletionProtectionEnabled: table?.DeletionProtectionEnabled,
  };
}

async function keyProperties(id: string, _: Properties, c: EmulatorClients): Promise<Properties> {
  const [{ KeyMetadata: key }, { Policy }, { KeyRotationEnabled }] = await Promise.all([
    callJson<{ KeyMetadata: Record<string, unknown> }>(c.endpoint, 'kms', 'DescribeKey', { KeyId: id }),
    callJson<{ Policy: string }>(c.endpoint, 'kms', 'GetKeyPolicy', { KeyId: id, PolicyName: 'default' }),
    callJson<{ KeyRotationEnabled: boolean }>(c.endpoint, 'kms', 'GetKeyRotationStatus', { KeyId: id }),
  ]);
  return {
    Description: key.Description,
    Enabled: key.Enabled,
    KeyUsage: key.KeyUsage,
    KeySpec: key.KeySpec,
    MultiRegion: key.MultiRegion,
    KeyPolicy: parseJson(Policy),
    EnableKeyRotation: KeyRotationEnabled,
  };
}

async function roleProperties(name: string, _: Properties, c: EmulatorClients): Promise<Properties> {
  const [{ Role: role }, attached] = await Promise.all([
    c.iam.send(new GetRoleCommand({ RoleName: name })),
    c.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name })),
  ]);
  return {
    RoleName: role?.RoleName,
    Path: role?.Path,
    Description: role?.Description,
    MaxSessionDuration: role?.MaxSessionDuration,
    AssumeRolePolicyDocument: parseJson(decodeURIComponent(role?.AssumeRolePolicyDocument ?? '')),
    ManagedPolicyArns: (attached.AttachedPolicies ?? []).map((policy) => policy.PolicyArn),
    PermissionsBoundary: role?.PermissionsBoundary?.PermissionsBoundaryArn,
  };
}

/** An inline policy (`AWS::IAM::Policy` on roles): the roles that hold it under its name, and its document. */
async function inlinePolicyProperties(
  _: string,
  expected: Properties,
  c: EmulatorClients,
): Promise<Properties> {
  const PolicyName = expected.PolicyName as string;
  const found = await Promise.all(
    names(expected, 'Roles').map((RoleName) =>
      c.iam.send(new GetRolePolicyCommand({ RoleName, PolicyName })).then(
        (policy) => ({ RoleName, document: parseJson(decodeURIComponent(policy.PolicyDocument ?? '')) }),
        () => undefined,
      ),
    ),
  );
  const held = found.filter((policy) => policy !== undefined);
  return {
    PolicyName: held.length > 0 ? PolicyName : undefined,
    Roles: held.map((policy) => policy.RoleName),
    PolicyDocument: oneOf(held.map((policy) => policy.document)),
  };
}

/** The function's code is checked by hash: the asset object's SHA-256 is the deployed CodeSha256. */
async function functionProperties(
  name: string,
  expected: Properties,
  c: EmulatorClients,
): Promise<Properties> {
  const { Configuration: fn, Concurrency } = await c.lambda.send(
    new GetFunctionCommand({ FunctionName: name }),
  );
  const code = expected.Code as { S3Bucket?: string; S3Key?: string } | undefined;
  const asset =
    code?.S3Bucket === undefined || code.S3Key === undefined
      ? undefined
      : await s3Object(c.endpoint, code.S3Bucket, code.S3Key);
  const assetSha256 = asset === undefined ? undefined : createHash('sha256').update(asset).digest('base64');
  return {
    FunctionName: fn?.FunctionName,
    Description: fn?.Description,
    Handler: fn?.Handler,
    Runtime: fn?.Runtime,
    Role: fn?.Role,
    MemorySize: fn?.MemorySize,
    Timeout: fn?.Timeout,
    Architectures: fn?.Architectures,
    Environment: fn?.Environment === undefined ? undefined : { Variables: fn.Environment.Variables },
    LoggingConfig: fn?.LoggingConfig,
    TracingConfig: fn?.TracingConfig,
    EphemeralStorage: fn?.EphemeralStorage,
    ReservedConcurrentExecutions: Concurrency?.ReservedConcurrentExecutions,
    Code: assetSha256 !== undefined && assetSha256 === fn?.CodeSha256 ? code : { CodeSha256: fn?.CodeSha256 },
  };
}

interface PolicyStatement {
  readonly Sid?: string;
  readonly Action?: string;
  readonly Resource?: string;
  readonly Principal?: string | Record<string, string>;
  readonly Condition?: Record<string, Record<string, string>>;
}

/** A function permission: the statement of the function's policy whose Sid is the physical id. */
async function permissionProperties(
  sid: string,
  expected: Properties,
  c: EmulatorClients,
): Promise<Properties> {
  const FunctionName = expected.FunctionName as string;
  const { Policy } = await c.lambda.send(new GetPolicyCommand({ FunctionName }));
  const statements = (parseJson(Policy) as { Statement?: PolicyStatement[] } | undefined)?.Statement ?? [];
  const statement = statements.find((candidate) => candidate.Sid === sid);
  if (statement === undefined) return {};
  const principal = statement.Principal;
  const resource = statement.Resource ?? '';
  return {
    Action: statement.Action,
    // Named as the template names it: by ARN or by name.
    FunctionName: FunctionName.startsWith('arn:') ? resource : resource.slice(resource.lastIndexOf(':') + 1),
    Principal: typeof principal === 'string' ? principal : (principal?.Service ?? principal?.AWS),
    SourceArn: statement.Condition?.ArnLike?.['AWS:SourceArn'],
    SourceAccount: statement.Condition?.StringEquals?.['AWS:SourceAccount'],
  };
}

async function functionUrlProperties(
  functionArn: string,
  _: Properties,
  c: EmulatorClients,
): Promise<Properties> {
  const url = await c.lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: functionArn }));
  return {
    TargetFunctionArn: url.FunctionArn,
    AuthType: url.AuthType,
    Cors: url.Cors,
    InvokeMode: url.InvokeMode,
  };
}

async function logGroupProperties(name: string, _: Properties, c: EmulatorClients): Promise<Properties> {
  const { logGroups } = await callJson<{ logGroups: Record<string, unknown>[] }>(
    c.endpoint,
    'logs',
    'DescribeLogGroups',
    { logGroupNamePrefix: name },
  );
  const group = logGroups.find((candidate) => candidate.logGroupName === name);
  return {
    LogGroupName: group?.logGroupName,
    RetentionInDays: group?.retentionInDays,
    KmsKeyId: group?.kmsKeyId,
    LogGroupClass: group?.logGroupClass,
  };
}

async function topicProperties(arn: string, _: Properties, c: EmulatorClients): Promise<Properties> {
  const attributes = await topicAttributes(c.endpoint, arn);
  return {
    TopicName: arn.slice(arn.lastIndexOf(':') + 1),
    DisplayName: attributes.DisplayName,
    KmsMasterKeyId: attributes.KmsMasterKeyId,
  };
}

/** A topic policy: the policy each of its topics holds. */
async function topicPolicyProperties(
  _: string,
  expected: Properties,
  c: EmulatorClients,
): Promise<Properties> {
  const topics = names(expected, 'Topics');
  const policies = await Promise.all(topics.map((arn) => topicAttributes(c.endpoint, arn)));
  return {
    Topics: topics,
    PolicyDocument: oneOf(policies.map((attributes) => parseJson(attributes.Policy))),
  };
}

async function queueProperties(url: string, _: Properties, c: EmulatorClients): Promise<Properties> {
  const { Attributes } = await c.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
  );
  // The queue's template properties are its attribute names.
  return { ...Attributes, QueueName: url.slice(url.lastIndexOf('/') + 1) };
}

/** A queue policy: the policy each of its queues holds. */
async function queuePolicyProperties(
  _: string,
  expected: Properties,
  c: EmulatorClients,
): Promise<Properties> {
  const queues = names(expected, 'Queues');
  const policies = await Promise.all(
    queues.map((QueueUrl) =>
      c.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['Policy'] })),
    ),
  );
  return {
    Queues: queues,
    PolicyDocument: oneOf(policies.map(({ Attributes }) => parseJson(Attributes?.Policy))),
  };
}

async function scheduleProperties(
  name: string,
  expected: Properties,
  c: EmulatorClients,
): Promise<Properties> {
  const schedule = await c.scheduler.send(
    new GetScheduleCommand({ Name: name, GroupName: expected.GroupName as string | undefined }),
  );
  return {
    Name: schedule.Name,
    GroupName: schedule.GroupName,
    Description: schedule.Description,
    ScheduleExpression: schedule.ScheduleExpression,
    ScheduleExpressionTimezone: schedule.ScheduleExpressionTimezone,
    FlexibleTimeWindow: schedule.FlexibleTimeWindow,
    State: schedule.State,
    StartDate: schedule.StartDate,
    EndDate: schedule.EndDate,
    KmsKeyArn: schedule.KmsKeyArn,
    Target: schedule.Target,
  };
}

async function scheduleGroupProperties(name: string, _: Properties, c: EmulatorClients): Promise<Properties> {
  const group = await c.scheduler.send(new GetScheduleGroupCommand({ Name: name }));
  return { Name: group.Name };
}

async function ruleProperties(name: string, expected: Properties, c: EmulatorClients): Promise<Properties> {
  const EventBusName = expected.EventBusName as string | undefined;
  const [rule, { Targets }] = await Promise.all([
    c.events.send(new DescribeRuleCommand({ Name: name, EventBusName })),
    c.events.send(new ListTargetsByRuleCommand({ Rule: name, EventBusName })),
  ]);
  return {
    Name: rule.Name,
    Description: rule.Description,
    EventBusName: rule.EventBusName,
    EventPattern: rule.EventPattern,
    ScheduleExpression: rule.ScheduleExpression,
    State: rule.State,
    RoleArn: rule.RoleArn,
    Targets,
  };
}

async function alarmProperties(name: string, _: Properties, c: EmulatorClients): Promise<Properties> {
  const { MetricAlarms } = await callJson<{ MetricAlarms: Properties[] }>(
    c.endpoint,
    'cloudwatch',
    'DescribeAlarms',
    {
      AlarmNames: [name],
    },
  );
  // DescribeAlarms names the fields as the template does.
  return MetricAlarms[0] ?? {};
}

async function dashboardProperties(name: string, _: Properties, c: EmulatorClients): Promise<Properties> {
  const dashboard = await callJson<Properties>(c.endpoint, 'cloudwatch', 'GetDashboard', {
    DashboardName: name,
  });
  return { DashboardName: dashboard.DashboardName, DashboardBody: dashboard.DashboardBody };
}

async function secretPolicyProperties(arn: string, _: Properties, c: EmulatorClients): Promise<Properties> {
  const policy = await c.secrets.send(new GetResourcePolicyCommand({ SecretId: arn }));
  return { SecretId: policy.ARN, ResourcePolicy: parseJson(policy.ResourcePolicy) };
}

/** Every type the rehearsal can verify. */
export const RESOURCE_TYPES: Readonly<Record<string, ResourceType>> = {
  'AWS::CloudWatch::Alarm': { read: alarmProperties },
  'AWS::CloudWatch::Dashboard': { read: dashboardProperties },
  'AWS::DynamoDB::Table': { read: tableProperties },
  'AWS::Events::Rule': { read: ruleProperties },
  'AWS::IAM::Policy': { read: inlinePolicyProperties },
  'AWS::IAM::Role': { read: roleProperties },
  'AWS::KMS::Key': { read: keyProperties },
  'AWS::Lambda::Function': { read: functionProperties },
  'AWS::Lambda::Permission': { read: permissionProperties },
  'AWS::Lambda::Url': { read: functionUrlProperties },
  'AWS::Logs::LogGroup': { read: logGroupProperties },
  'AWS::Scheduler::Schedule': { read: scheduleProperties },
  'AWS::Scheduler::ScheduleGroup': { read: scheduleGroupProperties },
  'AWS::SecretsManager::ResourcePolicy': {
    read: secretPolicyProperties,
    unobservable: {
      BlockPublicPolicy: 'moto keeps no BlockPublicPolicy (it does not check a policy for public access)',
    },
  },
  'AWS::SecretsManager::Secret': { read: secretProperties },
  'AWS::SNS::Topic': { read: topicProperties },
  'AWS::SNS::TopicPolicy': { read: topicPolicyProperties },
  'AWS::SQS::Queue': { read: queueProperties },
  'AWS::SQS::QueuePolicy': { read: queuePolicyProperties },
};
