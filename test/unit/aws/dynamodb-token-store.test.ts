import 'aws-sdk-client-mock-vitest/extend';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DynamoDbTokenStore,
  NO_TOKEN_VERSION,
  tokenVersionIdFor,
} from '../../../functions/aws/dynamodb-token-store.js';
import { StoreError, WriteConflictError } from '../../../functions/core/errors.js';
import type { TokenRecord } from '../../../functions/core/types.js';
import { awsError } from './helpers.js';

const TABLE = 'prod-tokens';
const OLD_VERSION = '11111111-1111-4111-8111-111111111111';

const TOKEN: TokenRecord = {
  provider: 'acme',
  accessToken: 'access-token-value-5e6f',
  tokenType: 'Bearer',
  expiresAt: '2030-01-01T00:02:00.000Z',
  issuedAt: '2030-01-01T00:00:00.000Z',
  scope: 'read write',
  generation: 4,
};

const ITEM = {
  provider: { S: 'acme' },
  accessToken: { S: TOKEN.accessToken },
  tokenType: { S: 'Bearer' },
  expiresAt: { S: TOKEN.expiresAt },
  issuedAt: { S: TOKEN.issuedAt },
  scope: { S: 'read write' },
  generation: { N: '4' },
};

const conditionFailed = (item?: Record<string, unknown>) =>
  Object.assign(
    new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
    item === undefined ? {} : { Item: item },
  );

