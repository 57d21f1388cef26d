import 'aws-sdk-client-mock-vitest/extend';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createSecretsManagerTokenClient,
  parseTokenSecret,
  TokenClientError,
  translateSecretsManagerError,
} from '../../../functions/client/secrets-manager.js';
import { awsError } from '../aws/helpers.js';
import { FakeClock, HOUR, T0 } from './fakes.js';

const SECRET_ID = 'token-refresher/github/token';
const ACCESS_TOKEN = 'gho_secret-access-token-4b1d';

/** The token secret's JSON as the refresher writes it. */
function record(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    provider: 'github',
    accessToken: ACCESS_TOKEN,
    tokenType: 'Bearer',
    expiresAt: new Date(T0 + HOUR).toISOString(),
    issuedAt: new Date(T0).toISOString(),
    scope: 'repo',
    generation: 3,
    ...overrides,
  };
}

describe('Function: createSecretsManagerTokenClient', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  let clock: FakeClock;

  beforeEach(() => {
    secretsManager.reset();
    clock = new FakeClock();
  });

  const build = (options: { secretPrefix?: string } = {}) =>
    createSecretsManagerTokenClient({
      client: new SecretsManagerClient({ region: 'us-east-1' }),
      clock,
      ...options,
    });

  it('reads AWSCURRENT of token-refresher/<provider>/token once for 1,000 getToken calls', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(record()) });
    const client = build();

    // Act
    const tokens = await Promise.all(Array.from({ length: 1_000 }, () => client.getToken('github')));

    // Assess
    expect(tokens[999]).toStrictEqual({
      provider: 'github',
      accessToken: ACCESS_TOKEN,
      tokenType: 'Bearer',
      expiresAt: '2030-01-01T01:00:00.000Z',
    });
    expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, {
      SecretId: SECRET_ID,
      VersionStage: 'AWSCURRENT',
    });
    expect(secretsManager).toReceiveCommandTimes(GetSecretValueCommand, 1);
  });

  it('reads <secretPrefix>/<provider>/token when a prefix is given', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(record()) });

    // Act
    await build({ secretPrefix: 'prod/tokens' }).getToken('github');

    // Assess
    expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, {
      SecretId: 'prod/tokens/github/token',
      VersionStage: 'AWSCURRENT',
    });
  });

  it('answers token_not_ready while the secret holds the placeholder', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: '{"status":"pending"}' });

    // Act
    const reading = build().getToken('github');

    // Assess
    await expect(reading).rejects.toMatchObject({
      name: 'TokenClientError',
      code: 'token_not_ready',
      message: expect.stringContaining(`"${SECRET_ID}"`),
    });
  });

  it('answers token_expired for a stored token that has expired', async () => {
    // Prepare
    secretsManager
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify(record({ expiresAt: new Date(T0 - 1).toISOString() })) });

    // Act
    const reading = build().getToken('github');

    // Assess
    await expect(reading).rejects.toMatchObject({ code: 'token_expired' });
  });

  it('with a 401 reads the secret again, bypassing the cache, and retries with the newer token', async () => {
    // Prepare
    const newer = record({ accessToken: 'gho_newer-token-77aa', generation: 4 });
    secretsManager
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify(record()) })
      .resolvesOnce({ SecretString: JSON.stringify(newer) });
    const client = build();
    const seen: string[] = [];

    // Act
    const result = await client.withToken('github', async (t) => {
      seen.push(t.accessToken);
      return { status: t.accessToken === ACCESS_TOKEN ? 401 : 200 };
    });

    // Assess
    expect(result).toStrictEqual({ status: 200 });
    expect(seen).toStrictEqual([ACCESS_TOKEN, 'gho_newer-token-77aa']);
    expect(secretsManager).toReceiveCommandTimes(GetSecretValueCommand, 2);
    expect(secretsManager).toReceiveNthCommandWith(GetSecretValueCommand, 2, {
      SecretId: SECRET_ID,
      VersionStage: 'AWSCURRENT',
    });
  });

  it('with a 401 returns it without a retry when the secret still holds the refused token', async () => {
    // Prepare
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(record()) });
    const client = build();
    let calls = 0;

    // Act
    const result = await client.withToken('github', async () => {
      calls += 1;
      return { status: 401 };
    });

    // Assess
    expect(result).toStrictEqual({ status: 401 });
    expect(calls).toBe(1);
    expect(secretsManager).toReceiveCommandTimes(GetSecretValueCommand, 2);
  });

  it.each([[''], ['prefix/']])('refuses secretPrefix %j with invalid_options', (secretPrefix) => {
    // Act
    const creating = () => build({ secretPrefix });

    // Assess
    expect(creating).toThrow(expect.objectContaining({ code: 'invalid_options' }));
  });
});

