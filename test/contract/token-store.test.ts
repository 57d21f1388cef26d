/**
 * The TokenStore contract against the in-memory fake, against `SecretsManagerTokenStore` on moto and
 * against `DynamoDbTokenStore` on moto (issue 16); and the read function's readers (issue 17: the
 * SDK-free `fetch` transport and the lazily loaded `sdk` one), which only read: each runs the whole
 * suite reading through the reader while the SDK adapter writes.
 */
import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbTokenStore } from '../../functions/aws/dynamodb-token-store.js';
import { FetchTokenItemReader } from '../../functions/aws/fetch-token-item-reader.js';
import { PLACEHOLDER_SECRET_STRING } from '../../functions/aws/secrets.js';
import {
  fetchGetSecretValue,
  sdkGetSecretValue,
  TokenSecretReader,
} from '../../functions/aws/token-secret-reader.js';
import { SecretsManagerTokenStore, tokenSecretName } from '../../functions/aws/token-store.js';
import {
  type AwsJsonService,
  DYNAMODB_SERVICE,
  SECRETS_MANAGER_SERVICE,
} from '../../functions/client/aws-endpoint.js';
import { nodeHttpFetch } from '../../functions/client/http.js';
import { AwsJsonClient } from '../../functions/client/signed-fetch.js';
import { WriteConflictError } from '../../functions/core/errors.js';
import type { TokenStore } from '../../functions/core/ports.js';
import { FakeSecrets, FakeTokenStore } from '../unit/core/fakes.js';
import { useMoto } from './support.js';
import { describeTokenStoreContract, type TokenStoreHarness, tokenRecord } from './token-store.contract.js';

const PREFIX = 'contract';
const TOKEN_TABLE = 'contract-tokens';

describeTokenStoreContract('FakeTokenStore', async () => {
  const secrets = new FakeSecrets();
  return {
    store: new FakeTokenStore(secrets),
    seedPlaceholder: async (provider) => {
      secrets.seed(FakeTokenStore.secretId(provider), JSON.parse(PLACEHOLDER_SECRET_STRING));
    },
    seedValue: async (provider, value) => {
      secrets.seed(FakeTokenStore.secretId(provider), value);
    },
    missingCode: 'secret_not_found',
  };
});

const moto = useMoto();

/** The read function's `fetch` transport to moto, one attempt per call (as the SDK clients here). */
function signedClient(
  service: AwsJsonService,
  clientConfig: Awaited<ReturnType<typeof moto.fresh>>,
): AwsJsonClient {
  return new AwsJsonClient(service, {
    region: clientConfig.region,
    endpoint: new URL(clientConfig.endpoint),
    credentials: clientConfig.credentials,
    fetch: nodeHttpFetch,
    timeoutMs: 8_000,
    maxAttempts: 1,
    now: () => Date.now(),
  });
}

/** A store that reads with the read function's reader and writes with the SDK adapter. */
function readingThrough(reader: Pick<TokenStore, 'readCurrent'>, writer: TokenStore): TokenStore {
  return {
    readCurrent: (provider) => reader.readCurrent(provider),
    write: (input) => writer.write(input),
  };
}

/** The token secret's harness on moto; `reader` reads in the store's place when given. */
async function secretsManagerHarness(
  reader?: (clientConfig: Awaited<ReturnType<typeof moto.fresh>>) => Pick<TokenStore, 'readCurrent'>,
): Promise<TokenStoreHarness> {
  const clientConfig = await moto.fresh();
  const client = new SecretsManagerClient(clientConfig);
  const store = new SecretsManagerTokenStore({ client, secretPrefix: PREFIX });
  return {
    store: reader === undefined ? store : readingThrough(reader(clientConfig), store),
    // As the stack creates it.
    seedPlaceholder: async (provider) => {
      await client.send(
        new CreateSecretCommand({
          Name: tokenSecretName(PREFIX, provider),
          SecretString: PLACEHOLDER_SECRET_STRING,
        }),
      );
    },
    // A plain PutSecretValue moves AWSCURRENT, as an operator's `put-secret-value` does.
    seedValue: async (provider, value) => {
      await client.send(
        new PutSecretValueCommand({
          SecretId: tokenSecretName(PREFIX, provider),
          SecretString: JSON.stringify(value),
        }),
      );
    },
    missingCode: 'secret_not_found',
    close: async () => client.destroy(),
  };
}

describeTokenStoreContract('SecretsManagerTokenStore on moto', () => secretsManagerHarness());

describeTokenStoreContract(
  'TokenSecretReader, transport fetch, on moto (SecretsManagerTokenStore writes)',
  () =>
    secretsManagerHarness(
      (clientConfig) =>
        new TokenSecretReader({
          getSecretValue: fetchGetSecretValue(signedClient(SECRETS_MANAGER_SERVICE, clientConfig)),
          secretPrefix: PREFIX,
        }),
    ),
);

describeTokenStoreContract(
  'TokenSecretReader, transport sdk, on moto (SecretsManagerTokenStore writes)',
  () =>
    secretsManagerHarness(
      (clientConfig) =>
        new TokenSecretReader({ getSecretValue: sdkGetSecretValue({ clientConfig }), secretPrefix: PREFIX }),
    ),
);

