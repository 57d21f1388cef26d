/**
 * The props of the `TokenRefresher` construct, and their defaults in one place.
 */
import {
  Duration,
  type aws_events as events,
  type aws_kms as kms,
  aws_logs as logs,
  RemovalPolicy,
  type aws_sns as sns,
} from 'aws-cdk-lib';
import type { ProviderConfigInput } from '../functions/core/config.js';
import { DEFAULT_SECRET_PREFIX } from '../functions/core/names.js';
import { DEFAULT_FAILURE_ALARM_ATTEMPTS } from './alarm-windows.js';

/** Props of {@link TokenRefresher}. Every optional prop has its `@default`; {@link withDefaults} applies them. */
export interface TokenRefresherProps {
  /**
   * The providers, as written in the configuration file. Validated with the schema the Lambda uses;
   * an invalid entry fails synth with every problem listed at once.
   */
  readonly providers: readonly ProviderConfigInput[];
  /**
   * Prefix of every secret name: `<prefix>/<provider>/token` and `<prefix>/<provider>/credentials`.
   * @default 'token-refresher' ({@link DEFAULT_SECRET_PREFIX})
   */
  readonly secretPrefix?: string;
  /**
   * The configuration's `trustDirectInvoke`: the read function believes requests without a caller
   * proof, so whoever may `lambda:InvokeFunction` it reads every provider's token
   * (docs/read-function.md, "Caller proof").
   * @default false
   */
  readonly trustDirectInvoke?: boolean;
  /**
   * The key that encrypts the table, the secrets, the alarm topic and the dead-letter queue.
   * @default a new customer managed key with yearly rotation enabled
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * The alarms' topic.
   * @default a new topic, encrypted with `encryptionKey`, that accepts SSL requests only
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * An e-mail address subscribed to the alarm topic (the address must confirm the subscription).
   * @default no subscription
   */
  readonly alarmEmail?: string;
  /**
   * What happens to the table, the secrets and the key when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Retention of the refresh and read functions' logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The read function's latency alarm fires when its `Duration` p99 stays above this for three
   * 5-minute periods in a row. A read served from the cache or one `GetSecretValue` takes tens of
   * milliseconds; seconds mean on-demand refreshes (a slow token endpoint) or Secrets Manager
   * throttling. At most the read function's timeout (30 s).
   * @default Duration.seconds(3)
   */
  readonly readLatencyAlarmThreshold?: Duration;
  /**
   * The refresh failures alarm ({@link TokenRefresher.refreshFailuresAlarm}) fires when a provider's
   * refresh has failed this many times in a row (`ConsecutiveFailures` ≥ this, any provider), so that
   * one transient failure the backoff recovers from pages nobody. Permanent failures page at once
   * through {@link TokenRefresher.permanentFailureAlarm}, whatever this says.
   *
   * How soon: after the k-th failure the engine backs off 30 s × 2^(k−1) with equal jitter (between
   * half and all of it, capped at 15 min), and the precise retry fires within EventBridge Scheduler's
   * 60-second precision. From the start of the first failed attempt, the 2nd consecutive failure (the
   * default) is therefore recorded at most 2 × `requestTimeout` + (30 s + 60 s) later: 110 s with the
   * 10 s default request timeout (`client_credentials`, `http`), 150 s with the 30 s default of
   * `refresh_token` grants, about a minute typically (mean jitter, calls that fail fast);
   * `failureStreakBoundSeconds` in `infra/alarm-windows.ts` computes it. The first attempt comes at
   * the due time, the lead time (`refreshBefore`, default 5 min) before expiry, give or take the
   * Scheduler's minute. So with the defaults the page comes well inside the lead time: typically with
   * 2 to 3 minutes of it left; in the worst case (top of the jitter, every run a full minute late,
   * calls that last the whole timeout) the alarm's one-minute evaluation sees the streak 3 minutes
   * after the due time with 10 s calls, 4 minutes with 30 s calls, and CloudWatch's log ingestion
   * comes on top. Each further attempt waits out a longer backoff: `3` takes up to
   * 3 × `requestTimeout` + 210 s (240 s with 10 s calls, 300 s with 30 s calls: in the worst case
   * the page comes around the token's expiry), so pair a higher value with a longer `refreshBefore`.
   * A `Retry-After` lengthens the backoff; the provider's staleness alarm stays the backstop.
   *
   * A positive whole number; 1 pages at every failed attempt, 2 lets the retry fix a passing failure.
   * @default 2
   */
  readonly failureAlarmAttempts?: number;
  /**
   * The staleness alarm of a provider fires when `SecondsToExpiry` falls below this many seconds.
   *
   * In normal operation a token is replaced when `SecondsToExpiry` reaches the provider's effective
   * `refreshBefore`, so the lowest value seen is about `refreshBefore`. Below half of it, at least one
   * refresh opportunity was missed (failures in backoff, a stopped schedule), while half the lead time
   * is still left to act before consumers hold an expired token.
   * @default per provider: half its effective `refreshBefore` (150 s for the default 300 s)
   */
  readonly staleThreshold?: number;
  /**
   * The flexible time window of the recurring schedules: each run fires at a random moment inside
   * it, which spreads providers over time (Secrets Manager's control plane allows about 50 writes per
   * second per region). One minute spreads 100 providers to under 2 refreshes per second, and keeps
   * the gap between two safety-net runs short compared with the default `refreshBefore` (5 min).
   * @default Duration.minutes(1)
   */
  readonly scheduleTimeWindow?: Duration;
  /**
   * The bus the refresh function publishes state-change events to, on changes only: `source`
   * `token-refresher`, `detail-type` `Provider Failing`, `Provider Needs Reauthorization` or
   * `Provider Recovered` (docs/events.md). `false`: no events.
   * @default the account's default event bus
   */
  readonly eventBus?: events.IEventBus | false;
  /**
   * Reserved concurrency of the two functions (`ReservedConcurrentExecutions`): each function may run
   * at most that many invocations at once, and the account keeps that many for it, so that neither a
   * storm of reads nor other functions of the account can starve the scheduled refreshes (issue 15,
   * finding 13). Each read invocation can hold one on-demand refresh invocation, so `refresh` must
   * exceed `read`: the difference is what stays free for the scheduled runs whatever the readers do.
   *
   * Lambda keeps at least 100 of an account's concurrency unreserved: the deploy fails ("decreases
   * account's UnreservedConcurrentExecution below its minimum value") when the account's quota is
   * under 100 plus every reservation, as in new accounts whose quota starts at 10
   * (`aws lambda get-account-settings`: `AccountLimit.ConcurrentExecutions`). Request a quota
   * increase, or pass `false` (no reservation: the functions share the account's pool, and a read
   * storm can delay refreshes again). docs/security.md, "Reserved concurrency".
   * @default { refresh: 20, read: 10 } ({@link DEFAULT_RESERVED_CONCURRENCY}): 10 reads at once
   *   (a cached read takes milliseconds, so hundreds of reads per second), 10 refreshes always free
   *   for the schedules
   */
  readonly reservedConcurrency?: ReservedConcurrency | false;
  /**
   * IAM role or user ARNs (`arn:aws:iam::<account>:role/[<path>/]<name>`, exactly as IAM shows them)
   * that may read the credentials secrets besides the refresh function: a break-glass role for
   * incidents. Nobody else can, whatever their IAM policies say: each credentials secret the construct
   * creates denies reading it to every other principal, and its key lets no other principal decrypt
   * (docs/security.md, "Credentials"). A listed principal still needs IAM permissions of its own
   * (`secretsmanager:GetSecretValue` on the secret, `kms:Decrypt` on {@link TokenRefresher.credentialsEncryptionKey}).
   * Filling in the credentials (`put-secret-value`) needs no listing: it is not fenced.
   * @default none: only the refresh function reads the credentials
   */
  readonly breakGlassPrincipals?: readonly string[];
  /**
   * The key that encrypts the credentials secrets the construct creates. A key of your own must keep
   * `kms:Decrypt` to the refresh function's role (and your break-glass principals): its policy is
   * yours, the construct cannot change it.
   * @default a new customer managed key with yearly rotation, whose policy lets only the refresh
   *   function's role and the {@link breakGlassPrincipals} decrypt (through Secrets Manager)
   */
  readonly credentialsEncryptionKey?: kms.IKey;
}

