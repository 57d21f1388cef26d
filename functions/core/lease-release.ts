/**
 * Protocol step 6 (docs/architecture.md, "The refresh protocol"): record the outcome and release the
 * lease in one write guarded by owner and fence, and the seconds-to-expiry metric every outcome emits.
 */
import { toRefresherError } from './errors.js';
import {
  type Clock,
  type Logger,
  METRIC_NAMES,
  type Metrics,
  type ReleaseRecord,
  type StateTable,
} from './ports.js';

/** Who holds a lease: enough to release it. */
export interface LeaseHolder {
  readonly provider: string;
  readonly owner: string;
  readonly fence: number;
}

export interface LeaseReleaseOptions {
  readonly state: StateTable;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * Fenced release with the run's record. A lost lease is logged, never thrown (the newer holder owns
 * the item now); a failed release is logged too (the lease expires on its own).
 * @returns whether this holder's record was written.
 */
export async function releaseLease(
  options: LeaseReleaseOptions,
  holder: LeaseHolder,
  record: ReleaseRecord,
): Promise<boolean> {
  const { provider, owner, fence } = holder;
  try {
    const released = await options.state.release({
      provider,
      owner,
      fence,
      now: options.clock.now(),
      record,
    });
    if (!released)
      options.logger.warn('Lease was lost before release; a newer holder owns it', { provider, fence });
    return released;
  } catch (error) {
    options.logger.error('Could not release the lease; it will expire on its own', {
      provider,
      fence,
      errorCode: toRefresherError(error).code,
    });
    return false;
  }
}

/** The `SecondsToExpiry` metric of a token expiring at `tokenExpiresAt`; nothing without a token. */
export function emitSecondsToExpiry(
  metrics: Metrics,
  provider: string,
  tokenExpiresAt: number | undefined,
  now: number,
): void {
  if (tokenExpiresAt === undefined || !Number.isFinite(tokenExpiresAt)) return;
  metrics.add(
    provider,
    METRIC_NAMES.secondsToExpiry,
    'Seconds',
    Math.max(0, Math.floor((tokenExpiresAt - now) / 1000)),
  );
}
