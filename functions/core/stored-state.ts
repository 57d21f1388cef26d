/**
 * When the state item alone tells a leased run what the stores hold (issue 17): the token's version
 * and refresh time, and which credentials version is current. A run that may trust it skips the
 * token read of step 3 (the double-check and the compare-and-swap's expected version come from the
 * item the lease was taken with) and may use the credentials its container cached
 * (`credentials-cache.ts`). Two calls fewer per scheduled refresh in a warm container.
 *
 * Why this is safe, clause by clause of {@link storedState}:
 *
 * - `recordedFence = fence - 1`: the generation just before this lease released with a record of
 *   the token the store held (a success or an observed token), and every later generation is ours.
 *   A holder that wrote a token or a rotated refresh token and then died, timed out or failed to
 *   release leaves the fence ahead of `recordedFence`: the state may be behind the stores. That is
 *   the case the token read before the provider call exists for (the crash drill's `after-stage-move`
 *   and `before-release` cells find the fresh token there and call nobody), and the case where the
 *   credentials store must finish an earlier generation's unfinished write (`AWSPENDING`, the crash
 *   drill's `after-refresh-token-put`) before the refresh token is used: so the run reads both, as
 *   before.
 * - `consecutiveFailures = 0`: no failure streak is open. A failure record keeps the token's version
 *   but not its refresh time (`nextRefreshAt` is the end of the backoff). A failure release never
 *   sets `recordedFence`, so the run after one reads anyway; this clause also sends the runs of an
 *   open streak (whose observed records keep it open) to the stores, as before. Failures are rare:
 *   reading then costs nothing that matters, and keeps the failure paths as they were.
 * - the token's version, expiry and refresh time are recorded (an item of an older release, a token
 *   marked removed by `revoke`, or a provider that never stored one: read).
 *
 * What it cannot see, and what still guards it: a stale holder (an earlier generation, paused past
 * its lease) that writes late, and an operator who writes the token or credentials secret out of
 * band. The token write stays a compare-and-swap from the recorded version: a version we did not
 * expect makes it fail, and the engine then reads the store and keeps a newer servable token, or
 * writes again from the version it read when what it found is not servable (the revoke placeholder,
 * an expired token, another token store's version after `tokenStore` changed). The credentials write
 * is a compare-and-swap too; cached credentials are re-read after `invalid_client`/`invalid_grant`;
 * and a `credentials-changed` or forced run never uses the cache.
 */
import type { ProviderState } from './types.js';

/** What a trusted state item says about the stored token. */
export interface StoredToken {
  /** The token store's version that holds the token: the compare-and-swap's expected version. */
  readonly versionId: string;
  readonly expiresAt: number;
  /** When the stored token is due (`nextRefreshAt` as its success or observation recorded it). */
  readonly refreshAt: number;
}

/**
 * The stored token as the item the lease was taken with records it, when the item may be trusted
 * (see the file comment); `undefined` when the run must read the stores.
 */
export function storedState(lease: ProviderState): StoredToken | undefined {
  const { recordedFence, fence, consecutiveFailures, tokenVersionId, tokenExpiresAt, nextRefreshAt } = lease;
  if (recordedFence === undefined || recordedFence !== fence - 1 || consecutiveFailures !== 0)
    return undefined;
  if (tokenVersionId === undefined || tokenExpiresAt === undefined || nextRefreshAt === undefined) {
    return undefined;
  }
  return { versionId: tokenVersionId, expiresAt: tokenExpiresAt, refreshAt: nextRefreshAt };
}
