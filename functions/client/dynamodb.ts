/**
 * Source `dynamodb`: the consumer reads the provider's item of the token table (providers with
 * `tokenStore: "dynamodb"`, for short-lived tokens) itself, with one strongly consistent `GetItem`
 * per token generation per container. It needs `grantRead` on that provider: `dynamodb:GetItem`
 * limited to the provider's key (`dynamodb:LeadingKeys`) and `kms:Decrypt` through DynamoDB.
 *
 * The cache rules are the other sources': the client keeps the token until `expiresAt − marginMs`.
 * Like Secrets Manager, this source cannot trigger a refresh: after a 401, `withToken` reads the item
 * again and retries only if the refresher has already written another token.
 *
 * The AWS SDK's `DynamoDBClient` (`@aws-sdk/client-dynamodb`, an optional peer dependency) is
 * imported on the first read, never at load. Entry point `@token-refresher/client/dynamodb`.
 */
import type { AttributeValue, DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { TokenClientError } from './errors.js';
import { checkTokenTableName } from './options.js';
import { type ClientToken, toClientToken } from './token.js';
import { TokenClient, type TokenClientOptions, type TokenSource } from './token-client.js';

// Everything a consumer of this entry point needs, so that it never has to import the index.
export { TokenClientError, type TokenClientErrorCode } from './errors.js';
export type { ClientToken } from './token.js';
export { type Clock, TokenClient, type TokenClientOptions, type WithTokenOptions } from './token-client.js';

/** Defaults of the client built when none is injected: a few quick retries, and timeouts. */
export const DEFAULT_DYNAMODB_CLIENT_CONFIG = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 },
} as const;

/** The item attributes a consumer reads: the token record's, no bookkeeping. */
const PROJECTED = ['provider', 'accessToken', 'tokenType', 'expiresAt'] as const;

export interface DynamoDbSourceOptions {
  /** The token table: its name (the stack output `TokenTableName`) or its ARN. */
  readonly tableName: string;
  /** An SDK client to use (share one per container; tests pass a mocked one). Wins over `clientConfig`. */
  readonly client?: DynamoDBClient;
  /**
   * Config of the client built when `client` is absent; region and endpoint come from the
   * environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`) unless set here.
   * @default {@link DEFAULT_DYNAMODB_CLIENT_CONFIG}
   */
  readonly clientConfig?: DynamoDBClientConfig;
}

export interface DynamoDbTokenClientOptions extends DynamoDbSourceOptions, TokenClientOptions {}

type DynamoDbSdk = typeof import('@aws-sdk/client-dynamodb');

/** {@link TokenSource} over `GetItem` of the provider's item in the token table. */
export class DynamoDbTokenSource implements TokenSource {
  readonly #tableName: string;
  readonly #options: DynamoDbSourceOptions;
  #sdk: Promise<{ readonly sdk: DynamoDbSdk; readonly client: DynamoDBClient }> | undefined;

  /** @throws TokenClientError `invalid_options` */
  constructor(options: DynamoDbSourceOptions) {
    this.#tableName = checkTokenTableName(options?.tableName);
    this.#options = options;
  }

  /** @throws TokenClientError (see {@link parseTokenItem} and {@link translateDynamoDbError}) */
  async read(provider: string): Promise<ClientToken> {
    let item: Record<string, AttributeValue> | undefined;
    try {
      const { sdk, client } = await this.#loadSdk();
      ({ Item: item } = await client.send(
        new sdk.GetItemCommand({
          TableName: this.#tableName,
          Key: { provider: { S: provider } },
          // The refresher writes before a token's last `marginMs`: a strongly consistent read sees it.
          ConsistentRead: true,
          ProjectionExpression: PROJECTED.map((name) => `#${name}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(PROJECTED.map((name) => [`#${name}`, name])),
        }),
      ));
    } catch (error) {
      throw translateDynamoDbError(error, this.#tableName);
    }
    return parseTokenItem(provider, item, this.#tableName);
  }

  /** The table cannot refresh: read again, and let the client compare. */
  replaceRejected(provider: string): Promise<ClientToken> {
    return this.read(provider);
  }

  /** The SDK, imported on the first read (a failed import is tried again next time). */
  #loadSdk(): Promise<{ readonly sdk: DynamoDbSdk; readonly client: DynamoDBClient }> {
    this.#sdk ??= import('@aws-sdk/client-dynamodb').then(
      (sdk) => ({
        sdk,
        client:
          this.#options.client ??
          new sdk.DynamoDBClient({ ...DEFAULT_DYNAMODB_CLIENT_CONFIG, ...this.#options.clientConfig }),
      }),
      (error: unknown) => {
        this.#sdk = undefined;
        throw new TokenClientError(
          'The dynamodb source needs the AWS SDK package @aws-sdk/client-dynamodb (npm install @aws-sdk/client-dynamodb; ' +
            "Lambda's Node.js runtime provides it)",
          'read_failed',
          { cause: error },
        );
      },
    );
    return this.#sdk;
  }
}

/**
 * A client reading tokens straight from the DynamoDB token table. Build it once per container.
 * @throws TokenClientError `invalid_options`
 */
export function createDynamoDbTokenClient(options: DynamoDbTokenClientOptions): TokenClient {
  return new TokenClient(new DynamoDbTokenSource(options), options);
}

/**
 * The token in a token item.
 * @throws TokenClientError `token_not_ready` (no item: no refresh has succeeded yet),
 *   `invalid_token_record`, `provider_mismatch`
 */
export function parseTokenItem(
  provider: string,
  item: Record<string, AttributeValue> | undefined,
  tableName: string,
): ClientToken {
  const what = `Token item "${provider}" of table "${tableName}"`;
  if (item === undefined) {
    throw new TokenClientError(
      `${what} does not exist yet: the first refresh of provider "${provider}" has not succeeded (or the ` +
        'provider does not keep its token in DynamoDB); check that its credentials secret is filled and the refresher has run',
      'token_not_ready',
    );
  }
  // Only string attributes are read; anything else fails the record's checks, naming the field.
  const record = Object.fromEntries(PROJECTED.map((name) => [name, item[name]?.S]));
  return toClientToken(provider, record, what);
}

/**
 * Translate an SDK exception of `GetItem` into a {@link TokenClientError}.
 *
 * | SDK exception | code |
 * |---|---|
 * | `ResourceNotFoundException` | `table_not_found` |
 * | `AccessDeniedException` | `access_denied` |
 * | anything else (throttling, 5xx, network, timeout) | `read_failed` |
 */
export function translateDynamoDbError(error: unknown, tableName: string): TokenClientError {
  if (error instanceof TokenClientError) return error;
  const name = error instanceof Error ? error.name : 'UnknownError';
  switch (name) {
    case 'ResourceNotFoundException':
      return new TokenClientError(
        `Token table "${tableName}" was not found (${name}); check tableName (the stack output TokenTableName) and the region`,
        'table_not_found',
        { cause: error },
      );
    case 'AccessDeniedException':
      return new TokenClientError(
        `Reading token table "${tableName}" was denied (${name}); grant the consumer read access for this ` +
          "provider (TokenRefresher.grantRead: GetItem on the provider's key and kms:Decrypt on the table's key)",
        'access_denied',
        { cause: error },
      );
    default:
      return new TokenClientError(`Reading token table "${tableName}" failed (${name})`, 'read_failed', {
        cause: error,
      });
  }
}
