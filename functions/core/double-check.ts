/**
 * Protocol step 3 (docs/architecture.md, "The refresh protocol"): under the lease, decide from the
 * token secret whether the current token is kept. Pure: the engine reads the token and the time.
 */
import type { ProviderConfig } from './config.js';
import { isServable, isTokenDue, nextRefreshAt } from './timing.js';
import { tokenMatchesHash } from './token-hash.js';
import type { TokenRecord } from './types.js';

/** What an on-demand refresh (from the read path) asks for; see `RefreshInput.onDemand`. */
export interface OnDemandRefresh {
  /** Lower-case hex SHA-256 of the access token a consumer was refused with (HTTP 401). */
  readonly rejectedTokenSha256?: string;
}

/** Keep the current token: it is fresh, or (on demand) too young to be replaced yet. */
export type KeepVerdict =
  | { readonly status: 'fresh'; readonly reason: 'refreshed-by-other' | 'still-valid' | 'already-replaced' }
  | { readonly status: 'throttled'; readonly retryAt: number };

/**
 * The double-check under the lease: a verdict to keep the current token, or `undefined` to refresh.
 * A scheduled run keeps a token that is not due; an on-demand run keeps a usable token unless it is
 * the refused one, and refuses (throttled) to replace a refused token younger than the provider's
 * `onDemandRefreshInterval`.
 */
export function keepVerdict(
  onDemand: OnDemandRefresh | undefined,
  token: TokenRecord,
  config: Pick<ProviderConfig, 'refreshBefore' | 'onDemandRefreshInterval'>,
  now: number,
): KeepVerdict | undefined {
  const issuedAt = Date.parse(token.issuedAt);
  const expiresAt = Date.parse(token.expiresAt);
  if (onDemand === undefined) {
    const dueAt = nextRefreshAt(config.refreshBefore, issuedAt, expiresAt);
    return isTokenDue(dueAt, now) ? undefined : { status: 'fresh', reason: 'refreshed-by-other' };
  }
  const servable = isServable(expiresAt, now);
  if (onDemand.rejectedTokenSha256 === undefined) {
    return servable ? { status: 'fresh', reason: 'still-valid' } : undefined;
  }
  if (!tokenMatchesHash(token.accessToken, onDemand.rejectedTokenSha256)) {
    return servable ? { status: 'fresh', reason: 'already-replaced' } : undefined;
  }
  const minAgeMs = config.onDemandRefreshInterval * 1000;
  if (now - issuedAt < minAgeMs) return { status: 'throttled', retryAt: issuedAt + minAgeMs };
  return undefined;
}
