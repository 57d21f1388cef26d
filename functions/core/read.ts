/**
 * The read path (docs/read-function.md): serve a provider's current token from a per-container cache,
 * read the token secret at most once per token generation (single-flight), never serve an expired
 * token, and run on-demand refreshes through the engine — when no usable token exists yet, or when a
 * consumer reports the current token was refused (HTTP 401).
 *
 * Reports are cheap to answer and cannot make the container hammer anything (issue #15): a report of
 * a token other than the cached one is answered from the cache; a report of a token younger than
 * `onDemandRefreshInterval` is refused here; a refusal the engine gives (throttled, in progress,
 * failing) holds the provider until its retry time, and reports of its current token are answered
 * from that hold — no refresh-function invocation, no DynamoDB call, and no token read unless the
 * token may have been replaced on schedule meanwhile; and one caller may cause at most its share of
 * the provider's `onDemandRefreshesPerHour` (`caller-limit.ts`).
 */
import { CallerLimiter, callerShare } from './caller-limit.js';
import type { ProviderConfig } from './config.js';
import { keepVerdict } from './double-check.js';
import { type RefresherError, toRefresherError } from './errors.js';
import { DEFAULT_ON_DEMAND_REFRESHES_PER_HOUR } from './on-demand-config.js';
import { IN_FLIGHT_RETRY_MS } from './on-demand-gate.js';
import type { Clock, Logger, RefreshTrigger, TokenStore } from './ports.js';
import { Prefetches } from './read-prefetch.js';
import {
  callerRefusal,
  type Hold,
  inProgressRefusal,
  ReportHolds,
  secondsUntil,
  TokenUnavailableError,
  throttledRefusal,
} from './read-refusals.js';
import { isServable, MIN_SERVED_VALIDITY_MS } from './timing.js';
import { tokenMatchesHash } from './token-hash.js';
import type { RefreshResult, TokenRecord } from './types.js';

export { HELD_RECHECK_MS, TokenUnavailableError } from './read-refusals.js';

/** Default cache margin: below the refresher's smallest lead time (60 s), so a cached token is never one the refresher already replaced and let expire. */
export const DEFAULT_CACHE_MARGIN_MS = 30_000;
/** How long a read waits for an on-demand refresh before answering 503 with `Retry-After`. */
export const DEFAULT_REFRESH_WAIT_MS = 20_000;
/** A token inside its last margin is re-read at most this often (the refresher may be failing). */
const NEAR_EXPIRY_RECHECK_MS = 5_000;
/** Polling the token secret while another refresh holds the lease: 100 ms, doubling, up to 1 s. */
const POLL_FIRST_MS = 100;
const POLL_MAX_MS = 1_000;
/**
 * A report whose refresh lost the lease to one replacing the same token waits this long, then reads
 * the token again: a refresh usually ends within it, and the new token is served. If the token is not
 * there yet, it waits once more, until the engine's retry time (2 s after the report), and reads a
 * last time: a provider answering in 0.5–2 s still gets every waiting consumer the new token.
 */
export const IN_FLIGHT_PAUSE_MS = 500;

/** What a consumer gets: never a refresh token, client id or secret. */
export interface ServedToken {
  readonly provider: string;
  readonly accessToken: string;
  readonly tokenType: string;
  /** ISO-8601 UTC. */
  readonly expiresAt: string;
  /** Whole seconds left at the time of the answer. */
  readonly expiresIn: number;
}

export interface TokenReaderOptions {
  readonly tokens: Pick<TokenStore, 'readCurrent'>;
  readonly trigger: RefreshTrigger;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Cache a token until `expiresAt − cacheMarginMs`. Default {@link DEFAULT_CACHE_MARGIN_MS}. */
  readonly cacheMarginMs?: number;
  /** Bound on waiting for an on-demand refresh. Default {@link DEFAULT_REFRESH_WAIT_MS}. */
  readonly refreshWaitMs?: number;
  /** Injected so that tests do not sleep. Default: a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * The providers' configuration: reports of a token younger than `onDemandRefreshInterval` are
   * refused without invoking the refresh function, a caller's share follows `onDemandRefreshesPerHour`
   * and a held provider's token is read again only once it is due. Without it, every report that
   * finds its token current invokes the refresh function (the engine decides), shares follow the
   * default budget, and a held token is read again at most every {@link HELD_RECHECK_MS}.
   */
  readonly providers?: readonly ProviderConfig[];
}