/** Reserved concurrency per function ({@link TokenRefresherProps.reservedConcurrency}). */
export interface ReservedConcurrency {
  /**
   * The refresh function: scheduled runs plus on-demand refreshes; more than `read`.
   * @default 20
   */
  readonly refresh?: number;
  /**
   * The read function (served path; direct readers do not use it).
   * @default 10
   */
  readonly read?: number;
}

/** The reserved concurrency of each function when the props name none. */
export const DEFAULT_RESERVED_CONCURRENCY = { refresh: 20, read: 10 } as const;

/** The props with every default applied (the providers are validated separately, into the config). */
export interface ResolvedProps {
  readonly encryptionKey: kms.IKey | undefined;
  readonly alarmTopic: sns.ITopic | undefined;
  readonly alarmEmail: string | undefined;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: logs.RetentionDays;
  readonly readLatencyAlarmThreshold: Duration;
  readonly failureAlarmAttempts: number;
  /** `undefined`: per provider, half its effective `refreshBefore`. */
  readonly staleThreshold: number | undefined;
  readonly scheduleTimeWindow: Duration;
  /** `undefined`: the account's default bus; `false`: no events. */
  readonly eventBus: events.IEventBus | false | undefined;
  readonly breakGlassPrincipals: readonly string[];
  /** `undefined`: a new key ({@link TokenRefresherProps.credentialsEncryptionKey}). */
  readonly credentialsEncryptionKey: kms.IKey | undefined;
  /** `undefined`: no reservation (`reservedConcurrency: false`). */
  readonly reservedConcurrency: { readonly refresh: number; readonly read: number } | undefined;
}

