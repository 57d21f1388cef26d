/**
 * functions/local/moto_cfn.py on its own, with a template written here: the resource types and
 * properties the stack uses or is about to use (issue 14: queue and topic policies, secret resource
 * policies, function permissions, reserved concurrency, a KMS key policy that changes, a log group's
 * ARN) go through CloudFormation's create, update and delete on moto, and each deployed state is read
 * back by the rehearsal's verifier (verify.ts), which must also refuse, by name, what it cannot verify.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStacksCommand,
  ListStackResourcesCommand,
  UpdateStackCommand,
} from '@aws-sdk/client-cloudformation';
import { GetPolicyCommand } from '@aws-sdk/client-lambda';
import { GetResourcePolicyCommand } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MotoServer, startMoto } from '../support/moto.js';
import { putS3Object, topicAttributes } from './emulator-api.js';
import type { DeployedStack, Template } from './intrinsics.js';
import { EmulatorClients } from './readers.js';
import { verifyDeployedStack } from './verify.js';

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const STACK = 'moto-cfn-models';
const CODE_BUCKET = 'moto-cfn-code';
const CODE_KEY = 'function.zip';

const account = { Ref: 'AWS::AccountId' };
const root = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', account, ':root']] };
const denyInsecure = (action: string, resource: unknown) => ({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: action,
      Resource: resource,
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
  ],
});

/** The template; `version` 2 changes every policy, the key and the function's concurrency and architecture. */
function template(version: 1 | 2): Template {
  const queueArn = { 'Fn::GetAtt': ['Queue', 'Arn'] };
  const secretPolicy = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Deny',
        Principal: { AWS: '*' },
        Action: 'secretsmanager:GetSecretValue',
        Resource: '*',
        Condition: { StringNotEquals: { 'aws:PrincipalArn': { 'Fn::GetAtt': ['Role', 'Arn'] } } },
      },
      ...(version === 2
        ? [{ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'secretsmanager:DeleteSecret', Resource: '*' }]
        : []),
    ],
  };
  return {
    Resources: {
      Key: {
        Type: 'AWS::KMS::Key',
        Properties: {
          Description: `moto_cfn key, version ${version}`,
          EnableKeyRotation: true,
          KeyPolicy: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { AWS: root }, Action: 'kms:*', Resource: '*' },
              ...(version === 2
                ? [
                    {
                      Effect: 'Allow',
                      Principal: { AWS: { 'Fn::GetAtt': ['Role', 'Arn'] } },
                      Action: 'kms:Decrypt',
                      Resource: '*',
                      Condition: { StringEquals: { 'kms:EncryptionContext:SecretARN': { Ref: 'Secret' } } },
                    },
                  ]
                : []),
            ],
          },
        },
      },
      Secret: {
        Type: 'AWS::SecretsManager::Secret',
        DeletionPolicy: 'Retain',
        Properties: {
          Name: 'moto-cfn/credentials',
          Description: 'a retained secret with a resource policy',
          SecretString: '{"status":"not set"}',
          KmsKeyId: { 'Fn::GetAtt': ['Key', 'Arn'] },
        },
      },
      SecretPolicy: {
        Type: 'AWS::SecretsManager::ResourcePolicy',
        Properties: { SecretId: { Ref: 'Secret' }, ResourcePolicy: secretPolicy, BlockPublicPolicy: true },
      },
      Queue: {
        Type: 'AWS::SQS::Queue',
        DeletionPolicy: 'Retain',
        Properties: { MessageRetentionPeriod: 1209600 },
      },
      QueuePolicy: {
        Type: 'AWS::SQS::QueuePolicy',
        Properties: {
          Queues: [{ Ref: 'Queue' }],
          PolicyDocument: denyInsecure(version === 1 ? 'sqs:*' : 'sqs:SendMessage', queueArn),
        },
      },
      Topic: { Type: 'AWS::SNS::Topic', DeletionPolicy: 'Retain', Properties: { DisplayName: 'moto_cfn' } },
      TopicPolicy: {
        Type: 'AWS::SNS::TopicPolicy',
        Properties: {
          Topics: [{ Ref: 'Topic' }],
          PolicyDocument: denyInsecure(version === 1 ? 'sns:Publish' : 'sns:Subscribe', { Ref: 'Topic' }),
        },
      },
      Role: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
            ],
          },
        },
      },
      Logs: {
        Type: 'AWS::Logs::LogGroup',
        Properties: { LogGroupName: 'moto-cfn-function', RetentionInDays: 30 },
      },
      // The log group's Arn as CloudFormation answers it: with ':*', its log streams.
      LogsPolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'moto-cfn-logs',
          Roles: [{ Ref: 'Role' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                Resource: { 'Fn::GetAtt': ['Logs', 'Arn'] },
              },
            ],
          },
        },
      },
      Function: {
        Type: 'AWS::Lambda::Function',
        DeletionPolicy: 'Retain',
        Properties: {
          FunctionName: 'moto-cfn-function',
          Handler: 'index.handler',
          Runtime: 'nodejs22.x',
          Role: { 'Fn::GetAtt': ['Role', 'Arn'] },
          Code: { S3Bucket: CODE_BUCKET, S3Key: CODE_KEY },
          Architectures: [version === 1 ? 'arm64' : 'x86_64'],
          ReservedConcurrentExecutions: version === 1 ? 5 : 7,
          LoggingConfig: { LogGroup: { Ref: 'Logs' } },
        },
      },
      // Another source in version 2: CloudFormation replaces the permission.
      Permission: {
        Type: 'AWS::Lambda::Permission',
        Properties: {
          Action: 'lambda:InvokeFunction',
          FunctionName: { 'Fn::GetAtt': ['Function', 'Arn'] },
          Principal: 'events.amazonaws.com',
          SourceArn: `arn:aws:events:${REGION}:${ACCOUNT}:rule/moto-cfn-v${version}`,
        },
      },
    },
  };
}