/** What an on-demand refresh asks for: with `rejectedTokenSha256`, a token other than the refused one. */
interface OnDemandRequest {
  readonly rejectedTokenSha256?: string;
}

interface CacheEntry {
  readonly token: TokenRecord;
  readonly expiresAtMs: number;
  readonly cacheUntil: number;
}

/** Build once per container; it holds the cache. */
export class TokenReader {
  readonly #options: TokenReaderOptions;
  readonly #cacheMarginMs: number;
  readonly #refreshWaitMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<ServedToken>>();
  readonly #configs: ReadonlyMap<string, ProviderConfig>;
  readonly #holds: ReportHolds;
  readonly #callers = new CallerLimiter();
  readonly #prefetches = new Prefetches();

  constructor(options: TokenReaderOptions) {
    this.#options = options;
    this.#configs = new Map((options.providers ?? []).map((config) => [config.name, config]));
    this.#holds = new ReportHolds(options.clock);
    this.#cacheMarginMs = options.cacheMarginMs ?? DEFAULT_CACHE_MARGIN_MS;
    this.#refreshWaitMs = options.refreshWaitMs ?? DEFAULT_REFRESH_WAIT_MS;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /**
   * The current token: from the cache, else one read of the token secret shared by concurrent
   * callers, else (nothing usable stored) an on-demand refresh waited for up to the bound.
   * @throws TokenUnavailableError
   */
  async get(provider: string): Promise<ServedToken> {
    const prefetching = this.#prefetches.running(provider);
    if (prefetching !== undefined) await prefetching;
    const cached = this.#cached(provider);
    if (cached !== undefined) return cached;
    return this.#singleFlight(`get:${provider}`, () => this.#load(provider));
  }

  /** Read a token into the cache while the caller is identified: no refresh, no log (read-prefetch.ts). */
  prefetch(provider: string): void {
    if (this.#cached(provider) !== undefined) return;
    this.#prefetches.start(provider, async () => {
      const { token } = await this.#options.tokens.readCurrent(provider);
      if (this.#usable(token) && this.#cached(provider) === undefined) this.#serveAndCache(token);
    });
  }

  /**
   * A consumer was refused with the token whose SHA-256 is `rejectedTokenSha256`. Answer with the
   * current token if that one was already replaced; otherwise refresh through the engine, which
   * refreshes only if the refused token is still current (many reports, one refresh).
   * @param caller the authorized caller (its role), for the per-caller limit.
   * @throws TokenUnavailableError (429 when the refused token is younger than the provider's
   *   `onDemandRefreshInterval`, when its `onDemandRefreshesPerHour` or the caller's share are spent,
   *   or while another refresh replaces it)
   */
  async refreshRejected(
    provider: string,
    rejectedTokenSha256: string,
    caller?: string,
  ): Promise<ServedToken> {
    // A report of a token other than the cached, usable one: that one is the answer, with no read.
    const cached = this.#cached(provider);
    if (cached !== undefined && !tokenMatchesHash(cached.accessToken, rejectedTokenSha256)) return cached;
    return this.#singleFlight(`rejected:${provider}:${rejectedTokenSha256}`, () =>
      this.#reported(provider, { rejectedTokenSha256 }, caller),
    );
  }