describe('Class: DynamoDbTokenStore', () => {
  const dynamodb = mockClient(DynamoDBClient);
  let store: DynamoDbTokenStore;

  beforeEach(() => {
    dynamodb.reset();
    store = new DynamoDbTokenStore({ client: new DynamoDBClient({ region: 'us-east-1' }), tableName: TABLE });
  });

  describe('Method: readCurrent', () => {
    it("reads the provider's item with one strongly consistent GetItem", async () => {
      // Prepare
      dynamodb
        .on(GetItemCommand)
        .resolves({ Item: { ...ITEM, versionId: { S: OLD_VERSION }, fence: { N: '4' } } });

      // Act
      const current = await store.readCurrent('acme');

      // Assess
      expect(current).toStrictEqual({ versionId: OLD_VERSION, token: TOKEN });
      expect(dynamodb).toReceiveCommandExactlyOnceWith(GetItemCommand, {
        TableName: TABLE,
        Key: { provider: { S: 'acme' } },
        ConsistentRead: true,
      });
    });

    it.each([
      ['no item', undefined, NO_TOKEN_VERSION],
      ['an item without versionId (an operator put it)', ITEM, NO_TOKEN_VERSION],
      [
        'an item without accessToken',
        { provider: ITEM.provider, versionId: { S: OLD_VERSION } },
        OLD_VERSION,
      ],
      [
        'a generation stored as a string',
        { ...ITEM, generation: { S: '4' }, versionId: { S: OLD_VERSION } },
        OLD_VERSION,
      ],
    ])('reads %s as no token', async (_case, item, versionId) => {
      // Prepare
      dynamodb.on(GetItemCommand).resolves(item === undefined ? {} : { Item: item });

      // Act
      const current = await store.readCurrent('acme');

      // Assess
      expect(current.versionId).toBe(versionId);
      if (item !== ITEM) expect(current.token).toBeUndefined();
    });

    it.each([
      [
        'ResourceNotFoundException',
        new ResourceNotFoundException({ message: 'x', $metadata: {} }),
        'token_table_not_found',
        'permanent',
      ],
      [
        'AccessDeniedException',
        awsError('AccessDeniedException', 'x', 400),
        'dynamodb_access_denied',
        'permanent',
      ],
      [
        'ThrottlingException',
        awsError('ThrottlingException', 'slow down', 400),
        'dynamodb_unavailable',
        'transient',
      ],
    ])('translates %s into a StoreError naming the table', async (_name, error, code, kind) => {
      // Prepare
      dynamodb.on(GetItemCommand).rejects(error);

      // Act
      const thrown = await store.readCurrent('acme').catch((caught: unknown) => caught);

      // Assess
      expect(thrown).toBeInstanceOf(StoreError);
      expect(thrown).toMatchObject({ code, kind });
      expect((thrown as StoreError).message).toContain(TABLE);
    });
  });

  describe('Method: write', () => {
    it('puts the token item conditional on the version read and an earlier fence, and returns the new version', async () => {
      // Prepare
      dynamodb.on(PutItemCommand).resolves({});
      const expectedId = tokenVersionIdFor('acme', 4, OLD_VERSION);

      // Act
      const versionId = await store.write({
        provider: 'acme',
        fence: 4,
        token: TOKEN,
        expectedVersionId: OLD_VERSION,
      });

      // Assess
      expect(versionId).toBe(expectedId);
      expect(dynamodb).toReceiveCommandExactlyOnceWith(PutItemCommand, {
        TableName: TABLE,
        Item: { ...ITEM, versionId: { S: expectedId }, fence: { N: '4' } },
        ConditionExpression:
          'versionId = :expected AND (attribute_not_exists(fence) OR fence < :fence OR expiresAt < :issuedAt)',
        ExpressionAttributeValues: {
          ':expected': { S: OLD_VERSION },
          ':fence': { N: '4' },
          ':issuedAt': { S: TOKEN.issuedAt },
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
    });

    it('creates the item of a provider that has none (no provisioning)', async () => {
      // Prepare
      dynamodb.on(PutItemCommand).resolves({});

      // Act
      await store.write({ provider: 'acme', fence: 1, token: TOKEN, expectedVersionId: NO_TOKEN_VERSION });

      // Assess
      expect(dynamodb).toReceiveCommandWith(PutItemCommand, {
        ConditionExpression:
          'attribute_not_exists(versionId) AND (attribute_not_exists(fence) OR fence < :fence OR expiresAt < :issuedAt)',
        ExpressionAttributeValues: { ':fence': { N: '1' }, ':issuedAt': { S: TOKEN.issuedAt } },
      });
    });

    it('returns the version of a repeated write that had already been applied (same fence, same version, same token)', async () => {
      // Prepare
      const versionId = tokenVersionIdFor('acme', 4, OLD_VERSION);
      dynamodb
        .on(PutItemCommand)
        .rejects(conditionFailed({ ...ITEM, versionId: { S: versionId }, fence: { N: '4' } }));

      // Act
      const written = await store.write({
        provider: 'acme',
        fence: 4,
        token: TOKEN,
        expectedVersionId: OLD_VERSION,
      });

      // Assess
      expect(written).toBe(versionId);
    });

    it.each([
      ['another version is current', { ...ITEM, versionId: { S: 'another' }, fence: { N: '5' } }],
      [
        'this write was applied with another token',
        {
          ...ITEM,
          accessToken: { S: 'other-token' },
          versionId: { S: tokenVersionIdFor('acme', 4, OLD_VERSION) },
        },
      ],
      ['the answer carries no old item', undefined],
    ])('throws WriteConflictError without the token when %s', async (_case, old) => {
      // Prepare
      dynamodb.on(PutItemCommand).rejects(conditionFailed(old));

      // Act
      const thrown = await store
        .write({ provider: 'acme', fence: 4, token: TOKEN, expectedVersionId: OLD_VERSION })
        .catch((caught: unknown) => caught);

      // Assess
      expect(thrown).toBeInstanceOf(WriteConflictError);
      expect((thrown as Error).message).not.toContain(TOKEN.accessToken);
    });

    it('translates any other failure into a StoreError', async () => {
      // Prepare
      dynamodb.on(PutItemCommand).rejects(awsError('InternalServerError', 'boom', 500));

      // Act
      const thrown = store.write({
        provider: 'acme',
        fence: 4,
        token: TOKEN,
        expectedVersionId: OLD_VERSION,
      });

      // Assess
      await expect(thrown).rejects.toMatchObject({ code: 'dynamodb_unavailable', kind: 'transient' });
    });
  });
});
