/**
 * `revoke` with mocked clients: the exact compare-and-swap it sends, the state update, and what it
 * does when a refresh wrote a new token in between.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { CliError } from '../../../functions/cli/errors.js';
import { describeRevoke, revokeToken } from '../../../functions/cli/revoke.js';
import type { Target } from '../../../functions/cli/target.js';

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
