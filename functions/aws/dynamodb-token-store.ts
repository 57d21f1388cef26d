/**
 * The DynamoDB token store (`tokenStore: "dynamodb"`): one item per provider in the token table, for
 * tokens refreshed more often than Secrets Manager's write rate allows (docs/limits.md, "Short-lived
 * tokens"). Consumers read it with one `GetItem`, authorized per provider by `dynamodb:LeadingKeys`.
 *
 * | attribute | type | |
 * |---|---|---|
 * | `provider` | S | the partition key, and the token record's `provider` |
 * | `accessToken`, `tokenType`, `expiresAt`, `issuedAt`, `scope`? | S | the token record's fields, as in the token secret |
 * | `generation` | N | the token record's `generation` |
 * | `versionId` | S | the version of this value: the `expectedVersionId` of the next write |
 * | `fence` | N | the lease generation that wrote it |
 *
 * Its share of the refresh protocol's step 5 (docs/architecture.md): one `PutItem` whose condition is
 * the compare-and-swap, clause by clause:
 * - `versionId = :expected` (or `attribute_not_exists(versionId)` for a provider with no item yet):
 *   the value is still the one this holder read, so a writer that lost the race fails instead of
 *   overwriting a newer token — the guarantee of the token secret's `RemoveFromVersionId`;
 * - `AND (attribute_not_exists(fence) OR fence < :fence OR expiresAt < :issuedAt)`: and the stored
 *   value was written under an earlier lease generation, so a holder whose lease was taken over is
 *   fenced by the storage even when it read after the newer write (the secret cannot do this). The
 *   last clause lets a lower fence replace an expired token: the state item's fence starts again at 1
 *   when that item is lost (a provider removed and added back after its TTL, a table restore), and a
 *   store that waited for the fence to pass its old maximum would serve nothing meanwhile.
 *
 * The new version id is derived from `(provider, fence, expectedVersionId)`, so a repeated write (a
 * retry after a lost answer) finds its own version in the failed condition's old item
 * (`ReturnValuesOnConditionCheckFailure: ALL_OLD`) and returns it, and another value under the same
 * id is refused — idempotent per `(provider, fence)` as the secret's `ClientRequestToken` is.
 *
 * No provisioning: a provider without an item (or an item without `versionId`, an operator's
 * `put-item`) reads as no token at version {@link NO_TOKEN_VERSION}, and the first write creates the
 * item. Values are marshalled by hand, as in `state-table.ts`: the shape is small and fixed.
 */
