/**
 * Domain types of the refresh engine. Times are epoch milliseconds inside the engine; the token
 * secret stores them as ISO-8601 UTC strings for consumers.
 */

/** What a provider returns for one successful token request, validated. */
export interface IssuedToken {
  readonly accessToken: string;
  /** As the provider wrote it (`Bearer`, `DPoP`, ...); `Bearer` when the provider omits it. */
  readonly tokenType: string;
  /** Lifetime in seconds from the provider, if it said; the engine applies `expectedLifetime` otherwise. */
  readonly expiresInSeconds?: number;
  /** Absolute expiry from the provider (epoch ms), for endpoints that return one instead of a lifetime. */
  readonly expiresAt?: number;
  readonly scope?: string;
  /**
   * A new refresh token when the server rotated it (RFC 6749 §6); absent when it did not, in which
   * case the old one stays valid and is kept.
   */
  readonly refreshToken?: string;
}

/** The token secret's content: what consumers read. Never holds a refresh token or client secret. */
export interface TokenRecord {
  readonly provider: string;
  readonly accessToken: string;
  readonly tokenType: string;
  /** ISO-8601 UTC. */
  readonly expiresAt: string;
  /** ISO-8601 UTC. */
  readonly issuedAt: string;
  readonly scope?: string;
  /** The lease fence under which this token was written; grows with every refresh. */
  readonly generation: number;
}

/** The current value of the token secret with the version it was read at. */
export interface CurrentToken {
  /** The version that holds `AWSCURRENT`; the compare-and-swap write moves the label away from it. */
  readonly versionId: string;
  /** `undefined` while the secret still holds its placeholder (no token written yet). */
  readonly token: TokenRecord | undefined;
}

/** The credentials secret's content: `{ clientId, clientSecret?, refreshToken? }` plus free fields. */
export interface Credentials {
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly refreshToken?: string;
  readonly [field: string]: string | undefined;
}

/** The credentials secret with the version it was read at. */
export interface CurrentCredentials {
  readonly versionId: string;
  readonly credentials: Credentials;
  /**
   * Set when the read finished an earlier holder's unfinished write of a rotated refresh token: the
   * lease generation that had written it.
   */
  readonly recoveredGeneration?: number;
}

/** One provider's item in the state/lock table. Times are epoch ms. */
export interface ProviderState {
  readonly provider: string;
  readonly leaseOwner?: string;
  readonly leaseExpiresAt?: number;
  /** +1 at every lease acquisition; the generation of the token written under that lease. */
  readonly fence: number;
  readonly tokenExpiresAt?: number;
  readonly nextRefreshAt?: number;
  readonly lastSuccessAt?: number;
  readonly lastErrorAt?: number;
  readonly lastErrorCode?: string;
  /**
   * True when the last failure was permanent: no provider call until a forced refresh or new
   * credentials (see {@link credentialsVersionId}).
   */
  readonly lastErrorPermanent?: boolean;
  readonly consecutiveFailures: number;
  readonly tokenVersionId?: string;
  /**
   * The `nextRefreshAt` for which the precise one-time run was last armed. Differs from
   * `nextRefreshAt` when arming failed or a refresh ran without a scheduler (an operator's CLI run):
   * the next run that finds the token not due arms it then.
   */
  readonly preciseRunFor?: number;
  /**
   * When the refreshes caused by consumers' reports happened (the on-demand budget's log, entries of
   * the last hour as its last writer saw them; see `on-demand-budget.ts`).
   */
  readonly onDemandRefreshes?: readonly number[];
  /**
   * The credentials secret's version the last refresh attempt used (read, or wrote when it rotated
   * the refresh token). A blocked provider is tried again only with another version
   * (`credentials-change.ts`); absent on items written before it was recorded.
   */
  readonly credentialsVersionId?: string;
  /**
   * The lease generation (fence) whose release last recorded the stored token: a success, or a token
   * another holder stored (`observed`). When it is the generation just before a lease's, no holder
   * since wrote a token or credentials that the item does not show (`stored-state.ts`); absent on
   * items written before it was recorded.
   */
  readonly recordedFence?: number;
}

/** What a refresh invocation ended with. */
export type RefreshResult =
  | {
      readonly status: 'fresh';
      readonly provider: string;
      /**
       * `not-due`: the cheap check; `refreshed-by-other`: the double-check after taking the lease;
       * `still-valid`: an on-demand refresh found a usable token; `already-replaced`: the token a
       * consumer reported as refused is no longer the current one.
       */
      readonly reason: 'not-due' | 'refreshed-by-other' | 'still-valid' | 'already-replaced';
      readonly expiresAt?: string;
    }
  | {
      /**
       * An on-demand refresh refused: the reported token is younger than `onDemandRefreshInterval`, or
       * the provider's `onDemandRefreshesPerHour` are spent. Nothing was called.
       */
      readonly status: 'throttled';
      readonly provider: string;
      /** When an on-demand refresh of this token will be allowed (ISO-8601). */
      readonly retryAt: string;
      /** `budget-spent`: the provider's `onDemandRefreshesPerHour` are spent; absent: the token is too young. */
      readonly reason?: 'budget-spent';
    }
  | {
      readonly status: 'refreshed';
      readonly provider: string;
      readonly expiresAt: string;
      readonly generation: number;
      /** True when the server rotated the refresh token and the new one was stored. */
      readonly refreshTokenRotated: boolean;
    }
  | {
      /** Another refresh holds the lease. */
      readonly status: 'in-progress';
      readonly provider: string;
      /**
       * On demand: when a retry should find that refresh finished (ISO-8601), given by a run that
       * lost the lease after checking that the holder is replacing the reported token.
       */
      readonly retryAt?: string;
    }
  | {
      readonly status: 'failed';
      readonly provider: string;
      /** A stable code (`invalid_grant`, `timeout`, `http_503`, ...), never a secret. */
      readonly code: string;
      readonly permanent: boolean;
      /** When the next attempt is allowed (ISO-8601), absent for permanent failures. */
      readonly retryAt?: string;
      /** False when the engine did not call the provider (e.g. a permanent failure blocks it). */
      readonly attempted: boolean;
    };

export type RefreshStatus = RefreshResult['status'];

/** One entry per {@link RefreshStatus}: the compiler holds it to the union (none missing, none extra). */
const REFRESH_STATUS_TABLE: Readonly<Record<RefreshStatus, true>> = {
  fresh: true,
  throttled: true,
  refreshed: true,
  'in-progress': true,
  failed: true,
};

/** Every status a refresh can end with. */
export const REFRESH_STATUSES = Object.keys(REFRESH_STATUS_TABLE) as readonly RefreshStatus[];

/** Whether `value` is a {@link RefreshStatus} (checks an answer that crossed a process boundary). */
export function isRefreshStatus(value: unknown): value is RefreshStatus {
  return typeof value === 'string' && Object.hasOwn(REFRESH_STATUS_TABLE, value);
}
