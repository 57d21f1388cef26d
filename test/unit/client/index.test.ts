import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type CreateTokenClientOptions,
  createTokenClient,
  TokenClient,
} from '../../../functions/client/index.js';
import { FakeClock, HOUR, T0 } from './fakes.js';

const RECORD = {
  provider: 'github',
  accessToken: 'index-access-token-3e3e',
  tokenType: 'Bearer',
  expiresAt: new Date(T0 + HOUR).toISOString(),
  issuedAt: new Date(T0).toISOString(),
  generation: 1,
};

describe('Function: createTokenClient', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  let clock: FakeClock;

  beforeEach(() => {
    secretsManager.reset();
    clock = new FakeClock();
  });

  it('with source dynamodb reads the token item through the lazily loaded source', async () => {
    // Prepare
    const dynamodb = mockClient(DynamoDBClient);
    dynamodb.on(GetItemCommand).resolves({
      Item: {
        provider: { S: 'github' },
        accessToken: { S: RECORD.accessToken },
        tokenType: { S: 'Bearer' },
        expiresAt: { S: RECORD.expiresAt },
      },
    });
    const client = createTokenClient({
      source: 'dynamodb',
      tableName: 'prod-tokens',
      client: new DynamoDBClient({ region: 'us-east-1' }),
      clock,
    });

    // Act
    const token = await client.getToken('github');

    // Assess
    expect(token.accessToken).toBe(RECORD.accessToken);
    expect(dynamodb).toReceiveCommandTimes(GetItemCommand, 1);
    dynamodb.restore();
  });

  it('with source secrets-manager reads the token secret through the lazily loaded source', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(RECORD) });
    const client = createTokenClient({
      source: 'secrets-manager',
      secretPrefix: 'prod',
      client: new SecretsManagerClient({ region: 'us-east-1' }),
      clock,
    });

    // Act
    const tokens = await Promise.all([client.getToken('github'), client.getToken('github')]);

    // Assess
    expect(client).toBeInstanceOf(TokenClient);
    expect(tokens[0]?.accessToken).toBe('index-access-token-3e3e');
    expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, {
      SecretId: 'prod/github/token',
      VersionStage: 'AWSCURRENT',
    });
  });

  it('with source secrets-manager sends GetSecretValue without the SDK by default', async () => {
    // Prepare
    const fetch = vi.fn(async () => new Response(JSON.stringify({ SecretString: JSON.stringify(RECORD) })));
    const client = createTokenClient({
      source: 'secrets-manager',
      secretPrefix: 'prod',
      clientConfig: { region: 'eu-west-1', credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' } },
      fetch,
      clock,
    });

    // Act
    const token = await client.getToken('github');

    // Assess
    expect(token.accessToken).toBe('index-access-token-3e3e');
    expect(fetch).toHaveBeenCalledExactlyOnceWith(
      new URL('https://secretsmanager.eu-west-1.amazonaws.com/'),
      expect.objectContaining({
        method: 'POST',
        body: '{"SecretId":"prod/github/token","VersionStage":"AWSCURRENT"}',
      }),
    );
    expect(secretsManager).toReceiveCommandTimes(GetSecretValueCommand, 0);
  });

  it('with source read-function GETs the token from the URL', async () => {
    // Prepare
    const fetch = vi.fn(async () => new Response(JSON.stringify({ ...RECORD, expiresIn: 3600 })));
    const client = createTokenClient({
      source: 'read-function',
      url: 'https://abc123.lambda-url.eu-west-1.on.aws/',
      functionName: 'stack-ReadFunction-AbC123',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
      fetch,
      clock,
    });

    // Act
    const token = await client.getToken('github');

    // Assess
    expect(token.accessToken).toBe('index-access-token-3e3e');
    expect(fetch).toHaveBeenCalledExactlyOnceWith(
      new URL('https://abc123.lambda-url.eu-west-1.on.aws/tokens/github'),
      expect.objectContaining({ method: 'GET' }),
    );
  });

  it.each([
    [
      'an unknown source',
      { source: 'ssm' },
      'source must be "secrets-manager", "read-function" or "dynamodb"',
    ],
    ['dynamodb without tableName', { source: 'dynamodb' }, "tableName must be the token table's name"],
    ['no source', {}, 'source must be'],
    ['read-function without url', { source: 'read-function' }, 'url must be the read function URL'],
    [
      'secrets-manager with a prefix ending in "/"',
      { source: 'secrets-manager', secretPrefix: 'x/' },
      'secretPrefix',
    ],
    ['a negative margin', { source: 'secrets-manager', marginMs: -1 }, 'marginMs'],
    [
      'secrets-manager with an unknown transport',
      { source: 'secrets-manager', transport: 'http' },
      'transport must be "fetch" or "sdk"',
    ],
    [
      'secrets-manager with transport fetch and an SDK client',
      { source: 'secrets-manager', transport: 'fetch', client: { send: () => undefined } },
      'transport "fetch" cannot be used: a client is given',
    ],
  ])('refuses %s at once, with invalid_options', (_case, options, fragment) => {
    // Act
    const creating = () => createTokenClient(options as unknown as CreateTokenClientOptions);

    // Assess
    expect(creating).toThrow(
      expect.objectContaining({ code: 'invalid_options', message: expect.stringContaining(fragment) }),
    );
  });
});
