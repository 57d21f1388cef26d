/**
 * `revoke` with mocked clients: the exact compare-and-swap it sends, the state update, and what it
 * does when a refresh wrote a new token in between.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseCommandLine } from '../../../functions/cli/args.js';
import { CliError, UsageError } from '../../../functions/cli/errors.js';
import { run } from '../../../functions/cli/main.js';
import { describeRevoke, revokeToken } from '../../../functions/cli/revoke.js';
import type { Target } from '../../../functions/cli/target.js';
import { parseRefresherConfig } from '../../../functions/core/config-schema.js';
import { awsError } from '../aws/helpers.js';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const OLD_VERSION = '11111111-1111-4111-8111-111111111111';
const OTHER_VERSION = '33333333-3333-4333-8333-333333333333';
const ACCESS_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.secret-token-value.sig';

const TOKEN_JSON = JSON.stringify({
  provider: 'github',
  accessToken: ACCESS_TOKEN,
  tokenType: 'Bearer',
  expiresAt: '2026-03-01T12:40:00.000Z',
  issuedAt: '2026-03-01T11:40:00.000Z',
  generation: 4,
});

const target: Target = {
  kind: 'aws',
  description: 'test',
  clientConfig: { region: 'us-east-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'x' } },
  tableName: async () => 'state',
  tokenTableName: async () => 'tokens',
  secretPrefix: async () => 'tr',
  providerNames: async () => ['github'],
  config: () => undefined,
  configFile: () => '',
  refreshFunctionName: async () => 'fn',
  credentialsSecretOf: async (provider) => `tr/${provider}/credentials`,
};

describe('Function: revokeToken', () => {
  const secrets = mockClient(SecretsManagerClient);
  const dynamoDb = mockClient(DynamoDBClient);

  beforeEach(() => {
    secrets.reset();
    dynamoDb.reset();
    dynamoDb.on(UpdateItemCommand).resolves({});
    dynamoDb.on(GetItemCommand).resolves({ Item: { provider: { S: 'github' }, fence: { N: '4' } } });
  });

  it('writes the revoked placeholder as AWSPENDING, moves AWSCURRENT from the version read, then marks the item', async () => {
    // Prepare
    secrets.on(GetSecretValueCommand).resolves({ VersionId: OLD_VERSION, SecretString: TOKEN_JSON });
    secrets.on(PutSecretValueCommand).callsFake((input: { ClientRequestToken: string }) => ({
      VersionId: input.ClientRequestToken,
      VersionStages: ['AWSPENDING'],
    }));
    secrets.on(UpdateSecretVersionStageCommand).resolves({});

    // Act
    const outcome = await revokeToken(target, 'github', { now: () => NOW });

    // Assess
    expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, {
      SecretId: 'tr/github/token',
      VersionStage: 'AWSCURRENT',
    });
    expect(secrets).toHaveReceivedCommandWith(PutSecretValueCommand, {
      SecretId: 'tr/github/token',
      SecretString: '{"status":"revoked","revokedAt":"2026-03-01T12:00:00.000Z"}',
      VersionStages: ['AWSPENDING'],
    });
    const versionId = secrets.commandCalls(PutSecretValueCommand)[0]?.args[0].input.ClientRequestToken;
    expect(secrets).toHaveReceivedCommandWith(UpdateSecretVersionStageCommand, {
      SecretId: 'tr/github/token',
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: versionId,
      RemoveFromVersionId: OLD_VERSION,
    });
    expect(dynamoDb).toHaveReceivedCommandWith(UpdateItemCommand, {
      TableName: 'state',
      Key: { provider: { S: 'github' } },
      ExpressionAttributeValues: { ':now': { N: String(NOW) } },
    });
    expect(outcome).toMatchObject({
      status: 'revoked',
      versionId,
      previousVersionId: OLD_VERSION,
      revokedGeneration: 4,
      revokedExpiresAt: '2026-03-01T12:40:00.000Z',
      stateUpdated: true,
    });
    expect(describeRevoke(outcome).join('\n')).not.toContain(ACCESS_TOKEN);
  });

  it('fails with exit code 1 and touches no state when a refresh moved AWSCURRENT meanwhile', async () => {
    // Prepare: the first read sees the old token; after the refused move, another version is current.
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ VersionId: OLD_VERSION, SecretString: TOKEN_JSON })
      .resolves({ VersionId: OTHER_VERSION, SecretString: TOKEN_JSON });
    secrets.on(PutSecretValueCommand).callsFake((input: { ClientRequestToken: string }) => ({
      VersionId: input.ClientRequestToken,
      VersionStages: ['AWSPENDING'],
    }));
    secrets.on(UpdateSecretVersionStageCommand).rejects(
      Object.assign(new Error('Version stage AWSCURRENT not found in version'), {
        name: 'InvalidParameterException',
      }),
    );

    // Act
    const error = await revokeToken(target, 'github', { now: () => NOW }).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ exitCode: 1 });
    expect((error as Error).message).toBe(
      'a refresh wrote a new token to tr/github/token while revoking (AWSCURRENT moved); nothing was revoked. ' +
        'Run token-refresher revoke github again to revoke the new token',
    );
    expect(dynamoDb).toHaveReceivedCommandTimes(UpdateItemCommand, 0);
  });

  it('writes nothing when the secret holds no token', async () => {
    // Prepare
    secrets
      .on(GetSecretValueCommand)
      .resolves({ VersionId: OLD_VERSION, SecretString: '{"status":"pending"}' });

    // Act
    const outcome = await revokeToken(target, 'github', { now: () => NOW });

    // Assess
    expect(outcome).toEqual({
      status: 'no-token',
      provider: 'github',
      secretId: 'tr/github/token',
      versionId: OLD_VERSION,
    });
    expect(secrets).toHaveReceivedCommandTimes(PutSecretValueCommand, 0);
    expect(dynamoDb).toHaveReceivedCommandTimes(UpdateItemCommand, 0);
  });
});

describe('Function: revokeToken, the revoked version (issue 15, finding 11)', () => {
  const secrets = mockClient(SecretsManagerClient);
  const dynamoDb = mockClient(DynamoDBClient);
  const REVOKED_JSON = '{"status":"revoked","revokedAt":"2026-03-01T11:00:00.000Z"}';

  beforeEach(() => {
    secrets.reset();
    dynamoDb.reset();
    dynamoDb.on(UpdateItemCommand).resolves({});
    dynamoDb.on(GetItemCommand).resolves({ Item: { provider: { S: 'github' }, fence: { N: '4' } } });
    secrets.on(PutSecretValueCommand).callsFake((input: { ClientRequestToken: string }) => ({
      VersionId: input.ClientRequestToken,
      VersionStages: ['AWSPENDING'],
    }));
  });

  /** The token is current; the old version is labelled `stages`, then (after the removal) none. */
  function tokenCurrent(stages: string[]): void {
    secrets
      .on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' })
      .resolves({ VersionId: OLD_VERSION, SecretString: TOKEN_JSON, VersionStages: ['AWSCURRENT'] });
    secrets
      .on(GetSecretValueCommand, { VersionId: OLD_VERSION })
      .resolvesOnce({ VersionId: OLD_VERSION, SecretString: TOKEN_JSON, VersionStages: stages })
      .resolves({ VersionId: OLD_VERSION, SecretString: TOKEN_JSON, VersionStages: [] });
  }

  it('takes AWSPREVIOUS (and every other label but AWSCURRENT) off the revoked version after the swap', async () => {
    // Prepare
    tokenCurrent(['AWSPREVIOUS', 'audit']);
    secrets.on(UpdateSecretVersionStageCommand).resolves({});

    // Act
    const outcome = await revokeToken(target, 'github', { now: () => NOW });

    // Assess
    const moves = secrets.commandCalls(UpdateSecretVersionStageCommand).map((call) => call.args[0].input);
    expect(moves.slice(1)).toEqual([
      { SecretId: 'tr/github/token', VersionStage: 'AWSPREVIOUS', RemoveFromVersionId: OLD_VERSION },
      { SecretId: 'tr/github/token', VersionStage: 'audit', RemoveFromVersionId: OLD_VERSION },
    ]);
    expect(moves[0]).toMatchObject({ VersionStage: 'AWSCURRENT', RemoveFromVersionId: OLD_VERSION });
    expect(outcome).toMatchObject({
      status: 'revoked',
      previousVersionId: OLD_VERSION,
      previousVersionStages: [],
    });
    const text = describeRevoke(outcome).join('\n');
    expect(text).toContain(`old version ${OLD_VERSION}: no staging label left (AWSPREVIOUS removed)`);
    expect(text).not.toContain(ACCESS_TOKEN);
  });

  it('takes a label that a refresh moved on meanwhile as already gone', async () => {
    // Prepare: a refresh moved AWSCURRENT from the placeholder, and AWSPREVIOUS with it.
    tokenCurrent(['AWSPREVIOUS']);
    secrets
      .on(UpdateSecretVersionStageCommand, { VersionStage: 'AWSCURRENT' })
      .resolves({})
      .on(UpdateSecretVersionStageCommand, { VersionStage: 'AWSPREVIOUS' })
      .rejects(
        Object.assign(new Error('Version stage AWSPREVIOUS not found'), {
          name: 'InvalidParameterException',
        }),
      );

    // Act
    const outcome = await revokeToken(target, 'github', { now: () => NOW });

    // Assess
    expect(outcome).toMatchObject({ status: 'revoked', previousVersionStages: [] });
  });

  it('fails with exit code 1, after marking the state, when the label cannot be removed', async () => {
    // Prepare
    tokenCurrent(['AWSPREVIOUS']);
    secrets
      .on(UpdateSecretVersionStageCommand, { VersionStage: 'AWSCURRENT' })
      .resolves({})
      .on(UpdateSecretVersionStageCommand, { VersionStage: 'AWSPREVIOUS' })
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));

    // Act
    const error = await revokeToken(target, 'github', { now: () => NOW }).catch((caught: unknown) => caught);

    // Assess
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ exitCode: 1 });
    expect((error as Error).message).toContain(
      `the old version ${OLD_VERSION} could not lose its staging labels (StoreError), so GetSecretValue with ` +
        'VersionStage AWSPREVIOUS still returns the revoked token. Run token-refresher revoke github again',
    );
    expect((error as Error).message).not.toContain(ACCESS_TOKEN);
    expect(dynamoDb).toHaveReceivedCommandTimes(UpdateItemCommand, 1);
  });

  it('finishes an earlier revoke that left the token as AWSPREVIOUS', async () => {
    // Prepare: AWSCURRENT holds the revoked placeholder, AWSPREVIOUS still the token.
    secrets
      .on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' })
      .resolves({ VersionId: OTHER_VERSION, SecretString: REVOKED_JSON, VersionStages: ['AWSCURRENT'] });
    secrets
      .on(GetSecretValueCommand, { VersionStage: 'AWSPREVIOUS' })
      .resolves({ VersionId: OLD_VERSION, SecretString: TOKEN_JSON, VersionStages: ['AWSPREVIOUS'] });
    secrets
      .on(GetSecretValueCommand, { VersionId: OLD_VERSION })
      .resolvesOnce({ VersionId: OLD_VERSION, SecretString: TOKEN_JSON, VersionStages: ['AWSPREVIOUS'] })
      .resolves({ VersionId: OLD_VERSION, SecretString: TOKEN_JSON, VersionStages: [] });
    secrets.on(UpdateSecretVersionStageCommand).resolves({});

    // Act
    const outcome = await revokeToken(target, 'github', { now: () => NOW });

    // Assess
    expect(outcome).toEqual({
      status: 'no-token',
      provider: 'github',
      secretId: 'tr/github/token',
      versionId: OTHER_VERSION,
      retiredVersionId: OLD_VERSION,
    });
    expect(secrets).toHaveReceivedCommandWith(UpdateSecretVersionStageCommand, {
      SecretId: 'tr/github/token',
      VersionStage: 'AWSPREVIOUS',
      RemoveFromVersionId: OLD_VERSION,
    });
    expect(secrets).toHaveReceivedCommandTimes(PutSecretValueCommand, 0);
    expect(describeRevoke(outcome).join('\n')).toContain(
      `removed the staging labels of version ${OLD_VERSION}, which still held a token as AWSPREVIOUS`,
    );
  });
});

