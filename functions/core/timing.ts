/**
 * When a token is due and how long to wait after a failure. Pure functions of their inputs and the
 * injected time, so they are tested without sleeping.
 */
import { effectiveRefreshBefore } from './config.js';
import type { ProviderState } from './types.js';

/** Backoff after the first failure; doubles with every further consecutive failure. */
export const BACKOFF_BASE_MS = 30_000;
/** Backoff never exceeds this (a token may still be valid; keep trying at a bounded cadence). */
export const BACKOFF_MAX_MS = 15 * 60_000;
/** A server's `Retry-After` is honoured up to this. */
export const RETRY_AFTER_MAX_MS = 60 * 60_000;
/**
 * The refresh function's shortest timeout: the construct never gives it less. A refresh run
 * in-process (the local runner, the CLI in local mode, tests) is told it has this long left, so its
 * lease is as long as in a deployed function with the shortest timeout.
 */
export const MIN_REFRESH_INVOCATION_MS = 60_000;
/** A token with less validity left than this is neither served nor kept by an on-demand refresh. */
export const MIN_SERVED_VALIDITY_MS = 5_000;

/** Whether a token expiring at `expiresAt` may still be served at `now` (false for `NaN`). */
export function isServable(expiresAt: number, now: number): boolean {
  return expiresAt - now >= MIN_SERVED_VALIDITY_MS;
}
/** Tokens claiming a longer lifetime are a provider error, not a stored token. */
export const MAX_TOKEN_LIFETIME_MS = 366 * 86_400_000;

/**
 * The lead time (ms) before `expiresAt` at which a token is refreshed: `refreshBefore`, at least
 * 1 min, at most half the token's lifetime (a 2-min token is refreshed after 1 min, not at once).
 */
export function refreshLeadMs(refreshBeforeSeconds: number, issuedAt: number, expiresAt: number): number {
  const lifetimeSeconds = Math.max(0, (expiresAt - issuedAt) / 1000);
  return Math.round(effectiveRefreshBefore(refreshBeforeSeconds, lifetimeSeconds) * 1000);
}

/** When the token issued at `issuedAt` and expiring at `expiresAt` should next be refreshed. */
export function nextRefreshAt(refreshBeforeSeconds: number, issuedAt: number, expiresAt: number): number {
  return expiresAt - refreshLeadMs(refreshBeforeSeconds, issuedAt, expiresAt);
}

/**
 * A run that arrives this much before a token's refresh time counts as due. A precise one-time run is
 * set for exactly that time, and timers fire early: node's `setTimeout` by up to 1 ms, a scheduler
 * whose clock is ahead of the function's by its skew. Such a run must refresh, not answer "not due"
 * and leave the token to lapse until the next recurring tick. 5 s is far below the shortest lead
 * (30 s, for a 60 s token), so refreshing that early costs nothing.
 */
export const EARLY_RUN_TOLERANCE_MS = 5_000;

/** Whether a token whose refresh time is `dueAt` is due at `now` (see {@link EARLY_RUN_TOLERANCE_MS}). */
export function isTokenDue(dueAt: number, now: number): boolean {
  return now + EARLY_RUN_TOLERANCE_MS >= dueAt;
}

/**
 * The cheap check (protocol step 1): due when there is no state, or when `nextRefreshAt` (the refresh
 * time after a success, the end of the backoff after a failure) has come. A state that has neither a
 * token nor a backoff (an interrupted first refresh) is due. The early tolerance applies to a token's
 * refresh time only: the end of a backoff (which may be a server's `Retry-After`) is kept exactly.
 */
export function isStateDue(state: ProviderState | undefined, now: number): boolean {
  if (state?.nextRefreshAt === undefined) return true;
  if (state.consecutiveFailures > 0) return now >= state.nextRefreshAt;
  return isTokenDue(state.nextRefreshAt, now);
}

/** The shortest pause before retrying while the current token still runs (see {@link backoffDelayMs}). */
export const MIN_BACKOFF_MS = 5_000;

/**
 * The delay before the next attempt after `consecutiveFailures` failures: exponential with "equal
 * jitter" (half fixed, half random) so that many providers failing together do not retry in step,
 * and never sooner than the server's `Retry-After`. While the current token still runs, the pause is
 * at most half of its validity left (and at least {@link MIN_BACKOFF_MS}): a short token's lead (30 s
 * for a 60 s token) is no longer than the first backoff, and one passing failure must not let it
 * lapse before the retry.
 * @param random a number in [0, 1), injected for tests.
 * @param tokenValidityLeftMs time until the current token expires, when there is one.
 */
export function backoffDelayMs(
  consecutiveFailures: number,
  retryAfterSeconds: number | undefined,
  random: number,
  tokenValidityLeftMs?: number,
): number {
  const exponent = Math.max(0, Math.min(consecutiveFailures - 1, 20));
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** exponent);
  const exponential = Math.round(ceiling / 2 + (ceiling / 2) * random);
  const jittered =
    tokenValidityLeftMs !== undefined && tokenValidityLeftMs > 0
      ? Math.min(exponential, Math.max(MIN_BACKOFF_MS, Math.floor(tokenValidityLeftMs / 2)))
      : exponential;
  if (retryAfterSeconds === undefined || !Number.isFinite(retryAfterSeconds) || retryAfterSeconds <= 0) {
    return jittered;
  }
  return Math.max(jittered, Math.min(retryAfterSeconds * 1000, RETRY_AFTER_MAX_MS));
}

/**
 * The absolute expiry of an issued token, or a reason why the claimed lifetime is unusable.
 * A lifetime ≤ 0 or over {@link MAX_TOKEN_LIFETIME_MS} is a provider error.
 */
export function resolveExpiry(
  issued: { readonly expiresInSeconds?: number; readonly expiresAt?: number },
  expectedLifetimeSeconds: number,
  now: number,
): { ok: true; expiresAt: number } | { ok: false; reason: string } {
  let expiresAt: number;
  if (issued.expiresAt !== undefined) {
    expiresAt = issued.expiresAt;
  } else if (issued.expiresInSeconds !== undefined) {
    expiresAt = now + issued.expiresInSeconds * 1000;
  } else {
    expiresAt = now + expectedLifetimeSeconds * 1000;
  }
  if (!Number.isFinite(expiresAt) || expiresAt <= now) {
    return { ok: false, reason: 'the token is already expired or has a lifetime of 0 or less' };
  }
  if (expiresAt - now > MAX_TOKEN_LIFETIME_MS) {
    return { ok: false, reason: 'the token claims a lifetime of more than one year' };
  }
  return { ok: true, expiresAt };
}
