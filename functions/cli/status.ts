/**
 * `token-refresher status`: every provider's item from the state table (one consistent `GetItem`
 * each, through the `DynamoDbStateTable` adapter), shown as a table or as JSON. The token secret is
 * never read, so no token can be printed.
 */
import { createDynamoDbClient, DynamoDbStateTable } from '../aws/state-table.js';
import { ago, expiresIn } from '../core/duration.js';
import { RefresherError } from '../core/errors.js';
import type { StateTable } from '../core/ports.js';
import { isLeaseLive, type ProviderCondition, providerCondition } from '../core/provider-condition.js';
import { renderTable } from '../core/text-table.js';
import type { ProviderState } from '../core/types.js';
import { isoOrNull } from './format.js';
import type { Target } from './target.js';

export interface StatusRow {
  readonly provider: string;
  /** `undefined`: no item yet (never refreshed). */
  readonly state: ProviderState | undefined;
  /** Set when the item could not be read (`state_item_invalid`): its code. */
  readonly readError?: string;
}

/** The row's condition: `unreadable` when its item could not be read, else {@link providerCondition}. */
export function conditionOf(row: StatusRow, now: number): ProviderCondition {
  return row.readError === undefined ? providerCondition(row.state, now) : 'unreadable';
}

function nextRefresh(state: ProviderState | undefined, now: number): string {
  if (state === undefined) return 'due';
  // A block that recorded its credentials version lifts itself when new credentials are put.
  if (state.lastErrorPermanent) {
    return state.credentialsVersionId === undefined ? 'when forced' : 'new credentials or forced';
  }
  if (state.nextRefreshAt === undefined) return '-';
  return state.nextRefreshAt <= now ? 'due' : ago(state.nextRefreshAt, now);
}

const HEADERS = [
  'provider',
  'state',
  'expires in',
  'last success',
  'last error',
  'failures',
  'lease holder',
  'next refresh',
];

/** The human table (header first). */
export function renderStatusTable(rows: readonly StatusRow[], now: number): string[] {
  return renderTable(
    HEADERS,
    rows.map((row) => {
      const { state } = row;
      const error =
        row.readError ??
        (state?.lastErrorCode === undefined
          ? '-'
          : `${state.lastErrorCode}${state.lastErrorPermanent ? ' (permanent)' : ''}`);
      return [
        row.provider,
        conditionOf(row, now),
        expiresIn(state?.tokenExpiresAt, now),
        ago(state?.lastSuccessAt, now),
        error,
        String(state?.consecutiveFailures ?? 0),
        state !== undefined && isLeaseLive(state, now) ? (state.leaseOwner ?? '-') : '-',
        nextRefresh(state, now),
      ];
    }),
  );
}

/** One provider in `--json` output: every key present, absent values `null`, times ISO-8601 UTC. */
export interface StatusJsonProvider {
  readonly provider: string;
  readonly state: ProviderCondition;
  readonly tokenExpiresAt: string | null;
  readonly expiresInSeconds: number | null;
  readonly lastSuccessAt: string | null;
  readonly lastErrorAt: string | null;
  readonly lastErrorCode: string | null;
  readonly lastErrorPermanent: boolean;
  readonly consecutiveFailures: number;
  /** Only while the lease is live. */
  readonly leaseOwner: string | null;
  readonly leaseExpiresAt: string | null;
  readonly nextRefreshAt: string | null;
  /** The fence of the last lease: the generation of the newest token written under it. */
  readonly fence: number | null;
}

export function statusJson(rows: readonly StatusRow[], now: number): StatusJsonProvider[] {
  return rows.map((row) => {
    const { state } = row;
    const live = state !== undefined && isLeaseLive(state, now);
    return {
      provider: row.provider,
      state: conditionOf(row, now),
      tokenExpiresAt: isoOrNull(state?.tokenExpiresAt),
      expiresInSeconds:
        state?.tokenExpiresAt === undefined ? null : Math.floor((state.tokenExpiresAt - now) / 1000),
      lastSuccessAt: isoOrNull(state?.lastSuccessAt),
      lastErrorAt: isoOrNull(state?.lastErrorAt),
      lastErrorCode: row.readError ?? state?.lastErrorCode ?? null,
      lastErrorPermanent: state?.lastErrorPermanent ?? false,
      consecutiveFailures: state?.consecutiveFailures ?? 0,
      leaseOwner: live ? (state.leaseOwner ?? null) : null,
      leaseExpiresAt: live ? isoOrNull(state.leaseExpiresAt) : null,
      nextRefreshAt: isoOrNull(state?.nextRefreshAt),
      fence: state?.fence ?? null,
    };
  });
}

/**
 * Read every provider's item. An item that cannot be unmarshalled (`state_item_invalid`) becomes an
 * `unreadable` row; any other failure (missing table, no access) fails the command.
 */
export async function readStatusRows(table: StateTable, providers: readonly string[]): Promise<StatusRow[]> {
  return Promise.all(
    providers.map(async (provider) => {
      try {
        return { provider, state: await table.read(provider) };
      } catch (error) {
        if (error instanceof RefresherError && error.code === 'state_item_invalid') {
          return { provider, state: undefined, readError: error.code };
        }
        throw error;
      }
    }),
  );
}

export interface StatusOutput {
  readonly rows: readonly StatusRow[];
  readonly tableName: string;
}

/** Gather the rows of a target. */
export async function gatherStatus(target: Target): Promise<StatusOutput> {
  const [tableName, providers] = await Promise.all([target.tableName(), target.providerNames()]);
  const client = createDynamoDbClient(target.clientConfig);
  try {
    const rows = await readStatusRows(new DynamoDbStateTable({ client, tableName }), providers);
    return { rows, tableName };
  } finally {
    client.destroy();
  }
}
