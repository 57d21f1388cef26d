import 'aws-sdk-client-mock-vitest/extend';
import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { SecretsManagerCredentialsStore } from '../../../functions/aws/credentials-store.js';
import { clientRequestTokenFor } from '../../../functions/aws/secrets.js';
import { CredentialsError, StoreError } from '../../../functions/core/errors.js';

const SECRET_ID = 'token-refresher/acme/credentials';
const EXISTING_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:acme-oauth-AbCdEf';
const OLD_VERSION = '11111111-1111-4111-8111-111111111111';
const CLIENT_SECRET = 'client-secret-value-9f8e7d';
const REFRESH_TOKEN = 'refresh-token-value-1a2b3c';

describe('Class: SecretsManagerCredentialsStore', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  let store: SecretsManagerCredentialsStore;

  beforeEach(() => {
    secretsManager.reset();
    store = new SecretsManagerCredentialsStore({
      client: new SecretsManagerClient({ region: 'us-east-1' }),
      secretPrefix: 'token-refresher',
    });
  });

  describe('Method: read', () => {
    it('reads AWSCURRENT of <prefix>/<provider>/credentials and returns the credentials', async () => {
      // Prepare
      const credentials = { clientId: 'client-1', clientSecret: CLIENT_SECRET, audience: 'api' };
      secretsManager
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OLD_VERSION, SecretString: JSON.stringify(credentials) });

      // Act
      const current = await store.read('acme');

      // Assess
      expect(current).toStrictEqual({ versionId: OLD_VERSION, credentials });
      expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, {
        SecretId: SECRET_ID,
        VersionStage: 'AWSCURRENT',
      });
    });

    it('reads the secret given by secretIdFor when a provider uses an existing secret', async () => {
      // Prepare
      store = new SecretsManagerCredentialsStore({
        client: new SecretsManagerClient({ region: 'us-east-1' }),
        secretPrefix: 'token-refresher',
        secretIdFor: (provider) =>
          provider === 'acme' ? EXISTING_ARN : `token-refresher/${provider}/credentials`,
      });
      secretsManager
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OLD_VERSION, SecretString: '{"clientId":"client-1"}' });

      // Act
      await store.read('acme');

      // Assess
      expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, {
        SecretId: EXISTING_ARN,
        VersionStage: 'AWSCURRENT',
      });
    });

    it.each([
      ['the placeholder', '{"status":"pending"}'],
      ['an empty object', '{}'],
      ['a string that is not JSON', `${CLIENT_SECRET}`],
      ['JSON that is not an object', `["${CLIENT_SECRET}"]`],
      ['JSON null', 'null'],
      ['a field that is not a string', `{"clientId":"client-1","clientSecret":{"v":"${CLIENT_SECRET}"}}`],
    ])(
      'throws CredentialsError credentials_not_set when the secret holds %s',
      async (_case, secretString) => {
        // Prepare
        secretsManager
          .on(GetSecretValueCommand)
          .resolves({ VersionId: OLD_VERSION, SecretString: secretString });

        // Act
        const error = await store.read('acme').catch((caught: unknown) => caught);

        // Assess
        expect(error).toBeInstanceOf(CredentialsError);
        expect(error).toMatchObject({ code: 'credentials_not_set', kind: 'permanent' });
        const { message } = error as CredentialsError;
        expect(message).toContain(SECRET_ID);
        expect(message).toContain('{"clientId":"...","clientSecret":"..."}');
        expect(message).not.toContain(CLIENT_SECRET);
      },
    );

    it('names the fields that are not strings, without their values', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OLD_VERSION, SecretString: '{"clientId":"client-1","port":8443}' });

      // Act
      const error = await store.read('acme').catch((caught: unknown) => caught);

      // Assess
      expect((error as CredentialsError).message).toContain('"port"');
      expect((error as CredentialsError).message).not.toContain('8443');
    });

    it('throws a permanent StoreError secret_not_found when the secret does not exist', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));

      // Act
      const error = await store.read('acme').catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'secret_not_found', kind: 'permanent' });
    });
  });

  describe('Method: write', () => {
    it('writes the credentials with compare-and-swap from the version read before', async () => {
      // Prepare
      const token = clientRequestTokenFor({
        purpose: 'credentials',
        provider: 'acme',
        fence: 9,
        expectedVersionId: OLD_VERSION,
      });
      const credentials = { clientId: 'client-1', clientSecret: CLIENT_SECRET, refreshToken: REFRESH_TOKEN };
      secretsManager
        .on(PutSecretValueCommand)
        .resolves({ VersionId: token, VersionStages: ['AWSPENDING'] })
        .on(UpdateSecretVersionStageCommand)
        .resolves({});

      // Act
      const versionId = await store.write({
        provider: 'acme',
        fence: 9,
        credentials,
        expectedVersionId: OLD_VERSION,
      });

      // Assess
      expect(versionId).toBe(token);
      expect(secretsManager.commandCalls(PutSecretValueCommand)[0]?.args[0].input).toStrictEqual({
        SecretId: SECRET_ID,
        SecretString: JSON.stringify(credentials),
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

    it('uses a ClientRequestToken distinct from the token write of the same fence', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .resolves({ VersionId: 'v', VersionStages: ['AWSPENDING'] })
        .on(UpdateSecretVersionStageCommand)
        .resolves({});

      // Act
      await store.write({
        provider: 'acme',
        fence: 9,
        credentials: { clientId: 'client-1' },
        expectedVersionId: OLD_VERSION,
      });

      // Assess
      const sent = secretsManager.commandCalls(PutSecretValueCommand)[0]?.args[0].input.ClientRequestToken;
      expect(sent).not.toBe(
        clientRequestTokenFor({
          purpose: 'token',
          provider: 'acme',
          fence: 9,
          expectedVersionId: OLD_VERSION,
        }),
      );
    });
  });
});
