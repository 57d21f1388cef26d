/**
 * Protocol step 7, the next precise run (docs/architecture.md, "The refresh protocol"): a one-time
 * schedule at the token's refresh time, armed after every refresh and failure, and re-armed by a run
 * that finds it missing. The recurring schedule stays the safety net when arming fails.
 */
import { toRefresherError } from './errors.js';
import type { Logger, NextRunScheduler, StateTable } from './ports.js';
import { EARLY_RUN_TOLERANCE_MS } from './timing.js';
import type { ProviderState } from './types.js';

export interface PreciseRunArmingOptions {
  /** Without a scheduler nothing is armed, and the recurring schedule alone drives refreshes. */
  readonly scheduler?: NextRunScheduler;
  readonly state: StateTable;
  readonly logger: Logger;
}

/** Arms the precise one-time run of a provider. */
export class PreciseRunArming {
  readonly #options: PreciseRunArmingOptions;

  constructor(options: PreciseRunArmingOptions) {
    this.#options = options;
  }

  /** Arm the precise one-time run at `at`. @returns whether it is armed. */
  async armAt(provider: string, at: number): Promise<boolean> {
    const { scheduler, logger } = this.#options;
    if (scheduler === undefined) return false;
    try {
      await scheduler.scheduleAt(provider, at);
      return true;
    } catch (error) {
      // The state keeps saying "not armed", so the next run that finds the token not due arms it;
      // until then the recurring schedule remains the safety net.
      logger.warn('Could not schedule the next precise run', {
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
   * beyond {@link EARLY_RUN_TOLERANCE_MS} is armed again late (see {@link rearmedAt}).
   */
  async ensureArmed(state: ProviderState, now: number, precise: boolean): Promise<void> {
    const dueAt = state.nextRefreshAt;
    if (this.#options.scheduler === undefined || dueAt === undefined || state.lastErrorPermanent) return;
    const armedForDue = state.preciseRunFor === dueAt;
    if (armedForDue && !precise) return;
    const at = armedForDue ? rearmedAt(state, dueAt, now) : dueAt;
    if (!(await this.armAt(state.provider, at))) return;
    await this.#recordArmed(state.provider, dueAt);
    this.#options.logger.info('Re-armed the precise run', {
      provider: state.provider,
      at: new Date(at).toISOString(),
      reason: armedForDue ? 'arrived-early' : 'not-armed',
    });
  }

  async #recordArmed(provider: string, nextRefreshAt: number): Promise<void> {
    try {
      await this.#options.state.recordPreciseRun({ provider, nextRefreshAt });
    } catch (error) {
      // Only costs one more arming call at the next run.
      this.#options.logger.warn('Could not record the re-armed precise run', {
        provider,
        errorCode: toRefresherError(error).code,
      });
    }
  }
}

/**
 * Where a precise run that arrived early (its scheduler's clock is ahead of ours) arms the next one:
 * late by as much as it was early, so the skew does not bring it back early again; never later than
 * halfway from `dueAt` to the token's expiry.
 */
export function rearmedAt(state: Pick<ProviderState, 'tokenExpiresAt'>, dueAt: number, now: number): number {
  const latest = state.tokenExpiresAt === undefined ? dueAt : (dueAt + state.tokenExpiresAt) / 2;
  return Math.max(dueAt, Math.min(dueAt + (dueAt - now), latest));
}
