/**
 * The refresh protocol (docs/architecture.md, "The refresh protocol"): cheap check, lease with fence,
 * double-check, provider call inside the lease, compare-and-swap write, fenced record-and-release,
 * metrics and the next precise run. Pure TypeScript: every collaborator is injected.
 *
 * `refresh()` reads as the numbered steps; each step is one private method below, and the parts
 * that are more than a step live beside this file: options and input (`engine-options.ts`), the
 * double-check verdict (`double-check.ts`), the rotated credentials write (`rotated-credentials.ts`),
 * the token record (`token-record.ts`), the fenced release (`lease-release.ts`), the failure record
 * (`failure-recording.ts`), the precise run (`precise-run.ts`), the events (`state-events.ts`), the
 * on-demand budget and the answer of an on-demand run that lost the lease (`on-demand-gate.ts`), the
 * credentials changes that lift a permanent failure (`credentials-change.ts`), the provider call
 * (`provider-call.ts`), and when the state item alone tells what the stores hold
 * (`stored-state.ts`) so that a warm container skips the token read and uses the credentials it
 * cached (`credentials-cache.ts`).
 */
import { randomUUID } from 'node:crypto';
import type { ProviderConfig } from './config.js';
import { CredentialsCache, type RunCredentials } from './credentials-cache.js';
import { CredentialsChange, type CredentialsUse, credentialsVerdict } from './credentials-change.js';
import { keepVerdict } from './double-check.js';
import type { RefreshEngineOptions, RefreshInput } from './engine-options.js';
import { toRefresherError, WriteConflictError } from './errors.js';
import { FailureRecorder } from './failure-recording.js';
import { capabilitiesOf } from './grants.js';
import { emitSecondsToExpiry, type LeaseHolder, releaseLease } from './lease-release.js';
import { OnDemandGate } from './on-demand-gate.js';
import { METRIC_NAMES, type ReleaseRecord } from './ports.js';
import { PreciseRunArming } from './precise-run.js';
import { ProviderCall } from './provider-call.js';
import { StateChangeEvents } from './state-events.js';
import { type StoredToken, storedState } from './stored-state.js';
import { isServable, isStateDue, isTokenDue, nextRefreshAt } from './timing.js';
import { type UsableToken, usableToken } from './token-record.js';
import type { CurrentToken, ProviderState, RefreshResult, TokenRecord } from './types.js';

export type { OnDemandRefresh } from './double-check.js';
export type { RefreshEngineOptions, RefreshInput } from './engine-options.js';
export { PERMANENT_FAILURE_RECHECK_MS } from './failure-recording.js';
export { WRITE_RESERVE_MS } from './provider-call.js';
export {
  CREDENTIALS_RETRY_BASE_MS,
  CREDENTIALS_RETRY_MAX_PAUSE_MS,
  CREDENTIALS_RETRY_MIN_LEASE_MS,
} from './rotated-credentials.js';

/** One run of the protocol for one provider, as its steps share it. */
interface Run {
  readonly input: RefreshInput;
  readonly config: ProviderConfig;
  readonly provider: string;
  readonly startedAt: number;
  /** Step 1 found a credentials version the last attempt did not use (`credentials-change.ts`). */
  readonly credentialsChanged?: boolean;
}

/** A run that holds the lease (step 2 on). */
interface LeasedRun extends Run, LeaseHolder {
  /** The state as the lease was taken: the failure streak so far. */
  readonly lease: ProviderState;
  readonly leaseExpiresAt: number;
  /** The credentials version this run used, for its record. */
  readonly credentialsUse: CredentialsUse;
  /** The stored token as the state item records it, when the item may be trusted (`stored-state.ts`). */
  readonly stored: StoredToken | undefined;
}

/** The version a compare-and-swap expects, and whether it was read from the store or the state item. */
interface ExpectedVersion {
  readonly versionId: string | undefined;
  readonly fromState: boolean;
}

/** The refresh engine. Build once per container; call {@link RefreshEngine.refresh} per event. */
export class RefreshEngine {
  readonly #options: RefreshEngineOptions;
  readonly #cache = new CredentialsCache();
  readonly #providerCall: ProviderCall;
  readonly #preciseRuns: PreciseRunArming;
  readonly #events: StateChangeEvents;
  readonly #failures: FailureRecorder;
  readonly #onDemand: OnDemandGate;
  readonly #credentialsChange: CredentialsChange;

