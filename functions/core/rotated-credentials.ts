/**
 * Protocol step 5a (docs/architecture.md, "The refresh protocol"): a rotated refresh token is stored
 * before anything else, and its write is repeated within the lease after transient store errors.
 */
import { StoreError, toRefresherError } from './errors.js';
import type { Clock, CredentialsStore, Logger } from './ports.js';

/** First pause before repeating a failed write of a rotated refresh token; doubles per attempt. */
export const CREDENTIALS_RETRY_BASE_MS = 250;
/** Longest pause between attempts of that write. */
export const CREDENTIALS_RETRY_MAX_PAUSE_MS = 4_000;
/** No attempt of that write starts with less lease than this left (room for the attempt itself). */
export const CREDENTIALS_RETRY_MIN_LEASE_MS = 2_000;

export interface RotatedCredentialsWriterOptions {
  readonly credentials: CredentialsStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Waits between attempts; injected so that tests do not sleep. */
  readonly sleep: (ms: number) => Promise<void>;
}

export type CredentialsWrite = Parameters<CredentialsStore['write']>[0];

/** The pause before attempt `attempt + 1`, after `attempt` failed. */
export function credentialsRetryPauseMs(attempt: number): number {
  return Math.min(CREDENTIALS_RETRY_BASE_MS * 2 ** (attempt - 1), CREDENTIALS_RETRY_MAX_PAUSE_MS);
}

/**
 * Store a rotated refresh token, repeating the write after transient failures while the lease
 * lasts. This write cannot be done again later: the provider spent the old refresh token when it
 * issued this one, and a refresh token that never reaches the secret revokes the grant at the next
 * refresh. (A failed token write, by contrast, costs one more provider call after backoff.) Each
 * repeat resumes the same write, so a part already applied is not applied twice.
 * @returns the version the rotated credentials were stored as.
 */
export async function writeRotatedCredentials(
  options: RotatedCredentialsWriterOptions,
  input: CredentialsWrite,
  leaseExpiresAt: number,
): Promise<string> {
  const { clock, logger, credentials, sleep } = options;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const versionId = await credentials.write(attempt === 1 ? input : { ...input, resume: true });
      if (attempt > 1) {
        logger.info('Stored the rotated refresh token after retrying', { provider: input.provider, attempt });
      }
      return versionId;
    } catch (error) {
      const failure = toRefresherError(error);
      const pauseMs = credentialsRetryPauseMs(attempt);
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
      await sleep(pauseMs);
    }
  }
}
