/**
 * The StateTable contract against the in-memory fake and against `DynamoDbStateTable` on moto.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbStateTable } from '../../functions/aws/state-table.js';
import { FakeStateTable } from '../unit/core/fakes.js';
import { describeStateTableContract } from './state-table.contract.js';
import { useMoto } from './support.js';

const TABLE = 'contract-state';

describeStateTableContract('FakeStateTable', async () => ({ table: new FakeStateTable() }));

const moto = useMoto();

describeStateTableContract('DynamoDbStateTable on moto', async () => {
  const client = new DynamoDBClient(await moto.fresh());
  // As the stack creates it (infra: partition key `provider`, on-demand).
  await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'provider', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'provider', KeyType: 'HASH' }],
    }),
  );
  return {
    table: new DynamoDbStateTable({ client, tableName: TABLE }),
    close: async () => client.destroy(),
  };
});
