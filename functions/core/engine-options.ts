/**
 * What the refresh engine is built with (its collaborators, once per container) and what one run is
 * asked to do (one per event).
 */
import type { ProviderConfig } from './config.js';
import type { OnDemandRefresh } from './double-check.js';
import type {
  Clock,
  CredentialsStore,
  EventPublisher,
  Logger,
  Metrics,
  NextRunScheduler,
  Provider,
  StateTable,
  TokenStore,
} from './ports.js';

export interface RefreshEngineOptions {
  readonly tokens: TokenStore;
  readonly credentials: CredentialsStore;
  readonly state: StateTable;
  /** Builds (or returns a cached) provider client for a config entry. */
  readonly providerFor: (config: ProviderConfig) => Provider;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Schedules the next precise run; without it, the recurring schedule alone drives refreshes. */
  readonly scheduler?: NextRunScheduler;
  /** Publishes state changes (failing, recovered, needs re-authorization); none without it. */
  readonly events?: EventPublisher;
  /** A number in [0, 1) for backoff jitter. Default `Math.random`. */
  readonly random?: () => number;
  /** Waits between attempts of a write; injected so that tests do not sleep. Default: a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface RefreshInput {
  readonly config: ProviderConfig;
  /** Skip the due checks (an operator's refresh, or clearing a permanent failure). */
  readonly force?: boolean;
  /**
   * The credentials secret may hold a new version (an EventBridge rule saw it written): look at its
   * version, and refresh once if no attempt used it yet, blocked or not (`credentials-change.ts`).
   * Without a new version the run goes on as a scheduled one.
   */
  readonly credentialsChanged?: boolean;
  /**
   * This run is the precise one-time schedule firing (its payload says `"trigger": "precise"`): that
   * schedule is gone now, so a run that finds the token not yet due arms it again.
   */
  readonly precise?: boolean;
  /** Time left in this invocation; the lease ends with it, so a timed-out holder's lease ends too. */
  readonly remainingTimeMs: number;
  /** Lease owner id; default a random UUID. The Lambda request id makes logs easy to follow. */
  readonly owner?: string;
  /**
   * An on-demand refresh from the read path, decided under the lease instead of by the schedule:
   * without `rejectedTokenSha256`, refresh only if there is no usable (unexpired) token; with it,
   * refresh only if the current token is the one a consumer was refused with, and only if that token
   * is older than `onDemandRefreshInterval`. Permanent failures and backoff still apply.
   */
  readonly onDemand?: OnDemandRefresh;
}
