/**
 * The refresh protocol (docs/architecture.md, "The refresh protocol"): cheap check, lease with fence,
 * double-check, provider call inside the lease, compare-and-swap write, fenced record-and-release,
 * metrics and the next precise run. Pure TypeScript: every collaborator is injected.
 */
import { randomUUID } from 'node:crypto';
import type { ProviderConfig } from './config.js';
import {
  LeaseLostError,
  ProviderError,
  type RefresherError,
  StoreError,
  toRefresherError,
  WriteConflictError,
} from './errors.js';
import { capabilitiesOf } from './grants.js';
import {
  type Clock,
  type CredentialsStore,
  type EventPublisher,
  type Logger,
  METRIC_NAMES,
  type Metrics,
  type NextRunScheduler,
  type Provider,
  type ProviderEvent,
  REAUTHORIZATION_CODES,
  type ReleaseRecord,
  type StateTable,
  type TokenStore,
} from './ports.js';
import {
  backoffDelayMs,
  EARLY_RUN_TOLERANCE_MS,
  isServable,
  isStateDue,
  isTokenDue,
  nextRefreshAt,
  resolveExpiry,
} from './timing.js';
import { tokenMatchesHash } from './token-hash.js';
import type { CurrentToken, IssuedToken, ProviderState, RefreshResult, TokenRecord } from './types.js';

/** Time kept back from the lease for the writes after the provider call. */
export const WRITE_RESERVE_MS = 5_000;
/** A permanently failed provider is not called again until forced; its next check is this far out. */
export const PERMANENT_FAILURE_RECHECK_MS = 24 * 60 * 60_000;
/** First pause before repeating a failed write of a rotated refresh token; doubles per attempt. */
export const CREDENTIALS_RETRY_BASE_MS = 250;
/** Longest pause between attempts of that write. */
export const CREDENTIALS_RETRY_MAX_PAUSE_MS = 4_000;
/** No attempt of that write starts with less lease than this left (room for the attempt itself). */
export const CREDENTIALS_RETRY_MIN_LEASE_MS = 2_000;

export interface RefreshEngineOptions {
  readonly tokens: TokenStore;
  readonly credentials: CredentialsStore;
  readonly state: StateTable;
  /** Builds (or returns a cached) provider client for a config entry. */
  readonly providerFor: (config: ProviderConfig) => Provider;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Schedules the next precise run; without it, the recurring schedule alone drives refreshes. */
  readonly scheduler?: NextRunScheduler;
  /** Publishes state changes (failing, recovered, needs re-authorization); none without it. */
  readonly events?: EventPublisher;
  /** A number in [0, 1) for backoff jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Waits between attempts of a write; injected so that tests do not sleep. Default: a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface RefreshInput {
  readonly config: ProviderConfig;
  /** Skip the due checks (an operator's refresh, or clearing a permanent failure). */
  readonly force?: boolean;
  /**
   * This run is the precise one-time schedule firing (its payload says `"trigger": "precise"`): that
   * schedule is gone now, so a run that finds the token not yet due arms it again.
   */
  readonly precise?: boolean;
  /** Time left in this invocation; the lease ends with it, so a timed-out holder's lease ends too. */
  readonly remainingTimeMs: number;
  /** Lease owner id; default a random UUID. The Lambda request id makes logs easy to follow. */
  readonly owner?: string;
  /**
   * An on-demand refresh from the read path, decided under the lease instead of by the schedule:
   * without `rejectedTokenSha256`, refresh only if there is no usable (unexpired) token; with it,
   * refresh only if the current token is the one a consumer was refused with, and only if that token
   * is older than `onDemandRefreshInterval`. Permanent failures and backoff still apply.
   */
  readonly onDemand?: OnDemandRefresh;
}

export interface OnDemandRefresh {
  /** Lower-case hex SHA-256 of the access token a consumer was refused with (HTTP 401). */
  readonly rejectedTokenSha256?: string;
}

