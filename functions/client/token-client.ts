/**
 * What every source shares: the per-container cache, single-flight reads, the fallback to a cached
 * token that is still valid, and `withToken`'s one retry after a 401. A source (Secrets Manager, the
 * read function) only reads a token and answers "this one was refused".
 */
import { TokenClientError } from './errors.js';
import { assertProviderName, type ClientToken } from './token.js';

/** The time source; injected so that expiry logic is tested without sleeping. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

/**
 * Default cache margin: a token is re-read 30 s before it expires. The refresher replaces a token
 * at least 60 s before its expiry (`refreshBefore` is never below 60 s), so after `expiresAt − 30 s`
 * a newer token is normally there to read.
 */
export const DEFAULT_MARGIN_MS = 30_000;

/**
 * A token read inside its last margin (the refresher is late or failing), or served from the cache
 * after a failed read, is re-read at most this often: a newer token may appear any moment, but a
 * failing source must not be called on every request.
 */
export const RECHECK_INTERVAL_MS = 5_000;

/** Where tokens come from. Each source module implements it; tests implement it with fakes. */
export interface TokenSource {
  /**
   * The provider's current token, validated (`toClientToken`); expiry is checked by the client.
   * @throws TokenClientError
   */
  read(provider: string): Promise<ClientToken>;
  /**
   * `rejected` was refused by the API (HTTP 401): the token to retry with. The read function
   * refreshes on demand; Secrets Manager can only be read again. Returns `rejected` itself when
   * nothing newer exists.
   * @throws TokenClientError
   */
  replaceRejected(provider: string, rejected: ClientToken): Promise<ClientToken>;
}

/** Options every client takes, whatever its source. */
export interface TokenClientOptions {
  /**
   * Re-read a token this long before it expires (ms). Keep it below the refresher's `refreshBefore`
   * (never below 60 s), or the client re-reads before a newer token exists.
   * @default 30_000 ({@link DEFAULT_MARGIN_MS})
   */
  readonly marginMs?: number;
  /** @default the system clock */
  readonly clock?: Clock;
}

/** Options of {@link TokenClient.withToken}. */
export interface WithTokenOptions<R> {
  /**
   * Whether `fn`'s result means the token was refused.
   * @default `result.status === 401` (a fetch `Response`, or any object with a `status`)
   */
  readonly isUnauthorized?: (result: R) => boolean;
}

interface CacheEntry {
  readonly token: ClientToken;
  readonly expiresAtMs: number;
  /** Until then the token is returned without a read. */
  readonly freshUntil: number;
}

const systemClock: Clock = { now: () => Date.now() };

/**
 * Reads a provider's token once per token generation and hands it out from memory until
 * `expiresAt − marginMs`. Build one per container (outside the handler) and share it: its cache is
 * the point.
 */
export class TokenClient {
  readonly #source: TokenSource;
  readonly #clock: Clock;
  readonly #marginMs: number;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #reads = new Map<string, Promise<ClientToken>>();
  readonly #replacements = new Map<string, Promise<ClientToken>>();

  constructor(source: TokenSource, options: TokenClientOptions = {}) {
    this.#source = source;
    this.#clock = options.clock ?? systemClock;
    this.#marginMs = checkMarginMs(options.marginMs);
  }

