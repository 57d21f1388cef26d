/**
 * What the refresh engine does on failure (docs/architecture.md, "The refresh protocol", its
 * paragraph on failures): keep the current token, record the error code and the failure streak,
 * back off exponentially with jitter (honouring `Retry-After`), treat a permanent failure as blocking
 * until an operator forces a refresh or the credentials change (`credentials-change.ts`), release the
 * lease, emit metrics and the state-change event.
 */

import type { CredentialsUse } from './credentials-change.js';
import { ProviderError, type RefresherError } from './errors.js';
import {
  emitSecondsToExpiry,
  type LeaseHolder,
  type LeaseReleaseOptions,
  releaseLease,
} from './lease-release.js';
import { type Clock, type Logger, METRIC_NAMES, type Metrics } from './ports.js';
import type { PreciseRunArming } from './precise-run.js';
import type { StateChangeEvents } from './state-events.js';
import { backoffDelayMs } from './timing.js';
import type { CurrentToken, ProviderState, RefreshResult } from './types.js';

/**
 * A permanently failed provider is not called again until forced or given new credentials; its next
 * check is this far out.
 */
export const PERMANENT_FAILURE_RECHECK_MS = 24 * 60 * 60_000;

export interface FailureRecorderOptions extends LeaseReleaseOptions {
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** A number in [0, 1) for backoff jitter. */
  readonly random: () => number;
  readonly preciseRuns: PreciseRunArming;
  readonly stateEvents: StateChangeEvents;
}

/** A lease holder and the state its lease was taken from (the streak so far). */
export interface FailedHolder extends LeaseHolder {
  readonly lease: ProviderState;
  /** The credentials version the attempt used, recorded with the failure (none: the record keeps its own). */
  readonly credentialsUse?: CredentialsUse;
}

/** Records failed refreshes, under the lease or (when the table itself failed) without one. */
export class FailureRecorder {
  readonly #options: FailureRecorderOptions;

  constructor(options: FailureRecorderOptions) {
    this.#options = options;
  }

  /** Record a failure under the lease, keep the current token, back off, and release. */
  async underLease(
    holder: FailedHolder,
    error: RefresherError,
    current: CurrentToken | undefined,
  ): Promise<RefreshResult> {
    const { clock, metrics, preciseRuns, stateEvents } = this.#options;
    const { provider, lease } = holder;
    const now = clock.now();
    const permanent = error.kind === 'permanent';
    const consecutiveFailures = lease.consecutiveFailures + 1;
    const currentExpiresAt =
      current?.token === undefined ? lease.tokenExpiresAt : Date.parse(current.token.expiresAt);
    const retryAt = this.#retryAt(error, consecutiveFailures, currentExpiresAt, now);
    const armed = !permanent && (await preciseRuns.armAt(provider, retryAt));
    const credentialsVersionId = holder.credentialsUse?.versionId;
    const released = await releaseLease(this.#options, holder, {
      outcome: 'failure',
      errorCode: error.code,
      permanent,
      nextRefreshAt: retryAt,
      ...(armed ? { preciseRunFor: retryAt } : {}),
      ...(credentialsVersionId === undefined ? {} : { credentialsVersionId }),
    });
    metrics.add(provider, METRIC_NAMES.refreshFailed, 'Count', 1);
    metrics.add(provider, METRIC_NAMES.consecutiveFailures, 'Count', consecutiveFailures);
    if (permanent) metrics.add(provider, METRIC_NAMES.refreshFailedPermanent, 'Count', 1);
    emitSecondsToExpiry(metrics, provider, currentExpiresAt, now);
    this.#log(provider, error, consecutiveFailures, retryAt);
    if (released) await stateEvents.failed(provider, lease, error);
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
   * A run that a permanent failure blocks: no provider call, no lease (or one released unchanged).
   * The metrics keep the permanent-failure alarm in alarm for as long as the provider stays blocked.
   */
  blocked(provider: string, state: ProviderState): RefreshResult {
    const { metrics, clock } = this.#options;
    emitSecondsToExpiry(metrics, provider, state.tokenExpiresAt, clock.now());
    metrics.add(provider, METRIC_NAMES.refreshFailed, 'Count', 1);
    metrics.add(provider, METRIC_NAMES.refreshFailedPermanent, 'Count', 1);
    return {
      status: 'failed',
      provider,
      code: state.lastErrorCode ?? 'unknown',
      permanent: true,
      attempted: false,
    };
  }

  /**
   * Told of new credentials that another run tried meanwhile (and failed with): release the lease
   * unchanged; the provider stays blocked.
   */
  async blockedUnderLease(holder: FailedHolder): Promise<RefreshResult> {
    await releaseLease(this.#options, holder, { outcome: 'unchanged' });
    this.#options.logger.info('These credentials were tried already; the provider stays blocked', {
      provider: holder.provider,
      credentialsVersionId: holder.credentialsUse?.versionId,
    });
    return this.blocked(holder.provider, holder.lease);
  }

  /** A failure before any lease was taken (the table itself failed): nothing to record. */
  withoutLease(provider: string, error: RefresherError): RefreshResult {
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

  /**
   * The next attempt: a day out after a permanent failure (only a forced refresh or new credentials
   * call the provider before), else after the backoff for this streak, within the current token's validity left.
   */
  #retryAt(
    error: RefresherError,
    consecutiveFailures: number,
    currentExpiresAt: number | undefined,
    now: number,
  ): number {
    if (error.kind === 'permanent') return now + PERMANENT_FAILURE_RECHECK_MS;
    const retryAfterSeconds = error instanceof ProviderError ? error.details.retryAfterSeconds : undefined;
    const validityLeftMs = currentExpiresAt === undefined ? undefined : currentExpiresAt - now;
    return (
      now + backoffDelayMs(consecutiveFailures, retryAfterSeconds, this.#options.random(), validityLeftMs)
    );
  }

  #log(provider: string, error: RefresherError, consecutiveFailures: number, retryAt: number): void {
    const { logger } = this.#options;
    const permanent = error.kind === 'permanent';
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
  }
}
