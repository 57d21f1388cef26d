import 'aws-sdk-client-mock-vitest/extend';
import {
  type AttributeValue,
  DynamoDBClient,
  GetItemCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createDynamoDbTokenClient,
  DynamoDbTokenSource,
  TokenClientError,
} from '../../../functions/client/dynamodb.js';
import { FakeClock, HOUR, MINUTE, T0 } from './fakes.js';

const TABLE = 'prod-tokens';
const ITEM = {
  provider: { S: 'github' },
  accessToken: { S: 'ddb-access-token-7a7a' },
  tokenType: { S: 'Bearer' },
  expiresAt: { S: new Date(T0 + HOUR).toISOString() },
};

const sdkError = (name: string): Error => Object.assign(new Error('x'), { name, $metadata: {} });

describe('Class: DynamoDbTokenSource', () => {
  const dynamodb = mockClient(DynamoDBClient);
  let source: DynamoDbTokenSource;

  beforeEach(() => {
    dynamodb.reset();
    source = new DynamoDbTokenSource({
      tableName: TABLE,
      client: new DynamoDBClient({ region: 'us-east-1' }),
    });
  });

  describe('Method: read', () => {
    it("reads the provider's item with one strongly consistent GetItem of the token fields only", async () => {
      // Prepare
      dynamodb.on(GetItemCommand).resolves({ Item: { ...ITEM, versionId: { S: 'v1' }, fence: { N: '3' } } });

      // Act
      const token = await source.read('github');

      // Assess
      expect(token).toStrictEqual({
        provider: 'github',
        accessToken: 'ddb-access-token-7a7a',
        tokenType: 'Bearer',
        expiresAt: ITEM.expiresAt.S,
      });
      expect(dynamodb).toReceiveCommandExactlyOnceWith(GetItemCommand, {
        TableName: TABLE,
        Key: { provider: { S: 'github' } },
        ConsistentRead: true,
        ProjectionExpression: '#provider, #accessToken, #tokenType, #expiresAt',
        ExpressionAttributeNames: {
          '#provider': 'provider',
          '#accessToken': 'accessToken',
          '#tokenType': 'tokenType',
          '#expiresAt': 'expiresAt',
        },
      });
    });

    it.each([
      ['no item (no refresh has succeeded yet)', undefined, 'token_not_ready'],
      [
        'an item without accessToken',
        { provider: ITEM.provider, tokenType: ITEM.tokenType, expiresAt: ITEM.expiresAt },
        'invalid_token_record',
      ],
      ['an expiresAt that is a number', { ...ITEM, expiresAt: { N: '1' } }, 'invalid_token_record'],
    ])('refuses %s with %s, never quoting a value', async (_case, item, code) => {
      // Prepare
      dynamodb
        .on(GetItemCommand)
        .resolves(item === undefined ? {} : { Item: item as Record<string, AttributeValue> });

      // Act
      const error = await source.read('github').catch((caught: unknown) => caught);

      // Assess
      expect(error).toBeInstanceOf(TokenClientError);
      expect(error).toMatchObject({ code });
      expect((error as Error).message).not.toContain('ddb-access-token-7a7a');
    });

    it.each([
      [
        'ResourceNotFoundException',
        new ResourceNotFoundException({ message: 'x', $metadata: {} }),
        'table_not_found',
      ],
      ['AccessDeniedException', sdkError('AccessDeniedException'), 'access_denied'],
      [
        'ProvisionedThroughputExceededException',
        sdkError('ProvisionedThroughputExceededException'),
        'read_failed',
      ],
    ])('translates %s into %s, naming the table', async (_name, error, code) => {
      // Prepare
      dynamodb.on(GetItemCommand).rejects(error);

      // Act
      const thrown = await source.read('github').catch((caught: unknown) => caught);

      // Assess
      expect(thrown).toMatchObject({ code });
      expect((thrown as Error).message).toContain(TABLE);
    });
  });

  it.each([undefined, '', 'ab', 'has space', 'arn:aws:s3:::bucket'])(
    'refuses tableName %j at construction with invalid_options',
    (tableName) => {
      expect(() => new DynamoDbTokenSource({ tableName } as never)).toThrow(
        expect.objectContaining({ code: 'invalid_options' }),
      );
    },
  );
});

describe('Function: createDynamoDbTokenClient', () => {
  const dynamodb = mockClient(DynamoDBClient);

  beforeEach(() => dynamodb.reset());

  it('caches the token until expiresAt − margin: one GetItem per token generation', async () => {
    // Prepare
    const clock = new FakeClock();
    dynamodb.on(GetItemCommand).resolves({ Item: ITEM });
    const client = createDynamoDbTokenClient({
      tableName: TABLE,
      client: new DynamoDBClient({ region: 'us-east-1' }),
      clock,
    });

    // Act
    for (let minute = 0; minute < 59; minute += 1) {
      await client.getToken('github');
      clock.advance(MINUTE);
    }

    // Assess
    expect(dynamodb).toReceiveCommandTimes(GetItemCommand, 1);
  });
});