describe('moto_cfn.py: the models and fixes, through create, update and delete of a stack', () => {
  let moto: MotoServer;
  let clients: EmulatorClients;
  let cfn: CloudFormationClient;

  async function deployed(version: 1 | 2): Promise<DeployedStack> {
    const [listed, described] = await Promise.all([
      cfn.send(new ListStackResourcesCommand({ StackName: STACK })),
      cfn.send(new DescribeStacksCommand({ StackName: STACK })),
    ]);
    return {
      account: ACCOUNT,
      region: REGION,
      stackName: STACK,
      stackId: described.Stacks?.[0]?.StackId ?? '',
      template: template(version),
      physical: Object.fromEntries(
        (listed.StackResourceSummaries ?? []).map((r) => [
          r.LogicalResourceId ?? '',
          r.PhysicalResourceId ?? '',
        ]),
      ),
    };
  }

  beforeAll(async () => {
    process.env.TOKEN_REFRESHER_MOTO_CFN = '1';
    try {
      moto = await startMoto();
    } finally {
      delete process.env.TOKEN_REFRESHER_MOTO_CFN;
    }
    clients = new EmulatorClients(moto.endpoint, moto.clientConfig);
    cfn = new CloudFormationClient(moto.clientConfig);
    // The function's code: any bytes do, moto runs none of it.
    await putS3Object(moto.endpoint, CODE_BUCKET, CODE_KEY, Buffer.from('moto_cfn function code'));
    await cfn.send(new CreateStackCommand({ StackName: STACK, TemplateBody: JSON.stringify(template(1)) }));
  });

  afterAll(async () => {
    cfn?.destroy();
    clients?.destroy();
    await moto?.stop();
  });

  it('creates every resource as the template says: policies on the queue, topic and secret, reserved concurrency', async () => {
    // Act
    const result = await verifyDeployedStack(await deployed(1), clients);

    // Assess
    expect(result.resources).toBe(Object.keys(template(1).Resources).length);
    expect(result.unobservable).toEqual({
      'AWS::SecretsManager::ResourcePolicy.BlockPublicPolicy': expect.any(String),
    });
  });

  it('names what it cannot verify: a resource type without a reader, a property no reader answers', async () => {
    // Prepare
    const stack = await deployed(1);
    const unknownType = {
      ...stack,
      template: {
        Resources: { ...stack.template.Resources, Vpc: { Type: 'AWS::EC2::VPC', Properties: {} } },
      },
    };
    const queuePolicy = stack.template.Resources.QueuePolicy;
    const unknownProperty = {
      ...stack,
      template: {
        Resources: {
          ...stack.template.Resources,
          QueuePolicy: { ...queuePolicy, Properties: { ...queuePolicy?.Properties, Tags: [] } },
        },
      },
    } as DeployedStack;

    // Act
    const results = await Promise.allSettled([
      verifyDeployedStack(unknownType, clients),
      verifyDeployedStack(unknownProperty, clients),
    ]);

    // Assess
    expect(
      results.map((result) => (result.status === 'rejected' ? String(result.reason) : 'verified')),
    ).toEqual([
      expect.stringContaining('Vpc (AWS::EC2::VPC): the rehearsal cannot verify AWS::EC2::VPC'),
      expect.stringContaining('cannot read AWS::SQS::QueuePolicy.Tags back'),
    ]);
  });

  it('updates the policies, the key and the function in place', async () => {
    // Act
    await cfn.send(new UpdateStackCommand({ StackName: STACK, TemplateBody: JSON.stringify(template(2)) }));
    const stack = await deployed(2);
    const result = await verifyDeployedStack(stack, clients);

    // Assess
    expect(result.resources).toBe(Object.keys(template(2).Resources).length);
  });

  it('removes the policies from the retained queue, topic, secret and function on delete (the topic gets its default back)', async () => {
    // Prepare
    const { physical } = await deployed(2);
    const policies = async () => {
      const queue = await clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: physical.Queue, AttributeNames: ['All'] }),
      );
      const topic = await topicAttributes(moto.endpoint, physical.Topic ?? '');
      const secret = await clients.secrets.send(new GetResourcePolicyCommand({ SecretId: physical.Secret }));
      const permissions = await clients.lambda
        .send(new GetPolicyCommand({ FunctionName: physical.Function }))
        .then(
          ({ Policy }) =>
            (JSON.parse(Policy ?? '{}') as { Statement: { Sid: string }[] }).Statement.map((s) => s.Sid),
          () => [],
        );
      return {
        queue: queue.Attributes,
        topic: JSON.parse(topic.Policy ?? '{}') as unknown,
        secret,
        permissions,
      };
    };
    const before = await policies();

    // Act
    await cfn.send(new DeleteStackCommand({ StackName: STACK }));

    // Assess
    const after = await policies();
    expect(before.queue?.Policy).toContain('sqs:SendMessage');
    expect(after.queue?.Policy).toBeUndefined();
    expect(after.queue?.MessageRetentionPeriod).toBe('1209600');
    expect(before.topic).toMatchObject({ Statement: [{ Effect: 'Deny', Action: 'sns:Subscribe' }] });
    expect(after.topic).toMatchObject({ Id: '__default_policy_ID', Statement: [{ Effect: 'Allow' }] });
    expect(before.secret.ResourcePolicy).toContain('secretsmanager:DeleteSecret');
    expect(after.secret.Name).toBe('moto-cfn/credentials');
    expect(after.secret.ResourcePolicy).toBeUndefined();
    expect(before.permissions).toEqual([physical.Permission]);
    expect(after.permissions).toEqual([]);
  });
});
