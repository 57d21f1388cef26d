import 'aws-sdk-client-mock-vitest/extend';
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  ResourceNotFoundException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbStateTable } from '../../../functions/aws/state-table.js';
import { StoreError } from '../../../functions/core/errors.js';
import { awsError } from './helpers.js';

const TABLE = 'token-refresher-state';
const NOW = 1_900_000_000_000; // epoch ms
const MINUTE = 60_000;
const DAY = 86_400_000;
const VERSION = '22222222-2222-8222-a222-222222222222';

describe('Class: DynamoDbStateTable', () => {
  const dynamoDb = mockClient(DynamoDBClient);
  let table: DynamoDbStateTable;

  beforeEach(() => {
    dynamoDb.reset();
    table = new DynamoDbStateTable({ client: new DynamoDBClient({ region: 'us-east-1' }), tableName: TABLE });
  });

  describe('Method: read', () => {
    it('reads the item with a consistent GetItem and unmarshals every attribute', async () => {
      // Prepare
      dynamoDb.on(GetItemCommand).resolves({
        Item: {
          provider: { S: 'acme' },
          leaseOwner: { S: 'req-1' },
          leaseExpiresAt: { N: String(NOW + MINUTE) },
          fence: { N: '12' },
          tokenExpiresAt: { N: String(NOW + 60 * MINUTE) },
          nextRefreshAt: { N: String(NOW + 55 * MINUTE) },
          lastSuccessAt: { N: String(NOW - MINUTE) },
          lastErrorAt: { N: String(NOW - 10 * MINUTE) },
          lastErrorCode: { S: 'http_503' },
          lastErrorPermanent: { BOOL: false },
          consecutiveFailures: { N: '2' },
          tokenVersionId: { S: VERSION },
          ttl: { N: '1902592000' },
        },
      });

      // Act
      const state = await table.read('acme');

      // Assess
      expect(state).toStrictEqual({
        provider: 'acme',
        leaseOwner: 'req-1',
        leaseExpiresAt: NOW + MINUTE,
        fence: 12,
        tokenExpiresAt: NOW + 60 * MINUTE,
        nextRefreshAt: NOW + 55 * MINUTE,
        lastSuccessAt: NOW - MINUTE,
        lastErrorAt: NOW - 10 * MINUTE,
        lastErrorCode: 'http_503',
        lastErrorPermanent: false,
        consecutiveFailures: 2,
        tokenVersionId: VERSION,
      });
      expect(dynamoDb.commandCalls(GetItemCommand)[0]?.args[0].input).toStrictEqual({
        TableName: TABLE,
        Key: { provider: { S: 'acme' } },
        ConsistentRead: true,
      });
    });

    it('returns undefined when the provider has no item yet', async () => {
      // Prepare
      dynamoDb.on(GetItemCommand).resolves({});

      // Act
      const state = await table.read('acme');

      // Assess
      expect(state).toBeUndefined();
    });

    it('defaults fence and consecutiveFailures to 0 and leaves absent attributes out', async () => {
      // Prepare
      dynamoDb.on(GetItemCommand).resolves({ Item: { provider: { S: 'acme' } } });

      // Act
      const state = await table.read('acme');

      // Assess
      expect(state).toStrictEqual({ provider: 'acme', fence: 0, consecutiveFailures: 0 });
    });

    it('throws a permanent StoreError naming the attribute when an attribute has the wrong type', async () => {
      // Prepare
      dynamoDb.on(GetItemCommand).resolves({ Item: { provider: { S: 'acme' }, fence: { S: 'twelve' } } });

      // Act
      const error = await table.read('acme').catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'state_item_invalid', kind: 'permanent' });
      expect((error as StoreError).message).toContain('"fence"');
    });

    it('throws a permanent StoreError table_not_found naming the table when it does not exist', async () => {
      // Prepare
      dynamoDb
        .on(GetItemCommand)
        .rejects(new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: {} }));

      // Act
      const error = await table.read('acme').catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'table_not_found', kind: 'permanent' });
      expect((error as StoreError).message).toContain(TABLE);
    });

    it('throws a transient StoreError dynamodb_unavailable when throttled', async () => {
      // Prepare
      dynamoDb.on(GetItemCommand).rejects(awsError('ThrottlingException', 'Rate exceeded', 400));

      // Act
      const error = await table.read('acme').catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'dynamodb_unavailable', kind: 'transient' });
    });
  });

  describe('Method: acquire', () => {
    const input = { provider: 'acme', owner: 'req-2', now: NOW, leaseExpiresAt: NOW + 2 * MINUTE };

    it('takes a free or expired lease, increments the fence and returns the new state', async () => {
      // Prepare
      dynamoDb.on(UpdateItemCommand).resolves({
        Attributes: {
          provider: { S: 'acme' },
          leaseOwner: { S: 'req-2' },
          leaseExpiresAt: { N: String(NOW + 2 * MINUTE) },
          fence: { N: '13' },
          consecutiveFailures: { N: '0' },
          tokenVersionId: { S: VERSION },
        },
      });

      // Act
      const state = await table.acquire(input);

      // Assess
      expect(state).toStrictEqual({
        provider: 'acme',
        leaseOwner: 'req-2',
        leaseExpiresAt: NOW + 2 * MINUTE,
        fence: 13,
        consecutiveFailures: 0,
        tokenVersionId: VERSION,
      });
      expect(dynamoDb.commandCalls(UpdateItemCommand)[0]?.args[0].input).toStrictEqual({
        TableName: TABLE,
        Key: { provider: { S: 'acme' } },
        ConditionExpression: 'attribute_not_exists(leaseOwner) OR leaseExpiresAt < :now',
        UpdateExpression:
          'SET leaseOwner = :owner, leaseExpiresAt = :leaseExpiresAt, ' +
          'consecutiveFailures = if_not_exists(consecutiveFailures, :zero) ADD fence :one',
        ExpressionAttributeValues: {
          ':owner': { S: 'req-2' },
          ':leaseExpiresAt': { N: String(NOW + 2 * MINUTE) },
          ':now': { N: String(NOW) },
          ':one': { N: '1' },
          ':zero': { N: '0' },
        },
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
    });

    it.each([
      ['its own lease (the SDK retried a write DynamoDB had applied)', 'req-2', NOW + 2 * MINUTE, 13],
      [
        'the same owner with another expiry (an earlier attempt of a retried Lambda event)',
        'req-2',
        NOW + MINUTE,
        undefined,
      ],
      ['another holder', 'req-1', NOW + 2 * MINUTE, undefined],
    ] as const)(
      'on a failed condition, takes the lease only if the item holds %s',
      async (_case, owner, expiresAt, fence) => {
        // Prepare
        dynamoDb.on(UpdateItemCommand).rejects(
          new ConditionalCheckFailedException({
            message: 'The conditional request failed',
            $metadata: {},
            Item: {
              provider: { S: 'acme' },
              leaseOwner: { S: owner },
              leaseExpiresAt: { N: String(expiresAt) },
              fence: { N: '13' },
              consecutiveFailures: { N: '0' },
            },
          }),
        );

        // Act
        const state = await table.acquire(input);

        // Assess
        expect(state?.fence).toBe(fence);
        if (fence !== undefined)
          expect(state).toMatchObject({ leaseOwner: 'req-2', leaseExpiresAt: NOW + 2 * MINUTE });
      },
    );

    it('returns undefined when another holder has a live lease (ConditionalCheckFailedException)', async () => {
      // Prepare
      dynamoDb
        .on(UpdateItemCommand)
        .rejects(
          new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
        );

      // Act
      const state = await table.acquire(input);

      // Assess
      expect(state).toBeUndefined();
    });

    it('throws a permanent StoreError table_not_found when the table does not exist', async () => {
      // Prepare
      dynamoDb
        .on(UpdateItemCommand)
        .rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));

      // Act
      const error = await table.acquire(input).catch((caught: unknown) => caught);

      // Assess
      expect(error).toMatchObject({ code: 'table_not_found', kind: 'permanent' });
    });

    it('throws a transient StoreError when the service fails with a 5xx', async () => {
      // Prepare
      dynamoDb.on(UpdateItemCommand).rejects(awsError('InternalServerError', 'Internal server error', 500));

      // Act
      const error = await table.acquire(input).catch((caught: unknown) => caught);

      // Assess
      expect(error).toMatchObject({ code: 'dynamodb_unavailable', kind: 'transient' });
    });
  });

  describe('Method: release', () => {
    const guard = {
      TableName: TABLE,
      Key: { provider: { S: 'acme' } },
      ConditionExpression: 'leaseOwner = :owner AND fence = :fence',
      ExpressionAttributeNames: { '#ttl': 'ttl' },
    };

    it('records a success, resets the failures and releases the lease in one fenced write', async () => {
      // Prepare
      dynamoDb.on(UpdateItemCommand).resolves({});
      const tokenExpiresAt = NOW + 60 * MINUTE;

      // Act
      const released = await table.release({
        provider: 'acme',
        owner: 'req-2',
        fence: 13,
        now: NOW,
        record: {
          outcome: 'success',
          tokenExpiresAt,
          nextRefreshAt: NOW + 55 * MINUTE,
          tokenVersionId: VERSION,
          preciseRunFor: NOW + 55 * MINUTE,
        },
      });

      // Assess
      expect(released).toBe(true);
      expect(dynamoDb.commandCalls(UpdateItemCommand)[0]?.args[0].input).toStrictEqual({
        ...guard,
        UpdateExpression:
          'SET tokenExpiresAt = :tokenExpiresAt, nextRefreshAt = :nextRefreshAt, lastSuccessAt = :now, ' +
          'tokenVersionId = :tokenVersionId, recordedFence = :fence, consecutiveFailures = :zero, #ttl = :ttl, ' +
          'preciseRunFor = :preciseRunFor ' +
          'REMOVE leaseOwner, leaseExpiresAt, lastErrorCode, lastErrorPermanent',
        ExpressionAttributeValues: {
          ':preciseRunFor': { N: String(NOW + 55 * MINUTE) },
          ':tokenExpiresAt': { N: String(tokenExpiresAt) },
          ':nextRefreshAt': { N: String(NOW + 55 * MINUTE) },
          ':now': { N: String(NOW) },
          ':tokenVersionId': { S: VERSION },
          ':zero': { N: '0' },
          // max(now, tokenExpiresAt) + 30 days, in epoch seconds
          ':ttl': { N: String((tokenExpiresAt + 30 * DAY) / 1000) },
          ':owner': { S: 'req-2' },
          ':fence': { N: '13' },
        },
      });
    });

    it('records that the precise run is armed only while nextRefreshAt is still the one it was armed for', async () => {
      // Prepare
      dynamoDb
        .on(UpdateItemCommand)
        .resolvesOnce({})
        .rejectsOnce(
          new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
        );

      // Act
      const recorded = await table.recordPreciseRun({ provider: 'acme', nextRefreshAt: NOW });
      const moved = await table.recordPreciseRun({ provider: 'acme', nextRefreshAt: NOW });

      // Assess
      expect([recorded, moved]).toEqual([true, false]);
      expect(dynamoDb.commandCalls(UpdateItemCommand)[0]?.args[0].input).toStrictEqual({
        TableName: 'token-refresher-state',
        Key: { provider: { S: 'acme' } },
        ConditionExpression: 'nextRefreshAt = :nextRefreshAt',
        UpdateExpression: 'SET preciseRunFor = :nextRefreshAt',
        ExpressionAttributeValues: { ':nextRefreshAt': { N: String(NOW) } },
      });
    });

    it('records a failure, counts it and releases the lease', async () => {
      // Prepare
      dynamoDb.on(UpdateItemCommand).resolves({});

      // Act
      const released = await table.release({
        provider: 'acme',
        owner: 'req-2',
        fence: 13,
        now: NOW,
        record: { outcome: 'failure', errorCode: 'invalid_grant', permanent: true, nextRefreshAt: NOW + DAY },
      });

      // Assess
      expect(released).toBe(true);
      expect(dynamoDb.commandCalls(UpdateItemCommand)[0]?.args[0].input).toStrictEqual({
        ...guard,
        UpdateExpression:
          'SET lastErrorAt = :now, lastErrorCode = :errorCode, lastErrorPermanent = :permanent, ' +
          'nextRefreshAt = :nextRefreshAt, consecutiveFailures = if_not_exists(consecutiveFailures, :zero) + :one, ' +
          '#ttl = :ttl REMOVE leaseOwner, leaseExpiresAt, preciseRunFor',
        ExpressionAttributeValues: {
          ':now': { N: String(NOW) },
          ':errorCode': { S: 'invalid_grant' },
          ':permanent': { BOOL: true },
          ':nextRefreshAt': { N: String(NOW + DAY) },
          ':zero': { N: '0' },
          ':one': { N: '1' },
          ':ttl': { N: String((NOW + 30 * DAY) / 1000) },
          ':owner': { S: 'req-2' },
          ':fence': { N: '13' },
        },
      });
    });

    it('records the credentials version an attempt used with its failure', async () => {
      // Prepare
      dynamoDb.on(UpdateItemCommand).resolves({});

      // Act
      await table.release({
        provider: 'acme',
        owner: 'req-2',
        fence: 13,
        now: NOW,
        record: {
          outcome: 'failure',
          errorCode: 'invalid_client',
          permanent: true,
          nextRefreshAt: NOW + DAY,
          credentialsVersionId: 'credentials-version-1',
        },
      });

      // Assess
      const input = dynamoDb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
      expect(input?.UpdateExpression).toBe(
        'SET lastErrorAt = :now, lastErrorCode = :errorCode, lastErrorPermanent = :permanent, ' +
          'nextRefreshAt = :nextRefreshAt, consecutiveFailures = if_not_exists(consecutiveFailures, :zero) + :one, ' +
          '#ttl = :ttl, credentialsVersionId = :credentialsVersionId REMOVE leaseOwner, leaseExpiresAt, preciseRunFor',
      );
      expect(input?.ExpressionAttributeValues?.[':credentialsVersionId']).toStrictEqual({
        S: 'credentials-version-1',
      });
    });

    it('releases only the lease for an unchanged record, in the same fenced write', async () => {
      // Prepare
      dynamoDb.on(UpdateItemCommand).resolves({});

      // Act
      const released = await table.release({
        provider: 'acme',
        owner: 'req-2',
        fence: 13,
        now: NOW,
        record: { outcome: 'unchanged' },
      });

      // Assess: no SET, so no `#ttl` name either (DynamoDB refuses an unused name).
      expect(released).toBe(true);
      expect(dynamoDb.commandCalls(UpdateItemCommand)[0]?.args[0].input).toStrictEqual({
        TableName: TABLE,
        Key: { provider: { S: 'acme' } },
        ConditionExpression: 'leaseOwner = :owner AND fence = :fence',
        UpdateExpression: 'REMOVE leaseOwner, leaseExpiresAt',
        ExpressionAttributeValues: { ':owner': { S: 'req-2' }, ':fence': { N: '13' } },
      });
    });

    it('records what it observed when another holder refreshed, and releases the lease', async () => {
      // Prepare
      dynamoDb.on(UpdateItemCommand).resolves({});
      table = new DynamoDbStateTable({
        client: new DynamoDBClient({ region: 'us-east-1' }),
        tableName: TABLE,
        ttlDays: 7,
      });
      const tokenExpiresAt = NOW - MINUTE; // already expired: the TTL counts from now

      // Act
      await table.release({
        provider: 'acme',
        owner: 'req-2',
        fence: 13,
        now: NOW,
        record: { outcome: 'observed', tokenExpiresAt, nextRefreshAt: NOW, tokenVersionId: VERSION },
      });

      // Assess
      expect(dynamoDb.commandCalls(UpdateItemCommand)[0]?.args[0].input).toStrictEqual({
        ...guard,
        UpdateExpression:
          'SET tokenExpiresAt = :tokenExpiresAt, nextRefreshAt = :nextRefreshAt, tokenVersionId = :tokenVersionId, ' +
          'recordedFence = :fence, #ttl = :ttl REMOVE leaseOwner, leaseExpiresAt',
        ExpressionAttributeValues: {
          ':tokenExpiresAt': { N: String(tokenExpiresAt) },
          ':nextRefreshAt': { N: String(NOW) },
          ':tokenVersionId': { S: VERSION },
          ':ttl': { N: String((NOW + 7 * DAY) / 1000) },
          ':owner': { S: 'req-2' },
          ':fence': { N: '13' },
        },
      });
    });

    it('also ends the failure streak when the observed token was issued after the last failure', async () => {
      // Prepare
      dynamoDb.on(UpdateItemCommand).resolves({});
      const tokenExpiresAt = NOW + 60 * MINUTE;

      // Act
      await table.release({
        provider: 'acme',
        owner: 'req-2',
        fence: 13,
        now: NOW,
        record: {
          outcome: 'observed',
          tokenExpiresAt,
          nextRefreshAt: NOW,
          tokenVersionId: VERSION,
          recoveredAt: NOW - MINUTE,
        },
      });

      // Assess
      const input = dynamoDb.commandCalls(UpdateItemCommand)[0]?.args[0].input;
      expect(input?.UpdateExpression).toBe(
        'SET tokenExpiresAt = :tokenExpiresAt, nextRefreshAt = :nextRefreshAt, tokenVersionId = :tokenVersionId, ' +
          'recordedFence = :fence, #ttl = :ttl, lastSuccessAt = :recoveredAt, consecutiveFailures = :zero ' +
          'REMOVE leaseOwner, leaseExpiresAt, lastErrorCode, lastErrorPermanent',
      );
      expect(input?.ExpressionAttributeValues).toMatchObject({
        ':recoveredAt': { N: String(NOW - MINUTE) },
        ':zero': { N: '0' },
      });
    });

    it('returns false when the lease was lost meanwhile (ConditionalCheckFailedException)', async () => {
      // Prepare
      dynamoDb
        .on(UpdateItemCommand)
        .rejects(
          new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
        );

      // Act
      const released = await table.release({
        provider: 'acme',
        owner: 'req-2',
        fence: 13,
        now: NOW,
        record: { outcome: 'failure', errorCode: 'timeout', permanent: false, nextRefreshAt: NOW + MINUTE },
      });

      // Assess
      expect(released).toBe(false);
    });

    it('throws a transient StoreError when throttled', async () => {
      // Prepare
      dynamoDb
        .on(UpdateItemCommand)
        .rejects(awsError('ProvisionedThroughputExceededException', 'Throughput exceeded', 400));

      // Act
      const error = await table
        .release({
          provider: 'acme',
          owner: 'req-2',
          fence: 13,
          now: NOW,
          record: { outcome: 'failure', errorCode: 'timeout', permanent: false, nextRefreshAt: NOW + MINUTE },
        })
        .catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'dynamodb_unavailable', kind: 'transient' });
    });
  });

  describe('Method: markTokenRemoved', () => {
    it('removes the token expiry and version and makes the provider due now, only on an existing item', async () => {
      // Prepare
      dynamoDb.on(UpdateItemCommand).resolves({});

      // Act
      const marked = await table.markTokenRemoved({ provider: 'acme', now: NOW });

      // Assess
      expect(marked).toBe(true);
      expect(dynamoDb).toHaveReceivedCommandTimes(UpdateItemCommand, 1);
      expect(dynamoDb).toHaveReceivedCommandWith(UpdateItemCommand, {
        TableName: TABLE,
        Key: { provider: { S: 'acme' } },
        ConditionExpression: 'attribute_exists(provider)',
        UpdateExpression: 'SET nextRefreshAt = :now REMOVE tokenExpiresAt, tokenVersionId',
        ExpressionAttributeValues: { ':now': { N: String(NOW) } },
      });
    });

    it('returns false and creates nothing when the provider has no item (ConditionalCheckFailedException)', async () => {
      // Prepare
      dynamoDb
        .on(UpdateItemCommand)
        .rejects(
          new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
        );

      // Act
      const marked = await table.markTokenRemoved({ provider: 'acme', now: NOW });

      // Assess
      expect(marked).toBe(false);
    });

    it('throws a permanent StoreError table_not_found when the table does not exist', async () => {
      // Prepare
      dynamoDb
        .on(UpdateItemCommand)
        .rejects(new ResourceNotFoundException({ message: 'Requested resource not found', $metadata: {} }));

      // Act
      const error = await table
        .markTokenRemoved({ provider: 'acme', now: NOW })
        .catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(StoreError);
      expect(error).toMatchObject({ code: 'table_not_found', kind: 'permanent' });
    });
  });

  describe('Method: recordOnDemandRefreshes', () => {
    it('replaces the log with a list of numbers, guarded by owner and fence', async () => {
      // Prepare
      dynamoDb.on(UpdateItemCommand).resolves({});

      // Act
      const recorded = await table.recordOnDemandRefreshes({
        provider: 'acme',
        owner: 'req-2',
        fence: 13,
        refreshes: [NOW - MINUTE, NOW],
      });

      // Assess
      expect(recorded).toBe(true);
      expect(dynamoDb.commandCalls(UpdateItemCommand)[0]?.args[0].input).toStrictEqual({
        TableName: TABLE,
        Key: { provider: { S: 'acme' } },
        ConditionExpression: 'leaseOwner = :owner AND fence = :fence',
        UpdateExpression: 'SET onDemandRefreshes = :refreshes',
        ExpressionAttributeValues: {
          ':refreshes': { L: [{ N: String(NOW - MINUTE) }, { N: String(NOW) }] },
          ':owner': { S: 'req-2' },
          ':fence': { N: '13' },
        },
      });
    });

    it('returns false when the lease was lost (the condition failed)', async () => {
      // Prepare
      dynamoDb
        .on(UpdateItemCommand)
        .rejects(
          new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }),
        );

      // Act
      const recorded = await table.recordOnDemandRefreshes({
        provider: 'acme',
        owner: 'req-2',
        fence: 13,
        refreshes: [NOW],
      });

      // Assess
      expect(recorded).toBe(false);
    });

    it('reads the log back as numbers, and names the attribute when it is not a list of numbers', async () => {
      // Prepare
      dynamoDb
        .on(GetItemCommand)
        .resolvesOnce({ Item: { provider: { S: 'acme' }, onDemandRefreshes: { L: [{ N: String(NOW) }] } } })
        .resolvesOnce({ Item: { provider: { S: 'acme' }, onDemandRefreshes: { L: [{ S: 'soon' }] } } });

      // Act
      const state = await table.read('acme');
      const error = await table.read('acme').catch((caught: unknown) => caught);

      // Assess
      expect(state).toStrictEqual({
        provider: 'acme',
        fence: 0,
        consecutiveFailures: 0,
        onDemandRefreshes: [NOW],
      });
      expect(error).toMatchObject({ code: 'state_item_invalid', kind: 'permanent' });
      expect((error as StoreError).message).toContain('"onDemandRefreshes"');
    });
  });
});
