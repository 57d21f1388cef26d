/**
 * The DynamoDB state/lock table: one item per provider, keyed by `provider` (S).
 *
 * Attributes (docs/architecture.md, "State/lock table item"); times are epoch milliseconds except `ttl`:
 *
 * | attribute | type | written by |
 * |---|---|---|
 * | `provider` | S | key |
 * | `leaseOwner`, `leaseExpiresAt` | S, N | acquire (set), release (removed) |
 * | `fence` | N | acquire (`ADD 1`) |
 * | `tokenExpiresAt`, `nextRefreshAt`, `tokenVersionId` | N, N, S | release |
 * | `lastSuccessAt` | N | release (success) |
 * | `lastErrorAt`, `lastErrorCode`, `lastErrorPermanent` | N, S, BOOL | release (failure); a success removes code and flag and keeps `lastErrorAt` as history |
 * | `consecutiveFailures` | N | acquire (`if_not_exists` 0), release (+1 or 0) |
 * | `preciseRunFor` | N | release (success, failure: set when the precise run was armed, removed otherwise), recordPreciseRun |
 * | `onDemandRefreshes` | L of N | recordOnDemandRefreshes (under the lease, before the provider call it counts) |
 * | `credentialsVersionId` | S | release (success, failure, observed: when the run read or wrote the credentials; kept otherwise) |
 * | `recordedFence` | N | release (success, observed: the releasing fence; kept otherwise): the generation that recorded the stored token |
 * | `ttl` | N, epoch **seconds** | release: `max(now, tokenExpiresAt)` + `ttlDays` |
 *
 * `ttl` lets DynamoDB delete the item of a provider that was removed from the config; an active
 * provider's item is pushed forward at every release. Values are marshalled by hand (`state-item.ts`
 * reads them back): the schema is small and fixed, and it keeps `@aws-sdk/util-dynamodb` out of the
 * bundle.
 */
