/**
 * Credentials that take effect without a force (issue 16, item 5; docs/runbook.md, "Permanent
 * refresh failure"). A permanent failure (`invalid_client`, `invalid_grant`, `credentials_not_set`,
 * `rotation_outcome_unknown`, ...) blocks a provider's refreshes. An operator's forced refresh still
 * lifts it; so does a new version of the provider's credentials secret, found
 *
 * - as soon as the refresh function is told that the secret was written: the construct's
 *   EventBridge rule on the `PutSecretValue`/`UpdateSecret` CloudTrail events, or local mode's watcher
 *   (`RefreshInput.credentialsChanged`, trigger `credentials-changed`);
 * - without a trail, at the provider's next scheduled run: while it is blocked, each run looks at the
 *   secret's current version id (one `DescribeSecret`; one call more per run, only while blocked).
 *
 * Being told is never trusted: the run compares the secret's current version id with the one the
 * last attempt used, recorded in the state item (`ProviderState.credentialsVersionId`), and refreshes
 * once only when they differ. So a trigger for a provider whose credentials did not change costs one
 * state read and one `DescribeSecret`, and no provider call. A version that was tried stays tried:
 * under the lease, the run compares again with the credentials it actually read, so that two runs
 * told of the same change (the event and a scheduled run) call the provider once.
 *
 * A block recorded before the version was (an item without `credentialsVersionId`) gives nothing to
 * compare with: it keeps needing a forced refresh, once.
 *
 * A `rotation_outcome_unknown` block is lifted too: it exists because the stored refresh token may be
 * spent; an operator who re-seeds it writes a new version, and wants that one used. The spent one is
 * never replayed by this path, since its version is the one that failed.
 */
import { CredentialsError, toRefresherError } from './errors.js';
import type { CredentialsRecovery, CredentialsStore, Logger } from './ports.js';
import type { CurrentCredentials, ProviderState } from './types.js';

export interface CredentialsChangeOptions {
  readonly credentials: CredentialsStore;
  readonly logger: Logger;
}

/** What a leased run knows of the credentials version it used (read, or wrote when it rotated). */
export interface CredentialsUse {
  versionId?: string;
}

/**
 * Under the lease, for a run started by a credentials change: `refresh` when the credentials read
 * are of another version than the last attempt used; else `blocked` when a permanent failure blocks
 * the provider (that version was tried, by another run meanwhile), or `as-scheduled`.
 */
export function credentialsVerdict(
  lease: ProviderState,
  credentialsVersionId: string,
): 'refresh' | 'blocked' | 'as-scheduled' {
  if (credentialsVersionId !== lease.credentialsVersionId) return 'refresh';
  return lease.lastErrorPermanent ? 'blocked' : 'as-scheduled';
}

/** The credentials-change check of a run's first step, and the tracked read of its credentials. */
export class CredentialsChange {
  readonly #options: CredentialsChangeOptions;

  constructor(options: CredentialsChangeOptions) {
    this.#options = options;
  }

  /**
   * Step 1 (no lease): whether the credentials secret holds another version than the last attempt
   * used. Looks (one call) only when the run was told of a change, or a permanent failure blocks the
   * provider; never for an item that records no version. A failed look is logged and reads as no
   * change: the run goes on as it would have.
   */
  async changed(provider: string, state: ProviderState, told: boolean): Promise<boolean> {
    const recorded = state.credentialsVersionId;
    if (recorded === undefined || !(told || state.lastErrorPermanent === true)) return false;
    let current: string;
    try {
      current = await this.#options.credentials.currentVersionId(provider);
    } catch (error) {
      this.#options.logger.warn('Could not look at the credentials version; going on without it', {
        provider,
        errorCode: toRefresherError(error).code,
      });
      return false;
    }
    if (current === recorded) return false;
    this.#options.logger.info('The credentials secret has a new version; refreshing with it', {
      provider,
      trigger: told ? 'credentials-changed' : 'schedule',
      blockedBy: state.lastErrorPermanent === true ? state.lastErrorCode : undefined,
      credentialsVersionId: current,
      previousCredentialsVersionId: recorded,
    });
    return true;
  }

  /**
   * Read the credentials and note their version in `use`, also when the read refuses them (the
   * store says which version holds the unusable value), so that a failure records what it tried.
   */
  async read(
    provider: string,
    recovery: CredentialsRecovery | undefined,
    use: CredentialsUse,
  ): Promise<CurrentCredentials> {
    try {
      const credentials = await this.#options.credentials.read(provider, recovery);
      use.versionId = credentials.versionId;
      return credentials;
    } catch (error) {
      if (error instanceof CredentialsError && error.credentialsVersionId !== undefined) {
        use.versionId = error.credentialsVersionId;
      }
      throw error;
    }
  }
}
