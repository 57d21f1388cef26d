/**
 * Protocol steps 4 and 5a (docs/architecture.md, "The refresh protocol"): call the provider inside
 * the lease, and store a rotated refresh token before anything else. Cached credentials that the
 * provider refuses are read again, and the call is made once more only with credentials of another
 * version (`credentials-cache.ts`).
 */
import type { ProviderConfig } from './config.js';
import type { CredentialsCache, RunCredentials } from './credentials-cache.js';
import type { CredentialsUse } from './credentials-change.js';
import { LeaseLostError, ProviderError, toRefresherError } from './errors.js';
import { capabilitiesOf } from './grants.js';
import type { Clock, Logger, Provider } from './ports.js';
import { type RotatedCredentialsWriterOptions, writeRotatedCredentials } from './rotated-credentials.js';
import type { IssuedToken } from './types.js';

/** Time kept back from the lease for the writes after the provider call. */
export const WRITE_RESERVE_MS = 5_000;

/** Provider answers after which cached credentials are read again: they may have been replaced. */
const REFUSALS: ReadonlySet<string> = new Set(['invalid_client', 'invalid_grant']);

/** What a leased run tells the provider call. */
export interface ProviderCallRun {
  readonly provider: string;
  readonly config: ProviderConfig;
  readonly fence: number;
  readonly leaseExpiresAt: number;
  /** The credentials version used; the call sets it to the version it last sent or wrote. */
  readonly credentialsUse: CredentialsUse;
}

export interface ProviderCallOptions {
  readonly providerFor: (config: ProviderConfig) => Provider;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly credentialsWriter: RotatedCredentialsWriterOptions;
  readonly cache: CredentialsCache;
  /** Reads the credentials from the store, past the cache (and notes their version in the run). */
  readonly reread: (run: ProviderCallRun) => Promise<RunCredentials>;
}

/** The provider's answer and the credentials it was given. */
export interface ProviderAnswer {
  readonly issued: IssuedToken;
  readonly issuedAt: number;
  readonly credentials: RunCredentials;
}

/** Steps 4 and 5a of one run. */
export class ProviderCall {
  readonly #options: ProviderCallOptions;

  constructor(options: ProviderCallOptions) {
    this.#options = options;
  }

  /** 4. Call the provider; cached credentials it refuses are read again (see the file comment). */
  async call(run: ProviderCallRun, credentials: RunCredentials): Promise<ProviderAnswer> {
    try {
      return await this.#request(run, credentials);
    } catch (error) {
      const other = await this.#replacementAfterRefusal(run, credentials, error);
      if (other === undefined) throw error;
      return this.#request(run, other);
    }
  }

  /**
   * 5a. A rotated refresh token is stored before anything else, even when the access token turns out
   * unusable: the old refresh token is now spent. The container's cache then holds what was written.
   * @returns whether the refresh token rotated.
   */
  async storeRotated(
    run: ProviderCallRun,
    credentials: RunCredentials,
    refreshToken: string | undefined,
  ): Promise<boolean> {
    if (refreshToken === undefined || refreshToken === credentials.credentials.refreshToken) return false;
    const rotated = { ...credentials.credentials, refreshToken };
    try {
      const versionId = await writeRotatedCredentials(
        this.#options.credentialsWriter,
        {
          provider: run.provider,
          fence: run.fence,
          credentials: rotated,
          expectedVersionId: credentials.versionId,
        },
        run.leaseExpiresAt,
      );
      run.credentialsUse.versionId = versionId;
      this.#options.cache.remember(run.provider, { versionId, credentials: rotated });
    } catch (error) {
      // Not written (or written as far as AWSPENDING, which the next holder's read finishes): the
      // next run reads the store.
      this.#options.cache.forget(run.provider);
      throw error;
    }
    return true;
  }

  /**
   * Call once, but only while the lease still covers the whole call: a paused holder must not
   * replay a refresh token a newer holder has rotated (OAuth 2.0 Security BCP §4.14).
   */
  async #request(run: ProviderCallRun, credentials: RunCredentials): Promise<ProviderAnswer> {
    const requestTimeoutMs = run.config.requestTimeout * 1000;
    this.#assertLeaseCovers(run, requestTimeoutMs);
    let issued: IssuedToken;
    try {
      issued = await this.#options.providerFor(run.config).requestToken({
        credentials: credentials.credentials,
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
    } catch (error) {
      // 5a, for an answer that rotated the refresh token but is unusable otherwise: the refresh
      // token sent is spent, so the new one is stored before the failure is recorded.
      const rotated = error instanceof ProviderError ? error.rotatedRefreshToken : undefined;
      if (await this.storeRotated(run, credentials, rotated)) {
        this.#options.logger.warn('Stored the rotated refresh token of an otherwise unusable answer', {
          provider: run.provider,
        });
      }
      throw error;
    }
    return { issued, issuedAt: this.#options.clock.now(), credentials };
  }

  /**
   * After the provider refused cached credentials: the credentials now in the store when they are
   * of another version, and (for a grant that rotates its refresh token) hold another refresh token;
   * `undefined` to let the refusal stand. The run then records the version that was refused, so
   * that a permanent failure is lifted by the next version (`credentials-change.ts`).
   */
  async #replacementAfterRefusal(
    run: ProviderCallRun,
    sent: RunCredentials,
    error: unknown,
  ): Promise<RunCredentials | undefined> {
    if (sent.fromCache !== true || !(error instanceof ProviderError) || !REFUSALS.has(error.code))
      return undefined;
    if (error.rotatedRefreshToken !== undefined) return undefined;
    const { cache, logger } = this.#options;
    cache.forget(run.provider);
    let stored: RunCredentials | undefined;
    try {
      stored = await this.#options.reread(run);
    } catch (rereadError) {
      logger.warn('Could not read the credentials again after the provider refused them', {
        provider: run.provider,
        errorCode: toRefresherError(rereadError).code,
      });
    }
    const replays =
      capabilitiesOf(run.config).rotatesCredential &&
      stored?.credentials.refreshToken === sent.credentials.refreshToken;
    if (stored === undefined || stored.versionId === sent.versionId || replays) {
      run.credentialsUse.versionId = sent.versionId;
      return undefined;
    }
    logger.info('The provider refused the cached credentials; calling again with the new version', {
      provider: run.provider,
      errorCode: error.code,
      credentialsVersionId: stored.versionId,
      previousCredentialsVersionId: sent.versionId,
    });
    return stored;
  }

  /** Throws a `LeaseLostError` unless the lease covers the provider call plus the writes after it. */
  #assertLeaseCovers(run: ProviderCallRun, requestTimeoutMs: number): void {
    const leaseLeftMs = run.leaseExpiresAt - this.#options.clock.now();
    if (leaseLeftMs - WRITE_RESERVE_MS >= requestTimeoutMs) return;
    throw new LeaseLostError(
      `The lease has ${Math.max(0, leaseLeftMs)} ms left, less than the request timeout ` +
        `(${requestTimeoutMs} ms) plus ${WRITE_RESERVE_MS} ms for the writes; not calling the provider`,
    );
  }
}
