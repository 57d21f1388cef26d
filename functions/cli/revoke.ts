/**
 * `token-refresher revoke <provider>`: make the current token unusable and let the next refresh write
 * a new one (seed idea: destroy a token). Each token store has its module:
 *
 * - the token secret (`revoke-secret.ts`): the revoked placeholder becomes `AWSCURRENT` by the
 *   engine's compare-and-swap, and the old version loses its staging labels;
 * - the DynamoDB token table (`revoke-dynamodb.ts`, `tokenStore: "dynamodb"`): the provider's item is
 *   deleted, conditional on the version read, as the store's own write is.
 *
 * Then both mark the state item: no token expiry, due now, so the next scheduled run refreshes.
 * Readers find no token until then: consumers get `token_not_ready`, the read function refreshes on
 * demand (503 if that fails). The token value is never read into the output.
 *
 * The store comes from the configuration (local mode, or `--config`). Where it is unknown (AWS mode
 * reads only the stack's provider names), a provider without a token secret is looked up in the
 * token table (`--token-table`, or the stack output `TokenTableName`); with no table known either,
 * the command fails naming both.
 */
import { createSecretsManagerClient } from '../aws/secrets.js';
import { createDynamoDbClient, DynamoDbStateTable } from '../aws/state-table.js';
import { SecretsManagerTokenStore } from '../aws/token-store.js';
import { StoreError } from '../core/errors.js';
import { tokenSecretName } from '../core/names.js';
import type { Clock } from '../core/ports.js';
import type { CurrentToken, ProviderState } from '../core/types.js';
import { CliError } from './errors.js';
import {
  noTableTokenLine,
  revokeTableToken,
  type TableRevokeOutcome,
  tableRevokeLines,
} from './revoke-dynamodb.js';
import {
  noSecretTokenLines,
  revokeSecretToken,
  type SecretRevokeOutcome,
  secretRevokeLines,
} from './revoke-secret.js';
import { checkProvider, type Target } from './target.js';

export type { SecretRevokeOutcome, TableRevokeOutcome };

/** How long consumers' caches keep a token before its expiry (the client's and read function's margin). */
const CACHE_MARGIN_SECONDS = 30;

export type RevokeOutcome = SecretRevokeOutcome | TableRevokeOutcome;

export async function revokeToken(target: Target, provider: string, clock: Clock): Promise<RevokeOutcome> {
  checkProvider(provider, await target.providerNames());
  const store = target.config()?.providers.find((entry) => entry.name === provider)?.tokenStore;
  // Every name is looked up before the first write: a missing one fails with nothing changed.
  const markDue = markDueIn(target, provider, await target.tableName(), clock);
  const table = { clientConfig: target.clientConfig, provider, now: clock.now(), markDue };
  if (store === 'dynamodb') return revokeTableToken({ ...table, tableName: await target.tokenTableName() });
  const secretPrefix = await target.secretPrefix();
  const secretId = tokenSecretName(secretPrefix, provider);
  const client = createSecretsManagerClient(target.clientConfig);
  try {
    const current = await readSecretToken(new SecretsManagerTokenStore({ client, secretPrefix }), provider, {
      storeUnknown: store === undefined,
    });
    if (current === undefined) {
      return await revokeTableToken({ ...table, tableName: await tokenTableOf(target, provider, secretId) });
    }
    return await revokeSecretToken({ provider, secretId, client, current, now: clock.now(), markDue });
  } finally {
    client.destroy();
  }
}

/**
 * The token secret's current version, or `undefined` when the secret does not exist and the
 * provider's store is unknown (the token table may hold it).
 */
async function readSecretToken(
  tokens: SecretsManagerTokenStore,
  provider: string,
  options: { readonly storeUnknown: boolean },
): Promise<CurrentToken | undefined> {
  try {
    return await tokens.readCurrent(provider);
  } catch (error) {
    const missing = error instanceof StoreError && error.code === 'secret_not_found';
    if (options.storeUnknown && missing) return undefined;
    throw error;
  }
}

/** The token table, for a provider without a token secret whose store the configuration does not say. */
async function tokenTableOf(target: Target, provider: string, secretId: string): Promise<string> {
  try {
    return await target.tokenTableName();
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    throw new CliError(
      `token secret ${secretId} does not exist, and no DynamoDB token table is known (no --token-table, and ` +
        `the stack has no TokenTableName output): if ${provider} keeps its token in DynamoDB (tokenStore ` +
        '"dynamodb"), pass --token-table <name> (the stack output TokenTableName of the stack that has it); ' +
        'otherwise check --secret-prefix, --stack and --region',
      1,
      { cause: error },
    );
  }
}

/** The state step of both stores: no token expiry, due now (false when the provider never ran). */
function markDueIn(
  target: Target,
  provider: string,
  tableName: string,
  clock: Clock,
): () => Promise<{ readonly stateUpdated: boolean; readonly state: ProviderState | undefined }> {
  return async () => {
    const client = createDynamoDbClient(target.clientConfig);
    try {
      const table = new DynamoDbStateTable({ client, tableName });
      const stateUpdated = await table.markTokenRemoved({ provider, now: clock.now() });
      return { stateUpdated, state: await table.read(provider) };
    } finally {
      client.destroy();
    }
  };
}

/** Human lines for a revoke outcome. */
export function describeRevoke(outcome: RevokeOutcome): string[] {
  if (outcome.status === 'no-token') {
    return outcome.store === 'dynamodb' ? [noTableTokenLine(outcome)] : noSecretTokenLines(outcome);
  }
  const store =
    outcome.store === 'dynamodb'
      ? tableRevokeLines(outcome, CACHE_MARGIN_SECONDS)
      : secretRevokeLines(outcome, CACHE_MARGIN_SECONDS);
  return [
    `revoked the token of ${outcome.provider} (generation ${outcome.revokedGeneration}, expiring ${outcome.revokedExpiresAt})`,
    ...store.changed,
    nextTokenLine(outcome),
    ...store.remains,
  ];
}

/** When the next token comes, or the permanent failure that keeps it from coming. */
function nextTokenLine(outcome: Extract<RevokeOutcome, { status: 'revoked' }>): string {
  return outcome.state?.lastErrorPermanent
    ? `  WARNING: ${outcome.provider} is blocked by a permanent failure (${outcome.state.lastErrorCode ?? 'unknown'}): ` +
        `no scheduled run refreshes it; fix the cause, then run token-refresher refresh ${outcome.provider}`
    : `  next token: at the next scheduled run (the provider is due now), or at once with token-refresher refresh ${outcome.provider}`;
}
