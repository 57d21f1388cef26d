/**
 * The read function's SDK-free reader of the DynamoDB token table: one SigV4-signed, strongly
 * consistent `GetItem` per read (`aws-transport.ts`), answering what `DynamoDbTokenStore.readCurrent`
 * answers and throwing the same `StoreError`s (the same `toTokenRecord` and `translateTokenTableError`
 * of dynamodb-token-store.ts, which imports only SDK types). The item arrives in DynamoDB's JSON
 * wire format, which is the SDK's `AttributeValue` shape.
 *
 * Read side only: the read function never writes a token.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { AwsJsonClient } from '../client/signed-fetch.js';
import { TOKEN_TABLE_PARTITION_KEY } from '../core/names.js';
import type { TokenStore } from '../core/ports.js';
import type { CurrentToken } from '../core/types.js';
import { NO_TOKEN_VERSION, toTokenRecord, translateTokenTableError } from './dynamodb-token-store.js';

export class FetchTokenItemReader implements Pick<TokenStore, 'readCurrent'> {
  readonly #client: AwsJsonClient;
  readonly #tableName: string;

  /** @param options.client a DynamoDB {@link AwsJsonClient} (one per container) */
  constructor(options: { readonly client: AwsJsonClient; readonly tableName: string }) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  /**
   * As `DynamoDbTokenStore.readCurrent`: no item, or an item without `versionId`, reads as no token at
   * version {@link NO_TOKEN_VERSION}; an item that is not a valid token record of this provider as
   * `token: undefined`.
   * @throws StoreError `token_table_not_found`, `dynamodb_access_denied` (permanent) or `dynamodb_unavailable`
   */
  async readCurrent(provider: string): Promise<CurrentToken> {
    let output: unknown;
    try {
      output = await this.#client.request('GetItem', {
        TableName: this.#tableName,
        Key: { [TOKEN_TABLE_PARTITION_KEY]: { S: provider } },
        ConsistentRead: true,
      });
    } catch (error) {
      throw translateTokenTableError(error, 'GetItem', this.#tableName);
    }
    const item = (output as { Item?: unknown } | null)?.Item;
    if (typeof item !== 'object' || item === null) return { versionId: NO_TOKEN_VERSION, token: undefined };
    const attributes = item as Record<string, AttributeValue>;
    const versionId = attributes.versionId?.S;
    return {
      versionId: typeof versionId === 'string' ? versionId : NO_TOKEN_VERSION,
      token: toTokenRecord(attributes, provider),
    };
  }
}
