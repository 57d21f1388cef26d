/**
 * The read path's refusals (docs/read-function.md): the error a read answers with when no token can
 * be served, and the holds that remember a refused on-demand refresh until its retry time, so that
 * reports of the same token are answered without invoking the refresh function again (issue #15).
 */
import type { ProviderConfig } from './config.js';
import type { Clock } from './ports.js';
import { isTokenDue, nextRefreshAt } from './timing.js';
import type { TokenRecord } from './types.js';

/** While a provider is held, its token secret is read at most this often for reports. */
export const HELD_RECHECK_MS = 5_000;

/** Why no token could be served. `status` is the HTTP status the handler answers with. */
export class TokenUnavailableError extends Error {
  override readonly name = 'TokenUnavailableError';
  constructor(
    message: string,
    readonly code:
      | 'token_unavailable'
      | 'refresh_failed'
      | 'refresh_rate_limited'
      | 'refresh_in_progress'
      | 'store_unavailable',
    readonly status: 429 | 503,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** A refusal without its time: what the read answers while it stands. */
export interface Refusal {
  readonly code: TokenUnavailableError['code'];
  readonly status: 429 | 503;
  readonly message: string;
}

/** A refusal that stands until `until`. */
export interface Hold extends Refusal {
  readonly until: number;
  /**
   * Other containers may replace the token meanwhile (the refusal is this caller's, not the
   * provider's): it is read again at most every {@link HELD_RECHECK_MS}, due or not.
   */
  readonly replaceableElsewhere?: boolean;
}

/** What a hold needs of the cached token: when it may have been replaced on schedule. */
export interface CachedTokenTimes {
  readonly token: TokenRecord;
  readonly expiresAtMs: number;
  readonly cacheUntil: number;
}

/** The refusal of an on-demand refresh that was throttled (the token's age, or the hour's budget). */
export function throttledRefusal(provider: string, reason: 'token-too-young' | 'budget-spent'): Refusal {
  const why =
    reason === 'budget-spent'
      ? `Provider "${provider}" has used its on-demand refreshes for this hour (onDemandRefreshesPerHour); ` +
        'the current token stays until its scheduled refresh.'
      : `The token of provider "${provider}" was refreshed moments ago; on-demand refreshes are rate-limited ` +
        '(onDemandRefreshInterval).';
  return {
    code: 'refresh_rate_limited',
    status: 429,
    message: `${why} Retry after the given delay; if a fresh token is refused, check its scopes.`,
  };
}

/** The refusal of a report from a caller that has used its share of the provider's budget. */
export function callerRefusal(provider: string, share: number): Refusal {
  return {
    code: 'refresh_rate_limited',
    status: 429,
    message:
      `This caller asked for too many on-demand refreshes of provider "${provider}" (at most ${share} an hour ` +
      'per caller and read function instance). Retry after the given delay; if fresh tokens keep being ' +
      "refused, check the provider's scopes.",
  };
}

/** The refusal of a report whose token another refresh is replacing right now. */
export function inProgressRefusal(provider: string): Refusal {
  return {
    code: 'refresh_in_progress',
    status: 429,
    message: `A refresh of provider "${provider}" is under way. Retry after the given delay.`,
  };
}

/** Whole seconds from `now` to `at`, at least 1 (a `Retry-After` value). */
export function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000));
}

/** The refusals standing per provider in one container. */
export class ReportHolds {
  readonly #clock: Clock;
  readonly #holds = new Map<string, Hold>();
  /** When a held provider's token secret was last read for a report. */
  readonly #reads = new Map<string, number>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** The provider's refusal, while it stands. */
  active(provider: string): Hold | undefined {
    const hold = this.#holds.get(provider);
    if (hold === undefined || hold.until > this.#clock.now()) return hold;
    this.#holds.delete(provider);
    return undefined;
  }

  /** Hold `refusal` until `until`; @returns the error to answer with now. */
  hold(provider: string, until: number, refusal: Refusal): TokenUnavailableError {
    const hold = { ...refusal, until };
    this.#holds.set(provider, hold);
    return this.error(hold);
  }

  /** Hold an error the read answers with, for its `Retry-After`. */
  holdError(provider: string, error: TokenUnavailableError): void {
    const until = this.#clock.now() + error.retryAfterSeconds * 1000;
    this.#holds.set(provider, { code: error.code, status: error.status, message: error.message, until });
  }

  /** The error of a standing refusal, its `Retry-After` counted from now. */
  error(hold: Hold): TokenUnavailableError {
    const { message, code, status, until } = hold;
    return new TokenUnavailableError(message, code, status, secondsUntil(until, this.#clock.now()));
  }

  /**
   * Whether a report answered by `hold` may read the token secret: at most every
   * {@link HELD_RECHECK_MS}, and for a provider's refusal only once its cached token may have been
   * replaced (it is due for its scheduled refresh, or its cache time is over; without the provider's
   * config, only the cache time counts): while the provider's refusal stands, no container replaces
   * the token on demand.
   */
  mayRead(
    provider: string,
    hold: Hold,
    cached: CachedTokenTimes | undefined,
    config: Pick<ProviderConfig, 'refreshBefore'> | undefined,
  ): boolean {
    const now = this.#clock.now();
    const last = this.#reads.get(provider);
    if (last !== undefined && now - last < HELD_RECHECK_MS) return false;
    if (hold.replaceableElsewhere !== true && cached !== undefined && now < cached.cacheUntil) {
      if (config === undefined) return false;
      const issuedAt = Date.parse(cached.token.issuedAt);
      if (!isTokenDue(nextRefreshAt(config.refreshBefore, issuedAt, cached.expiresAtMs), now)) return false;
    }
    this.#reads.set(provider, now);
    return true;
  }
}