describe('Function: describeRevoke', () => {
  it('warns that a permanent failure blocks the next scheduled run', () => {
    // Act
    const lines = describeRevoke({
      status: 'revoked',
      provider: 'crm',
      secretId: 'tr/crm/token',
      revokedAt: '2026-03-01T12:00:00.000Z',
      versionId: 'v2',
      previousVersionId: 'v1',
      previousVersionStages: [],
      revokedGeneration: 3,
      revokedExpiresAt: '2026-03-01T12:30:00.000Z',
      stateUpdated: true,
      state: {
        provider: 'crm',
        fence: 3,
        consecutiveFailures: 1,
        lastErrorCode: 'invalid_grant',
        lastErrorPermanent: true,
      },
    });

    // Assess
    expect(lines).toContain(
      '  WARNING: crm is blocked by a permanent failure (invalid_grant): no scheduled run refreshes it; fix the ' +
        'cause, then run token-refresher refresh crm',
    );
    expect(lines.join('\n')).not.toContain('next token: at the next scheduled run');
  });
});

/** The token item of `github` in the token table, as the DynamoDB token store writes it. */
const TOKEN_ITEM = {
  provider: { S: 'github' },
  accessToken: { S: ACCESS_TOKEN },
  tokenType: { S: 'Bearer' },
  expiresAt: { S: '2026-03-01T12:04:00.000Z' },
  issuedAt: { S: '2026-03-01T11:58:00.000Z' },
  generation: { N: '9' },
  versionId: { S: OLD_VERSION },
  fence: { N: '9' },
};

