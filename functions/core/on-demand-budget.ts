/**
 * The on-demand budget (docs/limits.md, "On-demand refreshes"): a consumer's report of a refused
 * token (HTTP 401) may cause at most `onDemandRefreshesPerHour` provider calls per provider and hour,
 * because each one writes the token secret (and, for a rotating grant, the credentials secret), and
 * Secrets Manager asks for about one write per secret every 10 minutes.
 *
 * The engine enforces it under the lease: the state item keeps the times of the last hour's
 * report-caused refreshes (`onDemandRefreshes`), written with the lease's fence before the provider
 * call, so the count holds across containers and survives a holder that dies mid-refresh. Pure
 * functions of their inputs and the injected time.
 */
import type { ProviderConfig } from './config.js';
import type { OnDemandRefresh } from './double-check.js';
import { isServable, isTokenDue, nextRefreshAt } from './timing.js';
import type { TokenRecord } from './types.js';

/** The budget's window: the last hour. */
export const ON_DEMAND_BUDGET_WINDOW_MS = 3_600_000;
/** The times of the log that are still inside the window at `now`, oldest first. */
export function onDemandRefreshesInWindow(log: readonly number[] | undefined, now: number): number[] {
  return (log ?? []).filter((at) => at > now - ON_DEMAND_BUDGET_WINDOW_MS).sort((a, b) => a - b);
}

/**
 * When the next on-demand refresh is allowed: `undefined` when one is allowed now, else the time at
 * which enough of the last hour's refreshes have left the window.
 */
export function onDemandBudgetRetryAt(
  log: readonly number[] | undefined,
  perHour: number,
  now: number,
): number | undefined {
  const recent = onDemandRefreshesInWindow(log, now);
  if (recent.length < perHour) return undefined;
  // `recent.length − perHour + 1` entries must leave the window; the last of them is at this index.
  return (recent[recent.length - perHour] ?? now) + ON_DEMAND_BUDGET_WINDOW_MS;
}

/**
 * Whether a refresh about to happen is one a consumer's report causes, and so spends the budget: the
 * refused token is the current one, still servable and not yet due. A refresh the schedule would
 * make anyway (the token is due or expired), or one made because no usable token exists (the first
 * read, a token that lapsed), is not caused by a report and is not counted: a consumer cannot bring
 * it about while a usable token exists, and the failure backoff bounds it.
 */
export function spendsOnDemandBudget(
  onDemand: OnDemandRefresh | undefined,
  token: TokenRecord | undefined,
  config: Pick<ProviderConfig, 'refreshBefore'>,
  now: number,
): boolean {
  if (onDemand?.rejectedTokenSha256 === undefined || token === undefined) return false;
  const issuedAt = Date.parse(token.issuedAt);
  const expiresAt = Date.parse(token.expiresAt);
  if (!isServable(expiresAt, now)) return false;
  return !isTokenDue(nextRefreshAt(config.refreshBefore, issuedAt, expiresAt), now);
}
