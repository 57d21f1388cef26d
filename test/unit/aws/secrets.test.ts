import 'aws-sdk-client-mock-vitest/extend';
import {
  GetSecretValueCommand,
  InvalidParameterException,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { clientRequestTokenFor, JsonSecrets } from '../../../functions/aws/secrets.js';
import { StoreError, WriteConflictError } from '../../../functions/core/errors.js';
import { awsError } from './helpers.js';

const SECRET_ID = 'token-refresher/acme/token';
const OLD_VERSION = '11111111-1111-4111-8111-111111111111';
const NEW_VERSION = '22222222-2222-8222-a222-222222222222';
const OTHER_VERSION = '33333333-3333-4333-8333-333333333333';

describe('Class: JsonSecrets', () => {
  const secretsManager = mockClient(SecretsManagerClient);
  let secrets: JsonSecrets;

  beforeEach(() => {
    secretsManager.reset();
    secrets = new JsonSecrets({ client: new SecretsManagerClient({ region: 'us-east-1' }) });
  });

  describe('Method: readCurrent', () => {
    it('reads the AWSCURRENT stage explicitly and parses the JSON', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OLD_VERSION, SecretString: '{"status":"pending"}' });

      // Act
      const current = await secrets.readCurrent(SECRET_ID);

      // Assess
      expect(current).toStrictEqual({ versionId: OLD_VERSION, value: { status: 'pending' } });
      expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, {
        SecretId: SECRET_ID,
        VersionStage: 'AWSCURRENT',
      });
      expect(secretsManager.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toStrictEqual({
        SecretId: SECRET_ID,
        VersionStage: 'AWSCURRENT',
      });
    });

    it('returns value undefined when the secret string is not JSON', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OLD_VERSION, SecretString: 'p4ssw0rd!' });

      // Act
      const current = await secrets.readCurrent(SECRET_ID);

      // Assess
      expect(current).toStrictEqual({ versionId: OLD_VERSION, value: undefined });
    });

    it('throws a permanent StoreError secret_not_found naming the secret when it does not exist', async () => {
      // Prepare
      secretsManager.on(GetSecretValueCommand).rejects(
        new ResourceNotFoundException({
          message: "Secrets Manager can't find the specified secret.",
          $metadata: {},
        }),
      );

      // Act
      const error = await secrets.readCurrent(SECRET_ID).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'secret_not_found', kind: 'permanent' });
      expect((error as StoreError).message).toContain(SECRET_ID);
      expect((error as StoreError).cause).toBeInstanceOf(ResourceNotFoundException);
    });

    it('throws a transient StoreError secrets_manager_unavailable when throttled', async () => {
      // Prepare
      secretsManager.on(GetSecretValueCommand).rejects(awsError('ThrottlingException', 'Rate exceeded', 400));

      // Act
      const error = await secrets.readCurrent(SECRET_ID).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'secrets_manager_unavailable', kind: 'transient' });
    });

    it('throws a transient StoreError when the service fails with a 5xx', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .rejects(awsError('InternalServiceError', 'Internal error', 500));

      // Act
      const error = await secrets.readCurrent(SECRET_ID).catch((caught: unknown) => caught);

      // Assess
      expect(error).toMatchObject({ code: 'secrets_manager_unavailable', kind: 'transient' });
    });

    it('throws a transient StoreError when the network fails', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .rejects(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' }));

      // Act
      const error = await secrets.readCurrent(SECRET_ID).catch((caught: unknown) => caught);

      // Assess
      expect(error).toMatchObject({ code: 'secrets_manager_unavailable', kind: 'transient' });
    });

    it('throws a permanent StoreError when access is denied', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .rejects(awsError('AccessDeniedException', 'not authorized', 400));

      // Act
      const error = await secrets.readCurrent(SECRET_ID).catch((caught: unknown) => caught);

      // Assess
      expect(error).toMatchObject({ code: 'secrets_manager_access_denied', kind: 'permanent' });
    });
  });

  describe('Method: compareAndSwap', () => {
    const input = {
      secretId: SECRET_ID,
      value: { provider: 'acme', accessToken: 'at-1' },
      clientRequestToken: NEW_VERSION,
      expectedVersionId: OLD_VERSION,
    };

    it('puts an AWSPENDING version with the token, then moves AWSCURRENT from the expected version', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .resolves({ VersionId: NEW_VERSION, VersionStages: ['AWSPENDING'] })
        .on(UpdateSecretVersionStageCommand)
        .resolves({});

      // Act
      const versionId = await secrets.compareAndSwap(input);

      // Assess
      expect(versionId).toBe(NEW_VERSION);
      expect(secretsManager).toReceiveCommandExactlyOnceWith(PutSecretValueCommand, {
        SecretId: SECRET_ID,
        SecretString: '{"provider":"acme","accessToken":"at-1"}',
        VersionStages: ['AWSPENDING'],
        ClientRequestToken: NEW_VERSION,
      });
      expect(secretsManager).toReceiveCommandExactlyOnceWith(UpdateSecretVersionStageCommand, {
        SecretId: SECRET_ID,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: NEW_VERSION,
        RemoveFromVersionId: OLD_VERSION,
      });
      expect(secretsManager.commandCalls(UpdateSecretVersionStageCommand)[0]?.args[0].input).toStrictEqual({
        SecretId: SECRET_ID,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: NEW_VERSION,
        RemoveFromVersionId: OLD_VERSION,
      });
      expect(secretsManager).not.toReceiveCommand(GetSecretValueCommand);
    });

    it('omits RemoveFromVersionId when there is no expected version (first write)', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .resolves({ VersionId: NEW_VERSION, VersionStages: ['AWSPENDING'] })
        .on(UpdateSecretVersionStageCommand)
        .resolves({});

      // Act
      await secrets.compareAndSwap({ ...input, expectedVersionId: undefined });

      // Assess
      expect(secretsManager.commandCalls(UpdateSecretVersionStageCommand)[0]?.args[0].input).toStrictEqual({
        SecretId: SECRET_ID,
        VersionStage: 'AWSCURRENT',
        MoveToVersionId: NEW_VERSION,
      });
    });

    it('skips the move when the new version is already AWSCURRENT (first version, or a completed retry)', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .resolves({ VersionId: NEW_VERSION, VersionStages: ['AWSPENDING', 'AWSCURRENT'] });

      // Act
      const versionId = await secrets.compareAndSwap({ ...input, expectedVersionId: undefined });

      // Assess
      expect(versionId).toBe(NEW_VERSION);
      expect(secretsManager).not.toReceiveCommand(UpdateSecretVersionStageCommand);
    });

    it('throws WriteConflictError when AWSCURRENT moved to another version meanwhile', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .resolves({ VersionId: NEW_VERSION, VersionStages: ['AWSPENDING'] })
        .on(UpdateSecretVersionStageCommand)
        .rejects(
          new InvalidParameterException({
            message: `Version stage AWSCURRENT not found in version ${OLD_VERSION}`,
            $metadata: {},
          }),
        )
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OTHER_VERSION, SecretString: '{}' });

      // Act
      const error = await secrets.compareAndSwap(input).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(WriteConflictError);
      expect(error).toMatchObject({ code: 'write_conflict', kind: 'transient' });
      expect((error as WriteConflictError).message).toContain(OTHER_VERSION);
      expect((error as WriteConflictError).message).not.toContain('at-1');
      expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, {
        SecretId: SECRET_ID,
        VersionStage: 'AWSCURRENT',
      });
    });

    it('throws WriteConflictError when a first write finds AWSCURRENT already on another version', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .resolves({ VersionId: NEW_VERSION, VersionStages: ['AWSPENDING'] })
        .on(UpdateSecretVersionStageCommand)
        .rejects(
          new InvalidParameterException({
            message: "The parameter RemoveFromVersionId can't be empty.",
            $metadata: {},
          }),
        )
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OTHER_VERSION, SecretString: '{}' });

      // Act
      const error = await secrets
        .compareAndSwap({ ...input, expectedVersionId: undefined })
        .catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(WriteConflictError);
    });

    it('succeeds when the move is rejected because an earlier attempt of it already succeeded', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .resolves({ VersionId: NEW_VERSION, VersionStages: ['AWSPENDING'] })
        .on(UpdateSecretVersionStageCommand)
        .rejects(new InvalidParameterException({ message: 'not attached', $metadata: {} }))
        .on(GetSecretValueCommand)
        .resolves({ VersionId: NEW_VERSION, SecretString: '{}' });

      // Act
      const versionId = await secrets.compareAndSwap(input);

      // Assess
      expect(versionId).toBe(NEW_VERSION);
    });

    it('throws a permanent StoreError when the move is rejected although the label did not move', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .resolves({ VersionId: NEW_VERSION, VersionStages: ['AWSPENDING'] })
        .on(UpdateSecretVersionStageCommand)
        .rejects(new InvalidParameterException({ message: 'Not a valid version', $metadata: {} }))
        .on(GetSecretValueCommand)
        .resolves({ VersionId: OLD_VERSION, SecretString: '{}' });

      // Act
      const error = await secrets.compareAndSwap(input).catch((caught: unknown) => caught);

      // Assess
      expect(error).not.toBeInstanceOf(WriteConflictError);
      expect(error).toMatchObject({ code: 'secrets_manager_invalid_request', kind: 'permanent' });
    });

    it('throws WriteConflictError when the token was already used for a different value', async () => {
      // Prepare
      secretsManager.on(PutSecretValueCommand).rejects(
        new ResourceExistsException({
          message: `You can't use ClientRequestToken ${NEW_VERSION} because that value is already in use`,
          $metadata: {},
        }),
      );

      // Act
      const error = await secrets.compareAndSwap(input).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(WriteConflictError);
      expect(secretsManager).not.toReceiveCommand(UpdateSecretVersionStageCommand);
    });

    it('throws a permanent StoreError secret_not_found when the secret does not exist', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));

      // Act
      const error = await secrets.compareAndSwap(input).catch((caught: unknown) => caught);

      // Assess
      expect(error).toMatchObject({ code: 'secret_not_found', kind: 'permanent' });
      expect((error as StoreError).message).toContain(SECRET_ID);
      expect(secretsManager).not.toReceiveCommand(UpdateSecretVersionStageCommand);
    });

    it('throws a transient StoreError when the move is throttled', async () => {
      // Prepare
      secretsManager
        .on(PutSecretValueCommand)
        .resolves({ VersionId: NEW_VERSION, VersionStages: ['AWSPENDING'] })
        .on(UpdateSecretVersionStageCommand)
        .rejects(awsError('ThrottlingException', 'Rate exceeded', 400));

      // Act
      const error = await secrets.compareAndSwap(input).catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'secrets_manager_unavailable', kind: 'transient' });
    });

    describe('with resume (repeating a write after a failure)', () => {
      const versionOf = (stages: string[]) => ({
        VersionId: NEW_VERSION,
        VersionStages: stages,
        SecretString: JSON.stringify(input.value),
      });

      it('puts and moves as usual when the earlier attempt left no version', async () => {
        // Prepare
        secretsManager
          .on(GetSecretValueCommand)
          .rejects(new ResourceNotFoundException({ message: 'no such version', $metadata: {} }))
          .on(PutSecretValueCommand)
          .resolves({ VersionId: NEW_VERSION, VersionStages: ['AWSPENDING'] })
          .on(UpdateSecretVersionStageCommand)
          .resolves({});

        // Act
        const versionId = await secrets.compareAndSwap({ ...input, resume: true });

        // Assess
        expect(versionId).toBe(NEW_VERSION);
        expect(secretsManager.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toStrictEqual({
          SecretId: SECRET_ID,
          VersionId: NEW_VERSION,
        });
        expect(secretsManager).toReceiveCommandTimes(PutSecretValueCommand, 1);
        expect(secretsManager).toReceiveCommandWith(UpdateSecretVersionStageCommand, {
          MoveToVersionId: NEW_VERSION,
          RemoveFromVersionId: OLD_VERSION,
        });
      });

      it('only moves AWSCURRENT when the earlier attempt put the version but did not move the label', async () => {
        // Prepare
        secretsManager
          .on(GetSecretValueCommand)
          .resolves(versionOf(['AWSPENDING']))
          .on(UpdateSecretVersionStageCommand)
          .resolves({});

        // Act
        const versionId = await secrets.compareAndSwap({ ...input, resume: true });

        // Assess
        expect(versionId).toBe(NEW_VERSION);
        expect(secretsManager).not.toReceiveCommand(PutSecretValueCommand);
        expect(secretsManager.commandCalls(UpdateSecretVersionStageCommand)[0]?.args[0].input).toStrictEqual({
          SecretId: SECRET_ID,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: NEW_VERSION,
          RemoveFromVersionId: OLD_VERSION,
        });
      });

      it('does nothing more when the earlier attempt completed (never repeats a completed put)', async () => {
        // Prepare
        secretsManager.on(GetSecretValueCommand).resolves(versionOf(['AWSPENDING', 'AWSCURRENT']));

        // Act
        const versionId = await secrets.compareAndSwap({ ...input, resume: true });

        // Assess
        expect(versionId).toBe(NEW_VERSION);
        expect(secretsManager).not.toReceiveCommand(PutSecretValueCommand);
        expect(secretsManager).not.toReceiveCommand(UpdateSecretVersionStageCommand);
      });

      it('throws WriteConflictError when the label moved elsewhere since the earlier attempt', async () => {
        // Prepare
        secretsManager
          .on(GetSecretValueCommand, { VersionId: NEW_VERSION })
          .resolves(versionOf(['AWSPENDING']))
          .on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' })
          .resolves({ VersionId: OTHER_VERSION, SecretString: '{}' })
          .on(UpdateSecretVersionStageCommand)
          .rejects(new InvalidParameterException({ message: 'not on that version', $metadata: {} }));

        // Act
        const error = await secrets
          .compareAndSwap({ ...input, resume: true })
          .catch((caught: unknown) => caught);

        // Assess
        expect(error).toBeInstanceOf(WriteConflictError);
      });

      it('throws a transient StoreError when the lookup itself fails', async () => {
        // Prepare
        secretsManager.on(GetSecretValueCommand).rejects(awsError('InternalServiceError', 'boom', 500));

        // Act
        const error = await secrets
          .compareAndSwap({ ...input, resume: true })
          .catch((caught: unknown) => caught);

        // Assess
        expect(error).toMatchObject({ code: 'secrets_manager_unavailable', kind: 'transient' });
        expect(secretsManager).not.toReceiveCommand(PutSecretValueCommand);
      });
    });
  });

  describe('Method: readStage', () => {
    it('returns the version holding the stage with all its labels', async () => {
      // Prepare
      secretsManager.on(GetSecretValueCommand).resolves({
        VersionId: NEW_VERSION,
        VersionStages: ['AWSPENDING'],
        SecretString: '{"a":"b"}',
      });

      // Act
      const pending = await secrets.readStage(SECRET_ID, 'AWSPENDING');

      // Assess
      expect(pending).toStrictEqual({ versionId: NEW_VERSION, value: { a: 'b' }, stages: ['AWSPENDING'] });
      expect(secretsManager).toReceiveCommandExactlyOnceWith(GetSecretValueCommand, {
        SecretId: SECRET_ID,
        VersionStage: 'AWSPENDING',
      });
    });

    it('returns undefined when no version holds the stage', async () => {
      // Prepare
      secretsManager
        .on(GetSecretValueCommand)
        .rejects(new ResourceNotFoundException({ message: "can't find staging label", $metadata: {} }));

      // Act
      const pending = await secrets.readStage(SECRET_ID, 'AWSPENDING');

      // Assess
      expect(pending).toBeUndefined();
    });

    it('throws a transient StoreError when throttled', async () => {
      // Prepare
      secretsManager.on(GetSecretValueCommand).rejects(awsError('ThrottlingException', 'Rate exceeded', 400));

      // Act
      const error = await secrets.readStage(SECRET_ID, 'AWSPENDING').catch((caught: unknown) => caught);

      // Assess
      expect(error).toMatchObject({ code: 'secrets_manager_unavailable', kind: 'transient' });
    });
  });
});

describe('Function: clientRequestTokenFor', () => {
  const base = { purpose: 'token', provider: 'acme', fence: 7, expectedVersionId: OLD_VERSION };

  it('returns the same UUID-shaped token for the same write', () => {
    // Act
    const first = clientRequestTokenFor(base);
    const second = clientRequestTokenFor({ ...base });

    // Assess
    expect(first).toBe(second);
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(first.length).toBeLessThanOrEqual(64);
  });

  it('returns different tokens when fence, purpose, provider or expected version differ', () => {
    // Act
    const tokens = [
      clientRequestTokenFor(base),
      clientRequestTokenFor({ ...base, fence: 8 }),
      clientRequestTokenFor({ ...base, purpose: 'credentials' }),
      clientRequestTokenFor({ ...base, provider: 'acme-2' }),
      clientRequestTokenFor({ ...base, expectedVersionId: OTHER_VERSION }),
      clientRequestTokenFor({ ...base, expectedVersionId: undefined }),
    ];

    // Assess
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});
