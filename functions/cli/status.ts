/**
 * `token-refresher status`: every provider's item from the state table (one consistent `GetItem`
 * each, through the `DynamoDbStateTable` adapter), shown as a table or as JSON. The token secret is
 * never read, so no token can be printed.
 */
import { createDynamoDbClient, DynamoDbStateTable } from '../aws/state-table.js';
import { RefresherError } from '../core/errors.js';
import type { StateTable } from '../core/ports.js';
import type { ProviderState } from '../core/types.js';
import { ago, expiresIn, isoOrNull, renderTable } from './format.js';
import type { Target } from './target.js';

/** A provider's condition in a word or two, from the most to the least urgent. */
export type ProviderCondition =
  | 'refreshing'
  | 'needs attention'
  | 'failing'
  | 'never refreshed'
  | 'no token'
  | 'expired'
  | 'ok'
  | 'unreadable';

export interface StatusRow {
  readonly provider: string;
  /** `undefined`: no item yet (never refreshed). */
  readonly state: ProviderState | undefined;
  /** Set when the item could not be read (`state_item_invalid`): its code. */
  readonly readError?: string;
}

/**
 * - `refreshing`: a refresh holds a live lease right now.
 * - `needs attention`: the last failure was permanent (`invalid_grant`, ...); no provider call until a
 *   forced refresh.
 * - `failing`: transient failures, backing off.
 * - `never refreshed`: no item, or no success and no token yet.
 * - `no token`: refreshed before, but the token was removed (revoked); the next run writes one.
 * - `expired`: the recorded token expired and nothing is failing (a stopped schedule?).
 */
export function conditionOf(row: StatusRow, now: number): ProviderCondition {
  const { state } = row;
  if (row.readError !== undefined) return 'unreadable';
  if (state === undefined) return 'never refreshed';
  if (hasLiveLease(state, now)) return 'refreshing';
  if (state.lastErrorPermanent) return 'needs attention';
  if (state.consecutiveFailures > 0) return 'failing';
  if (state.tokenExpiresAt === undefined)
    return state.lastSuccessAt === undefined ? 'never refreshed' : 'no token';
  if (state.tokenExpiresAt <= now) return 'expired';
  return 'ok';
}

/** A lease is live up to and including its expiry instant (as `acquire` decides). */
function hasLiveLease(state: ProviderState, now: number): boolean {
  return state.leaseOwner !== undefined && state.leaseExpiresAt !== undefined && state.leaseExpiresAt >= now;
}

function nextRefresh(state: ProviderState | undefined, now: number): string {
  if (state === undefined) return 'due';
  if (state.lastErrorPermanent) return 'when forced';
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
        state !== undefined && hasLiveLease(state, now) ? (state.leaseOwner ?? '-') : '-',
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
    const live = state !== undefined && hasLiveLease(state, now);
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
