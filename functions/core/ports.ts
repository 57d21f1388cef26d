/**
 * The small interfaces the engine needs. Adapters in `functions/aws` implement them against AWS;
 * tests implement them with fakes. Nothing here imports an AWS SDK.
 */
import type { ProviderConfig } from './config.js';
import type {
  Credentials,
  CurrentCredentials,
  CurrentToken,
  IssuedToken,
  ProviderState,
  RefreshResult,
  TokenRecord,
} from './types.js';

/** The time source; injected so expiry logic is tested without sleeping. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Structured logger (Powertools `Logger` fits). Never pass a token or secret in an attribute. */
export interface Logger {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/** The metric names the engine emits (dimension `provider`); infra builds its alarms from these. */
export const METRIC_NAMES = {
  refreshSucceeded: 'RefreshSucceeded',
  refreshFailed: 'RefreshFailed',
  secondsToExpiry: 'SecondsToExpiry',
  refreshDuration: 'RefreshDuration',
  leaseContended: 'LeaseContended',
  /** At every recorded failed attempt: the provider's consecutive failures after it (1, 2, ...). */
  consecutiveFailures: 'ConsecutiveFailures',
  /** 1 when a refresh fails permanently, and again at every run while that failure blocks refreshes. */
  refreshFailedPermanent: 'RefreshFailedPermanent',
} as const;

export type MetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];
export type MetricUnit = 'Count' | 'Seconds' | 'Milliseconds';

/** The CloudWatch namespace of every metric. */
export const METRIC_NAMESPACE = 'TokenRefresher';
/** The one dimension of every metric. */
export const METRIC_DIMENSION = 'provider';

/**
 * A change of a provider's condition, published on changes only (docs/events.md): users
 * route them to chat, tickets or automation; the alarms stay the paging path. Never carries a token,
 * a refresh token or a credential.
 */
export type ProviderEvent =
  | {
      /** The provider was healthy and a refresh failed (not `invalid_grant`: see below). */
      readonly type: 'failing';
      readonly provider: string;
      readonly errorCode: string;
      /** Permanent: no provider call until an operator forces a refresh. */
      readonly permanent: boolean;
      readonly occurredAt: string;
    }
  | {
      /**
       * The provider refused the refresh token (`invalid_grant`), or a rotating refresh got no
       * answer (`rotation_outcome_unknown`): a person must force a refresh or re-seed the token.
       */
      readonly type: 'needs-reauthorization';
      readonly provider: string;
      readonly errorCode: ReauthorizationCode;
      readonly occurredAt: string;
    }
  | {
      /** A token was stored after one or more failed refreshes. */
      readonly type: 'recovered';
      readonly provider: string;
      /** Failed refreshes in the streak that just ended. */
      readonly failedAttempts: number;
      /** The error code of the streak's last failure. */
      readonly lastErrorCode?: string;
      readonly occurredAt: string;
    };

/** The error codes after which only a person can bring a refresh-token grant back. */
export const REAUTHORIZATION_CODES = ['invalid_grant', 'rotation_outcome_unknown'] as const;
export type ReauthorizationCode = (typeof REAUTHORIZATION_CODES)[number];

/** Where state-change events go (EventBridge in Lambda). */
export interface EventPublisher {
  /** Throws when the event could not be published; the engine logs that and goes on. */
  publish(event: ProviderEvent): Promise<void>;
}

/** Where metrics go (EMF in Lambda). */
export interface Metrics {
  add(provider: string, name: MetricName, unit: MetricUnit, value: number): void;
}

/** The token secret `<prefix>/<provider>/token`. */
export interface TokenStore {
  /** Read the `AWSCURRENT` version. Throws a `StoreError` when the secret does not exist. */
  readCurrent(provider: string): Promise<CurrentToken>;
  /**
   * Write a new version and move `AWSCURRENT` to it from `expectedVersionId` (compare-and-swap).
   * Idempotent per `(provider, fence)`. Throws `WriteConflictError` when the label moved meanwhile.
   * @returns the new version id.
   */
  write(input: {
    readonly provider: string;
    readonly fence: number;
    readonly token: TokenRecord;
    readonly expectedVersionId: string | undefined;
  }): Promise<string>;
}

/** The credentials secret `<prefix>/<provider>/credentials` (or an existing one). */
export interface CredentialsStore {
  /**
   * Read the current credentials. Throws `CredentialsError` if the secret holds no usable JSON.
   * With `recovery`, first finish a write of a rotated refresh token that an earlier lease generation
   * started but did not finish (it died, or its write kept failing): that refresh token is the
   * provider's newest, and the current one is spent.
   */
  read(provider: string, recovery?: CredentialsRecovery): Promise<CurrentCredentials>;
  /**
   * Replace the credentials (a rotated refresh token) with compare-and-swap from `expectedVersionId`.
   * Throws `WriteConflictError` when the secret changed meanwhile (an operator re-seeded it). The
   * same input with `resume` repeats the write after a failure, skipping what was already applied.
   */
  write(input: {
    readonly provider: string;
    readonly fence: number;
    readonly credentials: Credentials;
    readonly expectedVersionId: string;
    readonly resume?: boolean;
  }): Promise<string>;
  /**
   * The id of the version that holds the current credentials, without reading them (one
   * `DescribeSecret`): what a blocked provider compares with the version that failed
   * (`credentials-change.ts`). Throws `StoreError` when the secret does not exist or cannot be described.
   */
  currentVersionId(provider: string): Promise<string>;
}