/** A local target whose configuration gives `github` the DynamoDB token store. */
const dynamodbTarget: Target = {
  ...target,
  tokenTableName: async () => 'tokens',
  config: () =>
    parseRefresherConfig({
      secretPrefix: 'tr',
      providers: [
        {
          name: 'github',
          grant: 'client_credentials',
          tokenUrl: 'https://idp.example.com/token',
          tokenStore: 'dynamodb',
        },
      ],
    }),
};

describe('Function: revokeToken, tokenStore "dynamodb" (issue 16, item 1)', () => {
  const secrets = mockClient(SecretsManagerClient);
  const dynamoDb = mockClient(DynamoDBClient);

  beforeEach(() => {
    secrets.reset();
    dynamoDb.reset();
    dynamoDb.on(UpdateItemCommand).resolves({});
    dynamoDb.on(GetItemCommand, { TableName: 'state' }).resolves({
      Item: { provider: { S: 'github' }, fence: { N: '9' } },
    });
    dynamoDb.on(DeleteItemCommand).resolves({});
  });

  it("deletes the provider's item conditional on the version read, then marks the state item; no secret is read", async () => {
    // Prepare
    dynamoDb.on(GetItemCommand, { TableName: 'tokens' }).resolves({ Item: TOKEN_ITEM });

    // Act
    const outcome = await revokeToken(dynamodbTarget, 'github', { now: () => NOW });

    // Assess
    expect(dynamoDb).toHaveReceivedCommandWith(GetItemCommand, {
      TableName: 'tokens',
      Key: { provider: { S: 'github' } },
      ConsistentRead: true,
    });
    expect(dynamoDb).toHaveReceivedCommandTimes(DeleteItemCommand, 1);
    expect(dynamoDb.commandCalls(DeleteItemCommand)[0]?.args[0].input).toEqual({
      TableName: 'tokens',
      Key: { provider: { S: 'github' } },
      ConditionExpression: 'versionId = :expected',
      ExpressionAttributeValues: { ':expected': { S: OLD_VERSION } },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
    expect(dynamoDb).toHaveReceivedCommandWith(UpdateItemCommand, {
      TableName: 'state',
      Key: { provider: { S: 'github' } },
      ExpressionAttributeValues: { ':now': { N: String(NOW) } },
    });
    expect(secrets.calls()).toHaveLength(0);
    expect(outcome).toEqual({
      status: 'revoked',
      store: 'dynamodb',
      provider: 'github',
      tableName: 'tokens',
      revokedAt: '2026-03-01T12:00:00.000Z',
      previousVersionId: OLD_VERSION,
      revokedGeneration: 9,
      revokedExpiresAt: '2026-03-01T12:04:00.000Z',
      stateUpdated: true,
      state: expect.objectContaining({ provider: 'github', fence: 9 }),
    });
    const text = describeRevoke(outcome).join('\n');
    expect(text).toContain(
      `token table tokens: deleted the item of github (version ${OLD_VERSION}); DynamoDB keeps no earlier version`,
    );
    expect(text).toContain('the dynamodb client source gets no token (token_not_ready)');
    expect(text).toContain("The table's point-in-time recovery keeps the old item for its recovery period");
    expect(text).not.toContain(ACCESS_TOKEN);
  });

  it('deletes an item no writer of ours made (no versionId) only while it still has none', async () => {
    // Prepare: an operator's put-item holding a valid token record.
    const { versionId: _, ...handMade } = TOKEN_ITEM;
    dynamoDb.on(GetItemCommand, { TableName: 'tokens' }).resolves({ Item: handMade });

    // Act
    await revokeToken(dynamodbTarget, 'github', { now: () => NOW });

    // Assess
    expect(dynamoDb.commandCalls(DeleteItemCommand)[0]?.args[0].input).toEqual({
      TableName: 'tokens',
      Key: { provider: { S: 'github' } },
      ConditionExpression: 'attribute_not_exists(versionId)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    });
  });

  it('fails with exit code 1 and touches no state when a refresh replaced the item meanwhile', async () => {
    // Prepare
    dynamoDb.on(GetItemCommand, { TableName: 'tokens' }).resolves({ Item: TOKEN_ITEM });
    dynamoDb.on(DeleteItemCommand).rejects(
      Object.assign(awsError('ConditionalCheckFailedException', 'The conditional request failed', 400), {
        Item: { ...TOKEN_ITEM, versionId: { S: OTHER_VERSION } },
      }),
    );

    // Act
    const error = await revokeToken(dynamodbTarget, 'github', { now: () => NOW }).catch(
      (caught: unknown) => caught,
    );

    // Assess
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ exitCode: 1 });
    expect((error as Error).message).toBe(
      `a refresh wrote a new token to token table tokens while revoking (the item of github moved from version ` +
        `${OLD_VERSION} to ${OTHER_VERSION}); nothing was revoked. Run token-refresher revoke github again to ` +
        'revoke the new token',
    );
    expect(dynamoDb).toHaveReceivedCommandTimes(UpdateItemCommand, 0);
  });

  it('deletes nothing when the table holds no token of the provider', async () => {
    // Prepare
    dynamoDb.on(GetItemCommand, { TableName: 'tokens' }).resolves({});

    // Act
    const outcome = await revokeToken(dynamodbTarget, 'github', { now: () => NOW });

    // Assess
    expect(outcome).toEqual({
      status: 'no-token',
      store: 'dynamodb',
      provider: 'github',
      tableName: 'tokens',
      versionId: 'none',
    });
    expect(dynamoDb).toHaveReceivedCommandTimes(DeleteItemCommand, 0);
    expect(dynamoDb).toHaveReceivedCommandTimes(UpdateItemCommand, 0);
    expect(describeRevoke(outcome)).toEqual([
      'nothing to revoke: token table tokens holds no token of github (no item, or revoked already; version none)',
    ]);
  });

  it('names the permissions when DeleteItem is denied', async () => {
    // Prepare
    dynamoDb.on(GetItemCommand, { TableName: 'tokens' }).resolves({ Item: TOKEN_ITEM });
    dynamoDb.on(DeleteItemCommand).rejects(awsError('AccessDeniedException', 'not authorized', 400));

    // Act
    const error = await revokeToken(dynamodbTarget, 'github', { now: () => NOW }).catch(
      (caught: unknown) => caught,
    );

    // Assess
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toBe(
      'access denied to token table tokens (DeleteItem): revoke needs dynamodb:GetItem and dynamodb:DeleteItem ' +
        "on it (the provider's item) and kms:Decrypt on its key",
    );
  });

  it('keeps the secret error of a configured Secrets Manager provider whose secret is missing', async () => {
    // Prepare: the configuration says the secret; the table is never consulted.
    secrets
      .on(GetSecretValueCommand)
      .rejects(
        awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", 400),
      );
    const secretTarget: Target = {
      ...dynamodbTarget,
      config: () =>
        parseRefresherConfig({
          secretPrefix: 'tr',
          providers: [
            { name: 'github', grant: 'client_credentials', tokenUrl: 'https://idp.example.com/token' },
          ],
        }),
    };

    // Act
    const error = await revokeToken(secretTarget, 'github', { now: () => NOW }).catch(
      (caught: unknown) => caught,
    );

    // Assess
    expect(error).toMatchObject({ code: 'secret_not_found' });
    expect(dynamoDb).toHaveReceivedCommandTimes(DeleteItemCommand, 0);
  });

  it('warns of a permanent failure of a DynamoDB provider, as for the secret', () => {
    // Act
    const lines = describeRevoke({
      status: 'revoked',
      store: 'dynamodb',
      provider: 'pager',
      tableName: 'tokens',
      revokedAt: '2026-03-01T12:00:00.000Z',
      previousVersionId: 'v1',
      revokedGeneration: 3,
      revokedExpiresAt: '2026-03-01T12:02:00.000Z',
      stateUpdated: true,
      state: {
        provider: 'pager',
        fence: 3,
        consecutiveFailures: 1,
        lastErrorCode: 'invalid_client',
        lastErrorPermanent: true,
      },
    });

    // Assess
    expect(lines).toContain(
      '  WARNING: pager is blocked by a permanent failure (invalid_client): no scheduled run refreshes it; fix the ' +
        'cause, then run token-refresher refresh pager',
    );
  });
});

describe('Command: revoke in AWS mode, a provider without a token secret (issue 16, item 1)', () => {
  const cloudFormation = mockClient(CloudFormationClient);
  const secrets = mockClient(SecretsManagerClient);
  const dynamoDb = mockClient(DynamoDBClient);
  const OUTPUTS = [
    { OutputKey: 'StateTableName', OutputValue: 'state' },
    { OutputKey: 'SecretPrefix', OutputValue: 'tr' },
    { OutputKey: 'ProviderNames', OutputValue: '["github"]' },
  ];

  async function cli(argv: string[]) {
    let stdout = '';
    let stderr = '';
    const code = await run(argv, {
      cwd: mkdtempSync(join(tmpdir(), 'cli-revoke-')),
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: {},
      clock: { now: () => NOW },
    });
    return { code, stdout, stderr };
  }

  function stackOutputs(outputs: { OutputKey: string; OutputValue: string }[]): void {
    cloudFormation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'TokenRefresher',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: outputs,
        },
      ],
    });
  }

  beforeEach(() => {
    cloudFormation.reset();
    secrets.reset();
    dynamoDb.reset();
    secrets
      .on(GetSecretValueCommand)
      .rejects(
        awsError('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", 400),
      );
    dynamoDb.on(GetItemCommand).resolves({ Item: TOKEN_ITEM });
    dynamoDb.on(GetItemCommand, { TableName: 'state' }).resolves({
      Item: { provider: { S: 'github' }, fence: { N: '9' } },
    });
    dynamoDb.on(DeleteItemCommand).resolves({});
    dynamoDb.on(UpdateItemCommand).resolves({});
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

  it('revokes in the token table of the stack output TokenTableName', async () => {
    // Prepare
    stackOutputs([...OUTPUTS, { OutputKey: 'TokenTableName', OutputValue: 'TokenRefresher-tokens' }]);

    // Act
    const result = await cli(['revoke', 'github', '--json']);

    // Assess
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      target: 'aws',
      status: 'revoked',
      store: 'dynamodb',
      tableName: 'TokenRefresher-tokens',
    });
    expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'tr/github/token' });
    expect(dynamoDb).toHaveReceivedCommandWith(DeleteItemCommand, {
      TableName: 'TokenRefresher-tokens',
      ConditionExpression: 'versionId = :expected',
    });
  });

  it('takes --token-table over the stack output', async () => {
    // Prepare
    stackOutputs([...OUTPUTS, { OutputKey: 'TokenTableName', OutputValue: 'TokenRefresher-tokens' }]);

    // Act
    const result = await cli(['revoke', 'github', '--token-table', 'other-tokens']);

    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('token table other-tokens: deleted the item of github');
    expect(dynamoDb).toHaveReceivedCommandWith(DeleteItemCommand, { TableName: 'other-tokens' });
  });

  it('fails naming --token-table and TokenTableName when no token table is known', async () => {
    // Prepare: a stack without the output (no provider had tokenStore "dynamodb" when it was deployed).
    stackOutputs(OUTPUTS);

    // Act
    const result = await cli(['revoke', 'github']);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')[1]).toBe(
      'token-refresher: token secret tr/github/token does not exist, and no DynamoDB token table is known (no ' +
        '--token-table, and the stack has no TokenTableName output): if github keeps its token in DynamoDB ' +
        '(tokenStore "dynamodb"), pass --token-table <name> (the stack output TokenTableName of the stack that ' +
        'has it); otherwise check --secret-prefix, --stack and --region',
    );
    expect(dynamoDb).toHaveReceivedCommandTimes(DeleteItemCommand, 0);
    expect(dynamoDb).toHaveReceivedCommandTimes(UpdateItemCommand, 0);
  });

  it('names --token-table when the stack lacks TokenTableName for a provider the configuration puts in DynamoDB', async () => {
    // Prepare
    stackOutputs(OUTPUTS);
    const configDir = mkdtempSync(join(tmpdir(), 'cli-revoke-config-'));
    const configFile = join(configDir, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        secretPrefix: 'tr',
        providers: [
          {
            name: 'github',
            grant: 'client_credentials',
            tokenUrl: 'https://idp.example.com/token',
            tokenStore: 'dynamodb',
          },
        ],
      }),
    );

    // Act
    const result = await cli(['revoke', 'github', '--config', configFile]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')[1]).toBe(
      'token-refresher: stack TokenRefresher has no TokenTableName output (it has one only when a deployed ' +
        'provider has tokenStore "dynamodb"): redeploy it (npx cdk deploy), or pass --token-table <name>',
    );
    expect(secrets.calls()).toHaveLength(0);
  });
});

describe('Option: --token-table', () => {
  it('is accepted by revoke only', () => {
    // Act
    const parsed = parseCommandLine(['revoke', 'github', '--token-table', 'tokens']);
    const refused = (() => {
      try {
        return parseCommandLine(['status', '--token-table', 'tokens']);
      } catch (error) {
        return error;
      }
    })();

    // Assess
    expect(parsed).toMatchObject({ kind: 'command', command: 'revoke', options: { tokenTable: 'tokens' } });
    expect(refused).toBeInstanceOf(UsageError);
    expect((refused as Error).message).toBe('--token-table does not apply to status');
  });
});
