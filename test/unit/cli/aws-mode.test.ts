/**
 * The CLI in AWS mode, with the SDK clients mocked (aws-sdk-client-mock): names from the stack's
 * outputs, the exact commands sent, the messages and exit codes. Credentials come from stubbed
 * environment variables (the instance-metadata lookup is switched off, so nothing leaves the machine).
 */
import 'aws-sdk-client-mock-vitest/extend';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../../functions/cli/main.js';
import { awsError } from '../aws/helpers.js';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const MINUTE = 60_000;
const TABLE = 'TokenRefresher-RefresherStateTable-ABC';
const FUNCTION = 'TokenRefresher-RefresherRefreshFunction-XYZ';

const OUTPUTS = [
  { OutputKey: 'ReadFunctionUrl', OutputValue: 'https://abc.lambda-url.eu-west-1.on.aws/' },
  { OutputKey: 'RefreshFunctionName', OutputValue: FUNCTION },
  { OutputKey: 'StateTableName', OutputValue: TABLE },
  { OutputKey: 'SecretPrefix', OutputValue: 'prod/tokens' },
  { OutputKey: 'ProviderNames', OutputValue: '["github","crm"]' },
];

/** A Lambda response payload (the SDK types it as its blob adapter; the CLI only decodes the bytes). */
function payload(value: unknown): never {
  return new TextEncoder().encode(JSON.stringify(value)) as never;
}

