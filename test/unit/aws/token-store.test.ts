import 'aws-sdk-client-mock-vitest/extend';
import {
  GetSecretValueCommand,
  InvalidParameterException,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { clientRequestTokenFor } from '../../../functions/aws/secrets.js';
import { SecretsManagerTokenStore } from '../../../functions/aws/token-store.js';
import { StoreError, WriteConflictError } from '../../../functions/core/errors.js';
import type { TokenRecord } from '../../../functions/core/types.js';

const SECRET_ID = 'prod/tokens/acme/token';
const OLD_VERSION = '11111111-1111-4111-8111-111111111111';
const OTHER_VERSION = '33333333-3333-4333-8333-333333333333';

const TOKEN: TokenRecord = {
  provider: 'acme',
  accessToken: 'access-token-value-5e6f',
  tokenType: 'Bearer',
  expiresAt: '2030-01-01T01:00:00.000Z',
  issuedAt: '2030-01-01T00:00:00.000Z',
  scope: 'read write',
  generation: 4,
};

describe('Class: SecretsManagerTokenStore', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  let store: SecretsManagerTokenStore;

  beforeEach(() => {
    secretsManager.reset();
    store = new SecretsManagerTokenStore({
      client: new SecretsManagerClient({ region: 'us-east-1' }),
      secretPrefix: 'prod/tokens',
    });
  });

  describe('Method: readCurrent', () => {
    it('reads AWSCURRENT of <prefix>/<provider>/token and returns the token record', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OLD_VERSION, SecretString: JSON.stringify(TOKEN) });

      // Act
      const current = await store.readCurrent('acme');

      // Assess
      expect(current).toStrictEqual({ versionId: OLD_VERSION, token: TOKEN });
      expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, {
        SecretId: SECRET_ID,
        VersionStage: 'AWSCURRENT',
      });
    });

    it('returns token undefined with the version id when the secret holds the placeholder', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OLD_VERSION, SecretString: '{"status":"pending"}' });

      // Act
      const current = await store.readCurrent('acme');

      // Assess
      expect(current).toStrictEqual({ versionId: OLD_VERSION, token: undefined });
    });

    it.each([
      ['not JSON', 'not json'],
      ['an accessToken missing', JSON.stringify({ ...TOKEN, accessToken: undefined })],
      ['an expiresAt that is not ISO-8601', JSON.stringify({ ...TOKEN, expiresAt: 'tomorrow' })],
      ['a generation that is not an integer', JSON.stringify({ ...TOKEN, generation: '4' })],
      ['the record of another provider', JSON.stringify({ ...TOKEN, provider: 'other' })],
    ])('returns token undefined when the secret holds %s', async (_case, secretString) => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OLD_VERSION, SecretString: secretString });

      // Act
      const current = await store.readCurrent('acme');

      // Assess
      expect(current).toStrictEqual({ versionId: OLD_VERSION, token: undefined });
    });

    it('returns a record without scope when the secret has none', async () => {
      // Prepare
      const { scope: _scope, ...withoutScope } = TOKEN;
      secretsManager
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OLD_VERSION, SecretString: JSON.stringify(withoutScope) });

      // Act
      const current = await store.readCurrent('acme');

      // Assess
      expect(current.token).toStrictEqual(withoutScope);
    });

    it('throws a permanent StoreError secret_not_found when the secret does not exist', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));

      // Act
      const error = await store.readCurrent('acme').catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'secret_not_found', kind: 'permanent' });
      expect((error as StoreError).message).toContain(SECRET_ID);
    });
  });

  describe('Method: write', () => {
    it('writes the token JSON with compare-and-swap and returns the new version id', async () => {
      // Prepare
      const token = clientRequestTokenFor({
        purpose: 'token',
        provider: 'acme',
        fence: 4,
        expectedVersionId: OLD_VERSION,
      });
      secretsManager
        .on(PutSecretValueCommand)
        .resolves({ VersionId: token, VersionStages: ['AWSPENDING'] })
        .on(UpdateSecretVersionStageCommand)
        .resolves({});

      // Act
      const versionId = await store.write({
        provider: 'acme',
        fence: 4,
        token: TOKEN,
        expectedVersionId: OLD_VERSION,
      });

      // Assess
      expect(versionId).toBe(token);
      expect(secretsManager.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toStrictEqual({
        SecretId: SECRET_ID,
        SecretString: JSON.stringify(TOKEN),
        VersionStages: ['AWSPENDING'],
        ClientRequestToken: token,
      });
      expect(secretsManager.commandCalls(UpdateSecretVersionStageCommand)[0]?.args[0].input).toStrictEqual({
        SecretId: SECRET_ID,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: token,
        RemoveFromVersionId: OLD_VERSION,
      });
    });

    it('sends the same ClientRequestToken for a retry of the same write and another one for the next fence', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .callsFake((input: { ClientRequestToken: string }) => ({
          VersionId: input.ClientRequestToken,
          VersionStages: ['AWSPENDING'],
        }))
        .on(UpdateSecretVersionStageCommand)
        .resolves({});
      const write = { provider: 'acme', token: TOKEN, expectedVersionId: OLD_VERSION };

      // Act
      const first = await store.write({ ...write, fence: 4 });
      const retry = await store.write({ ...write, fence: 4 });
      const next = await store.write({ ...write, fence: 5 });

      // Assess
      expect(retry).toBe(first);
      expect(next).not.toBe(first);
    });

    it('throws WriteConflictError when AWSCURRENT moved meanwhile', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .callsFake((input: { ClientRequestToken: string }) => ({
          VersionId: input.ClientRequestToken,
          VersionStages: ['AWSPENDING'],
        }))
        .on(UpdateSecretVersionStageCommand)
        .rejects(new InvalidParameterException({ message: 'stage not found', $metadata: {} }))
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OTHER_VERSION, SecretString: JSON.stringify(TOKEN) });

      // Act
      const error = await store
        .write({ provider: 'acme', fence: 4, token: TOKEN, expectedVersionId: OLD_VERSION })
        .catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(WriteConflictError);
      expect((error as WriteConflictError).message).not.toContain(TOKEN.accessToken);
    });
  });
});
