/**
 * `revoke` of a provider whose token lives in the DynamoDB token table (`tokenStore: "dynamodb"`):
 *
 * 1. Read the provider's item with the token store's own adapter (`DynamoDbTokenStore.readCurrent`,
 *    strongly consistent): its version and token.
 * 2. Delete the item, conditional on that version — the clause of the store's compare-and-swap write
 *    (`versionId = :expected`, or `attribute_not_exists(versionId)` for an item no writer of ours
 *    made): if a refresh wrote a newer token meanwhile, the delete fails instead of removing it.
 *
 * A delete, not a placeholder item as in the token secret, because "no item" is this store's own
 * "no token": the adapter reads it as no token at version `none`, from which the engine's next write
 * (conditional on `attribute_not_exists(versionId)`) starts, and the `dynamodb` client source answers
 * it with `token_not_ready` (an item without the token fields would be `invalid_token_record`). The
 * fence the item held goes with it, and nothing needs it: every writer after the revoke compares with
 * "no item", so the first write wins and the others fail on its `versionId`, and the state item's
 * fence keeps counting.
 *
 * DynamoDB keeps no earlier version of an item: the revoked token is gone from the table at once
 * (Secrets Manager keeps a token secret's old version until it deletes it). The table's
 * point-in-time recovery keeps it for its recovery period (35 days unless configured otherwise), for
 * whoever may restore the table. The token value is never read into the output.
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  type ReturnValuesOnConditionCheckFailure,
} from '@aws-sdk/client-dynamodb';
import type { AwsClientConfig } from '../aws/client-config.js';
import { DynamoDbTokenStore, NO_TOKEN_VERSION } from '../aws/dynamodb-token-store.js';
import { awsErrorName, isAwsError } from '../aws/sdk-errors.js';
import { createDynamoDbClient } from '../aws/state-table.js';
import { StoreError } from '../core/errors.js';
import { TOKEN_TABLE_PARTITION_KEY } from '../core/names.js';
import type { CurrentToken, ProviderState } from '../core/types.js';
import { CliError } from './errors.js';

/** What a revoke did to a provider of the token table (its `store` tells it from the token secret's). */
export type TableRevokeOutcome =
  | {
      readonly status: 'revoked';
      readonly store: 'dynamodb';
      readonly provider: string;
      readonly tableName: string;
      readonly revokedAt: string;
      /** The deleted item's version: the table holds no item of the provider now. */
      readonly previousVersionId: string;
      readonly revokedGeneration: number;
      readonly revokedExpiresAt: string;
      readonly stateUpdated: boolean;
      readonly state: ProviderState | undefined;
    }
  | {
      /** The table held no token for the provider (no item, or one that is no token record). */
      readonly status: 'no-token';
      readonly store: 'dynamodb';
      readonly provider: string;
      readonly tableName: string;
      readonly versionId: string;
    };

type Revoked = Extract<TableRevokeOutcome, { status: 'revoked' }>;

/** Steps 1 and 2, then `markDue` (the state step), on a client of its own. */
export async function revokeTableToken(input: {
  readonly clientConfig: AwsClientConfig;
  readonly tableName: string;
  readonly provider: string;
  readonly now: number;
  readonly markDue: () => Promise<Pick<Revoked, 'stateUpdated' | 'state'>>;
}): Promise<TableRevokeOutcome> {
  const { tableName, provider } = input;
  const client = createDynamoDbClient(input.clientConfig);
  try {
    const item = { client, tableName, provider };
    const current = await readTableToken(item);
    if (current.token === undefined) {
      return { status: 'no-token', store: 'dynamodb', provider, tableName, versionId: current.versionId };
    }
    await deleteTableToken({ ...item, expected: current.versionId });
    const { stateUpdated, state } = await input.markDue();
    return {
      status: 'revoked',
      store: 'dynamodb',
      provider,
      tableName,
      revokedAt: new Date(input.now).toISOString(),
      previousVersionId: current.versionId,
      revokedGeneration: current.token.generation,
      revokedExpiresAt: current.token.expiresAt,
      stateUpdated,
      state,
    };
  } finally {
    client.destroy();
  }
}

export interface TableItemInput {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly provider: string;
}

