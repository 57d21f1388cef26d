/**
 * The credentials a container last read or wrote, per provider, keyed by the credentials secret's
 * version id (issue 17): a warm container refreshes without reading the secret again. It lives in
 * the engine, which is built once per container, so each container has its own.
 *
 * When the engine may use an entry (all of them must hold; `engine.ts`, `#readCredentials`):
 *
 * - the state item may be trusted (`stored-state.ts`): the generation before this lease recorded
 *   its outcome and no failure streak is open, so no holder since left an unfinished write of a
 *   rotated refresh token for the credentials store's `read(provider, recovery)` to finish;
 * - the item's `credentialsVersionId` (the version the last attempt used or wrote) is the entry's;
 * - the run is neither forced nor started by a credentials change: an operator's run, or one told
 *   that the secret was written, always reads it.
 *
 * What the version in the item cannot tell is an operator's write out of band since that attempt.
 * The credentials-change rule turns such a write into a `credentials-changed` run, which reads; a
 * provider that answers `invalid_client` or `invalid_grant` to cached credentials makes the engine
 * read them again and call once more only with another version (and, for a grant that rotates its
 * refresh token, another refresh token: replaying a spent one revokes the family, OAuth 2.0 Security
 * BCP §4.14.2); and a rotated refresh token is written with compare-and-swap from the cached
 * version, which refuses to overwrite the operator's version (that run fails and forgets the entry;
 * the next run reads the operator's credentials).
 *
 * The values are the credentials themselves, kept in the container's memory between invocations as
 * the SDK keeps its own credentials; they are never logged.
 */
import type { CurrentCredentials } from './types.js';

/** Credentials as a run holds them: from the store, or from this container's cache. */
export interface RunCredentials extends CurrentCredentials {
  /** True when they came from the cache (a refusal then makes the engine read them again). */
  readonly fromCache?: boolean;
}

/** One container's credentials, per provider, with their version. */
export class CredentialsCache {
  readonly #entries = new Map<string, CurrentCredentials>();

  /** The cached credentials of `provider` when they are of version `versionId`. */
  get(provider: string, versionId: string | undefined): RunCredentials | undefined {
    const entry = this.#entries.get(provider);
    if (entry === undefined || versionId === undefined || entry.versionId !== versionId) return undefined;
    return { versionId: entry.versionId, credentials: entry.credentials, fromCache: true };
  }

  /** Keep what was read or written (never the recovery marker of a read). */
  remember(provider: string, current: CurrentCredentials): void {
    this.#entries.set(provider, { versionId: current.versionId, credentials: current.credentials });
  }

  forget(provider: string): void {
    this.#entries.delete(provider);
  }
}