/** The defaults of the optional props that have a value (each one also in its prop's `@default`). */
export const DEFAULTS = {
  secretPrefix: DEFAULT_SECRET_PREFIX,
  removalPolicy: RemovalPolicy.RETAIN,
  logRetention: logs.RetentionDays.ONE_MONTH,
  readLatencyAlarmThreshold: Duration.seconds(3),
  failureAlarmAttempts: DEFAULT_FAILURE_ALARM_ATTEMPTS,
  scheduleTimeWindow: Duration.minutes(1),
} as const;

/** The props with {@link DEFAULTS} applied. */
export function withDefaults(props: TokenRefresherProps): ResolvedProps {
  return {
    encryptionKey: props.encryptionKey,
    alarmTopic: props.alarmTopic,
    alarmEmail: props.alarmEmail,
    removalPolicy: props.removalPolicy ?? DEFAULTS.removalPolicy,
    logRetention: props.logRetention ?? DEFAULTS.logRetention,
    readLatencyAlarmThreshold: props.readLatencyAlarmThreshold ?? DEFAULTS.readLatencyAlarmThreshold,
    failureAlarmAttempts: props.failureAlarmAttempts ?? DEFAULTS.failureAlarmAttempts,
    staleThreshold: props.staleThreshold,
    scheduleTimeWindow: props.scheduleTimeWindow ?? DEFAULTS.scheduleTimeWindow,
    eventBus: props.eventBus,
    breakGlassPrincipals: props.breakGlassPrincipals ?? [],
    credentialsEncryptionKey: props.credentialsEncryptionKey,
    reservedConcurrency:
      props.reservedConcurrency === false
        ? undefined
        : {
            refresh: props.reservedConcurrency?.refresh ?? DEFAULT_RESERVED_CONCURRENCY.refresh,
            read: props.reservedConcurrency?.read ?? DEFAULT_RESERVED_CONCURRENCY.read,
          },
  };
}