describe('CLI in AWS mode', () => {
  const cloudFormation = mockClient(CloudFormationClient);
  const dynamoDb = mockClient(DynamoDBClient);
  const lambda = mockClient(LambdaClient);
  let cwd: string;

  async function cli(argv: string[], env: Record<string, string> = {}) {
    let stdout = '';
    let stderr = '';
    const code = await run(argv, {
      cwd,
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env,
      clock: { now: () => NOW },
    });
    return { code, stdout, stderr };
  }

  beforeEach(() => {
    cloudFormation.reset();
    dynamoDb.reset();
    lambda.reset();
    cloudFormation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'TokenRefresher',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: OUTPUTS,
        },
      ],
    });
    // A working directory without a local session: the target is AWS.
    cwd = mkdtempSync(join(tmpdir(), 'cli-aws-'));
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test-secret-access-key');
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/config');
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/credentials');
    vi.stubEnv('AWS_PROFILE', undefined);
    vi.stubEnv('AWS_ENDPOINT_URL', undefined);
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  describe('Command: status', () => {
    it('reads the names from the stack outputs and one item per provider, and says which target it uses', async () => {
      // Prepare
      dynamoDb.on(GetItemCommand, { Key: { provider: { S: 'github' } } }).resolves({
        Item: {
          provider: { S: 'github' },
          fence: { N: '4' },
          tokenExpiresAt: { N: String(NOW + 54 * MINUTE) },
          lastSuccessAt: { N: String(NOW - 6 * MINUTE) },
          nextRefreshAt: { N: String(NOW + 49 * MINUTE) },
          consecutiveFailures: { N: '0' },
        },
      });
      dynamoDb.on(GetItemCommand, { Key: { provider: { S: 'crm' } } }).resolves({});

      // Act
      const result = await cli(['status']);

      // Assess
      expect(result.code).toBe(0);
      expect(result.stderr).toBe(
        'target: AWS account via the default credential chain, region eu-west-1 (stack TokenRefresher)\n',
      );
      expect(result.stdout.split('\n')).toEqual([
        'provider  state            expires in  last success  last error  failures  lease holder  next refresh',
        'github    ok               54m 0s      6m 0s ago     -           0         -             in 49m 0s',
        'crm       never refreshed  -           never         -           0         -             due',
        '',
      ]);
      expect(cloudFormation).toHaveReceivedCommandTimes(DescribeStacksCommand, 1);
      expect(cloudFormation).toHaveReceivedCommandWith(DescribeStacksCommand, {
        StackName: 'TokenRefresher',
      });
      expect(dynamoDb).toHaveReceivedCommandTimes(GetItemCommand, 2);
      expect(dynamoDb).toHaveReceivedCommandWith(GetItemCommand, {
        TableName: TABLE,
        Key: { provider: { S: 'github' } },
        ConsistentRead: true,
      });
    });

    it('uses --table and --config instead of the outputs, without DescribeStacks', async () => {
      // Prepare
      dynamoDb.on(GetItemCommand).resolves({});

      // Act
      const result = await cli([
        'status',
        '--table',
        'my-table',
        '--config',
        resolve('config/example.json'),
        '--json',
      ]);

      // Assess
      expect(result.code).toBe(0);
      expect(cloudFormation).toHaveReceivedCommandTimes(DescribeStacksCommand, 0);
      expect(dynamoDb).toHaveReceivedCommandWith(GetItemCommand, { TableName: 'my-table' });
      const shown = JSON.parse(result.stdout) as {
        target: string;
        checkedAt: string;
        providers: { provider: string }[];
      };
      expect(shown.target).toBe('aws');
      expect(shown.checkedAt).toBe('2026-03-01T12:00:00.000Z');
      expect(shown.providers.map((provider) => provider.provider)).toEqual([
        'github-app',
        'salesforce',
        'billing-api',
      ]);
    });

    it('tells how to fix a stack deployed before the outputs existed', async () => {
      // Prepare
      cloudFormation.on(DescribeStacksCommand).resolves({
        Stacks: [
          {
            StackName: 'TokenRefresher',
            CreationTime: new Date(),
            StackStatus: 'UPDATE_COMPLETE',
            Outputs: OUTPUTS.filter((output) => output.OutputKey === 'RefreshFunctionName'),
          },
        ],
      });

      // Act
      const result = await cli(['status']);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /token-refresher: stack TokenRefresher has no (StateTableName|ProviderNames) output \(deployed before the CLI existed\?\): redeploy it \(npx cdk deploy\), or pass --/,
      );
    });

    it('says when the stack does not exist in the region', async () => {
      // Prepare
      cloudFormation
        .on(DescribeStacksCommand)
        .rejects(awsError('ValidationError', 'Stack with id Nope does not exist', 400));

      // Act
      const result = await cli(['status', '--stack', 'Nope']);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        'token-refresher: stack Nope does not exist in region eu-west-1: deploy it (npx cdk deploy), or pass --stack <name> / --region <region>',
      );
    });

    it('explains expired credentials even when an adapter wrapped the SDK error', async () => {
      // Prepare
      dynamoDb
        .on(GetItemCommand)
        .rejects(
          awsError('ExpiredTokenException', 'The security token included in the request is expired', 400),
        );

      // Act
      const result = await cli(['status']);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stderr.split('\n')[1]).toBe(
        'token-refresher: AWS rejected the credentials (ExpiredTokenException); provide AWS credentials: set AWS_PROFILE to a ' +
          'configured profile (aws configure), run `aws sso login --profile <name>` for an SSO profile, or set ' +
          'AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
      );
    });

    it('prints an unexpected error on one line, and its stack trace only with --debug', async () => {
      // Prepare
      cloudFormation.on(DescribeStacksCommand).rejects(new Error('boom'));

      // Act
      const plain = await cli(['status']);
      const debug = await cli(['status', '--debug']);

      // Assess
      expect(plain.code).toBe(1);
      expect(plain.stderr.split('\n').slice(1)).toEqual([
        'token-refresher: unexpected error (Error: boom); run with --debug for the stack trace',
        '',
      ]);
      expect(debug.stderr).toContain('token-refresher: unexpected error (Error: boom)\n');
      expect(debug.stderr).toMatch(/\n\s+at /);
    });
  });

  describe('Command: refresh', () => {
    it('invokes the refresh function with a forced event and exits 0 when it refreshed', async () => {
      // Prepare
      lambda.on(InvokeCommand).resolves({
        StatusCode: 200,
        Payload: payload({
          status: 'refreshed',
          provider: 'github',
          expiresAt: new Date(NOW + 60 * MINUTE).toISOString(),
          generation: 5,
          refreshTokenRotated: false,
        }),
      });

      // Act
      const result = await cli(['refresh', 'github']);

      // Assess
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(
        'refreshed github: generation 5, expires 2026-03-01T13:00:00.000Z (in 1h 0m)\n',
      );
      expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
      const sent = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
      expect(sent).toMatchObject({ FunctionName: FUNCTION, InvocationType: 'RequestResponse' });
      expect(JSON.parse(new TextDecoder().decode(sent?.Payload as Uint8Array))).toEqual({
        provider: 'github',
        force: true,
      });
    });

    it('tells the operator that a rotation_outcome_unknown refresh may be tried once, and what an invalid_grant then means', async () => {
      // Prepare
      lambda.on(InvokeCommand).resolves({
        StatusCode: 200,
        Payload: payload({
          status: 'failed',
          provider: 'crm',
          code: 'rotation_outcome_unknown',
          permanent: true,
          attempted: true,
        }),
      });

      // Act
      const result = await cli(['refresh', 'crm']);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('refresh of crm failed: rotation_outcome_unknown (permanent)');
      expect(result.stderr).toContain('sends the stored refresh token once');
      expect(result.stderr).toContain('prod/tokens/crm/credentials');
    });

    it('exits 1 on a permanent failure with what to do, naming the credentials secret', async () => {
      // Prepare
      lambda.on(InvokeCommand).resolves({
        StatusCode: 200,
        Payload: payload({
          status: 'failed',
          provider: 'crm',
          code: 'invalid_grant',
          permanent: true,
          attempted: true,
        }),
      });

      // Act
      const result = await cli(['refresh', 'crm']);
      const json = await cli(['refresh', 'crm', '--json']);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr.split('\n').slice(1)).toEqual([
        'refresh of crm failed: invalid_grant (permanent)',
        '  what to do: the refresh token was refused (expired, revoked, or already used): re-seed the credentials secret ' +
          'prod/tokens/crm/credentials with a new refresh token ({"clientId":"…","clientSecret":"…","refreshToken":"…"}), ' +
          'then run: token-refresher refresh crm',
        '  details: the refresh function\'s log ("Refresh failed" lines, errorCode per provider)',
        '',
      ]);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toMatchObject({
        target: 'aws',
        status: 'failed',
        code: 'invalid_grant',
        hint: expect.stringContaining('prod/tokens/crm/credentials'),
      });
    });

    it('exits 1 when another refresh holds the lease', async () => {
      // Prepare
      lambda
        .on(InvokeCommand)
        .resolves({ StatusCode: 200, Payload: payload({ status: 'in-progress', provider: 'github' }) });

      // Act
      const result = await cli(['refresh', 'github']);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        'another refresh of github holds the lease right now; retry in a few seconds',
      );
    });

    it('names the configured providers for an unknown one and invokes nothing', async () => {
      // Act
      const result = await cli(['refresh', 'nope']);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stderr.split('\n')[1]).toBe(
        'token-refresher: unknown provider "nope"; configured: github, crm',
      );
      expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 0);
    });

    it('reports a crashed function with its error type and message', async () => {
      // Prepare
      lambda.on(InvokeCommand).resolves({
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: payload({
          errorType: 'EnvironmentError',
          errorMessage: 'Invalid environment: TABLE_NAME is not set',
        }),
      });

      // Act
      const result = await cli(['refresh', 'github', '--refresh-function', 'my-fn']);

      // Assess
      expect(result.code).toBe(1);
      expect(result.stderr.split('\n')[1]).toBe(
        'token-refresher: the refresh function my-fn failed (Unhandled: EnvironmentError: Invalid environment: TABLE_NAME is not set); see its CloudWatch logs',
      );
    });
  });

  it('says how to provide credentials when the default chain finds none', async () => {
    // Prepare
    vi.stubEnv('AWS_ACCESS_KEY_ID', undefined);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', undefined);

    // Act
    const result = await cli(['status'], { AWS_PROFILE: 'ops' });

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'token-refresher: no usable AWS credentials for profile "ops" (CredentialsProviderError); provide AWS credentials: ' +
        'set AWS_PROFILE to a configured profile (aws configure), run `aws sso login --profile <name>` for an SSO ' +
        'profile, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY\n',
    );
    expect(cloudFormation).toHaveReceivedCommandTimes(DescribeStacksCommand, 0);
  });

  it('says how to set a region when there is none', async () => {
    // Prepare
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_DEFAULT_REGION', undefined);

    // Act
    const result = await cli(['status']);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^token-refresher: no AWS region: set AWS_REGION, use a profile that has one \(AWS_PROFILE\), or pass --region/,
    );
  });
});
