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
 * `GetItem` goes out as one SigV4-signed `DynamoDB_20120810.GetItem` request by default (transport
 * `fetch`: no AWS SDK code is loaded, credentials come from the Lambda environment), or through the
 * AWS SDK's `DynamoDBClient` (transport `sdk`; `@aws-sdk/client-dynamodb`, an optional peer
 * dependency, imported on first read); the choice follows the Secrets Manager source's rules
 * (dynamodb-transport.ts), and both give the same answers and error codes.
 *
 * Entry point `@token-refresher/client/dynamodb`.
 */
import type { AttributeValue, DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DYNAMODB_SERVICE } from './aws-endpoint.js';
import {
  DEFAULT_DYNAMODB_CLIENT_CONFIG,
  type DynamoDbTransport,
  type DynamoDbTransportOptions,
  planDynamoDbTransport,
} from './dynamodb-transport.js';
import { TokenClientError } from './errors.js';
import type { HttpFetch } from './http.js';
import { checkTokenTableName } from './options.js';
import type { TransportPlan } from './secrets-manager-transport.js';
import { AwsRequestError, awsJsonClientFor } from './signed-fetch.js';
import { type ClientToken, toClientToken } from './token.js';
import { type Clock, TokenClient, type TokenClientOptions, type TokenSource } from './token-client.js';

// Everything a consumer of this entry point needs, so that it never has to import the index.
export { DEFAULT_DYNAMODB_CLIENT_CONFIG, type DynamoDbTransport } from './dynamodb-transport.js';
export { TokenClientError, type TokenClientErrorCode } from './errors.js';
export type { HttpFetch, HttpRequestInit, HttpResponse } from './http.js';
export type { ClientToken } from './token.js';
export { type Clock, TokenClient, type TokenClientOptions, type WithTokenOptions } from './token-client.js';

/** The item attributes a consumer reads: the token record's, no bookkeeping. */
const PROJECTED = ['provider', 'accessToken', 'tokenType', 'expiresAt'] as const;

export interface DynamoDbSourceOptions {
  /** The token table: its name (the stack output `TokenTableName`) or its ARN. */
  readonly tableName: string;
  /**
   * How `GetItem` is sent:
   * - `'fetch'`: one SigV4-signed HTTPS request, no AWS SDK code loaded. Credentials: `clientConfig`'s,
   *   else the environment's (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: the
   *   function's role on Lambda), else the SDK's default chain (`@aws-sdk/credential-provider-node`,
   *   imported then). Region: `clientConfig.region`, else `AWS_REGION`. Endpoint: `clientConfig.endpoint`,
   *   else `AWS_ENDPOINT_URL_DYNAMODB`, else `AWS_ENDPOINT_URL`, else the regional one.
   * - `'sdk'`: the AWS SDK's `DynamoDBClient` (`client`, or one built from `clientConfig`), imported on
   *   the first read.
   *
   * @default `'fetch'`, unless `client` is given, `clientConfig` sets anything but a string `region`
   *   and `endpoint`, `credentials` and `maxAttempts`, no region is set, or `AWS_USE_FIPS_ENDPOINT` /
   *   `AWS_USE_DUALSTACK_ENDPOINT` is, or `AWS_ACCOUNT_ID_ENDPOINT_MODE` is `required`: then `'sdk'`,
   *   which resolves those as the SDK always does
   */
  readonly transport?: DynamoDbTransport;
  /** An SDK client to use (share one per container; tests pass a mocked one): transport `sdk`. */
  readonly client?: DynamoDBClient;
  /**
   * Client config: `region`, `endpoint`, `credentials` and `maxAttempts` apply to both transports;
   * anything else selects transport `sdk` (or is refused with `transport: 'fetch'`).
   * @default {@link DEFAULT_DYNAMODB_CLIENT_CONFIG}
   */
  readonly clientConfig?: DynamoDBClientConfig;
  /** Transport `fetch`: the HTTP function (`globalThis.fetch` will do). @default over `node:https` */
  readonly fetch?: HttpFetch;
  /** Transport `fetch`: dates the signatures. @default the system clock */
  readonly clock?: Clock;
}

export interface DynamoDbTokenClientOptions extends DynamoDbSourceOptions, TokenClientOptions {}

/** {@link TokenSource} over `GetItem` of the provider's item in the token table. */
export class DynamoDbTokenSource implements TokenSource {
  readonly #tableName: string;
  readonly #getItem: GetTokenItem;

  /** @throws TokenClientError `invalid_options` */
  constructor(options: DynamoDbSourceOptions) {
    this.#tableName = checkTokenTableName(options?.tableName);
    this.#getItem = dynamoDbTransport(planDynamoDbTransport(options), options);
  }