/** The refresh engine. Build once per container; call {@link RefreshEngine.refresh} per event. */
export class RefreshEngine {
  readonly #options: RefreshEngineOptions;
  readonly #random: () => number;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(options: RefreshEngineOptions) {
    this.#options = options;
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Run the protocol once for one provider. Never throws for provider or store failures. */
  async refresh(input: RefreshInput): Promise<RefreshResult> {
    const { config } = input;
    const { clock, state: table, metrics, logger } = this.#options;
    const provider = config.name;
    const startedAt = clock.now();

    // 1. Cheap check: one consistent read, no lock, when not due.
    let state: ProviderState | undefined;
    try {
      state = await table.read(provider);
    } catch (error) {
      return this.#failedWithoutLease(provider, toRefresherError(error));
    }
    if (!input.force && state !== undefined) {
      if (state.lastErrorPermanent) {
        this.#emitSecondsToExpiry(provider, state.tokenExpiresAt, startedAt);
        metrics.add(provider, METRIC_NAMES.refreshFailed, 'Count', 1);
        // Keeps the permanent-failure alarm in alarm for as long as the provider stays blocked.
        metrics.add(provider, METRIC_NAMES.refreshFailedPermanent, 'Count', 1);
        return {
          status: 'failed',
          provider,
          code: state.lastErrorCode ?? 'unknown',
          permanent: true,
          attempted: false,
        };
      }
      if (!isStateDue(state, startedAt)) {
        this.#emitSecondsToExpiry(provider, state.tokenExpiresAt, startedAt);
        if (input.onDemand === undefined)
          await this.#ensurePreciseRun(state, startedAt, input.precise === true);
        if (state.consecutiveFailures > 0) {
          // Backing off after a transient failure: report it, but do not count a new failure.
          return {
            status: 'failed',
            provider,
            code: state.lastErrorCode ?? 'unknown',
            permanent: false,
            retryAt: isoOrUndefined(state.nextRefreshAt),
            attempted: false,
          };
        }
        // Not due by the schedule; an on-demand request goes on to the lease, where the token decides.
        if (input.onDemand === undefined) {
          return {
            status: 'fresh',
            provider,
            reason: 'not-due',
            expiresAt: isoOrUndefined(state.tokenExpiresAt),
          };
        }
      }
    }

    // 2. Lease: ends with this invocation; the fence grows with every acquisition.
    const owner = input.owner ?? randomUUID();
    const leaseExpiresAt = startedAt + input.remainingTimeMs;
    let lease: ProviderState | undefined;
    try {
      lease = await table.acquire({ provider, owner, now: startedAt, leaseExpiresAt });
    } catch (error) {
      return this.#failedWithoutLease(provider, toRefresherError(error));
    }
    if (lease === undefined) {
      metrics.add(provider, METRIC_NAMES.leaseContended, 'Count', 1);
      logger.info('Lease held by another refresh', { provider });
      return { status: 'in-progress', provider };
    }
    const fence = lease.fence;

    let current: CurrentToken | undefined;
    try {
      // 3. Double-check: another holder may have refreshed between our read and our lease.
      current = await this.#options.tokens.readCurrent(provider);
      if (!input.force && current.token !== undefined) {
        const issuedAt = Date.parse(current.token.issuedAt);
        const expiresAt = Date.parse(current.token.expiresAt);
        const dueAt = nextRefreshAt(config.refreshBefore, issuedAt, expiresAt);
        const verdict = keepVerdict(input.onDemand, current.token, {
          now: clock.now(),
          issuedAt,
          expiresAt,
          dueAt,
          minAgeMs: config.onDemandRefreshInterval * 1000,
        });
        if (verdict !== undefined) {
          await this.#releaseObserved(owner, lease, config, current.token, current.versionId);
          if (verdict.status === 'throttled') {
            logger.info('On-demand refresh refused: the reported token is too young', {
              provider,
              retryAt: new Date(verdict.retryAt).toISOString(),
            });
            return { status: 'throttled', provider, retryAt: new Date(verdict.retryAt).toISOString() };
          }
          return { status: 'fresh', provider, reason: verdict.reason, expiresAt: current.token.expiresAt };
        }
      }
      // A grant that rotates its refresh token first finishes a write an earlier holder left undone.
      const credentials = await this.#options.credentials.read(
        provider,
        capabilitiesOf(config).rotatesCredential ? { fence } : undefined,
      );
      if (credentials.recoveredGeneration !== undefined) {
        logger.warn('Finished storing the rotated refresh token of an interrupted refresh', {
          provider,
          interruptedGeneration: credentials.recoveredGeneration,
        });
      }

      // 4. Call the provider, but only while the lease still covers the whole call: a paused holder
      // must not replay a refresh token a newer holder has rotated (OAuth 2.0 Security BCP §4.14).
      const requestTimeoutMs = config.requestTimeout * 1000;
      if (leaseExpiresAt - clock.now() - WRITE_RESERVE_MS < requestTimeoutMs) {
        throw new LeaseLostError(
          `The lease has ${Math.max(0, leaseExpiresAt - clock.now())} ms left, less than the request timeout ` +
            `(${requestTimeoutMs} ms) plus ${WRITE_RESERVE_MS} ms for the writes; not calling the provider`,
        );
      }
      let issued: IssuedToken;
      try {
        issued = await this.#options.providerFor(config).requestToken({
          credentials: credentials.credentials,
          signal: AbortSignal.timeout(requestTimeoutMs),
        });
      } catch (error) {
        // 5a, for an answer that rotated the refresh token but is unusable otherwise: the refresh
        // token sent is spent, so the new one is stored before the failure is recorded.
        const rotated = error instanceof ProviderError ? error.rotatedRefreshToken : undefined;
        if (rotated !== undefined && rotated !== credentials.credentials.refreshToken) {
          await this.#writeRotatedCredentials(
            {
              provider,
              fence,
              credentials: { ...credentials.credentials, refreshToken: rotated },
              expectedVersionId: credentials.versionId,
            },
            leaseExpiresAt,
          );
          logger.warn('Stored the rotated refresh token of an otherwise unusable answer', { provider });
        }
        throw error;
      }
      const issuedAt = clock.now();

      // 5a. A rotated refresh token is stored before anything else, even when the access token turns
      // out unusable: the old refresh token is now spent.
      const refreshTokenRotated =
        issued.refreshToken !== undefined && issued.refreshToken !== credentials.credentials.refreshToken;
      if (refreshTokenRotated) {
        await this.#writeRotatedCredentials(
          {
            provider,
            fence,
            credentials: { ...credentials.credentials, refreshToken: issued.refreshToken },
            expectedVersionId: credentials.versionId,
          },
          leaseExpiresAt,
        );
      }
      const expiry = resolveExpiry(issued, config.expectedLifetime, issuedAt);
      if (!expiry.ok) {
        throw new ProviderError(
          `The token endpoint returned an unusable token: ${expiry.reason}`,
          'invalid_lifetime',
          'transient',
        );
      }

      // 5b. Compare-and-swap write: fails instead of overwriting if a newer holder wrote meanwhile.
      const record: TokenRecord = {
        provider,
        accessToken: issued.accessToken,
        tokenType: issued.tokenType,
        expiresAt: new Date(expiry.expiresAt).toISOString(),
        issuedAt: new Date(issuedAt).toISOString(),
        ...(issued.scope === undefined ? {} : { scope: issued.scope }),
        generation: fence,
      };
      let versionId: string;
      try {
        versionId = await this.#options.tokens.write({
          provider,
          fence,
          token: record,
          expectedVersionId: current.versionId,
        });
      } catch (error) {
        // Another holder (one whose lease we took over, with a slow or skewed clock) stored a token
        // meanwhile: the provider is fine and a fresh token is stored, so this is no failure.
        const superseded = error instanceof WriteConflictError ? await this.#newerToken(provider) : undefined;
        if (superseded?.token === undefined) throw error;
        await this.#releaseObserved(owner, lease, config, superseded.token, superseded.versionId);
        metrics.add(provider, METRIC_NAMES.leaseContended, 'Count', 1);
        logger.info('Another refresh stored a newer token meanwhile; it stays and ours is dropped', {
          provider,
          generation: fence,
          storedGeneration: superseded.token.generation,
        });
        return {
          status: 'fresh',
          provider,
          reason: 'refreshed-by-other',
          expiresAt: superseded.token.expiresAt,
        };
      }

      // 6. Record and release in one fenced write. The next precise run (step 7) is armed first, so
      // that the record says whether it is.
      const refreshAt = nextRefreshAt(config.refreshBefore, issuedAt, expiry.expiresAt);
      const armed = await this.#scheduleNext(provider, refreshAt);
      const released = await this.#release(provider, owner, fence, {
        outcome: 'success',
        tokenExpiresAt: expiry.expiresAt,
        nextRefreshAt: refreshAt,
        tokenVersionId: versionId,
        ...(armed ? { preciseRunFor: refreshAt } : {}),
      });

      // 7. Metrics and events.
      if (released && lease.consecutiveFailures > 0) await this.#publishRecovered(provider, lease);
      const finishedAt = clock.now();
      metrics.add(provider, METRIC_NAMES.refreshSucceeded, 'Count', 1);
      metrics.add(provider, METRIC_NAMES.refreshDuration, 'Milliseconds', finishedAt - startedAt);
      this.#emitSecondsToExpiry(provider, expiry.expiresAt, finishedAt);
      logger.info('Token refreshed', {
        provider,
        trigger: triggerOf(input),
        generation: fence,
        expiresAt: record.expiresAt,
        nextRefreshAt: new Date(refreshAt).toISOString(),
        refreshTokenRotated,
        leaseReleased: released,
      });
      return {
        status: 'refreshed',
        provider,
        expiresAt: record.expiresAt,
        generation: fence,
        refreshTokenRotated,
      };
    } catch (thrown) {
      return this.#recordFailure(provider, owner, lease, toRefresherError(thrown), current);
    }
  }

  /**
   * Store a rotated refresh token, repeating the write after transient failures while the lease
   * lasts. This write cannot be done again later: the provider spent the old refresh token when it
   * issued this one, and a refresh token that never reaches the secret revokes the grant at the next
   * refresh. (A failed token write, by contrast, costs one more provider call after backoff.) Each
   * repeat resumes the same write, so a part already applied is not applied twice.
   */
  async #writeRotatedCredentials(
    input: Parameters<CredentialsStore['write']>[0],
    leaseExpiresAt: number,
  ): Promise<void> {
    const { clock, logger, credentials } = this.#options;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await credentials.write(attempt === 1 ? input : { ...input, resume: true });
        if (attempt > 1) {
          logger.info('Stored the rotated refresh token after retrying', {
            provider: input.provider,
            attempt,
          });
        }
        return;
      } catch (error) {
        const failure = toRefresherError(error);
        const pauseMs = Math.min(
          CREDENTIALS_RETRY_BASE_MS * 2 ** (attempt - 1),
          CREDENTIALS_RETRY_MAX_PAUSE_MS,
        );
        const leaseLeftAfterPause = leaseExpiresAt - clock.now() - pauseMs;
        // Only an unavailable store is worth repeating; a lost compare-and-swap stays lost.
        const retryable = failure instanceof StoreError && failure.kind === 'transient';
        if (!retryable || leaseLeftAfterPause < CREDENTIALS_RETRY_MIN_LEASE_MS) throw error;
        logger.warn('Could not store the rotated refresh token; retrying while the lease lasts', {
          provider: input.provider,
          attempt,
          errorCode: failure.code,
          retryInMs: pauseMs,
        });
        await this.#sleep(pauseMs);
      }
    }
  }

  /**
   * Release after finding a token another holder stored, recording it. A token issued after the last
   * recorded failure means that holder refreshed but could not record it (its lease was taken over,
   * or its release failed): the failure streak is over, and the record says so.
   */
  async #releaseObserved(
    owner: string,
    lease: ProviderState,
    config: ProviderConfig,
    token: TokenRecord,
    versionId: string,
  ): Promise<void> {
    const provider = config.name;
    const issuedAt = Date.parse(token.issuedAt);
    const expiresAt = Date.parse(token.expiresAt);
    const recovered =
      lease.consecutiveFailures > 0 && lease.lastErrorAt !== undefined && issuedAt > lease.lastErrorAt;
    const released = await this.#release(provider, owner, lease.fence, {
      outcome: 'observed',
      tokenExpiresAt: expiresAt,
      nextRefreshAt: nextRefreshAt(config.refreshBefore, issuedAt, expiresAt),
      tokenVersionId: versionId,
      ...(recovered ? { recoveredAt: issuedAt } : {}),
    });
    // Events follow the record: a holder whose lease was taken over leaves them to the newer one.
    if (released && recovered) await this.#publishRecovered(provider, lease);
    this.#emitSecondsToExpiry(provider, expiresAt, this.#options.clock.now());
  }

  /** After a lost compare-and-swap: the stored token, if it can still be served. */
  async #newerToken(provider: string): Promise<CurrentToken | undefined> {
    try {
      const stored = await this.#options.tokens.readCurrent(provider);
      const expiresAt = stored.token === undefined ? Number.NaN : Date.parse(stored.token.expiresAt);
      return isServable(expiresAt, this.#options.clock.now()) ? stored : undefined;
    } catch {
      return undefined; // the write's own error says more
    }
  }

  /** Record a failure under the lease, keep the current token, back off, and release. */
  async #recordFailure(
    provider: string,
    owner: string,
    lease: ProviderState,
    error: RefresherError,
    current: CurrentToken | undefined,
  ): Promise<RefreshResult> {
    const { clock, metrics, logger } = this.#options;
    const now = clock.now();
    const permanent = error.kind === 'permanent';
    const consecutiveFailures = lease.consecutiveFailures + 1;
    const retryAfterSeconds = error instanceof ProviderError ? error.details.retryAfterSeconds : undefined;
    const currentExpiresAt =
      current?.token === undefined ? lease.tokenExpiresAt : Date.parse(current.token.expiresAt);
    const validityLeftMs = currentExpiresAt === undefined ? undefined : currentExpiresAt - now;
    const retryAt = permanent
      ? now + PERMANENT_FAILURE_RECHECK_MS
      : now + backoffDelayMs(consecutiveFailures, retryAfterSeconds, this.#random(), validityLeftMs);
    const armed = !permanent && (await this.#scheduleNext(provider, retryAt));
    const released = await this.#release(provider, owner, lease.fence, {
      outcome: 'failure',
      errorCode: error.code,
      permanent,
      nextRefreshAt: retryAt,
      ...(armed ? { preciseRunFor: retryAt } : {}),
    });
    metrics.add(provider, METRIC_NAMES.refreshFailed, 'Count', 1);
    metrics.add(provider, METRIC_NAMES.consecutiveFailures, 'Count', consecutiveFailures);
    if (permanent) metrics.add(provider, METRIC_NAMES.refreshFailedPermanent, 'Count', 1);
    this.#emitSecondsToExpiry(provider, currentExpiresAt, now);
    (permanent ? logger.error : logger.warn).call(logger, 'Refresh failed; the current token is kept', {
      provider,
      errorCode: error.code,
      errorKind: error.kind,
      errorName: error.name,
      errorMessage: error.message,
      status: error instanceof ProviderError ? error.details.status : undefined,
      consecutiveFailures,
      retryAt: permanent ? undefined : new Date(retryAt).toISOString(),
    });
    if (released) await this.#publishFailureChange(provider, lease, error);
    return {
      status: 'failed',
      provider,
      code: error.code,
      permanent,
      ...(permanent ? {} : { retryAt: new Date(retryAt).toISOString() }),
      attempted: true,
    };
  }

  /**
   * A failure that changes the provider's condition: healthy → failing, or → needs re-authorization
   * (`invalid_grant`, unless the streak already ended on it). Later failures of a streak publish
   * nothing.
   */
  async #publishFailureChange(provider: string, before: ProviderState, error: RefresherError): Promise<void> {
    const occurredAt = new Date(this.#options.clock.now()).toISOString();
    const reauthorization = REAUTHORIZATION_CODES.find((code) => code === error.code);
    if (reauthorization !== undefined) {
      if (before.consecutiveFailures > 0 && before.lastErrorCode === reauthorization) return;
      await this.#publish({
        type: 'needs-reauthorization',
        provider,
        errorCode: reauthorization,
        occurredAt,
      });
      return;
    }
    if (before.consecutiveFailures > 0) return;
    await this.#publish({
      type: 'failing',
      provider,
      errorCode: error.code,
      permanent: error.kind === 'permanent',
      occurredAt,
    });
  }

  /** A token was stored (by us, or observed from a holder that could not record it) after failures. */
  async #publishRecovered(provider: string, before: ProviderState): Promise<void> {
    await this.#publish({
      type: 'recovered',
      provider,
      failedAttempts: before.consecutiveFailures,
      ...(before.lastErrorCode === undefined ? {} : { lastErrorCode: before.lastErrorCode }),
      occurredAt: new Date(this.#options.clock.now()).toISOString(),
    });
  }

  /** Events are best effort: a failed publish is logged and never fails the refresh. */
  async #publish(event: ProviderEvent): Promise<void> {
    if (this.#options.events === undefined) return;
    try {
      await this.#options.events.publish(event);
    } catch (error) {
      this.#options.logger.warn('Could not publish the state-change event', {
        provider: event.provider,
        eventType: event.type,
        errorCode: toRefresherError(error).code,
      });
    }
  }

  /** A failure before any lease was taken (the table itself failed): nothing to record. */
  #failedWithoutLease(provider: string, error: RefresherError): RefreshResult {
    this.#options.metrics.add(provider, METRIC_NAMES.refreshFailed, 'Count', 1);
    this.#options.logger.error('Refresh failed before taking the lease', {
      provider,
      errorCode: error.code,
      errorName: error.name,
      errorMessage: error.message,
    });
    return {
      status: 'failed',
      provider,
      code: error.code,
      permanent: error.kind === 'permanent',
      attempted: false,
    };
  }

  /** Fenced release; a lost lease is logged, never thrown (the newer holder owns the item now). */
  async #release(provider: string, owner: string, fence: number, record: ReleaseRecord): Promise<boolean> {
    try {
      const released = await this.#options.state.release({
        provider,
        owner,
        fence,
        now: this.#options.clock.now(),
        record,
      });
      if (!released)
        this.#options.logger.warn('Lease was lost before release; a newer holder owns it', {
          provider,
          fence,
        });
      return released;
    } catch (error) {
      const failure = toRefresherError(error);
      this.#options.logger.error('Could not release the lease; it will expire on its own', {
        provider,
        fence,
        errorCode: failure.code,
      });
      return false;
    }
  }

  /** Arm the precise one-time run at `at`. @returns whether it is armed. */
  async #scheduleNext(provider: string, at: number): Promise<boolean> {
    if (this.#options.scheduler === undefined) return false;
    try {
      await this.#options.scheduler.scheduleAt(provider, at);
      return true;
    } catch (error) {
      // The state keeps saying "not armed", so the next run that finds the token not due arms it;
      // until then the recurring schedule remains the safety net.
      this.#options.logger.warn('Could not schedule the next precise run', {
        provider,
        errorCode: toRefresherError(error).code,
      });
      return false;
    }
  }

  /**
   * A run that finds the token not due makes sure the precise run is armed for `nextRefreshAt`: one
   * scheduler call and one state write, only when it is not (arming failed, a refresh ran without a
   * scheduler, or this run was the precise one and so used it up). A precise run that arrived early
   * beyond {@link EARLY_RUN_TOLERANCE_MS} (its scheduler's clock is ahead of ours) is armed again late
   * by as much as it was early, so the skew does not bring it back early again; never later than
   * halfway from `nextRefreshAt` to the token's expiry.
   */
  async #ensurePreciseRun(state: ProviderState, now: number, precise: boolean): Promise<void> {
    const { scheduler, state: table, logger } = this.#options;
    const dueAt = state.nextRefreshAt;
    if (scheduler === undefined || dueAt === undefined || state.lastErrorPermanent) return;
    const armedForDue = state.preciseRunFor === dueAt;
    if (armedForDue && !precise) return;
    let at = dueAt;
    if (armedForDue && precise) {
      const latest = state.tokenExpiresAt === undefined ? dueAt : (dueAt + state.tokenExpiresAt) / 2;
      at = Math.max(dueAt, Math.min(dueAt + (dueAt - now), latest));
    }
    if (!(await this.#scheduleNext(state.provider, at))) return;
    try {
      await table.recordPreciseRun({ provider: state.provider, nextRefreshAt: dueAt });
    } catch (error) {
      // Only costs one more arming call at the next run.
      logger.warn('Could not record the re-armed precise run', {
        provider: state.provider,
        errorCode: toRefresherError(error).code,
      });
    }
    logger.info('Re-armed the precise run', {
      provider: state.provider,
      at: new Date(at).toISOString(),
      reason: armedForDue ? 'arrived-early' : 'not-armed',
    });
  }

  #emitSecondsToExpiry(provider: string, tokenExpiresAt: number | undefined, now: number): void {
    if (tokenExpiresAt === undefined || !Number.isFinite(tokenExpiresAt)) return;
    this.#options.metrics.add(
      provider,
      METRIC_NAMES.secondsToExpiry,
      'Seconds',
      Math.max(0, Math.floor((tokenExpiresAt - now) / 1000)),
    );
  }
}

