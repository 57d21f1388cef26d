/**
 * The engine's on-demand rules beyond the double-check (docs/architecture.md, "The refresh protocol";
 * docs/limits.md, "On-demand refreshes"):
 *
 * - step 1: a report whose refresh the state already shows the budget cannot pay for is throttled
 *   without a lease (one read of the state, no secret read);
 * - step 3: under the lease, a refresh a report causes spends the budget in a fenced write before the
 *   provider call, or is throttled when the budget is spent;
 * - step 2 lost: a run that loses the lease reads the state again and answers what the holder's
 *   outcome will be (throttled with its true `retryAt`, or in progress with a retry time), so that the
 *   read path can answer at once instead of polling for a refresh that may never come.
 */
import type { ProviderConfig } from './config.js';
import type { OnDemandRefresh } from './double-check.js';
import { LeaseLostError, toRefresherError } from './errors.js';
import {
  onDemandBudgetRetryAt,
  onDemandRefreshesInWindow,
  spendsOnDemandBudget,
} from './on-demand-budget.js';
import type { Clock, Logger, StateTable } from './ports.js';
import { isServable } from './timing.js';
import type { ProviderState, RefreshResult, TokenRecord } from './types.js';

/**
 * A run that lost the lease to a refresh of the reported token tells the reader to retry after this
 * long: a refresh usually finishes within a second or two, and a retry then finds the new token.
 */
export const IN_FLIGHT_RETRY_MS = 2_000;

/** Why an on-demand refresh was refused. */
export type ThrottleReason = 'token-too-young' | 'budget-spent';

export interface OnDemandGateOptions {
  readonly state: Pick<StateTable, 'read' | 'recordOnDemandRefreshes'>;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** What the gate needs of a run. */
interface OnDemandRun {
  readonly provider: string;
  readonly config: ProviderConfig;
  readonly input: { readonly onDemand?: OnDemandRefresh };
}

/** A run that holds the lease, with the state as the lease was taken. */
interface LeasedOnDemandRun extends OnDemandRun {
  readonly owner: string;
  readonly fence: number;
  readonly lease: ProviderState;
}

/** The on-demand budget and the answer of a run that lost the lease. Build once per engine. */
export class OnDemandGate {
  readonly #options: OnDemandGateOptions;

  constructor(options: OnDemandGateOptions) {
    this.#options = options;
  }

  /**
   * Step 1, for a report the state finds not due: throttled when the state's budget log is full and
   * the stored token is still servable (a lapsed token is refreshed outside the budget).
   */
  beforeLease(run: OnDemandRun, state: ProviderState): RefreshResult | undefined {
    const now = this.#options.clock.now();
    if (run.input.onDemand?.rejectedTokenSha256 === undefined) return undefined;
    if (state.tokenExpiresAt === undefined || !isServable(state.tokenExpiresAt, now)) return undefined;
    const retryAt = onDemandBudgetRetryAt(state.onDemandRefreshes, run.config.onDemandRefreshesPerHour, now);
    return retryAt === undefined ? undefined : this.throttled(run.provider, retryAt, 'budget-spent');
  }

  /**
   * Step 3, after the double-check chose to refresh: a refresh that a report causes spends the
   * budget (a fenced write before the provider call, so that a holder that dies still counts), or,
   * when the budget is spent, the time it allows the next one.
   * @returns `undefined` to go on to the provider call, or when the budget allows the next refresh.
   * @throws LeaseLostError when the lease was lost before the budget could be recorded.
   */
  async spend(run: LeasedOnDemandRun, token: TokenRecord | undefined): Promise<number | undefined> {
    const now = this.#options.clock.now();
    if (!spendsOnDemandBudget(run.input.onDemand, token, run.config, now)) return undefined;
    const log = run.lease.onDemandRefreshes;
    const retryAt = onDemandBudgetRetryAt(log, run.config.onDemandRefreshesPerHour, now);
    if (retryAt !== undefined) return retryAt;
    const recorded = await this.#options.state.recordOnDemandRefreshes({
      provider: run.provider,
      owner: run.owner,
      fence: run.fence,
      refreshes: [...onDemandRefreshesInWindow(log, now), now],
    });
    if (!recorded) {
      throw new LeaseLostError('The lease was lost before the on-demand refresh could be counted');
    }
    return undefined;
  }

  /**
   * Step 2 lost, on demand: the holder's state tells what it will do with the report, without a
   * secret read (the read path has just read the token and found the refused one current). A token
   * younger than `onDemandRefreshInterval` since its refresh was recorded is kept (`throttled`, its
   * true `retryAt`); otherwise the holder is replacing it (`in-progress`, retry shortly). A read
   * without a refused token (no usable token exists) gets `in-progress`, and waits for that refresh.
   */
  async afterLostLease(run: OnDemandRun): Promise<RefreshResult> {
    const { provider, config } = run;
    if (run.input.onDemand?.rejectedTokenSha256 === undefined) return { status: 'in-progress', provider };
    let state: ProviderState | undefined;
    try {
      state = await this.#options.state.read(provider);
    } catch (error) {
      this.#options.logger.warn('Could not read the state after losing the lease', {
        provider,
        errorCode: toRefresherError(error).code,
      });
    }
    const now = this.#options.clock.now();
    const refreshedAt = state?.lastSuccessAt;
    const servable = state?.tokenExpiresAt !== undefined && isServable(state.tokenExpiresAt, now);
    const youngUntil =
      servable && refreshedAt !== undefined ? refreshedAt + config.onDemandRefreshInterval * 1000 : 0;
    if (now < youngUntil) return this.throttled(provider, youngUntil, 'token-too-young');
    // A spent budget was found at step 1; spent since, it is the holder's refresh that spent it.
    return { status: 'in-progress', provider, retryAt: new Date(now + IN_FLIGHT_RETRY_MS).toISOString() };
  }

  /** A throttled result, logged once. */
  throttled(provider: string, retryAt: number, reason: ThrottleReason): RefreshResult {
    const at = new Date(retryAt).toISOString();
    this.#options.logger.info('On-demand refresh refused', { provider, reason, retryAt: at });
    return { status: 'throttled', provider, retryAt: at, ...(reason === 'budget-spent' ? { reason } : {}) };
  }
}
