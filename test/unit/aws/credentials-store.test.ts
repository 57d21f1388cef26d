import 'aws-sdk-client-mock-vitest/extend';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  RECOVERY_LOOKBACK_GENERATIONS,
  SecretsManagerCredentialsStore,
} from '../../../functions/aws/credentials-store.js';
import { clientRequestTokenFor } from '../../../functions/aws/secrets.js';
import { CredentialsError, StoreError } from '../../../functions/core/errors.js';
import { awsError } from './helpers.js';

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

  describe('Method: read, with recovery (a grant that rotates its refresh token)', () => {
    const CURRENT = { clientId: 'client-1', clientSecret: CLIENT_SECRET, refreshToken: REFRESH_TOKEN };
    const ROTATED = { ...CURRENT, refreshToken: 'rotated-refresh-token-4d5e6f' };
    /** The version id generation `fence`'s write from OLD_VERSION gets. */
    const writtenBy = (fence: number, from = OLD_VERSION) =>
      clientRequestTokenFor({ purpose: 'credentials', provider: 'acme', fence, expectedVersionId: from });
    const stage = (VersionStage: string) => ({ SecretId: SECRET_ID, VersionStage });
    /** AWSPENDING on `pendingVersion` (default value ROTATED), AWSCURRENT on OLD_VERSION (CURRENT). */
    const givenPendingAwayFromCurrent = (pendingVersion: string, pendingString = JSON.stringify(ROTATED)) =>
      secretsManager
        .on(GetSecretValueCommand, stage('AWSPENDING'))
        .resolves({ VersionId: pendingVersion, VersionStages: ['AWSPENDING'], SecretString: pendingString })
        .on(GetSecretValueCommand, stage('AWSCURRENT'))
        .resolves({
          VersionId: OLD_VERSION,
          VersionStages: ['AWSCURRENT'],
          SecretString: JSON.stringify(CURRENT),
        });

    it('reads AWSPENDING alone when it is also AWSCURRENT (every finished write leaves it so)', async () => {
      // Prepare
      secretsManager.on(GetSecretValueCommand).resolves({
        VersionId: OLD_VERSION,
        VersionStages: ['AWSCURRENT', 'AWSPENDING'],
        SecretString: JSON.stringify(CURRENT),
      });

      // Act
      const current = await store.read('acme', { fence: 12 });

      // Assess
      expect(current).toStrictEqual({ versionId: OLD_VERSION, credentials: CURRENT });
      expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, stage('AWSPENDING'));
      expect(secretsManager).toReceiveCommandTimes(GetSecretValueCommand, 1);
    });

    it('reads AWSCURRENT when no version holds AWSPENDING (seeded by the operator, never written)', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand, stage('AWSPENDING'))
        .rejects(new ResourceNotFoundException({ message: "can't find staging label", $metadata: {} }))
        .on(GetSecretValueCommand, stage('AWSCURRENT'))
        .resolves({
          VersionId: OLD_VERSION,
          VersionStages: ['AWSCURRENT'],
          SecretString: JSON.stringify(CURRENT),
        });

      // Act
      const current = await store.read('acme', { fence: 12 });

      // Assess
      expect(current).toStrictEqual({ versionId: OLD_VERSION, credentials: CURRENT });
      expect(secretsManager).not.toReceiveCommand(UpdateSecretVersionStageCommand);
    });

    it.each([1, 11, 5])(
      'finishes the write of generation %i (AWSPENDING holds its version from the current one) and returns it',
      async (fence) => {
        // Prepare
        givenPendingAwayFromCurrent(writtenBy(fence)).on(UpdateSecretVersionStageCommand).resolves({});

        // Act
        const current = await store.read('acme', { fence: 12 });

        // Assess
        expect(current).toStrictEqual({
          versionId: writtenBy(fence),
          credentials: ROTATED,
          recoveredGeneration: fence,
        });
        expect(secretsManager.commandCalls(UpdateSecretVersionStageCommand)[0]?.args[0].input).toStrictEqual({
          SecretId: SECRET_ID,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: writtenBy(fence),
          RemoveFromVersionId: OLD_VERSION,
        });
      },
    );

    it.each([
      ['an operator re-seeded the secret after our last write', '44444444-4444-4444-8444-444444444444', 12],
      ['the write started from another version (it lost its compare-and-swap)', writtenBy(11, 'another'), 12],
      ['the write is of this generation, not an earlier one', writtenBy(12), 12],
      [
        `the write is more than ${RECOVERY_LOOKBACK_GENERATIONS} generations old`,
        writtenBy(1),
        RECOVERY_LOOKBACK_GENERATIONS + 2,
      ],
    ] as const)('keeps AWSCURRENT and moves nothing when %s', async (_case, pendingVersion, fence) => {
      // Prepare
      givenPendingAwayFromCurrent(pendingVersion);

      // Act
      const current = await store.read('acme', { fence });

      // Assess
      expect(current).toStrictEqual({ versionId: OLD_VERSION, credentials: CURRENT });
      expect(secretsManager).not.toReceiveCommand(UpdateSecretVersionStageCommand);
    });

    it('keeps AWSCURRENT when the unfinished version does not hold usable credentials', async () => {
      // Prepare
      givenPendingAwayFromCurrent(writtenBy(11), 'not json');

      // Act
      const current = await store.read('acme', { fence: 12 });

      // Assess
      expect(current.versionId).toBe(OLD_VERSION);
      expect(secretsManager).not.toReceiveCommand(UpdateSecretVersionStageCommand);
    });

    it('throws a transient error (and uses neither version) when finishing the write fails', async () => {
      // Prepare
      givenPendingAwayFromCurrent(writtenBy(11))
        .on(UpdateSecretVersionStageCommand)
        .rejects(awsError('ThrottlingException', 'Rate exceeded', 400));

      // Act
      const error = await store.read('acme', { fence: 12 }).catch((caught: unknown) => caught);

      // Assess
      expect(error).toMatchObject({ code: 'secrets_manager_unavailable', kind: 'transient' });
      expect(JSON.stringify(error)).not.toContain(REFRESH_TOKEN);
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
  describe('Method: currentVersionId', () => {
    it('asks DescribeSecret (never GetSecretValue) and answers the version holding AWSCURRENT', async () => {
      // Prepare
      secretsManager.on(DescribeSecretCommand).resolves({
        VersionIdsToStages: { [OLD_VERSION]: ['AWSPREVIOUS'], 'version-2': ['AWSPENDING', 'AWSCURRENT'] },
      });

      // Act
      const current = await store.currentVersionId('acme');

      // Assess
      expect(current).toBe('version-2');
      expect(secretsManager).toReceiveCommandExactlyOnceWith(DescribeSecretCommand, { SecretId: SECRET_ID });
      expect(secretsManager).not.toReceiveCommand(GetSecretValueCommand);
    });

    it('describes the existing secret given by secretIdFor', async () => {
      // Prepare
      store = new SecretsManagerCredentialsStore({
        client: new SecretsManagerClient({ region: 'us-east-1' }),
        secretPrefix: 'token-refresher',
        secretIdFor: () => EXISTING_ARN,
      });
      secretsManager
        .on(DescribeSecretCommand)
        .resolves({ VersionIdsToStages: { [OLD_VERSION]: ['AWSCURRENT'] } });

      // Act
      await store.currentVersionId('acme');

      // Assess
      expect(secretsManager).toReceiveCommandWith(DescribeSecretCommand, { SecretId: EXISTING_ARN });
    });

    it('throws a permanent StoreError secret_not_found for a secret that does not exist', async () => {
      // Prepare
      secretsManager
        .on(DescribeSecretCommand)
        .rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));

      // Act
      const look = store.currentVersionId('acme');

      // Assess
      await expect(look).rejects.toBeInstanceOf(StoreError);
      await expect(look).rejects.toMatchObject({ code: 'secret_not_found', kind: 'permanent' });
    });

    it('throws a transient StoreError when no version holds AWSCURRENT', async () => {
      // Prepare
      secretsManager
        .on(DescribeSecretCommand)
        .resolves({ VersionIdsToStages: { [OLD_VERSION]: ['AWSPENDING'] } });

      // Act
      const look = store.currentVersionId('acme');

      // Assess
      await expect(look).rejects.toMatchObject({ code: 'secrets_manager_unavailable', kind: 'transient' });
    });
  });
});