  /**
   * The provider's current token: from the cache until `expiresAt − marginMs`, else one read shared
   * by every concurrent caller. If that read fails while the cached token has not expired, the
   * cached token is returned (and the source is asked again at most every 5 s). Never an expired
   * token.
   * @throws TokenClientError, e.g. `token_not_ready`, `token_expired`, `access_denied`, `read_failed`
   */
  async getToken(provider: string): Promise<ClientToken> {
    assertProviderName(provider);
    const entry = this.#cache.get(provider);
    const now = this.#clock.now();
    if (entry !== undefined && now < entry.freshUntil && now < entry.expiresAtMs) return entry.token;
    return singleFlight(this.#reads, provider, () => this.#read(provider));
  }

  /**
   * Run `fn` with the provider's token. If its result says the token was refused (HTTP 401), ask the
   * source for a newer token — an on-demand refresh with the read function, a fresh read of the
   * secret with Secrets Manager — and run `fn` once more with it. The second result is returned as it
   * is, 401 or not. When no newer token exists (Secrets Manager still holds the refused one), the
   * first 401 is returned without a retry. If `fn` throws, nothing is retried.
   *
   * @throws TokenClientError when no token can be had, or when asking for a newer one fails (e.g.
   *   `refresh_rate_limited` with `retryAfterSeconds`); whatever `fn` throws.
   */
  async withToken<R>(
    provider: string,
    fn: (token: ClientToken) => Promise<R> | R,
    options: WithTokenOptions<R> = {},
  ): Promise<R> {
    const isUnauthorized = options.isUnauthorized ?? hasStatus401;
    const token = await this.getToken(provider);
    const first = await fn(token);
    if (!isUnauthorized(first)) return first;

    const replacement = await this.#replaceRejected(provider, token);
    if (replacement.accessToken === token.accessToken) return first;
    await discardBody(first);
    return fn(replacement);
  }

  async #read(provider: string): Promise<ClientToken> {
    try {
      return this.#remember(provider, await this.#source.read(provider));
    } catch (error) {
      const entry = this.#cache.get(provider);
      const now = this.#clock.now();
      if (entry !== undefined && now < entry.expiresAtMs) {
        // Still valid: serve it rather than fail the caller, and do not hammer a failing source.
        this.#cache.set(provider, {
          ...entry,
          freshUntil: Math.min(now + RECHECK_INTERVAL_MS, entry.expiresAtMs),
        });
        return entry.token;
      }
      this.#cache.delete(provider);
      throw toTokenClientError(error, provider);
    }
  }

  /** One request per refused token, however many callers saw it refused at once. */
  async #replaceRejected(provider: string, rejected: ClientToken): Promise<ClientToken> {
    const entry = this.#cache.get(provider);
    if (
      entry !== undefined &&
      entry.token.accessToken !== rejected.accessToken &&
      this.#clock.now() < entry.expiresAtMs
    ) {
      // Another caller already replaced it.
      return entry.token;
    }
    // Keyed by the token itself: the map lives in this container's memory only and is never logged.
    return singleFlight(this.#replacements, `${provider}\n${rejected.accessToken}`, async () => {
      try {
        return this.#remember(provider, await this.#source.replaceRejected(provider, rejected));
      } catch (error) {
        throw toTokenClientError(error, provider);
      }
    });
  }

  /** Cache a token just read, or refuse it if it has expired. */
  #remember(provider: string, token: ClientToken): ClientToken {
    const now = this.#clock.now();
    const expiresAtMs = Date.parse(token.expiresAt);
    if (!(expiresAtMs > now)) {
      throw new TokenClientError(
        `The stored token of provider "${provider}" expired at ${token.expiresAt}; the refresher is not ` +
          'keeping it fresh (check its failure alarm and logs)',
        'token_expired',
      );
    }
    const marginEnd = expiresAtMs - this.#marginMs;
    const freshUntil = marginEnd > now ? marginEnd : Math.min(now + RECHECK_INTERVAL_MS, expiresAtMs);
    this.#cache.set(provider, { token, expiresAtMs, freshUntil });
    return token;
  }
}

function checkMarginMs(marginMs: number | undefined): number {
  if (marginMs === undefined) return DEFAULT_MARGIN_MS;
  if (typeof marginMs !== 'number' || !Number.isFinite(marginMs) || marginMs < 0) {
    throw new TokenClientError(
      `marginMs must be a finite number of milliseconds ≥ 0 (default ${DEFAULT_MARGIN_MS}); keep it below ` +
        "the refresher's refreshBefore",
      'invalid_options',
    );
  }
  return marginMs;
}

function singleFlight<T>(running: Map<string, Promise<T>>, key: string, work: () => Promise<T>): Promise<T> {
  const existing = running.get(key);
  if (existing !== undefined) return existing;
  const started = work().finally(() => running.delete(key));
  running.set(key, started);
  return started;
}

function hasStatus401(result: unknown): boolean {
  return typeof result === 'object' && result !== null && (result as { status?: unknown }).status === 401;
}

/** A refused fetch `Response` that will not be returned: release its connection. */
async function discardBody(result: unknown): Promise<void> {
  if (typeof Response === 'undefined' || !(result instanceof Response) || result.bodyUsed) return;
  await result.body?.cancel().catch(() => undefined);
}

/** Sources throw `TokenClientError`; anything else (a bug, a fake) is wrapped, not swallowed. */
function toTokenClientError(error: unknown, provider: string): TokenClientError {
  if (error instanceof TokenClientError) return error;
  return new TokenClientError(
    `Reading the token of provider "${provider}" failed (${error instanceof Error ? error.name : typeof error})`,
    'read_failed',
    { cause: error },
  );
}