import {
  type AttributeValue,
  DynamoDBClient,
  type DynamoDBClientConfig,
  GetItemCommand,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { StoreError } from '../core/errors.js';
import type { ReleaseRecord, StateTable } from '../core/ports.js';
import type { ProviderState } from '../core/types.js';
import { DEFAULT_CLIENT_CONFIG } from './clients.js';
import { awsErrorName, isAwsError } from './sdk-errors.js';
import { toProviderState } from './state-item.js';

const DAY_MS = 86_400_000;

/** The parts of a release's `UpdateItem`. */
interface ReleaseUpdate {
  readonly set: string[];
  readonly remove: string[];
  readonly values: Record<string, AttributeValue>;
}

export interface DynamoDbStateTableOptions {
  /** A client to use (tests pass a mocked one; handlers share one per container). */
  readonly client?: DynamoDBClient;
  /** Config for the client built when `client` is absent (defaults from `clients.ts`). */
  readonly clientConfig?: DynamoDBClientConfig;
  readonly tableName: string;
  /**
   * Days an item is kept after its last release (after the token's expiry if later).
   * @default 30
   */
  readonly ttlDays?: number;
}

/** {@link StateTable} on DynamoDB: conditional `UpdateItem`s implement the lease and the fence. */
export class DynamoDbStateTable implements StateTable {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #ttlDays: number;

  constructor(options: DynamoDbStateTableOptions) {
    this.#client = options.client ?? createDynamoDbClient(options.clientConfig);
    this.#tableName = options.tableName;
    this.#ttlDays = options.ttlDays ?? 30;
  }

  /** Strongly consistent read (the cheap check must see the last release). */
  async read(provider: string): Promise<ProviderState | undefined> {
    try {
      const output = await this.#client.send(
        new GetItemCommand({
          TableName: this.#tableName,
          Key: { provider: { S: provider } },
          ConsistentRead: true,
        }),
      );
      return output.Item === undefined ? undefined : toProviderState(output.Item);
    } catch (error) {
      throw this.#translate(error, 'GetItem');
    }
  }

  /**
   * Take the lease if free or expired, incrementing the fence in the same write.
   *
   * A write that DynamoDB applied but answered with a 5xx or a lost connection is retried by the SDK,
   * and the retry then fails its condition against our own lease. The failed check returns the item
   * (`ReturnValuesOnConditionCheckFailure: ALL_OLD`): when it holds exactly this attempt's lease
   * (same owner, same expiry), the lease is ours, at the fence the applied write gave it.
   * @returns the item after the write, or `undefined` when another holder's lease is live.
   */
  async acquire(input: {
    readonly provider: string;
    readonly owner: string;
    readonly now: number;
    readonly leaseExpiresAt: number;
  }): Promise<ProviderState | undefined> {
    try {
      const output = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { provider: { S: input.provider } },
          // - `attribute_not_exists(leaseOwner)`: nobody holds the lease (released, or the item is
          //   new — UpdateItem creates it, so the first run needs no seeding).
          // - `OR leaseExpiresAt < :now`: a holder that crashed or timed out; its lease simply
          //   expired. Strictly less: a lease is live up to and including its expiry instant.
          ConditionExpression: 'attribute_not_exists(leaseOwner) OR leaseExpiresAt < :now',
          // `ADD fence :one` creates the fence at 1 on a new item and increments it otherwise, in the
          // same atomic write as the lease: each holder gets its own generation, which guards its
          // release and names the token it writes. `consecutiveFailures` starts at 0 on a new item.
          UpdateExpression:
            'SET leaseOwner = :owner, leaseExpiresAt = :leaseExpiresAt, ' +
            'consecutiveFailures = if_not_exists(consecutiveFailures, :zero) ADD fence :one',
          ExpressionAttributeValues: {
            ':owner': { S: input.owner },
            ':leaseExpiresAt': { N: String(input.leaseExpiresAt) },
            ':now': { N: String(input.now) },
            ':one': { N: '1' },
            ':zero': { N: '0' },
          },
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      if (output.Attributes === undefined) {
        throw new StoreError(
          `UpdateItem on table "${this.#tableName}" returned no attributes despite ReturnValues ALL_NEW`,
          'dynamodb_unavailable',
          'transient',
        );
      }
      return toProviderState(output.Attributes);
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) {
        const item = (error as { Item?: Record<string, AttributeValue> }).Item;
        if (
          item?.leaseOwner?.S === input.owner &&
          item.leaseExpiresAt?.N === String(input.leaseExpiresAt) &&
          item.fence?.N !== undefined
        ) {
          return toProviderState(item); // our own write, applied before the SDK retried it
        }
        // Lost the race: another holder's lease is live. Not an error.
        return undefined;
      }
      throw this.#translate(error, 'UpdateItem');
    }
  }

  /**
   * Record the outcome and release the lease in one write guarded by owner and fence.
   * @returns false when the lease was lost meanwhile (nothing written).
   */
  async release(input: {
    readonly provider: string;
    readonly owner: string;
    readonly fence: number;
    readonly now: number;
    readonly record: ReleaseRecord;
  }): Promise<boolean> {
    const { set, remove, values } = withCredentialsVersion(
      withPreciseRun(this.#releaseUpdate(input.now, input.record), input.record),
      input.record,
    );
    return this.#updateIfStill({
      TableName: this.#tableName,
      Key: { provider: { S: input.provider } },
      // - `leaseOwner = :owner`: we still hold the lease; nobody took it over after it expired
      //   (that holder's write must win, ours must not clear its lease).
      // - `AND fence = :fence`: and it is the same lease generation, not a later one taken under
      //   the same owner id (Lambda reuses the request id when it retries an async invocation,
      //   so an old attempt must not release, or overwrite the record of, the retry's lease).
      // Both also fail on a missing item, so a release never creates one.
      ConditionExpression: 'leaseOwner = :owner AND fence = :fence',
      UpdateExpression: `${set.length === 0 ? '' : `SET ${set.join(', ')} `}REMOVE ${remove.join(', ')}`,
      // `ttl` is a DynamoDB reserved word.
      ...(set.length === 0 ? {} : { ExpressionAttributeNames: { '#ttl': 'ttl' } }),
      ExpressionAttributeValues: {
        ...values,
        ':owner': { S: input.owner },
        ':fence': { N: String(input.fence) },
      },
    });
  }

  /**
   * Record that the token secret no longer holds a token (an operator revoked it): remove the
   * token's expiry and version and make the provider due now, so the next scheduled run refreshes.
   * The lease, fence and failure record are left alone (a running refresh releases as usual).
   * @returns false when the provider has no item (it never ran; its first run refreshes anyway).
   */
  async markTokenRemoved(input: { readonly provider: string; readonly now: number }): Promise<boolean> {
    return this.#updateIfStill({
      TableName: this.#tableName,
      Key: { provider: { S: input.provider } },
      // Never create an item: a half item (no fence) is what acquire would have to repair.
      ConditionExpression: 'attribute_exists(provider)',
      UpdateExpression: 'SET nextRefreshAt = :now REMOVE tokenExpiresAt, tokenVersionId',
      ExpressionAttributeValues: { ':now': { N: String(input.now) } },
    });
  }

  /**
   * Record that the precise run is armed for `nextRefreshAt`. No lease: the condition alone keeps a
   * slow caller from marking a newer `nextRefreshAt` as armed.
   */
  async recordPreciseRun(input: {
    readonly provider: string;
    readonly nextRefreshAt: number;
  }): Promise<boolean> {
    return this.#updateIfStill({
      TableName: this.#tableName,
      Key: { provider: { S: input.provider } },
      // Still the refresh time the run was armed for (this also fails on a missing item).
      ConditionExpression: 'nextRefreshAt = :nextRefreshAt',
      UpdateExpression: 'SET preciseRunFor = :nextRefreshAt',
      ExpressionAttributeValues: { ':nextRefreshAt': { N: String(input.nextRefreshAt) } },
    });
  }

  /**
   * Replace the on-demand budget's log under the lease (the engine computes the new list from the
   * item it read as it took the lease; nothing else writes the list).
   * @returns false when the lease was lost meanwhile (nothing written).
   */
  async recordOnDemandRefreshes(input: {
    readonly provider: string;
    readonly owner: string;
    readonly fence: number;
    readonly refreshes: readonly number[];
  }): Promise<boolean> {
    return this.#updateIfStill({
      TableName: this.#tableName,
      Key: { provider: { S: input.provider } },
      // The same guard as the release: this holder's lease, this generation; never creates an item.
      ConditionExpression: 'leaseOwner = :owner AND fence = :fence',
      UpdateExpression: 'SET onDemandRefreshes = :refreshes',
      ExpressionAttributeValues: {
        ':refreshes': { L: input.refreshes.map((at) => ({ N: String(at) })) },
        ':owner': { S: input.owner },
        ':fence': { N: String(input.fence) },
      },
    });
  }

  /**
   * One conditional `UpdateItem`: true when written, false when its condition failed (the lease was
   * lost, the item is missing or moved on: nothing was written).
   */
  async #updateIfStill(input: UpdateItemCommandInput): Promise<boolean> {
    try {
      await this.#client.send(new UpdateItemCommand(input));
      return true;
    } catch (error) {
      if (isAwsError(error, 'ConditionalCheckFailedException')) return false;
      throw this.#translate(error, 'UpdateItem');
    }
  }

  #releaseUpdate(now: number, record: ReleaseRecord): ReleaseUpdate {
    // The lease attributes go in every outcome.
    const remove = ['leaseOwner', 'leaseExpiresAt'];
    switch (record.outcome) {
      case 'unchanged':
        // Nothing was done: only the lease goes (the TTL was pushed on by the last real release).
        return { set: [], remove, values: {} };
      case 'success':
        return {
          set: [
            'tokenExpiresAt = :tokenExpiresAt',
            'nextRefreshAt = :nextRefreshAt',
            'lastSuccessAt = :now',
            'tokenVersionId = :tokenVersionId',
            // This generation recorded the token the store holds (`:fence`: the release's guard).
            'recordedFence = :fence',
            'consecutiveFailures = :zero',
            '#ttl = :ttl',
          ],
          // The error code and flag describe the current failure streak, which just ended;
          // `lastErrorAt` stays as history.
          remove: [...remove, 'lastErrorCode', 'lastErrorPermanent'],
          values: {
            ':tokenExpiresAt': { N: String(record.tokenExpiresAt) },
            ':nextRefreshAt': { N: String(record.nextRefreshAt) },
            ':now': { N: String(now) },
            ':tokenVersionId': { S: record.tokenVersionId },
            ':zero': { N: '0' },
            ':ttl': { N: String(this.#ttlSeconds(now, record.tokenExpiresAt)) },
          },
        };
      case 'failure':
        return {
          set: [
            'lastErrorAt = :now',
            'lastErrorCode = :errorCode',
            'lastErrorPermanent = :permanent',
            'nextRefreshAt = :nextRefreshAt',
            // if_not_exists: an item written before the attribute existed still counts from 0.
            'consecutiveFailures = if_not_exists(consecutiveFailures, :zero) + :one',
            '#ttl = :ttl',
          ],
          remove,
          values: {
            ':now': { N: String(now) },
            ':errorCode': { S: record.errorCode },
            ':permanent': { BOOL: record.permanent },
            ':nextRefreshAt': { N: String(record.nextRefreshAt) },
            ':zero': { N: '0' },
            ':one': { N: '1' },
            // The token's expiry is not known here (the record has none); a failing provider is
            // released again at its next attempt, which pushes the TTL on.
            ':ttl': { N: String(this.#ttlSeconds(now, now)) },
          },
        };
      case 'observed': {
        const observed = {
          set: [
            'tokenExpiresAt = :tokenExpiresAt',
            'nextRefreshAt = :nextRefreshAt',
            'tokenVersionId = :tokenVersionId',
            'recordedFence = :fence',
            '#ttl = :ttl',
          ],
          remove,
          values: {
            ':tokenExpiresAt': { N: String(record.tokenExpiresAt) },
            ':nextRefreshAt': { N: String(record.nextRefreshAt) },
            ':tokenVersionId': { S: record.tokenVersionId },
            ':ttl': { N: String(this.#ttlSeconds(now, record.tokenExpiresAt)) },
          },
        };
        if (record.recoveredAt === undefined) return observed;
        // The token was issued after the last failure: the streak ended, as after a success.
        return {
          set: [...observed.set, 'lastSuccessAt = :recoveredAt', 'consecutiveFailures = :zero'],
          remove: [...remove, 'lastErrorCode', 'lastErrorPermanent'],
          values: {
            ...observed.values,
            ':recoveredAt': { N: String(record.recoveredAt) },
            ':zero': { N: '0' },
          },
        };
      }
    }
  }

  /** DynamoDB TTL wants epoch seconds. */
  #ttlSeconds(now: number, tokenExpiresAt: number): number {
    return Math.ceil((Math.max(now, tokenExpiresAt) + this.#ttlDays * DAY_MS) / 1000);
  }

  /**
   * | SDK exception | domain error |
   * |---|---|
   * | `ResourceNotFoundException` | `StoreError` `table_not_found`, permanent |
   * | `AccessDeniedException` | `StoreError` `dynamodb_access_denied`, permanent |
   * | anything else: throttling, 5xx, network, timeouts | `StoreError` `dynamodb_unavailable`, transient |
   */
  #translate(error: unknown, operation: string): StoreError {
    if (error instanceof StoreError) return error;
    const name = awsErrorName(error);
    switch (name) {
      case 'ResourceNotFoundException':
        return new StoreError(
          `DynamoDB table "${this.#tableName}" was not found (${operation}); deploy the stack or fix the table name`,
          'table_not_found',
          'permanent',
          { cause: error },
        );
      case 'AccessDeniedException':
        return new StoreError(
          `Access denied to DynamoDB table "${this.#tableName}" (${operation}); grant the function ${operation} on it`,
          'dynamodb_access_denied',
          'permanent',
          { cause: error },
        );
      default:
        return new StoreError(
          `DynamoDB ${operation} on table "${this.#tableName}" failed (${name}); retry later`,
          'dynamodb_unavailable',
          'transient',
          { cause: error },
        );
    }
  }
}

/**
 * A success or failure says whether the precise run is armed for its `nextRefreshAt`; an observed
 * token (another holder's) leaves the attribute as that holder wrote it.
 */
function withPreciseRun(update: ReleaseUpdate, record: ReleaseRecord): ReleaseUpdate {
  if (record.outcome === 'observed' || record.outcome === 'unchanged') return update;
  if (record.preciseRunFor === undefined) return { ...update, remove: [...update.remove, 'preciseRunFor'] };
  return {
    ...update,
    set: [...update.set, 'preciseRunFor = :preciseRunFor'],
    values: { ...update.values, ':preciseRunFor': { N: String(record.preciseRunFor) } },
  };
}

/** The credentials version a run used, when its record has one; the attribute stays otherwise. */
function withCredentialsVersion(update: ReleaseUpdate, record: ReleaseRecord): ReleaseUpdate {
  if (record.outcome === 'unchanged' || record.credentialsVersionId === undefined) return update;
  return {
    ...update,
    set: [...update.set, 'credentialsVersionId = :credentialsVersionId'],
    values: { ...update.values, ':credentialsVersionId': { S: record.credentialsVersionId } },
  };
}

/** A DynamoDB client with {@link DEFAULT_CLIENT_CONFIG}; `config` wins over the defaults. */
export function createDynamoDbClient(config: DynamoDBClientConfig = {}): DynamoDBClient {
  return new DynamoDBClient({ ...DEFAULT_CLIENT_CONFIG, ...config });
}