/** A JSON value as a DynamoDB attribute (what an operator's `put-item` would store). */
function toAttribute(value: unknown): AttributeValue {
  if (value === null) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toAttribute) };
  return { M: toAttributes(value as Record<string, unknown>) };
}

function toAttributes(value: Record<string, unknown>): Record<string, AttributeValue> {
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, field]) => field !== undefined)
      .map(([key, field]) => [key, toAttribute(field)]),
  );
}

async function tokenTableHarness(
  reader?: (clientConfig: Awaited<ReturnType<typeof moto.fresh>>) => Pick<TokenStore, 'readCurrent'>,
): Promise<TokenStoreHarness> {
  const clientConfig = await moto.fresh();
  const client = new DynamoDBClient(clientConfig);
  await client.send(
    new CreateTableCommand({
      TableName: TOKEN_TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'provider', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'provider', KeyType: 'HASH' }],
    }),
  );
  const store = new DynamoDbTokenStore({ client, tableName: TOKEN_TABLE });
  return {
    store: reader === undefined ? store : readingThrough(reader(clientConfig), store),
    // The stack provisions no item: the first write creates it.
    seedPlaceholder: async () => {},
    // Another writer, or an operator's `put-item`: a new version; an object's fields become attributes.
    // The record's `provider` is the item's key, so a record of another provider lands in that
    // provider's item (this one keeps its value): the layout cannot misplace a token.
    seedValue: async (provider, value) => {
      const fields =
        typeof value === 'object' && value !== null && !Array.isArray(value)
          ? toAttributes(value as Record<string, unknown>)
          : { value: toAttribute(value) };
      await client.send(
        new PutItemCommand({
          TableName: TOKEN_TABLE,
          Item: { provider: { S: provider }, ...fields, versionId: { S: randomUUID() } },
        }),
      );
    },
    missingCode: undefined,
    close: async () => client.destroy(),
  };
}

describeTokenStoreContract('DynamoDbTokenStore on moto', () => tokenTableHarness());

describeTokenStoreContract('FetchTokenItemReader on moto (DynamoDbTokenStore writes)', () =>
  tokenTableHarness(
    (clientConfig) =>
      new FetchTokenItemReader({
        client: signedClient(DYNAMODB_SERVICE, clientConfig),
        tableName: TOKEN_TABLE,
      }),
  ),
);

describe('Class: DynamoDbTokenStore on moto, beyond the contract', () => {
  let client: DynamoDBClient;
  let store: DynamoDbTokenStore;

  beforeEach(async () => {
    client = new DynamoDBClient(await moto.fresh());
    await client.send(
      new CreateTableCommand({
        TableName: TOKEN_TABLE,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'provider', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'provider', KeyType: 'HASH' }],
      }),
    );
    store = new DynamoDbTokenStore({ client, tableName: TOKEN_TABLE });
  });

  afterEach(() => client.destroy());

  it("stores the token secret's JSON fields as the item's attributes, with its version and fence", async () => {
    // Prepare
    const token = tokenRecord('acme', 3, { scope: 'api:read' });

    // Act
    const versionId = await store.write({ provider: 'acme', fence: 3, token, expectedVersionId: undefined });
    const { Item } = await client.send(
      new GetItemCommand({ TableName: TOKEN_TABLE, Key: { provider: { S: 'acme' } }, ConsistentRead: true }),
    );

    // Assess: what a consumer's GetItem sees.
    expect(Item).toStrictEqual({
      provider: { S: 'acme' },
      accessToken: { S: token.accessToken },
      tokenType: { S: 'Bearer' },
      expiresAt: { S: token.expiresAt },
      issuedAt: { S: token.issuedAt },
      scope: { S: 'api:read' },
      generation: { N: '3' },
      versionId: { S: versionId },
      fence: { N: '3' },
    });
  });

  it('refuses a holder of an earlier lease generation even from the current version, while the token is valid', async () => {
    // Prepare: generation 5 wrote; a holder of generation 4 (its lease taken over) read after that write.
    const newer = await store.write({
      provider: 'acme',
      fence: 5,
      token: tokenRecord('acme', 5),
      expectedVersionId: undefined,
    });

    // Act: its token was issued before generation 5's expires.
    const stale = store.write({
      provider: 'acme',
      fence: 4,
      token: tokenRecord('acme', 4),
      expectedVersionId: newer,
    });

    // Assess
    await expect(stale).rejects.toBeInstanceOf(WriteConflictError);
    expect(await store.readCurrent('acme')).toStrictEqual({
      versionId: newer,
      token: tokenRecord('acme', 5),
    });
  });

  it('lets a lower fence replace an expired token (the state item was lost and its fence began again at 1)', async () => {
    // Prepare: generation 40 wrote long ago.
    const old = await store.write({
      provider: 'acme',
      fence: 40,
      token: tokenRecord('acme', 1),
      expectedVersionId: undefined,
    });

    // Act: fence 1 writes a token issued after that one expired.
    const versionId = await store.write({
      provider: 'acme',
      fence: 1,
      token: tokenRecord('acme', 3),
      expectedVersionId: old,
    });

    // Assess
    expect(await store.readCurrent('acme')).toStrictEqual({ versionId, token: tokenRecord('acme', 3) });
  });
});
