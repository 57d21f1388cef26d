/**
 * Local mode's stand-in for the credentials-change rule (infra/credentials-change.ts). The emulator
 * records no CloudTrail, so no event tells the refresh function that an operator ran
 * `aws secretsmanager put-secret-value` on it: instead, every {@link DEFAULT_WATCH_INTERVAL_MS} the
 * watcher looks at each provider's credentials version (`DescribeSecret`), and when one differs from
 * its last look, sends the refresh handler `{ "provider": "<name>", "trigger": "credentials-changed" }`
 * as the rule would. The function decides, as on AWS (functions/core/credentials-change.ts): a
 * version a refresh wrote itself (a rotated refresh token) is no news, and changes nothing.
 *
 * Without it, a blocked provider's scheduled run would find the new version too (within its
 * schedule; the demo providers run every minute): the watcher makes it seconds.
 */

/** How often the credentials versions are looked at. */
export const DEFAULT_WATCH_INTERVAL_MS = 1_000;

/** The interval functions the watcher uses; injected for tests (a fake clock). */
export interface WatchTimers {
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const SYSTEM_TIMERS: WatchTimers = {
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export interface CredentialsWatchOptions {
  readonly providers: readonly string[];
  /** The version holding the current credentials (`CredentialsStore.currentVersionId`). */
  readonly currentVersionId: (provider: string) => Promise<string>;
  /** Runs the refresh handler with the credentials-changed trigger. */
  readonly changed: (provider: string) => Promise<void>;
  readonly intervalMs?: number;
  readonly timers?: WatchTimers;
}

export class CredentialsWatch {
  readonly #options: CredentialsWatchOptions;
  readonly #timers: WatchTimers;
  /** The version each provider's credentials had at the last look. */
  readonly #seen = new Map<string, string>();
  #timer: unknown;
  #looking = false;
  #stopped = false;

  constructor(options: CredentialsWatchOptions) {
    this.#options = options;
    this.#timers = options.timers ?? SYSTEM_TIMERS;
  }

  /** Take the versions as they are now (no trigger for them), then look every interval. */
  async start(): Promise<void> {
    await this.lookOnce({ baseline: true });
    if (this.#stopped) return;
    this.#timer = this.#timers.setInterval(
      () => void this.lookOnce(),
      this.#options.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS,
    );
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#timers.clearInterval(this.#timer);
  }

  /**
   * One look at every provider; a changed version triggers its provider. A look that fails (the
   * emulator is busy or stopping, the secret is gone) is skipped: the next one tries again.
   */
  async lookOnce(options: { readonly baseline?: boolean } = {}): Promise<void> {
    if (this.#looking || this.#stopped) return;
    this.#looking = true;
    try {
      await Promise.all(this.#options.providers.map((provider) => this.#look(provider, options.baseline)));
    } finally {
      this.#looking = false;
    }
  }

  async #look(provider: string, baseline: boolean | undefined): Promise<void> {
    let version: string;
    try {
      version = await this.#options.currentVersionId(provider);
    } catch {
      return;
    }
    const previous = this.#seen.get(provider);
    this.#seen.set(provider, version);
    if (baseline || previous === undefined || previous === version || this.#stopped) return;
    await this.#options.changed(provider);
  }
}