type KeepVerdict =
  | { readonly status: 'fresh'; readonly reason: 'refreshed-by-other' | 'still-valid' | 'already-replaced' }
  | { readonly status: 'throttled'; readonly retryAt: number };

/**
 * The double-check under the lease: a verdict to keep the current token, or `undefined` to refresh.
 * A scheduled run keeps a token that is not due; an on-demand run keeps a usable token unless it is
 * the refused one, and refuses (throttled) to replace a refused token younger than `minAgeMs`.
 */
function keepVerdict(
  onDemand: OnDemandRefresh | undefined,
  token: TokenRecord,
  times: { now: number; issuedAt: number; expiresAt: number; dueAt: number; minAgeMs: number },
): KeepVerdict | undefined {
  const { now, issuedAt, expiresAt, dueAt, minAgeMs } = times;
  if (onDemand === undefined)
    return isTokenDue(dueAt, now) ? undefined : { status: 'fresh', reason: 'refreshed-by-other' };
  const servable = isServable(expiresAt, now);
  if (onDemand.rejectedTokenSha256 === undefined) {
    return servable ? { status: 'fresh', reason: 'still-valid' } : undefined;
  }
  if (!tokenMatchesHash(token.accessToken, onDemand.rejectedTokenSha256)) {
    return servable ? { status: 'fresh', reason: 'already-replaced' } : undefined;
  }
  if (now - issuedAt < minAgeMs) return { status: 'throttled', retryAt: issuedAt + minAgeMs };
  return undefined;
}

function triggerOf(input: RefreshInput): 'force' | 'on-demand' | 'rejected-token' | 'schedule' {
  if (input.force) return 'force';
  if (input.onDemand === undefined) return 'schedule';
  return input.onDemand.rejectedTokenSha256 === undefined ? 'on-demand' : 'rejected-token';
}

function isoOrUndefined(epochMs: number | undefined): string | undefined {
  return epochMs === undefined ? undefined : new Date(epochMs).toISOString();
}