/**
 * Step 1: the item's version and token, read as the engine reads them.
 * @throws CliError when the table does not exist or may not be read (naming `--token-table` or the
 *   permissions)
 */
async function readTableToken(input: TableItemInput): Promise<CurrentToken> {
  try {
    return await new DynamoDbTokenStore({ client: input.client, tableName: input.tableName }).readCurrent(
      input.provider,
    );
  } catch (error) {
    throw tableError(error, input, 'GetItem');
  }
}

/**
 * Step 2: delete the item, only if it still holds version `expected` (exported for its test on moto).
 * @throws CliError (exit 1) when a refresh wrote a newer token meanwhile: nothing was revoked
 */
export async function deleteTableToken(input: TableItemInput & { readonly expected: string }): Promise<void> {
  const { client, tableName, provider, expected } = input;
  const versionClause =
    expected === NO_TOKEN_VERSION
      ? { ConditionExpression: 'attribute_not_exists(versionId)' }
      : {
          ConditionExpression: 'versionId = :expected',
          ExpressionAttributeValues: { ':expected': { S: expected } },
        };
  try {
    await client.send(
      new DeleteItemCommand({
        TableName: tableName,
        Key: { [TOKEN_TABLE_PARTITION_KEY]: { S: provider } },
        ...versionClause,
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' satisfies ReturnValuesOnConditionCheckFailure,
      }),
    );
  } catch (error) {
    if (!isAwsError(error, 'ConditionalCheckFailedException')) throw tableError(error, input, 'DeleteItem');
    const old = (error as { Item?: Record<string, AttributeValue> }).Item;
    throw new CliError(
      `a refresh wrote a new token to token table ${tableName} while revoking (the item of ${provider} moved ` +
        `from version ${expected} to ${old?.versionId?.S ?? NO_TOKEN_VERSION}); nothing was revoked. Run ` +
        `token-refresher revoke ${provider} again to revoke the new token`,
      1,
      { cause: error },
    );
  }
}

/** A missing table or a refusal as a message that names the fix; anything else as it is. */
function tableError(error: unknown, input: TableItemInput, operation: string): unknown {
  const code = error instanceof StoreError ? error.code : awsErrorName(error);
  if (code === 'token_table_not_found' || code === 'ResourceNotFoundException') {
    return new CliError(
      `token table ${input.tableName} does not exist (${operation}; provider ${input.provider} has tokenStore ` +
        '"dynamodb"): pass --token-table <name> (the stack output TokenTableName; npm start names it ' +
        '<state table>-tokens), and check the region',
      1,
      { cause: error },
    );
  }
  if (code === 'dynamodb_access_denied' || code === 'AccessDeniedException') {
    return new CliError(
      `access denied to token table ${input.tableName} (${operation}): revoke needs dynamodb:GetItem and ` +
        "dynamodb:DeleteItem on it (the provider's item) and kms:Decrypt on its key",
      1,
      { cause: error },
    );
  }
  return error;
}

/** The lines of a table revoke that differ from the token secret's: what changed, and what remains. */
export function tableRevokeLines(
  outcome: Revoked,
  cacheMarginSeconds: number,
): {
  readonly changed: string[];
  readonly remains: string[];
} {
  return {
    changed: [
      `  token table ${outcome.tableName}: deleted the item of ${outcome.provider} (version ${outcome.previousVersionId}); ` +
        'DynamoDB keeps no earlier version, so the token is gone from the table',
      '  readers: the dynamodb client source gets no token (token_not_ready) until a refresh writes a new one; the',
      '    read function refreshes on demand (503 if that refresh fails).',
    ],
    remains: [
      "  The table's point-in-time recovery keeps the old item for its recovery period (35 days unless configured",
      '    otherwise), for whoever may restore the table. Caches (read-function containers, consumer clients) may',
      `    serve the old token until ${cacheMarginSeconds} s before its expiry (${outcome.revokedExpiresAt}). If the token leaked, revoke`,
      '    it at the provider too.',
    ],
  };
}

/** The line of a table revoke that found no token. */
export function noTableTokenLine(outcome: Extract<TableRevokeOutcome, { status: 'no-token' }>): string {
  return (
    `nothing to revoke: token table ${outcome.tableName} holds no token of ${outcome.provider} (no item, or ` +
    `revoked already; version ${outcome.versionId})`
  );
}