describe('Function: parseTokenSecret', () => {
  it('returns provider, accessToken, tokenType and expiresAt of a token record', () => {
    // Act
    const token = parseTokenSecret('github', JSON.stringify(record()), SECRET_ID);

    // Assess
    expect(token).toStrictEqual({
      provider: 'github',
      accessToken: ACCESS_TOKEN,
      tokenType: 'Bearer',
      expiresAt: '2030-01-01T01:00:00.000Z',
    });
    expect(Object.isFrozen(token)).toBe(true);
  });

  it.each([
    ['no SecretString (a binary secret)', undefined, 'invalid_token_record', 'has no SecretString'],
    ['a string that is not JSON', `not json ${ACCESS_TOKEN}`, 'invalid_token_record', 'does not hold JSON'],
    ['a JSON array', '[]', 'invalid_token_record', 'is not a JSON object'],
    ['the placeholder', '{"status":"pending"}', 'token_not_ready', 'holds no token yet'],
    [
      'no accessToken',
      JSON.stringify(record({ accessToken: undefined })),
      'invalid_token_record',
      '"accessToken" must be a non-empty string',
    ],
    [
      'an empty tokenType',
      JSON.stringify(record({ tokenType: '' })),
      'invalid_token_record',
      '"tokenType" must be a non-empty string',
    ],
    [
      'an expiresAt without offset',
      JSON.stringify(record({ expiresAt: '2030-01-01T01:00:00' })),
      'invalid_token_record',
      '"expiresAt" must be an ISO-8601 date-time',
    ],
    [
      'an expiresAt in epoch seconds',
      JSON.stringify(record({ expiresAt: 1_893_459_600 })),
      'invalid_token_record',
      '"expiresAt" must be an ISO-8601 date-time',
    ],
    [
      'no provider',
      JSON.stringify(record({ provider: undefined })),
      'invalid_token_record',
      '"provider" must be a non-empty string',
    ],
    [
      'the record of another provider',
      JSON.stringify(record({ provider: 'gitlab' })),
      'provider_mismatch',
      'holds the token of provider "gitlab", not "github"',
    ],
  ])('refuses %s and never quotes the token', (_case, secretString, code, fragment) => {
    // Act
    const parsing = () => parseTokenSecret('github', secretString, SECRET_ID);

    // Assess
    expect(parsing).toThrow(TokenClientError);
    expect(parsing).toThrow(expect.objectContaining({ code, message: expect.stringContaining(fragment) }));
    expect(parsing).not.toThrow(expect.objectContaining({ message: expect.stringContaining(ACCESS_TOKEN) }));
  });
});

describe('Function: translateSecretsManagerError', () => {
  it.each([
    [
      'ResourceNotFoundException',
      'secret_not_found',
      new ResourceNotFoundException({ message: 'not found', $metadata: {} }),
    ],
    ['AccessDeniedException', 'access_denied', awsError('AccessDeniedException', 'denied', 400)],
    ['DecryptionFailure', 'access_denied', awsError('DecryptionFailure', 'kms', 400)],
    ['ThrottlingException', 'read_failed', awsError('ThrottlingException', 'slow down', 400)],
    ['InternalServiceError', 'read_failed', awsError('InternalServiceError', 'oops', 500)],
    ['a network error', 'read_failed', new Error('connect ECONNREFUSED')],
  ])('translates %s into %s, keeping it as the cause', (_case, code, sdkError) => {
    // Act
    const error = translateSecretsManagerError(sdkError, SECRET_ID);

    // Assess
    expect(error).toMatchObject({ name: 'TokenClientError', code, cause: sdkError });
    expect(error.message).toContain(SECRET_ID);
    expect(JSON.stringify(error)).not.toContain('cause');
  });
});