/** What a holder that may finish an earlier generation's credentials write tells the store. */
export interface CredentialsRecovery {
  /** The reader's lease generation: only writes of earlier generations are finished. */
  readonly fence: number;
}

/** What a successful refresh records, in the same write that releases the lease. */
export interface SuccessRecord {
  readonly outcome: 'success';
  readonly tokenExpiresAt: number;
  readonly nextRefreshAt: number;
  readonly tokenVersionId: string;
  /** Set when the precise run was armed for `nextRefreshAt` (see {@link ProviderState.preciseRunFor}). */
  readonly preciseRunFor?: number;
  /** The credentials version the refresh used (see {@link ProviderState.credentialsVersionId}). */
  readonly credentialsVersionId?: string;
}

/** What a failed refresh records. */
export interface FailureRecord {
  readonly outcome: 'failure';
  readonly errorCode: string;
  readonly permanent: boolean;
  readonly nextRefreshAt: number;
  /** Set when the precise run was armed for `nextRefreshAt` (see {@link ProviderState.preciseRunFor}). */
  readonly preciseRunFor?: number;
  /**
   * The credentials version the attempt used, when it read them (see
   * {@link ProviderState.credentialsVersionId}); absent: the attribute keeps its value.
   */
  readonly credentialsVersionId?: string;
}

/** Another holder refreshed already (found at the double-check): record what was observed. */
export interface ObservedRecord {
  readonly outcome: 'observed';
  readonly tokenExpiresAt: number;
  readonly nextRefreshAt: number;
  readonly tokenVersionId: string;
  /**
   * When the observed token was issued, if after the last recorded failure: the failure streak ended
   * then (a holder refreshed but could not record it), so the record also ends it, as a success does.
   */
  readonly recoveredAt?: number;
  /**
   * The credentials version the run used, when it read or wrote them (a rotated refresh token stored
   * before its token lost the compare-and-swap); absent: the attribute keeps its value.
   */
  readonly credentialsVersionId?: string;
}

/**
 * The run changed nothing: a credentials change it was told of had already been tried by another run
 * (`credentials-change.ts`). Only the lease is released.
 */
export interface UnchangedRecord {
  readonly outcome: 'unchanged';
}

export type ReleaseRecord = SuccessRecord | FailureRecord | ObservedRecord | UnchangedRecord;

/** The DynamoDB state/lock table: one item per provider. */
export interface StateTable {
  /** Strongly consistent read; `undefined` when the provider has no item yet. */
  read(provider: string): Promise<ProviderState | undefined>;
  /**
   * Take the lease if it is free or expired (`now` is the holder's clock), incrementing the fence.
   * @returns the state after the write, or `undefined` when another holder's lease is live.
   */
  acquire(input: {
    readonly provider: string;
    readonly owner: string;
    readonly now: number;
    readonly leaseExpiresAt: number;
  }): Promise<ProviderState | undefined>;
  /**
   * Record the outcome and release the lease in one write guarded by `leaseOwner = owner AND
   * fence = fence`. A success or an observed token also records `recordedFence = fence`.
   * @returns false when the lease was lost meanwhile (nothing written).
   */
  release(input: {
    readonly provider: string;
    readonly owner: string;
    readonly fence: number;
    readonly now: number;
    readonly record: ReleaseRecord;
  }): Promise<boolean>;
  /**
   * Record that the precise run is armed for `nextRefreshAt`, without a lease, only while the item's
   * `nextRefreshAt` is still that value. @returns false when it moved meanwhile (nothing written).
   */
  recordPreciseRun(input: { readonly provider: string; readonly nextRefreshAt: number }): Promise<boolean>;
  /**
   * Replace the on-demand budget's log ({@link ProviderState.onDemandRefreshes}) under the lease, in
   * one write guarded by `leaseOwner = owner AND fence = fence`, before the provider call it counts.
   * @returns false when the lease was lost meanwhile (nothing written).
   */
  recordOnDemandRefreshes(input: {
    readonly provider: string;
    readonly owner: string;
    readonly fence: number;
    readonly refreshes: readonly number[];
  }): Promise<boolean>;
}

/** Schedules the next precise run of a provider (a one-time schedule). Optional. */
export interface NextRunScheduler {
  scheduleAt(provider: string, at: number): Promise<void>;
}

/** One grant type's client. */
export interface Provider {
  /**
   * Ask the token endpoint for a new token. Throws `ProviderError` (with a stable code and kind)
   * or `CredentialsError`; never puts a credential or token in a message.
   */
  requestToken(input: {
    readonly credentials: Credentials;
    readonly signal: AbortSignal;
  }): Promise<IssuedToken>;
}

/** Builds the {@link Provider} for a provider entry. */
export type ProviderFactory = (config: ProviderConfig) => Provider;

/**
 * Runs an on-demand refresh through the refresh engine, under the same lease as the scheduled runs
 * (the deployed read function invokes the refresh function; tests and the local runner call the
 * refresh handler in-process). The read side never holds credentials itself.
 */
export interface RefreshTrigger {
  /**
   * @returns what the refresh ended with.
   * @throws RefresherError when the refresh could not be run or did not answer before `signal`.
   */
  refresh(input: {
    readonly provider: string;
    readonly onDemand: { readonly rejectedTokenSha256?: string };
    readonly signal: AbortSignal;
  }): Promise<RefreshResult>;
}