  /** A report of the cached token, or with nothing cached. */
  async #reported(
    provider: string,
    onDemand: OnDemandRequest,
    caller: string | undefined,
  ): Promise<ServedToken> {
    // A refusal that stands (the provider's, or this caller's spent share) is the answer, unless the
    // token may have been replaced meanwhile.
    const hold = this.#holds.active(provider) ?? this.#callerHold(provider, caller);
    const cached = this.#cache.get(provider);
    if (hold !== undefined && !this.#holds.mayRead(provider, hold, cached, this.#configs.get(provider))) {
      throw this.#holds.error(hold);
    }
    const current = await this.#readStore(provider, { fallbackToCache: false });
    if (this.#acceptable(current, onDemand)) return this.#serveAndCache(current);
    if (hold !== undefined) throw this.#holds.error(hold);
    if (this.#usable(current)) this.#remember(current); // the refused token is still the current one
    const youngUntil = this.#youngUntil(provider, current, onDemand);
    if (youngUntil !== undefined)
      throw this.#holds.hold(provider, youngUntil, throttledRefusal(provider, 'token-too-young'));
    this.#takeCallerShare(provider, caller);
    return this.#refreshReported(provider, onDemand);
  }

  /** Invoke the engine for a report; every refusal it gives holds the provider until its retry time. */
  async #refreshReported(provider: string, onDemand: OnDemandRequest): Promise<ServedToken> {
    const { result, failure } = await this.#triggerRefresh(provider, onDemand);
    if (result?.status === 'throttled') {
      const reason = result.reason ?? 'token-too-young';
      throw this.#holds.hold(provider, Date.parse(result.retryAt), throttledRefusal(provider, reason));
    }
    if (result?.status === 'in-progress') return this.#afterLostLease(provider, onDemand, result.retryAt);
    if (result?.status === 'failed') {
      try {
        return await this.#afterFailedRefresh(provider, onDemand, result);
      } catch (error) {
        if (error instanceof TokenUnavailableError) this.#holds.holdError(provider, error);
        throw error;
      }
    }
    // Refreshed, found fresh, or no answer: the token secret decides, read once.
    return this.#awaitStoredToken(provider, onDemand, { polling: false, deadline: 0, answered: !failure });
  }

  /**
   * The engine lost the lease to a refresh of the reported token: wait briefly and read again, then (if
   * the new token is not there yet) wait until the engine's retry time and read a last time; still
   * nothing: 429 until that time. At most two reads here, three in all for the report.
   */
  async #afterLostLease(provider: string, onDemand: OnDemandRequest, retryAt?: string): Promise<ServedToken> {
    const { clock } = this.#options;
    const until = retryAt === undefined ? clock.now() + IN_FLIGHT_RETRY_MS : Date.parse(retryAt);
    const pauses = [Math.min(IN_FLIGHT_PAUSE_MS, until - clock.now()), undefined];
    for (const pause of pauses) {
      // The second pause: what is left until the retry time, at most the engine's usual retry delay.
      const wait = pause ?? Math.min(until - clock.now(), IN_FLIGHT_RETRY_MS);
      if (pause === undefined && wait <= 0) break;
      await this.#sleep(Math.max(0, wait));
      const current = await this.#readStore(provider, { fallbackToCache: false }).catch(() => undefined);
      if (this.#acceptable(current, onDemand)) return this.#serveAndCache(current);
    }
    // A refresh slower than that: reports and reads of the cached (refused) token look again later.
    const retryAgainAt = clock.now() + IN_FLIGHT_RETRY_MS;
    const entry = this.#cache.get(provider);
    if (entry !== undefined)
      this.#cache.set(provider, { ...entry, cacheUntil: Math.min(entry.cacheUntil, retryAgainAt) });
    throw this.#holds.hold(provider, retryAgainAt, inProgressRefusal(provider));
  }

  /** When the refused token may be replaced on demand, if it is too young now (needs its config). */
  #youngUntil(
    provider: string,
    current: TokenRecord | undefined,
    onDemand: OnDemandRequest,
  ): number | undefined {
    const config = this.#configs.get(provider);
    if (config === undefined || current === undefined) return undefined;
    const verdict = keepVerdict(onDemand, current, config, this.#options.clock.now());
    return verdict?.status === 'throttled' ? verdict.retryAt : undefined;
  }

  /** The caller's spent share as a refusal, while it is spent. */
  #callerHold(provider: string, caller: string | undefined): Hold | undefined {
    const perHour = this.#perHour(provider);
    const until = this.#callers.refusedUntil(provider, caller, perHour, this.#options.clock.now());
    if (until === undefined) return undefined;
    return { ...callerRefusal(provider, callerShare(perHour)), until, replaceableElsewhere: true };
  }

  /** Count this invocation against the caller's share; 429 when it is spent. */
  #takeCallerShare(provider: string, caller: string | undefined): void {
    const perHour = this.#perHour(provider);
    const until = this.#callers.take(provider, caller, perHour, this.#options.clock.now());
    if (until === undefined) return;
    this.#options.logger.warn('On-demand refresh refused: the caller used its share', { provider, caller });
    throw this.#holds.error({ ...callerRefusal(provider, callerShare(perHour)), until });
  }

  #perHour(provider: string): number {
    return this.#configs.get(provider)?.onDemandRefreshesPerHour ?? DEFAULT_ON_DEMAND_REFRESHES_PER_HOUR;
  }

  async #load(provider: string): Promise<ServedToken> {
    const current = await this.#readStore(provider, { fallbackToCache: true });
    if (this.#usable(current)) return this.#serveAndCache(current);
    return this.#refreshAndWait(provider, {});
  }

  /** Run the on-demand refresh and wait for a usable token that is not the refused one. */
  async #refreshAndWait(provider: string, onDemand: OnDemandRequest): Promise<ServedToken> {
    const deadline = this.#options.clock.now() + this.#refreshWaitMs;
    const { result, failure } = await this.#triggerRefresh(provider, onDemand);
    if (result?.status === 'throttled') throw this.#throttled(provider, result.retryAt);
    if (result?.status === 'failed') return this.#afterFailedRefresh(provider, onDemand, result);
    // Refreshed, found fresh, held by another refresh, or no answer: the token secret decides.
    const polling = result?.status === 'in-progress' || failure !== undefined;
    return this.#awaitStoredToken(provider, onDemand, { polling, deadline, answered: failure === undefined });
  }

  /** Ask the engine for the on-demand refresh, within the wait bound; log what it answered. */
  async #triggerRefresh(
    provider: string,
    onDemand: OnDemandRequest,
  ): Promise<{ result?: RefreshResult; failure?: RefresherError }> {
    const { logger, trigger } = this.#options;
    let result: RefreshResult | undefined;
    let failure: RefresherError | undefined;
    try {
      result = await trigger.refresh({
        provider,
        onDemand,
        signal: AbortSignal.timeout(this.#refreshWaitMs),
      });
    } catch (error) {
      failure = toRefresherError(error);
      logger.warn('On-demand refresh did not answer', { provider, errorCode: failure.code });
    }
    logger.info('On-demand refresh', {
      provider,
      rejectedToken: onDemand.rejectedTokenSha256 !== undefined,
      status: result?.status ?? 'no-answer',
      ...(result?.status === 'fresh' ? { reason: result.reason } : {}),
      ...(result?.status === 'failed' ? { errorCode: result.code } : {}),
    });
    return { ...(result === undefined ? {} : { result }), ...(failure === undefined ? {} : { failure }) };
  }

  #throttled(provider: string, retryAt: string): TokenUnavailableError {
    const { message, code, status } = throttledRefusal(provider, 'token-too-young');
    return new TokenUnavailableError(
      message,
      code,
      status,
      secondsUntil(Date.parse(retryAt), this.#options.clock.now()),
    );
  }

  /** A usable token may still exist after a failed refresh (a refused one is not usable): serve it if so. */
  async #afterFailedRefresh(
    provider: string,
    onDemand: OnDemandRequest,
    result: Extract<RefreshResult, { status: 'failed' }>,
  ): Promise<ServedToken> {
    const current = await this.#readStore(provider, { fallbackToCache: false }).catch(() => undefined);
    if (this.#acceptable(current, onDemand)) return this.#serveAndCache(current);
    throw new TokenUnavailableError(
      `No valid token for provider "${provider}": the refresh failed with ${result.code}` +
        (result.permanent ? ' (permanent: an operator must fix it and force a refresh).' : '.'),
      'refresh_failed',
      503,
      result.retryAt === undefined ? 60 : secondsUntil(Date.parse(result.retryAt), this.#options.clock.now()),
    );
  }

  /**
   * Read the token secret for an acceptable token: once, or (`polling`, while another refresh runs or
   * the engine did not answer) with growing pauses until the deadline.
   */
  async #awaitStoredToken(
    provider: string,
    onDemand: OnDemandRequest,
    wait: { readonly polling: boolean; readonly deadline: number; readonly answered: boolean },
  ): Promise<ServedToken> {
    let pause = POLL_FIRST_MS;
    for (;;) {
      const current = await this.#readStore(provider, { fallbackToCache: false }).catch(() => undefined);
      if (this.#acceptable(current, onDemand)) return this.#serveAndCache(current);
      if (!wait.polling || this.#options.clock.now() + pause > wait.deadline) break;
      await this.#sleep(pause);
      pause = Math.min(pause * 2, POLL_MAX_MS);
    }
    throw new TokenUnavailableError(
      `No valid token for provider "${provider}" yet; a refresh is under way. Retry after the given delay.`,
      'token_unavailable',
      503,
      wait.answered ? 2 : 5,
    );
  }

  #acceptable(token: TokenRecord | undefined, onDemand: OnDemandRequest): token is TokenRecord {
    if (!this.#usable(token)) return false;
    return (
      onDemand.rejectedTokenSha256 === undefined ||
      !tokenMatchesHash(token.accessToken, onDemand.rejectedTokenSha256)
    );
  }

  /**
   * One read of the token secret. When it fails and `fallbackToCache` is set, a cached token that
   * is still valid is served instead of an error.
   */
  async #readStore(
    provider: string,
    options: { readonly fallbackToCache: boolean },
  ): Promise<TokenRecord | undefined> {
    try {
      return (await this.#options.tokens.readCurrent(provider)).token;
    } catch (error) {
      const failure = toRefresherError(error);
      this.#options.logger.error('Could not read the token secret', { provider, errorCode: failure.code });
      const cached = this.#cache.get(provider);
      if (options.fallbackToCache && cached !== undefined && this.#usable(cached.token)) {
        return cached.token;
      }
      throw new TokenUnavailableError(
        `The token of provider "${provider}" cannot be read right now (${failure.code}). Retry after the given delay.`,
        'store_unavailable',
        503,
        5,
      );
    }
  }

  #usable(token: TokenRecord | undefined): token is TokenRecord {
    if (token === undefined) return false;
    return isServable(Date.parse(token.expiresAt), this.#options.clock.now());
  }

  #cached(provider: string): ServedToken | undefined {
    const entry = this.#cache.get(provider);
    if (entry === undefined) return undefined;
    const now = this.#options.clock.now();
    if (!isServable(entry.expiresAtMs, now)) {
      this.#cache.delete(provider);
      return undefined;
    }
    // Past `cacheUntil` the entry stays: it is the fallback if the token secret cannot be read.
    return now < entry.cacheUntil ? this.#serve(entry.token) : undefined;
  }

  #serveAndCache(token: TokenRecord): ServedToken {
    this.#remember(token);
    return this.#serve(token);
  }

  #remember(token: TokenRecord): void {
    const now = this.#options.clock.now();
    const expiresAtMs = Date.parse(token.expiresAt);
    const marginEnd = expiresAtMs - this.#cacheMarginMs;
    // Inside its last margin the token is still served, but re-read soon: a newer one may exist.
    const cacheUntil =
      marginEnd > now
        ? marginEnd
        : Math.min(now + NEAR_EXPIRY_RECHECK_MS, expiresAtMs - MIN_SERVED_VALIDITY_MS);
    this.#cache.set(token.provider, { token, expiresAtMs, cacheUntil });
  }

  #serve(token: TokenRecord): ServedToken {
    const expiresAtMs = Date.parse(token.expiresAt);
    return {
      provider: token.provider,
      accessToken: token.accessToken,
      tokenType: token.tokenType,
      expiresAt: token.expiresAt,
      expiresIn: Math.floor((expiresAtMs - this.#options.clock.now()) / 1000),
    };
  }

  #singleFlight(key: string, work: () => Promise<ServedToken>): Promise<ServedToken> {
    const running = this.#inFlight.get(key);
    if (running !== undefined) return running;
    const started = work().finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, started);
    return started;
  }
}
