/**
 * A provider's condition in a word or two, decided from its state item: the one rule set that the
 * operator CLI (`token-refresher status`) and the local runner's status view (`npm start`) both show,
 * so that the same state reads the same in both.
 */
import type { ProviderState } from './types.js';

/** A provider's condition, from the most to the least urgent. */
export type ProviderCondition =
  | 'refreshing'
  | 'needs attention'
  | 'failing'
  | 'never refreshed'
  | 'no token'
  | 'expired'
  | 'ok'
  | 'unreadable';

/**
 * Whether a refresh holds the lease at `now`. A lease is live up to and including its expiry instant,
 * as the state table's acquire decides: another holder may take it only when `leaseExpiresAt < now`.
 */
export function isLeaseLive(state: ProviderState, now: number): boolean {
  return state.leaseOwner !== undefined && state.leaseExpiresAt !== undefined && state.leaseExpiresAt >= now;
}

/**
 * The condition of a provider whose state item was read (`undefined`: no item yet).
 *
 * - `refreshing`: a refresh holds a live lease right now ({@link isLeaseLive}).
 * - `needs attention`: the last failure was permanent (`invalid_grant`, ...); no provider call until a
 *   forced refresh or a new version of the credentials (`credentials-change.ts`).
 * - `failing`: transient failures, backing off.
 * - `never refreshed`: no item, or no success and no token yet.
 * - `no token`: refreshed before, but the token was removed (revoked); the next run writes one.
 * - `expired`: the recorded token expired and nothing is failing (a stopped schedule?).
 * - `ok`: a token that has not expired.
 *
 * `unreadable` (an item that cannot be decoded) is decided by the caller, which sees the read error.
 */
export function providerCondition(
  state: ProviderState | undefined,
  now: number,
): Exclude<ProviderCondition, 'unreadable'> {
  if (state === undefined) return 'never refreshed';
  if (isLeaseLive(state, now)) return 'refreshing';
  if (state.lastErrorPermanent) return 'needs attention';
  if (state.consecutiveFailures > 0) return 'failing';
  if (state.tokenExpiresAt === undefined) {
    return state.lastSuccessAt === undefined ? 'never refreshed' : 'no token';
  }
  if (state.tokenExpiresAt <= now) return 'expired';
  return 'ok';
}