  constructor(options: RefreshEngineOptions) {
    this.#options = options;
    this.#onDemand = new OnDemandGate(options);
    this.#credentialsChange = new CredentialsChange(options);
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    this.#providerCall = new ProviderCall({
      ...options,
      credentialsWriter: { ...options, sleep },
      cache: this.#cache,
      reread: (run) => this.#readCredentials(run as LeasedRun, false),
    });
    this.#preciseRuns = new PreciseRunArming(options);
    this.#events = new StateChangeEvents(options);
    this.#failures = new FailureRecorder({
      ...options,
      random: options.random ?? Math.random,
      preciseRuns: this.#preciseRuns,
      stateEvents: this.#events,
    });
  }

  /** Run the protocol once for one provider. Never throws for provider or store failures. */
  async refresh(input: RefreshInput): Promise<RefreshResult> {
    const run: Run = { input, config: input.config, provider: input.config.name, startedAt: this.#now() };
    const checked = await this.#cheapCheck(run); // 1
    if (isResult(checked)) return checked;
    const leased = await this.#acquireLease(checked); // 2
    if (isResult(leased)) return leased;
    return this.#refreshUnderLease(leased); // 3 to 7
  }

  /** Steps 3 to 7, under the lease; any failure is recorded, and the lease released, by the recorder. */
  async #refreshUnderLease(run: LeasedRun): Promise<RefreshResult> {
    let current: CurrentToken | undefined;
    try {
      // The token is read unless the state item the lease came with says what the store holds.
      current = run.stored === undefined ? await this.#options.tokens.readCurrent(run.provider) : undefined;
      // A run told of new credentials reads them first: only a version no attempt used is tried.
      const early = run.credentialsChanged ? await this.#readCredentials(run, false) : undefined;
      const verdict = early === undefined ? 'as-scheduled' : credentialsVerdict(run.lease, early.versionId);
      if (verdict === 'blocked') return await this.#failures.blockedUnderLease(run);
      const kept = verdict === 'refresh' ? undefined : await this.#doubleCheck(run, current); // 3
      if (kept !== undefined) return kept;
      const credentials = early ?? (await this.#readCredentials(run, run.input.force !== true));
      const answer = await this.#providerCall.call(run, credentials); // 4
      const { issued } = answer;
      const rotated = await this.#providerCall.storeRotated(run, answer.credentials, issued.refreshToken); // 5a
      const token = usableToken(run.config, run.fence, issued, answer.issuedAt);
      const expected = {
        versionId: current?.versionId ?? run.stored?.versionId,
        fromState: current === undefined,
      };
      const stored = await this.#compareAndSwap(run, token.record, expected); // 5b
      if (isResult(stored)) return stored;
      const recorded = await this.#recordAndRelease(run, token, stored.versionId); // 6
      return await this.#reportRefreshed(run, token, { ...recorded, refreshTokenRotated: rotated }); // 7
    } catch (thrown) {
      return this.#failures.underLease(run, toRefresherError(thrown), current);
    }
  }

  /**
   * 1. Cheap check: one consistent read, no lock. A result when the run ends here (a permanent
   * failure blocks it, it backs off, or the token is not due); the run to go on to the lease. A run
   * told of new credentials, or blocked, first looks at their version (`credentials-change.ts`).
   */
  async #cheapCheck(run: Run): Promise<RefreshResult | Run> {
    let state: ProviderState | undefined;
    try {
      state = await this.#options.state.read(run.provider);
    } catch (error) {
      return this.#failures.withoutLease(run.provider, toRefresherError(error));
    }
    if (run.input.force || state === undefined) return run;
    const told = run.input.credentialsChanged === true;
    if (await this.#credentialsChange.changed(run.provider, state, told))
      return { ...run, credentialsChanged: true };
    // A permanent failure blocks every run but a forced one or one with new credentials.
    if (state.lastErrorPermanent) return this.#failures.blocked(run.provider, state);
    if (isStateDue(state, run.startedAt)) return run;
    return (await this.#notDue(run, state)) ?? run;
  }

  /**
   * Not due by the state: a scheduled run makes sure the precise run is armed and ends here, as does
   * any run backing off after a transient failure; an on-demand run goes on to the lease.
   */
  async #notDue(run: Run, state: ProviderState): Promise<RefreshResult | undefined> {
    const { provider, input, startedAt } = run;
    emitSecondsToExpiry(this.#options.metrics, provider, state.tokenExpiresAt, startedAt);
    if (input.onDemand === undefined)
      await this.#preciseRuns.ensureArmed(state, startedAt, input.precise === true);
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
    // Not due by the schedule; an on-demand request goes on to the lease, where the token decides,
    // unless the state shows that the on-demand budget cannot pay for it.
    if (input.onDemand !== undefined) return this.#onDemand.beforeLease(run, state);
    return { status: 'fresh', provider, reason: 'not-due', expiresAt: isoOrUndefined(state.tokenExpiresAt) };
  }

  /** 2. Lease: ends with this invocation; the fence grows with every acquisition. Lost race → in-progress. */
  async #acquireLease(run: Run): Promise<LeasedRun | RefreshResult> {
    const { provider, startedAt } = run;
    const owner = run.input.owner ?? randomUUID();
    const leaseExpiresAt = startedAt + run.input.remainingTimeMs;
    let lease: ProviderState | undefined;
    try {
      lease = await this.#options.state.acquire({ provider, owner, now: startedAt, leaseExpiresAt });
    } catch (error) {
      return this.#failures.withoutLease(provider, toRefresherError(error));
    }
    if (lease === undefined) {
      this.#options.metrics.add(provider, METRIC_NAMES.leaseContended, 'Count', 1);
      this.#options.logger.info('Lease held by another refresh', { provider });
      if (run.input.onDemand !== undefined) return this.#onDemand.afterLostLease(run);
      return { status: 'in-progress', provider };
    }
    // On-demand runs look at the token itself (the refused one's hash, its age): they always read it.
    const stored = run.input.onDemand === undefined ? storedState(lease) : undefined;
    return { ...run, owner, lease, fence: lease.fence, leaseExpiresAt, credentialsUse: {}, stored };
  }

  /**
   * 3. Double-check: another holder may have refreshed between our read and our lease. A result
   * (after releasing) when the current token is kept; `undefined` to refresh. A refresh that a
   * consumer's report causes spends the on-demand budget here, or is throttled when it is spent.
   */
  async #doubleCheck(run: LeasedRun, current: CurrentToken | undefined): Promise<RefreshResult | undefined> {
    if (run.input.force) return undefined;
    if (current === undefined)
      return run.stored === undefined ? undefined : this.#doubleCheckByState(run, run.stored);
    if (current.token === undefined) return undefined;
    const verdict = keepVerdict(run.input.onDemand, current.token, run.config, this.#now());
    const budgetRetryAt = verdict === undefined ? await this.#onDemand.spend(run, current.token) : undefined;
    if (verdict === undefined && budgetRetryAt === undefined) return undefined;
    await this.#releaseObserved(run, current.token, current.versionId);
    if (verdict?.status === 'fresh') {
      return {
        status: 'fresh',
        provider: run.provider,
        reason: verdict.reason,
        expiresAt: current.token.expiresAt,
      };
    }
    return verdict?.status === 'throttled'
      ? this.#onDemand.throttled(run.provider, verdict.retryAt, 'token-too-young')
      : this.#onDemand.throttled(run.provider, budgetRetryAt ?? this.#now(), 'budget-spent');
  }

  /**
   * 3 (scheduled run, state trusted): the state item the lease came with shows another holder's
   * token, not due yet: release recording it again, and keep it. No store read.
   */
  async #doubleCheckByState(run: LeasedRun, stored: StoredToken): Promise<RefreshResult | undefined> {
    if (isTokenDue(stored.refreshAt, this.#now())) return undefined;
    const { versionId: tokenVersionId, expiresAt: tokenExpiresAt, refreshAt } = stored;
    await this.#release(run, {
      outcome: 'observed',
      tokenExpiresAt,
      nextRefreshAt: refreshAt,
      tokenVersionId,
    });
    emitSecondsToExpiry(this.#options.metrics, run.provider, tokenExpiresAt, this.#now());
    const expiresAt = new Date(tokenExpiresAt).toISOString();
    return { status: 'fresh', provider: run.provider, reason: 'refreshed-by-other', expiresAt };
  }

  /**
   * The credentials: this container's when `mayUseCache` and the state item allows it
   * (`credentials-cache.ts`), else from the store, where a grant that rotates its refresh token first
   * finishes a write an earlier holder left undone.
   */
  async #readCredentials(run: LeasedRun, mayUseCache: boolean): Promise<RunCredentials> {
    // Not `run.stored`: an on-demand run reads the token, but may use the cached credentials.
    const usable = mayUseCache && !run.credentialsChanged && storedState(run.lease) !== undefined;
    const cached = usable ? this.#cache.get(run.provider, run.lease.credentialsVersionId) : undefined;
    if (cached !== undefined) {
      run.credentialsUse.versionId = cached.versionId;
      return cached;
    }
    const recovery = capabilitiesOf(run.config).rotatesCredential ? { fence: run.fence } : undefined;
    const credentials = await this.#credentialsChange.read(run.provider, recovery, run.credentialsUse);
    if (credentials.recoveredGeneration !== undefined) {
      this.#options.logger.warn('Finished storing the rotated refresh token of an interrupted refresh', {
        provider: run.provider,
        interruptedGeneration: credentials.recoveredGeneration,
      });
    }
    this.#cache.remember(run.provider, credentials);
    return credentials;
  }

  /**
   * 5b. Compare-and-swap write: fails instead of overwriting if a newer holder wrote meanwhile.
   * @returns the new version, or the result when another holder's still-servable token stays.
   */
  async #compareAndSwap(
    run: LeasedRun,
    record: TokenRecord,
    expected: ExpectedVersion,
  ): Promise<{ versionId: string } | RefreshResult> {
    const write = (expectedVersionId: string | undefined) =>
      this.#options.tokens.write({
        provider: run.provider,
        fence: run.fence,
        token: record,
        expectedVersionId,
      });
    try {
      return { versionId: await write(expected.versionId) };
    } catch (error) {
      const found =
        error instanceof WriteConflictError ? await this.#storedAfterConflict(run.provider) : undefined;
      // Another holder (one whose lease we took over, with a slow or skewed clock) stored a token
      // meanwhile: the provider is fine and a fresh token is stored, so this is no failure.
      const servable =
        found?.token !== undefined && isServable(Date.parse(found.token.expiresAt), this.#now());
      if (found?.token !== undefined && servable)
        return this.#keepNewerToken(run, found.token, found.versionId);
      // The version came from the state item, and the store holds another that cannot be served (the
      // revoke placeholder, an expired token, another store's version after a tokenStore change): write
      // from what is there, as a read at step 3 would have. Still a compare-and-swap.
      if (!expected.fromState || found === undefined || found.versionId === expected.versionId) throw error;
      return { versionId: await write(found.versionId) };
    }
  }

  /** After a lost compare-and-swap: what the store holds now (`undefined` when it cannot be read). */
  async #storedAfterConflict(provider: string): Promise<CurrentToken | undefined> {
    try {
      return await this.#options.tokens.readCurrent(provider);
    } catch {
      return undefined; // the write's own error says more
    }
  }

  /** The compare-and-swap was lost to a servable token: it stays, ours is dropped, and this is no failure. */
  async #keepNewerToken(run: LeasedRun, token: TokenRecord, versionId: string): Promise<RefreshResult> {
    await this.#releaseObserved(run, token, versionId);
    this.#options.metrics.add(run.provider, METRIC_NAMES.leaseContended, 'Count', 1);
    const { provider, fence: generation } = run;
    const message = 'Another refresh stored a newer token meanwhile; it stays and ours is dropped';
    this.#options.logger.info(message, { provider, generation, storedGeneration: token.generation });
    return { status: 'fresh', provider, reason: 'refreshed-by-other', expiresAt: token.expiresAt };
  }

  /**
   * 6. Record and release in one fenced write. The next precise run (step 7) is armed first, so that
   * the record says whether it is.
   */
  async #recordAndRelease(
    run: LeasedRun,
    token: UsableToken,
    versionId: string,
  ): Promise<{ refreshAt: number; released: boolean }> {
    const refreshAt = nextRefreshAt(run.config.refreshBefore, token.issuedAt, token.expiresAt);
    const armed = await this.#preciseRuns.armAt(run.provider, refreshAt);
    const { versionId: credentialsVersionId } = run.credentialsUse;
    const released = await this.#release(run, {
      outcome: 'success',
      tokenExpiresAt: token.expiresAt,
      nextRefreshAt: refreshAt,
      tokenVersionId: versionId,
      ...(armed ? { preciseRunFor: refreshAt } : {}),
      ...(credentialsVersionId === undefined ? {} : { credentialsVersionId }),
    });
    return { refreshAt, released };
  }

  /** 7. Metrics and events of a refresh (its precise run is armed in step 6). */
  async #reportRefreshed(
    run: LeasedRun,
    token: UsableToken,
    outcome: { refreshAt: number; released: boolean; refreshTokenRotated: boolean },
  ): Promise<RefreshResult> {
    const { metrics, logger } = this.#options;
    const { provider, fence } = run;
    const { refreshAt, released, refreshTokenRotated } = outcome;
    if (released && run.lease.consecutiveFailures > 0) await this.#events.recovered(provider, run.lease);
    const finishedAt = this.#now();
    metrics.add(provider, METRIC_NAMES.refreshSucceeded, 'Count', 1);
    metrics.add(provider, METRIC_NAMES.refreshDuration, 'Milliseconds', finishedAt - run.startedAt);
    emitSecondsToExpiry(metrics, provider, token.expiresAt, finishedAt);
    logger.info('Token refreshed', {
      provider,
      trigger: triggerOf(run),
      generation: fence,
      expiresAt: token.record.expiresAt,
      nextRefreshAt: new Date(refreshAt).toISOString(),
      refreshTokenRotated,
      leaseReleased: released,
    });
    return {
      status: 'refreshed',
      provider,
      expiresAt: token.record.expiresAt,
      generation: fence,
      refreshTokenRotated,
    };
  }

  /**
   * Release after finding a token another holder stored, recording it. A token issued after the last
   * recorded failure means that holder refreshed but could not record it (its lease was taken over,
   * or its release failed): the failure streak is over, and the record says so.
   */
  async #releaseObserved(run: LeasedRun, token: TokenRecord, versionId: string): Promise<void> {
    const { lease } = run;
    const issuedAt = Date.parse(token.issuedAt);
    const expiresAt = Date.parse(token.expiresAt);
    const recovered =
      lease.consecutiveFailures > 0 && lease.lastErrorAt !== undefined && issuedAt > lease.lastErrorAt;
    const { versionId: credentialsVersionId } = run.credentialsUse;
    const released = await this.#release(run, {
      outcome: 'observed',
      tokenExpiresAt: expiresAt,
      nextRefreshAt: nextRefreshAt(run.config.refreshBefore, issuedAt, expiresAt),
      tokenVersionId: versionId,
      ...(recovered ? { recoveredAt: issuedAt } : {}),
      // A rotated refresh token stored before the compare-and-swap was lost is current now.
      ...(credentialsVersionId === undefined ? {} : { credentialsVersionId }),
    });
    // Events follow the record: a holder whose lease was taken over leaves them to the newer one.
    if (released && recovered) await this.#events.recovered(run.provider, lease);
    emitSecondsToExpiry(this.#options.metrics, run.provider, expiresAt, this.#now());
  }

  #release(holder: LeaseHolder, record: ReleaseRecord): Promise<boolean> {
    return releaseLease(this.#options, holder, record);
  }

  #now(): number {
    return this.#options.clock.now();
  }
}

/** A step's result ends the run; anything else is what the next step works on. */
function isResult<T extends object>(value: T | RefreshResult): value is RefreshResult {
  return 'status' in value;
}

function triggerOf(run: Run): 'force' | 'credentials-changed' | 'on-demand' | 'rejected-token' | 'schedule' {
  const { input } = run;
  if (input.force) return 'force';
  if (run.credentialsChanged) return 'credentials-changed';
  if (input.onDemand === undefined) return 'schedule';
  return input.onDemand.rejectedTokenSha256 === undefined ? 'on-demand' : 'rejected-token';
}

function isoOrUndefined(epochMs: number | undefined): string | undefined {
  return epochMs === undefined ? undefined : new Date(epochMs).toISOString();
}