  /** @throws TokenClientError (see {@link parseTokenItem} and {@link translateDynamoDbError}) */
  async read(provider: string): Promise<ClientToken> {
    let item: Record<string, AttributeValue> | undefined;
    try {
      item = await this.#getItem(getItemInput(this.#tableName, provider));
    } catch (error) {
      throw translateDynamoDbError(error, this.#tableName);
    }
    return parseTokenItem(provider, item, this.#tableName);
  }

  /** The table cannot refresh: read again, and let the client compare. */
  replaceRejected(provider: string): Promise<ClientToken> {
    return this.read(provider);
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
 * Translate an exception of `GetItem` (the SDK's, or the `fetch` transport's, which is named the
 * same) into a {@link TokenClientError}. A `TokenClientError` is returned as it is.
 *
 * | exception | code |
 * |---|---|
 * | `ResourceNotFoundException` | `table_not_found` |
 * | `AccessDeniedException` | `access_denied` |
 * | anything else (throttling, 5xx, network, timeout, no credentials) | `read_failed` |
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

/** The `GetItem` input of a provider's item: strongly consistent, the token fields only. */
function getItemInput(tableName: string, provider: string) {
  return {
    TableName: tableName,
    Key: { provider: { S: provider } },
    // The refresher writes before a token's last `marginMs`: a strongly consistent read sees it.
    ConsistentRead: true,
    ProjectionExpression: PROJECTED.map((name) => `#${name}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(PROJECTED.map((name) => [`#${name}`, name])),
  };
}

type GetItemInput = ReturnType<typeof getItemInput>;

/** `GetItem`: the output's `Item`, `undefined` when there is none. */
type GetTokenItem = (input: GetItemInput) => Promise<Record<string, AttributeValue> | undefined>;

/**
 * The planned transport's `GetItem`. Both answer the output's `Item` or throw what
 * {@link translateDynamoDbError} turns into the same codes: the SDK's exceptions, or the `fetch`
 * transport's {@link AwsRequestError}s, named as the SDK names them.
 */
function dynamoDbTransport(plan: TransportPlan, options: DynamoDbTransportOptions): GetTokenItem {
  return plan.kind === 'fetch' ? fetchTransport(plan, options) : sdkTransport(options);
}

function fetchTransport(
  plan: Extract<TransportPlan, { kind: 'fetch' }>,
  options: DynamoDbTransportOptions,
): GetTokenItem {
  const client = awsJsonClientFor(DYNAMODB_SERVICE, plan, options);
  return async (input) => {
    const output = await client.request('GetItem', input);
    const item = (output as { Item?: unknown } | null)?.Item;
    if (item === undefined || item === null) return undefined;
    if (typeof item !== 'object' || Array.isArray(item)) {
      // Where the SDK's deserializer would fail too: not a token item, and nothing of it is quoted.
      throw new AwsRequestError('SerializationError', 'GetItem answered an Item that is not a map', 200);
    }
    // The wire format of an item is the SDK's `AttributeValue` shape ({ "S": "…" }).
    return item as Record<string, AttributeValue>;
  };
}

function sdkTransport(options: DynamoDbTransportOptions): GetTokenItem {
  let loading: ReturnType<typeof loadSdk> | undefined;
  return async (input) => {
    loading ??= loadSdk(options).catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    const { client, GetItemCommand } = await loading;
    return (await client.send(new GetItemCommand(input))).Item;
  };
}

/**
 * The SDK, imported with `import()` on first use, never statically: a bundler hoists a static import
 * of an external package to the top of the bundle, where it loads at cold start, whereas it keeps a
 * dynamic one dynamic.
 */
async function loadSdk(options: DynamoDbTransportOptions) {
  let sdk: typeof import('@aws-sdk/client-dynamodb');
  try {
    sdk = await import('@aws-sdk/client-dynamodb');
  } catch (error) {
    throw new TokenClientError(
      'The dynamodb source needs the AWS SDK package @aws-sdk/client-dynamodb for transport "sdk" ' +
        "(npm install @aws-sdk/client-dynamodb; Lambda's Node.js runtime provides it), or let the source use " +
        'transport "fetch" (set AWS_REGION, pass no client)',
      'read_failed',
      { cause: error },
    );
  }
  const client =
    options.client ?? new sdk.DynamoDBClient({ ...DEFAULT_DYNAMODB_CLIENT_CONFIG, ...options.clientConfig });
  return { client, GetItemCommand: sdk.GetItemCommand };
}