import type { AttributeValue, DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { StoreError, WriteConflictError } from '../core/errors.js';
import { TOKEN_TABLE_PARTITION_KEY } from '../core/names.js';
import type { TokenStore } from '../core/ports.js';
import { tokenRecordSchema } from '../core/token-record.js';
import type { CurrentToken, TokenRecord } from '../core/types.js';
import { DEFAULT_CLIENT_CONFIG } from './clients.js';
import { awsErrorName, isAwsError } from './sdk-errors.js';
import { writeVersionIdOf } from './write-version-id.js';

/** The DynamoDB SDK, loaded on first use (the read function loads it only if a provider needs it). */
type DynamoDbSdk = typeof import('@aws-sdk/client-dynamodb');

/** The version of a provider that has no item (or an item no writer of ours made). */
export const NO_TOKEN_VERSION = 'none';

/** The token record's fields, in the order they are stored. */
const TOKEN_FIELDS = [
  'provider',
  'accessToken',
  'tokenType',
  'expiresAt',
  'issuedAt',
  'scope',
  'generation',
] as const;

export interface DynamoDbTokenStoreOptions {
  /** A client to use (tests pass a mocked one; handlers share one per container). */
  readonly client?: DynamoDBClient;
  /** Config for the client built when `client` is absent (defaults from `clients.ts`). */
  readonly clientConfig?: DynamoDBClientConfig;
  /** The token table's name (`TOKEN_TABLE_NAME`). */
  readonly tableName: string;
}

/** {@link TokenStore} on a DynamoDB item per provider, with a conditional `PutItem` as compare-and-swap. */
export class DynamoDbTokenStore implements TokenStore {
  readonly #options: DynamoDbTokenStoreOptions;
  readonly #tableName: string;
  #sdk: Promise<{ readonly sdk: DynamoDbSdk; readonly client: DynamoDBClient }> | undefined;

  constructor(options: DynamoDbTokenStoreOptions) {
    this.#options = options;
    this.#tableName = options.tableName;
  }

  /**
   * The SDK module, imported on the first call (`import()`, so that a bundle whose providers all use
   * Secrets Manager never loads it at cold start), and the injected client or a new one.
   */
  #loadSdk(): Promise<{ readonly sdk: DynamoDbSdk; readonly client: DynamoDBClient }> {
    this.#sdk ??= import('@aws-sdk/client-dynamodb').then((sdk) => ({
      sdk,
      client:
        this.#options.client ??
        new sdk.DynamoDBClient({ ...DEFAULT_CLIENT_CONFIG, ...this.#options.clientConfig }),
    }));
    return this.#sdk;
  }

  /**
   * Strongly consistent `GetItem` (the version is the compare of the next write). An item that is
   * not a valid token record of this provider reads as `token: undefined`, so the engine refreshes
   * and overwrites it; no item reads the same, at version {@link NO_TOKEN_VERSION}.
   * @throws StoreError `token_table_not_found`, `dynamodb_access_denied` (permanent) or `dynamodb_unavailable`
   */
  async readCurrent(provider: string): Promise<CurrentToken> {
    const { sdk, client } = await this.#loadSdk();
    let item: Record<string, AttributeValue> | undefined;
    try {
      ({ Item: item } = await client.send(
        new sdk.GetItemCommand({
          TableName: this.#tableName,
          Key: { [TOKEN_TABLE_PARTITION_KEY]: { S: provider } },
          ConsistentRead: true,
        }),
      ));
    } catch (error) {
      throw this.#translate(error, 'GetItem');
    }
    if (item === undefined) return { versionId: NO_TOKEN_VERSION, token: undefined };
    return { versionId: item.versionId?.S ?? NO_TOKEN_VERSION, token: toTokenRecord(item, provider) };
  }

  /**
   * Replace the item, only from `expectedVersionId` and only over an earlier lease generation (see
   * the file comment). Idempotent per `(provider, fence, expectedVersionId)`.
   * @returns the new version id
   * @throws WriteConflictError when the item moved on meanwhile (a newer token stays)
   * @throws StoreError (see {@link readCurrent})
   */
  async write(input: {
    readonly provider: string;
    readonly fence: number;
    readonly token: TokenRecord;
    readonly expectedVersionId: string | undefined;
  }): Promise<string> {
    const { provider, fence, token } = input;
    const expected = input.expectedVersionId ?? NO_TOKEN_VERSION;
    const versionId = tokenVersionIdFor(provider, fence, expected);
    const item = toItem(provider, token, versionId, fence);
    const { sdk, client } = await this.#loadSdk();
    try {
      await client.send(
        new sdk.PutItemCommand({
          TableName: this.#tableName,
          Item: item,
          ConditionExpression: `${expected === NO_TOKEN_VERSION ? 'attribute_not_exists(versionId)' : 'versionId = :expected'} AND (attribute_not_exists(fence) OR fence < :fence OR expiresAt < :issuedAt)`,
          ExpressionAttributeValues: {
            ...(expected === NO_TOKEN_VERSION ? {} : { ':expected': { S: expected } }),
            ':fence': { N: String(fence) },
            ':issuedAt': { S: token.issuedAt },
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return versionId;
    } catch (error) {
      if (!isAwsError(error, 'ConditionalCheckFailedException')) throw this.#translate(error, 'PutItem');
      const old = (error as { Item?: Record<string, AttributeValue> }).Item;
      // This very write, finished before (its answer was lost, or it is a repeat): it is current.
      if (old?.versionId?.S === versionId && sameToken(old, item)) return versionId;
      throw new WriteConflictError(
        `The token item of provider "${provider}" moved from version ${expected} to ` +
          `${old?.versionId?.S ?? NO_TOKEN_VERSION} (fence ${old?.fence?.N ?? 'none'}) meanwhile, or this ` +
          `lease generation (${fence}) already wrote another value; the stored token stays`,
        { cause: error },
      );
    }
  }

  /** {@link translateTokenTableError} for this table. */
  #translate(error: unknown, operation: string): StoreError {
    return translateTokenTableError(error, operation, this.#tableName);
  }
}

/**
 * The domain error of a token table call, from the SDK's exception or the SDK-free transport's error
 * of the same name (the read function's `fetch` path, `fetch-token-readers.ts`).
 *
 * | SDK exception | domain error |
 * |---|---|
 * | `ResourceNotFoundException` | `StoreError` `token_table_not_found`, permanent |
 * | `AccessDeniedException` | `StoreError` `dynamodb_access_denied`, permanent |
 * | anything else: throttling, 5xx, network, timeouts | `StoreError` `dynamodb_unavailable`, transient |
 */
export function translateTokenTableError(error: unknown, operation: string, tableName: string): StoreError {
  const name = awsErrorName(error);
  switch (name) {
    case 'ResourceNotFoundException':
      return new StoreError(
        `DynamoDB token table "${tableName}" was not found (${operation}); deploy the stack with a ` +
          'provider whose tokenStore is "dynamodb", or fix TOKEN_TABLE_NAME',
        'token_table_not_found',
        'permanent',
        { cause: error },
      );
    case 'AccessDeniedException':
      return new StoreError(
        `Access denied to DynamoDB token table "${tableName}" (${operation}); grant the function ` +
          `dynamodb:${operation} on it and kms:Decrypt/GenerateDataKey on its key`,
        'dynamodb_access_denied',
        'permanent',
        { cause: error },
      );
    default:
      return new StoreError(
        `DynamoDB ${operation} on token table "${tableName}" failed (${name}); retry later`,
        'dynamodb_unavailable',
        'transient',
        { cause: error },
      );
  }
}

/**
 * The version id of one logical write, as `clientRequestTokenFor` in `secrets.ts` names a secret
 * version (the same `writeVersionIdOf`).
 */
export function tokenVersionIdFor(provider: string, fence: number, expectedVersionId: string): string {
  return writeVersionIdOf(['token-refresher', 'dynamodb-token', provider, fence, expectedVersionId]);
}

/** The item of a token record. */
function toItem(
  provider: string,
  token: TokenRecord,
  versionId: string,
  fence: number,
): Record<string, AttributeValue> {
  return {
    [TOKEN_TABLE_PARTITION_KEY]: { S: provider },
    accessToken: { S: token.accessToken },
    tokenType: { S: token.tokenType },
    expiresAt: { S: token.expiresAt },
    issuedAt: { S: token.issuedAt },
    ...(token.scope === undefined ? {} : { scope: { S: token.scope } }),
    generation: { N: String(token.generation) },
    versionId: { S: versionId },
    fence: { N: String(fence) },
  };
}

/** The item's token record, if it is a valid one of `provider`. */
export function toTokenRecord(
  item: Record<string, AttributeValue>,
  provider: string,
): TokenRecord | undefined {
  const fields = Object.fromEntries(
    TOKEN_FIELDS.flatMap((field) => {
      const value = scalar(item[field]);
      return value === undefined ? [] : [[field, value]];
    }),
  );
  const parsed = tokenRecordSchema.safeParse(fields);
  // A record of another provider is a misplaced item: no token, rather than A's token for B.
  return parsed.success && parsed.data.provider === provider ? parsed.data : undefined;
}

/** A string or number attribute's value; anything else reads as absent (and fails the schema if required). */
function scalar(value: AttributeValue | undefined): string | number | undefined {
  if (value?.S !== undefined) return value.S;
  if (value?.N !== undefined) return Number(value.N);
  return undefined;
}

/** Whether the old item holds the same token as the item this write would put. */
function sameToken(old: Record<string, AttributeValue>, item: Record<string, AttributeValue>): boolean {
  return TOKEN_FIELDS.every((field) => scalar(old[field]) === scalar(item[field]));
}
