/**
 * The `TokenRefresher` construct: the state/lock table, the secrets, one EventBridge Scheduler schedule
 * per provider, the refresh Lambda and the read Lambda (Function URL) with least-privilege IAM, alarms
 * and a dashboard (ARCHITECTURE.md, "Infrastructure").
 */

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArnFormat,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cloudwatchActions,
  Duration,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_iam as iam,
  aws_kms as kms,
  Lazy,
  aws_lambda as lambda,
  aws_logs as logs,
  Names,
  aws_lambda_nodejs as nodejs,
  RemovalPolicy,
  SecretValue,
  Stack,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  aws_secretsmanager as secretsmanager,
  aws_sns as sns,
  aws_sqs as sqs,
  aws_sns_subscriptions as subscriptions,
  Token,
  Validations,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import {
  ConfigError,
  effectiveRefreshBefore,
  type ProviderConfig,
  type ProviderConfigInput,
  parseRefresherConfig,
  type RefresherConfig,
  secretsManagerWriteRateProblems,
} from '../functions/core/config.js';
import { WRITE_RESERVE_MS } from '../functions/core/engine.js';
import { ENV } from '../functions/core/env.js';
import { capabilitiesOf } from '../functions/core/grants.js';
import {
  credentialsSecretName,
  PLACEHOLDER_SECRET_STRING,
  tokenSecretName,
} from '../functions/core/names.js';
import { METRIC_DIMENSION, METRIC_NAMES, METRIC_NAMESPACE } from '../functions/core/ports.js';
import {
  DEFAULT_FAILURE_ALARM_ATTEMPTS,
  failureGapBoundSeconds,
  failureStreakBoundSeconds,
  lookbackPeriods,
} from './alarm-windows.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REFRESH_ENTRY = join(REPO_ROOT, 'functions', 'refresh', 'handler.ts');
const READ_ENTRY = join(REPO_ROOT, 'functions', 'read', 'handler.ts');
const LOCK_FILE = join(REPO_ROOT, 'package-lock.json');

/** Above this size the configuration goes into a file in the bundle (Lambda env: 4 KB in total). */
export const MAX_INLINE_CONFIG_BYTES = 3_000;
/** The file name of the configuration in the bundle when it does not fit in the environment. */
export const PROVIDERS_CONFIG_FILE_NAME = 'providers-config.json';
/**
 * Up to this many providers the refresh role names every secret ARN; above it, the statements use
 * the `<prefix>/*` pattern: a role's inline policies may hold 10,240 characters, and each full
 * secret ARN takes about 95 of them once resolved (two secrets per provider).
 */
export const MAX_EXACT_SECRET_ARNS_PROVIDERS = 20;
/** The period of every alarm. */
const ALARM_PERIOD = Duration.minutes(5);
/** Lambda's limit on the total size of a function's environment variables (keys and values). */
export const LAMBDA_ENVIRONMENT_LIMIT_BYTES = 4096;
/**
 * What an unresolved role ARN in `EXTRA_CONSUMERS` is assumed to take once deployed: `arn:aws:iam::`,
 * the account, `:role/`, a generated name of up to 64 characters, and room for a path and quotes.
 */
const ESTIMATED_ROLE_ARN_BYTES = 128;
/** The read function's timeout: it waits up to 20 s for an on-demand refresh (functions/core/read.ts). */
const READ_TIMEOUT = Duration.seconds(30);
/**
 * The read-path 5xx alarm fires at this many Function URL 5xx answers in 5 minutes: one 503 can be a
 * consumer that asked during a failing refresh (the staleness alarm covers the token itself); five
 * mean consumers are being turned away.
 */
export const READ_5XX_ALARM_THRESHOLD = 5;

/** Props of {@link TokenRefresher}. */
export interface TokenRefresherProps {
  /**
   * The providers, as written in the configuration file. Validated with the schema the Lambda uses;
   * an invalid entry fails synth with every problem listed at once.
   */
  readonly providers: readonly ProviderConfigInput[];
  /**
   * Prefix of every secret name: `<prefix>/<provider>/token` and `<prefix>/<provider>/credentials`.
   * @default 'token-refresher'
   */
  readonly secretPrefix?: string;
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
   * `Provider Recovered` (README, "State-change events"). `false`: no events.
   * @default the account's default event bus
   */
  readonly eventBus?: events.IEventBus | false;
}

interface ProviderResources {
  readonly config: ProviderConfig;
  readonly tokenSecret: secretsmanager.ISecret;
  readonly credentialsSecret: secretsmanager.ISecret;
  /** The ARN (or ARN pattern) the IAM statements use for the credentials secret. */
  readonly credentialsResourceArn: string;
  readonly schedule: scheduler.Schedule;
  readonly staleAlarm: cloudwatch.Alarm;
}

/**
 * Keeps third-party OAuth tokens fresh in Secrets Manager, and serves them to consumers.
 *
 * ```ts
 * const tokens = new TokenRefresher(this, 'Tokens', { providers: [...] });
 * tokens.grantRead(myConsumerFn, 'github');             // direct: GetSecretValue on the token secret
 * tokens.grantReadViaFunction(otherConsumerFn, 'crm');  // served: the read function's URL
 * ```
 *
 * Resources per provider (4): a token secret, a credentials secret (none when `credentialsSecretArn`
 * is given), a recurring schedule and a staleness alarm.
 *
 * Shared resources (28, plus an e-mail subscription when `alarmEmail` is set; no key or topic when
 * given): the key, the state table, the dead-letter queue and its policy, the schedule group, the
 * scheduler role and its policy, the alarm topic and its policy, the dashboard; the refresh path (its
 * role and policy, log group, function, and the permanent failure, refresh failures, errors,
 * throttles and dead-letter alarms); the read path (its role and policy, log group, function,
 * Function URL, and the errors, URL 5xx, throttles and latency alarms). The read path adds nothing
 * per provider: 100 providers synthesize to 428 resources, under CloudFormation's 500.
 */
export class TokenRefresher extends Construct {
  /** The validated configuration (defaults applied). */
  readonly config: RefresherConfig;
  /** The key that encrypts the table, the secrets, the topic and the dead-letter queue. */
  readonly encryptionKey: kms.IKey;
  /** The state/lock table: one item per provider, key `provider` (S). */
  readonly table: dynamodb.Table;
  /** The refresh Lambda. */
  readonly refreshFunction: nodejs.NodejsFunction;
  /** The bus the state-change events go to; `undefined` when `eventBus: false`. */
  readonly eventBus?: events.IEventBus;
  /** The refresh Lambda's log group. */
  readonly refreshLogGroup: logs.LogGroup;
  /**
   * The read Lambda: serves `{ accessToken, tokenType, expiresAt, expiresIn }` through its Function URL
   * ({@link readFunctionUrl}) or a plain Invoke, and refreshes on demand by invoking the refresh
   * function. Its role may read the token secrets (never the credentials), decrypt through Secrets
   * Manager, and invoke the refresh function; nothing else.
   *
   * Careful: `readFunction.grantInvoke(x)` lets `x` Invoke it directly, and a direct Invoke is not
   * checked against the providers' `consumers`: it serves **every** provider. Use
   * {@link grantReadViaFunction} to grant one provider.
   */
  readonly readFunction: nodejs.NodejsFunction;
  /** The read Lambda's log group. */
  readonly readLogGroup: logs.LogGroup;
  /**
   * The read function's URL (`AWS_IAM` auth, no CORS): `GET /tokens/{provider}` and
   * `POST /tokens/{provider}/refresh`, signed with SigV4 (service `lambda`). The function checks the
   * caller's IAM role against the provider's `consumers` plus the roles granted with
   * {@link grantReadViaFunction}.
   */
  readonly readFunctionUrl: lambda.FunctionUrl;
  /** The group of the recurring and the one-time (precise) schedules. */
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The role EventBridge Scheduler assumes to invoke the refresh function. */
  readonly schedulerRole: iam.Role;
  /** Where EventBridge Scheduler puts events it could not deliver after its retries. */
  readonly deadLetterQueue: sqs.Queue;
  /** Every alarm of the construct sends here. */
  readonly alarmTopic: sns.ITopic;
  /**
   * Fires when a provider's refreshes keep failing: `failureAlarmAttempts` (default 2) failed attempts
   * in a row (`ConsecutiveFailures`, any provider), and stays in ALARM while the streak lasts. Before
   * issue #11 it fired at any single failure; one transient failure no longer pages.
   */
  readonly refreshFailuresAlarm: cloudwatch.Alarm;
  /**
   * Fires at once when any provider's refresh fails permanently (`RefreshFailedPermanent`: e.g.
   * `invalid_grant`, `invalid_client`, `credentials_not_set`, `rotation_outcome_unknown`), and stays in
   * ALARM while the failure blocks the provider's refreshes (each scheduled run reports it again).
   */
  readonly permanentFailureAlarm: cloudwatch.Alarm;
  /** The CloudWatch dashboard. */
  readonly dashboard: cloudwatch.Dashboard;

  readonly #providers = new Map<string, ProviderResources>();
  /** Role ARNs granted per provider with {@link grantReadViaFunction} (`EXTRA_CONSUMERS`). */
  readonly #extraConsumers = new Map<string, string[]>();

  constructor(scope: Construct, id: string, props: TokenRefresherProps) {
    super(scope, id);
    this.config = validateProps(this, props);
    const { secretPrefix } = this.config;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const stack = Stack.of(this);

    this.encryptionKey =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        description: `Encrypts the token-refresher table, secrets, alarm topic and dead-letter queue (${this.node.path})`,
        enableKeyRotation: true,
        removalPolicy,
      });

    this.table = new dynamodb.Table(this, 'StateTable', {
      partitionKey: { name: 'provider', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'ttl',
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.encryptionKey,
      removalPolicy,
    });

    this.deadLetterQueue = new sqs.Queue(this, 'ScheduleDeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.encryptionKey,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'ScheduleGroup', {
      // Explicit, so that IAM statements and nag acknowledgements can name it.
      scheduleGroupName: `${Names.uniqueResourceName(this, { maxLength: 52, separator: '-' })}-schedules`,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // One role for every schedule, recurring and one-time, so that the function's iam:PassRole names
    // one role. It may be assumed by the Scheduler of this account only (confused deputy).
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'Assumed by EventBridge Scheduler to invoke the token-refresher function',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    });
    // The dead-letter queue is KMS-encrypted: the Scheduler sends to it with this role.
    this.schedulerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.encryptionKey.keyArn],
      }),
    );

    this.refreshLogGroup = new logs.LogGroup(this, 'RefreshLogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    // The function's own ARN reaches its environment (target of the one-time schedules) through an
    // explicit name: a reference to its Arn attribute would make the function depend on itself.
    const functionName = refreshFunctionName(this);
    const functionArn = stack.formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: functionName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    const role = new iam.Role(this, 'RefreshRole', {
      description: 'The token-refresher function: its table, its secrets, its schedules',
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });

    // Both functions parse the same configuration, delivered the same way (environment or bundle file).
    const delivery = configDelivery({ secretPrefix, providers: props.providers });
    if (props.eventBus !== false) {
      this.eventBus = props.eventBus ?? events.EventBus.fromEventBusName(this, 'DefaultEventBus', 'default');
    }

    this.refreshFunction = bundledFunction(this, 'RefreshFunction', delivery, {
      functionName,
      description: 'Refreshes one provider token per invocation (EventBridge Scheduler input {"provider"})',
      entry: REFRESH_ENTRY,
      // One HTTPS call plus a handful of SDK calls; 256 MB (vs 128) buys CPU for TLS and a faster cold
      // start, and costs nothing noticeable at one invocation per provider every few minutes.
      memorySize: 256,
      timeout: refreshTimeout(this.config),
      role,
      logGroup: this.refreshLogGroup,
      environment: {
        [ENV.tableName]: this.table.tableName,
        [ENV.schedulerGroup]: this.scheduleGroup.scheduleGroupName,
        [ENV.schedulerRoleArn]: this.schedulerRole.roleArn,
        [ENV.refreshFunctionArn]: functionArn,
        // The ARN, so that a bus in another account works as well as a name would here.
        ...(this.eventBus === undefined ? {} : { [ENV.eventBusName]: this.eventBus.eventBusArn }),
      },
    });

    for (const [index, config] of this.config.providers.entries()) {
      this.#providers.set(config.name, this.#addProvider(index, config, props));
    }
    this.#grantRefresh(role);

    this.readLogGroup = new logs.LogGroup(this, 'ReadLogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const readRole = new iam.Role(this, 'ReadRole', {
      description: 'The token-refresher read function: reads the token secrets, invokes the refresh function',
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    });
    const readEnvironment = {
      [ENV.refreshFunctionName]: functionName,
      // Filled by grantReadViaFunction, which may run after the constructor; role ARNs may be tokens
      // (Fn::GetAtt), hence toJsonString. `{}` when no role was granted in code.
      [ENV.extraConsumers]: Lazy.uncachedString({
        produce: () => stack.toJsonString(Object.fromEntries(this.#extraConsumers)),
      }),
    };
    this.readFunction = bundledFunction(this, 'ReadFunction', delivery, {
      description:
        'Serves provider tokens to consumers: Function URL (AWS_IAM) GET /tokens/{provider}, ' +
        'POST /tokens/{provider}/refresh, or Invoke',
      entry: READ_ENTRY,
      // A cache hit is microseconds and a miss one GetSecretValue; 256 MB for TLS and the cold start.
      memorySize: 256,
      timeout: READ_TIMEOUT,
      role: readRole,
      logGroup: this.readLogGroup,
      environment: readEnvironment,
    });
    this.readFunctionUrl = this.readFunction.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    this.#grantServe(readRole);
    // The environment is known only at synth (grants made after the constructor): check it then.
    this.readFunction.node.addValidation({
      validate: () => this.#readEnvironmentProblems(delivery.environment, readEnvironment),
    });
    this.#acknowledgeNagFindings();

    this.alarmTopic =
      props.alarmTopic ??
      new sns.Topic(this, 'AlarmTopic', {
        displayName: 'token-refresher alarms',
        masterKey: this.encryptionKey,
        enforceSSL: true,
      });
    if (props.alarmEmail !== undefined) {
      this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
    }
    const action = new cloudwatchActions.SnsAction(this.alarmTopic);
    // CloudWatch publishes to a KMS-encrypted topic only if the key policy lets it (a no-op for an
    // imported key: its owner must add this statement).
    if (props.alarmTopic === undefined) {
      this.encryptionKey.addToResourcePolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
      );
    }

    const attempts = props.failureAlarmAttempts ?? DEFAULT_FAILURE_ALARM_ATTEMPTS;
    this.permanentFailureAlarm = this.#addPermanentFailureAlarm(props);
    this.refreshFailuresAlarm = this.#addRefreshFailuresAlarm(attempts);
    const errorsAlarm = anyInPeriodAlarm(this, 'RefreshFunctionErrorsAlarm', {
      alarmDescription:
        'The refresh function failed to run (Lambda Errors >= 1 in 5 minutes): an init failure (invalid ' +
        'environment or configuration), a crash or a timeout. Refresh outcomes are not errors. What to do: ' +
        'read the function logs; EnvironmentError names the variable, Task timed out means a slow endpoint ' +
        'or AWS API.',
      metric: this.refreshFunction.metricErrors({ period: ALARM_PERIOD, statistic: 'Sum' }),
    });
    const throttlesAlarm = anyInPeriodAlarm(this, 'RefreshFunctionThrottlesAlarm', {
      alarmDescription:
        'The refresh function was throttled (Throttles >= 1 in 5 minutes): the account or function ' +
        'concurrency limit was reached, so some refreshes are late. What to do: check account concurrency ' +
        'and other functions using it; the Scheduler retries, events it gives up on land in the DLQ.',
      metric: this.refreshFunction.metricThrottles({ period: ALARM_PERIOD, statistic: 'Sum' }),
    });
    const dlqAlarm = anyInPeriodAlarm(this, 'DeadLetterQueueAlarm', {
      alarmDescription:
        'EventBridge Scheduler could not invoke the refresh function after its retries and put the event ' +
        'in the dead-letter queue (ApproximateNumberOfMessagesVisible >= 1). What to do: read a message ' +
        '(its attributes carry the error code, e.g. AccessDenied or throttling), fix the cause, then purge ' +
        'the queue; the next scheduled run refreshes the token.',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: ALARM_PERIOD,
        statistic: 'Maximum',
      }),
    });
    const readAlarms = this.#addReadAlarms(props.readLatencyAlarmThreshold ?? Duration.seconds(3));
    const alarms = [
      this.permanentFailureAlarm,
      this.refreshFailuresAlarm,
      errorsAlarm,
      throttlesAlarm,
      dlqAlarm,
      ...readAlarms,
      ...[...this.#providers.values()].map((provider) => provider.staleAlarm),
    ];
    for (const alarm of alarms) {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
    }

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Refresh failures by provider',
            left: [this.#byProvider('SUM', METRIC_NAMES.refreshFailed)],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Seconds to expiry by provider (minimum)',
            left: [this.#byProvider('MIN', METRIC_NAMES.secondsToExpiry)],
            width: 12,
          }),
        ],
        // One Metrics Insights query per graph: GetMetricData takes one query per request.
        [
          new cloudwatch.GraphWidget({
            title: 'Consecutive failures by provider (maximum)',
            left: [this.#byProvider('MAX', METRIC_NAMES.consecutiveFailures)],
            leftAnnotations: [{ value: attempts, label: 'Refresh failures alarm' }],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Permanent failures by provider (runs blocked)',
            left: [this.#byProvider('SUM', METRIC_NAMES.refreshFailedPermanent)],
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Refresh function',
            left: [
              this.refreshFunction.metricInvocations({ period: ALARM_PERIOD }),
              this.refreshFunction.metricErrors({ period: ALARM_PERIOD }),
              this.refreshFunction.metricThrottles({ period: ALARM_PERIOD }),
            ],
            right: [this.refreshFunction.metricDuration({ period: ALARM_PERIOD, statistic: 'Maximum' })],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Schedule dead-letter queue',
            left: [this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: ALARM_PERIOD })],
            width: 12,
          }),
        ],
        this.#readWidgets(props.readLatencyAlarmThreshold ?? Duration.seconds(3)),
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24 })],
      ],
    });
  }

  /** The token secret of a provider. Throws when the provider is not configured. */
  tokenSecret(provider: string): secretsmanager.ISecret {
    return this.#provider(provider).tokenSecret;
  }

  /** The credentials secret of a provider (created, or imported from `credentialsSecretArn`). */
  credentialsSecret(provider: string): secretsmanager.ISecret {
    return this.#provider(provider).credentialsSecret;
  }

  /** The recurring schedule of a provider. */
  schedule(provider: string): scheduler.Schedule {
    return this.#provider(provider).schedule;
  }

  /** The staleness alarm of a provider. */
  staleAlarm(provider: string): cloudwatch.Alarm {
    return this.#provider(provider).staleAlarm;
  }

  /**
   * Let `grantee` read one provider's token directly: `secretsmanager:GetSecretValue` on that token
   * secret and `kms:Decrypt` on the key, through Secrets Manager only (`kms:ViaService`).
   */
  grantRead(grantee: iam.IGrantable, provider: string): iam.Grant {
    const secret = this.tokenSecret(provider);
    const grant = iam.Grant.addToPrincipalOrResource({
      grantee,
      actions: ['secretsmanager:GetSecretValue'],
      resourceArns: [secret.secretArn],
      resource: secret,
    });
    this.#grantDecryptViaSecretsManager(grantee);
    return grant;
  }

  /**
   * Let `grantee` read one provider's token through the read function's URL
   * ({@link readFunctionUrl}): the Function URL invoke permissions, and the grantee's role added to
   * that provider's consumers (`EXTRA_CONSUMERS`, next to the configuration's `consumers`).
   *
   * The read function authorizes a URL caller by its IAM role, so the grantee's principal must be a
   * role: a Lambda function (its execution role) or an `iam.Role` (`iam.Role.fromRoleArn` for an
   * existing one). A consumer in another stack of the same app makes a reference cycle (its role ARN
   * in this stack, this function's ARN in its policy): list its role ARN in the provider's
   * `consumers` instead and grant the URL permissions there.
   *
   * The permissions: since October 2025 a new Function URL with `AWS_IAM` auth needs both
   * `lambda:InvokeFunctionUrl` and `lambda:InvokeFunction` (AWS Lambda Developer Guide, "Control
   * access to Lambda function URLs", docs.aws.amazon.com/lambda/latest/dg/urls-auth.html). CDK's
   * `grantInvokeUrl` (aws-cdk PR #35725, "refactor Function URL permissions"; in the aws-cdk-lib 2.276
   * used here) grants `lambda:InvokeFunctionUrl` with `lambda:FunctionUrlAuthType = AWS_IAM`, and
   * `lambda:InvokeFunction` only with `lambda:InvokedViaFunctionUrl = true`. That condition matters
   * here: a plain Invoke serves every provider, so a consumer of one provider must not be able to
   * Invoke the function directly.
   *
   * @throws Error when the provider is not configured, or the grantee's principal is not an IAM role.
   */
  grantReadViaFunction(grantee: iam.IGrantable, provider: string): iam.Grant {
    this.#provider(provider);
    const principal = grantee.grantPrincipal;
    const roleArn = roleArnOf(principal);
    if (roleArn === undefined) {
      throw new Error(
        `${this.node.path}: grantReadViaFunction("${provider}"): the grantee's principal (${principal}) is ` +
          'not an IAM role. The read function authorizes a Function URL caller by its IAM role, so only a ' +
          'role can be added to the consumers. Pass a Lambda function or an iam.Role (iam.Role.fromRoleArn ' +
          'for an existing role), or use grantRead(grantee, provider) to read the token secret directly.',
      );
    }
    const grant = this.readFunctionUrl.grantInvokeUrl(grantee);
    const roles = this.#extraConsumers.get(provider) ?? [];
    if (!roles.includes(roleArn)) roles.push(roleArn);
    this.#extraConsumers.set(provider, roles);
    return grant;
  }

  /**
   * `RefreshFailed` (Sum, 5 minutes). With a provider: that provider's metric. Without: a CloudWatch
   * Metrics Insights query summing every provider (`SELECT SUM(RefreshFailed) FROM SCHEMA(...)`), which
   * alarms can use.
   */
  metricRefreshFailures(provider?: string, props: cloudwatch.MetricOptions = {}): cloudwatch.IMetric {
    if (provider !== undefined)
      return this.#providerMetric(provider, METRIC_NAMES.refreshFailed, 'Sum', props);
    return this.#allProviders('SUM', METRIC_NAMES.refreshFailed, 'Refresh failures (all providers)', props);
  }

  /**
   * `ConsecutiveFailures` (Maximum, 5 minutes): a provider's streak of failed attempts, emitted at each
   * failed attempt (none on success). With a provider: that provider's metric. Without: a Metrics
   * Insights query of the maximum over every provider (what {@link refreshFailuresAlarm} watches).
   */
  metricConsecutiveFailures(provider?: string, props: cloudwatch.MetricOptions = {}): cloudwatch.IMetric {
    const name = METRIC_NAMES.consecutiveFailures;
    if (provider !== undefined) return this.#providerMetric(provider, name, 'Maximum', props);
    return this.#allProviders('MAX', name, 'Consecutive failures (all providers, maximum)', props);
  }

  /**
   * `RefreshFailedPermanent` (Sum, 5 minutes): 1 at a permanent failure and at every run it blocks.
   * With a provider: that provider's metric. Without: a Metrics Insights query summing every provider
   * (what {@link permanentFailureAlarm} watches).
   */
  metricPermanentFailures(provider?: string, props: cloudwatch.MetricOptions = {}): cloudwatch.IMetric {
    const name = METRIC_NAMES.refreshFailedPermanent;
    if (provider !== undefined) return this.#providerMetric(provider, name, 'Sum', props);
    return this.#allProviders('SUM', name, 'Permanent failures (all providers)', props);
  }

  /**
   * `SecondsToExpiry` (Minimum, 5 minutes): emitted at every run, so a missing datapoint means no run.
   * With a provider: that provider's metric. Without: a Metrics Insights query of the minimum over
   * every provider.
   */
  metricSecondsToExpiry(provider?: string, props: cloudwatch.MetricOptions = {}): cloudwatch.IMetric {
    if (provider !== undefined) {
      return this.#providerMetric(provider, METRIC_NAMES.secondsToExpiry, 'Minimum', props);
    }
    return this.#allProviders(
      'MIN',
      METRIC_NAMES.secondsToExpiry,
      'Seconds to expiry (all providers)',
      props,
    );
  }

  #provider(provider: string): ProviderResources {
    const resources = this.#providers.get(provider);
    if (resources === undefined) {
      throw new Error(
        `${this.node.path}: unknown provider "${provider}"; configured: ${[...this.#providers.keys()].join(', ')}`,
      );
    }
    return resources;
  }

  #providerMetric(
    provider: string,
    metricName: string,
    statistic: string,
    props: cloudwatch.MetricOptions,
  ): cloudwatch.Metric {
    if (!this.config.providers.some((config) => config.name === provider)) this.#provider(provider);
    return new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName,
      dimensionsMap: { [METRIC_DIMENSION]: provider },
      statistic,
      period: ALARM_PERIOD,
      ...props,
    });
  }

  /**
   * A Metrics Insights query aggregating one engine metric over every provider. Of the
   * `MetricOptions`, a query honours `period`, `label` and `color` (statistic, unit, dimensions and
   * account do not apply to it).
   */
  #allProviders(
    aggregate: 'SUM' | 'MIN' | 'MAX',
    metricName: string,
    label: string,
    props: cloudwatch.MetricOptions,
  ): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: `SELECT ${aggregate}(${metricName}) FROM SCHEMA("${METRIC_NAMESPACE}", ${METRIC_DIMENSION})`,
      usingMetrics: {},
      label: props.label ?? label,
      period: props.period ?? ALARM_PERIOD,
      ...(props.color === undefined ? {} : { color: props.color }),
    });
  }

  /**
   * The permanent-failure alarm: any `RefreshFailedPermanent` pages at once. The engine reports a
   * blocked provider again at every run of its recurring schedule, so the alarm looks back over the
   * longest gap between two runs of any provider (interval plus flexible window: 2 periods for the
   * default `rate(5 minutes)`) and stays in ALARM until that long after the last blocked run.
   */
  #addPermanentFailureAlarm(props: TokenRefresherProps): cloudwatch.Alarm {
    const windowSeconds = (props.scheduleTimeWindow ?? Duration.minutes(1)).toSeconds();
    const periods = Math.max(
      ...this.config.providers.map((config) =>
        lookbackPeriods(scheduleIntervalSeconds(config.schedule) + windowSeconds),
      ),
    );
    return new cloudwatch.Alarm(this, 'PermanentFailureAlarm', {
      alarmDescription:
        'A token refresh failed permanently (RefreshFailedPermanent >= 1, any provider): a failure retrying ' +
        'cannot fix, e.g. invalid_grant, invalid_client, credentials_not_set, rotation_outcome_unknown, another ' +
        'HTTP 4xx, or a secret the function cannot read. The provider is not called again until someone ' +
        'forces a refresh; its current token is served until it expires. The alarm stays in ALARM while the ' +
        `provider is blocked (each scheduled run reports it again), and up to ${periods * 5} minutes after. ` +
        'What to do: find the provider and code (npx token-refresher status, or the refresh function logs ' +
        '"Refresh failed; the current token is kept", field errorCode), fix the credentials secret or the ' +
        'configuration (README, Troubleshooting), then force a refresh with {"provider":"<name>","force":true}.',
      metric: this.metricPermanentFailures(),
      threshold: 1,
      evaluationPeriods: periods,
      datapointsToAlarm: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * The refresh failures alarm: `ConsecutiveFailures` ≥ `attempts` (any provider). Its datapoints come
   * only at failed attempts, up to the 15-minute backoff cap apart in a long outage, so the alarm looks
   * back over that gap (4 periods) and stays in ALARM while the streak lasts, instead of returning to OK
   * between two attempts and paging again at the next.
   */
  #addRefreshFailuresAlarm(attempts: number): cloudwatch.Alarm {
    const longestCall = Math.max(...this.config.providers.map((config) => config.requestTimeout));
    const periods = lookbackPeriods(failureGapBoundSeconds(longestCall));
    const within = Math.ceil(
      Math.max(
        ...this.config.providers.map((config) => failureStreakBoundSeconds(attempts, config.requestTimeout)),
      ) / 60,
    );
    return new cloudwatch.Alarm(this, 'RefreshFailuresAlarm', {
      alarmDescription:
        `Token refreshes keep failing: a provider failed ${attempts === 1 ? 'an attempt' : `${attempts} attempts in a row`} (ConsecutiveFailures ` +
        `>= ${attempts}, any provider; with the backoff, the attempts span at most about ${within} minutes). ` +
        `${attempts === 1 ? 'Every failed attempt pages.' : 'One failure that the retry fixes does not page.'} ` +
        'The current token is served until it expires. The ' +
        `alarm stays in ALARM while the failures go on, and up to ${periods * 5} minutes after the last. What ` +
        'to do: find the provider and code (npx token-refresher status, or the refresh function logs ' +
        '"Refresh failed; the current token is kept", fields errorCode and consecutiveFailures); transient ' +
        'codes (http_5xx, timeout, network_error, rate_limited) mean the provider or the network: check its ' +
        'status page and the time left (SecondsToExpiry); fix what is ours, then force a refresh with ' +
        '{"provider":"<name>","force":true}.',
      metric: this.metricConsecutiveFailures(),
      threshold: attempts,
      evaluationPeriods: periods,
      datapointsToAlarm: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  #byProvider(aggregate: 'SUM' | 'MIN' | 'MAX', metricName: string): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression:
        `SELECT ${aggregate}(${metricName}) FROM SCHEMA("${METRIC_NAMESPACE}", ${METRIC_DIMENSION}) ` +
        `GROUP BY ${METRIC_DIMENSION}`,
      usingMetrics: {},
      period: ALARM_PERIOD,
    });
  }

  #addProvider(index: number, config: ProviderConfig, props: TokenRefresherProps): ProviderResources {
    const { secretPrefix } = this.config;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // Construct ids by index-free name: renaming or reordering other providers must not replace these.
    const scope = new Construct(this, `Provider-${config.name}`);

    const tokenSecret = new secretsmanager.Secret(scope, 'TokenSecret', {
      secretName: tokenSecretName(secretPrefix, config.name),
      description:
        `Access token of provider "${config.name}", written by the token-refresher function; consumers read ` +
        `it (JSON: provider, accessToken, tokenType, expiresAt, issuedAt, generation). ` +
        `${PLACEHOLDER_SECRET_STRING} until the first refresh. Do not edit.`,
      encryptionKey: this.encryptionKey,
      secretStringValue: SecretValue.unsafePlainText(PLACEHOLDER_SECRET_STRING),
      removalPolicy,
    });

    let credentialsSecret: secretsmanager.ISecret;
    let credentialsResourceArn: string;
    if (config.credentialsSecretArn === undefined) {
      credentialsSecret = new secretsmanager.Secret(scope, 'CredentialsSecret', {
        secretName: credentialsSecretName(secretPrefix, config.name),
        description: credentialsDescription(config),
        encryptionKey: this.encryptionKey,
        secretStringValue: SecretValue.unsafePlainText(PLACEHOLDER_SECRET_STRING),
        removalPolicy,
      });
      credentialsResourceArn = credentialsSecret.secretArn;
    } else {
      // A complete ARN ends with the 6-character suffix Secrets Manager adds; a partial one needs the
      // `-??????` pattern in IAM.
      const complete = /-[A-Za-z0-9]{6}$/.test(config.credentialsSecretArn);
      credentialsSecret = complete
        ? secretsmanager.Secret.fromSecretCompleteArn(scope, 'CredentialsSecret', config.credentialsSecretArn)
        : secretsmanager.Secret.fromSecretPartialArn(scope, 'CredentialsSecret', config.credentialsSecretArn);
      credentialsResourceArn = complete
        ? config.credentialsSecretArn
        : `${config.credentialsSecretArn}-??????`;
    }

    const schedule = new scheduler.Schedule(scope, 'Schedule', {
      description: `Safety-net refresh of provider "${config.name}" (config index ${index})`,
      scheduleGroup: this.scheduleGroup,
      schedule: scheduler.ScheduleExpression.expression(config.schedule),
      timeWindow: scheduler.TimeWindow.flexible(props.scheduleTimeWindow ?? Duration.minutes(1)),
      target: new schedulerTargets.LambdaInvoke(this.refreshFunction, {
        role: this.schedulerRole,
        input: scheduler.ScheduleTargetInput.fromObject({ provider: config.name }),
        deadLetterQueue: this.deadLetterQueue,
        // An event older than an hour is worthless: the next run is due long before.
        maxEventAge: Duration.hours(1),
        retryAttempts: 3,
      }),
    });

    const lead = effectiveRefreshBefore(config.refreshBefore, config.expectedLifetime);
    const threshold = props.staleThreshold ?? Math.floor(lead / 2);
    // Missing data is breaching (a stopped schedule emits nothing), so the alarm must wait out the
    // longest normal gap between two runs: the schedule interval plus the flexible window.
    const gapSeconds =
      scheduleIntervalSeconds(config.schedule) +
      (props.scheduleTimeWindow ?? Duration.minutes(1)).toSeconds();
    const periods = Math.min(288, Math.max(1, Math.ceil(gapSeconds / ALARM_PERIOD.toSeconds())));
    const staleAlarm = new cloudwatch.Alarm(scope, 'StaleAlarm', {
      alarmDescription:
        `The token of provider "${config.name}" is stale: SecondsToExpiry below ${threshold} s, or no ` +
        `datapoint for ${periods * 5} minutes (the schedule stopped, or the function cannot start). ` +
        `Consumers may soon hold an expired token. What to do: check the refresh failures alarm and the ` +
        `function logs for "${config.name}"; check that the schedule is enabled; invoke the function with ` +
        `{"provider":"${config.name}","force":true}.`,
      metric: this.#providerMetric(config.name, METRIC_NAMES.secondsToExpiry, 'Minimum', {}),
      threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: periods,
      datapointsToAlarm: periods,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });

    return { config, tokenSecret, credentialsSecret, credentialsResourceArn, schedule, staleAlarm };
  }

  /**
   * cdk-nag (AwsSolutions pack, v3 acknowledgements through CDK `Validations`): each finding that does
   * not apply is acknowledged on the narrowest construct, with the reason.
   */
  #acknowledgeNagFindings(): void {
    const stack = Stack.of(this);
    for (const { config, tokenSecret, credentialsSecret } of this.#providers.values()) {
      Validations.of(tokenSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The token secret is rewritten by the refresh function before each token expires (EventBridge ' +
          'Scheduler), not by Secrets Manager rotation: its value is an access token a third party issues.',
      });
      if (config.credentialsSecretArn === undefined) {
        Validations.of(credentialsSecret).acknowledge({
          id: 'AwsSolutions-SMG4',
          reason:
            'Client credentials are issued by the third-party provider and rotated there by the operator; a ' +
            'rotated refresh token is written back by the refresh function.',
        });
      }
    }
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the EventBridge Scheduler schedules.',
    });
    const functionLogicalId = stack.resolve(
      stack.getLogicalId(this.refreshFunction.node.defaultChild as lambda.CfnFunction),
    ) as string;
    Validations.of(this.schedulerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${functionLogicalId}.Arn>:*]`,
      reason:
        'LambdaInvoke grants lambda:InvokeFunction on the function and its versions/aliases (<arn>:*); ' +
        'the role can invoke this one function only.',
    });
    const refreshRole = this.refreshFunction.role as iam.Role;
    const findings = [
      {
        resource: `arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${this.scheduleGroup.scheduleGroupName}/*`,
        reason:
          "The one-time schedules (next-<provider>) are created at run time; the group is this construct's " +
          'own, and the role may only pass the scheduler role.',
      },
      ...this.#secretPatterns().map((pattern) => ({
        resource: pattern,
        reason:
          '-?????? is the random suffix Secrets Manager appends to secret ARNs; above ' +
          `${MAX_EXACT_SECRET_ARNS_PROVIDERS} providers the prefix pattern keeps the role policy under the ` +
          '10,240-character inline limit, and only this deployment writes under the prefix.',
      })),
    ];
    for (const { resource, reason } of findings) {
      Validations.of(refreshRole).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
    }
    if (this.#providers.size > MAX_EXACT_SECRET_ARNS_PROVIDERS) {
      Validations.of(this.readFunction.role as iam.Role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${this.config.secretPrefix}/*/token-??????]`,
        reason:
          'GetSecretValue on the token secrets only (-?????? is the random suffix Secrets Manager appends; ' +
          'no credentials secret matches /token-??????); above ' +
          `${MAX_EXACT_SECRET_ARNS_PROVIDERS} providers the pattern keeps the role policy under the ` +
          '10,240-character inline limit.',
      });
    }
  }

  /** The secret ARN patterns with wildcards in the refresh role's policy, as cdk-nag renders them. */
  #secretPatterns(): string[] {
    const patterns = [...this.#providers.values()]
      .filter((provider) => provider.credentialsResourceArn.endsWith('-??????'))
      .map((provider) => provider.credentialsResourceArn);
    if (this.#providers.size > MAX_EXACT_SECRET_ARNS_PROVIDERS) {
      const base = `arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${this.config.secretPrefix}/*/`;
      patterns.push(`${base}token-??????`);
      if (
        [...this.#providers.values()].some((provider) => provider.config.credentialsSecretArn === undefined)
      ) {
        patterns.push(`${base}credentials-??????`);
      }
    }
    return patterns;
  }

  /**
   * The token secrets' ARNs for IAM statements: each one up to
   * {@link MAX_EXACT_SECRET_ARNS_PROVIDERS} providers, else `<prefix>/*\/token-??????` (which no
   * credentials secret `<prefix>/<name>/credentials-??????` matches).
   */
  #tokenSecretArns(): string[] {
    const providers = [...this.#providers.values()];
    if (providers.length <= MAX_EXACT_SECRET_ARNS_PROVIDERS) {
      return providers.map((provider) => provider.tokenSecret.secretArn);
    }
    return [this.#secretArnPattern('token')];
  }

  /** `<prefix>/*\/<kind>-??????`: every token (or credentials) secret this construct names. */
  #secretArnPattern(kind: 'token' | 'credentials'): string {
    return Stack.of(this).formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: `${this.config.secretPrefix}/*/${kind}-??????`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** The condition that limits `kms:Decrypt` to Secrets Manager calls in this stack's region. */
  #viaSecretsManager(): Record<string, Record<string, unknown>> {
    return { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } };
  }

  /**
   * `kms:Decrypt` on the key, only when Secrets Manager calls KMS on the grantee's behalf: the key also
   * encrypts the table, the topic and the queue, which a token reader has no business decrypting.
   */
  #grantDecryptViaSecretsManager(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipalOrResource({
      grantee,
      actions: ['kms:Decrypt'],
      resourceArns: [this.encryptionKey.keyArn],
      resource: this.encryptionKey,
      conditions: this.#viaSecretsManager(),
    });
  }

  /**
   * The read role's statements: read the token secrets (never the credentials), decrypt them through
   * Secrets Manager, invoke the refresh function (on-demand refresh, RequestResponse), write its logs.
   * No table, no secret writes, no schedules.
   */
  #grantServe(role: iam.Role): void {
    const statements = [
      new iam.PolicyStatement({
        sid: 'ReadTokenSecrets',
        actions: ['secretsmanager:GetSecretValue'],
        resources: this.#tokenSecretArns(),
      }),
      new iam.PolicyStatement({
        sid: 'DecryptViaSecretsManager',
        actions: ['kms:Decrypt'],
        resources: [this.encryptionKey.keyArn],
        conditions: this.#viaSecretsManager(),
      }),
      // The unqualified function only (no `:*` for versions and aliases): the read function invokes it
      // by name.
      new iam.PolicyStatement({
        sid: 'InvokeRefresh',
        actions: ['lambda:InvokeFunction'],
        resources: [this.refreshFunction.functionArn],
      }),
      new iam.PolicyStatement({
        sid: 'Logs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.readLogGroup.logGroupArn],
      }),
    ];
    for (const statement of statements) role.addToPrincipalPolicy(statement);
  }

  /**
   * The read function's environment against Lambda's 4 KB: the configuration moves into the bundle
   * above 3 KB, but the role ARNs of `grantReadViaFunction` stay in `EXTRA_CONSUMERS` (they are
   * known only at deploy time). Unresolved ARNs count as {@link ESTIMATED_ROLE_ARN_BYTES}.
   */
  #readEnvironmentProblems(
    configEnvironment: Readonly<Record<string, string>>,
    readEnvironment: Readonly<Record<string, string>>,
  ): string[] {
    const extraConsumers = JSON.stringify(
      Object.fromEntries(
        [...this.#extraConsumers].map(([provider, arns]) => [
          provider,
          arns.map((arn) => (Token.isUnresolved(arn) ? 'x'.repeat(ESTIMATED_ROLE_ARN_BYTES) : arn)),
        ]),
      ),
    );
    const environment = {
      ...configEnvironment,
      ...readEnvironment,
      [ENV.extraConsumers]: extraConsumers,
      ...COMMON_ENVIRONMENT,
    };
    const bytes = environmentBytes(environment);
    if (bytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return [];
    const roles = [...this.#extraConsumers.values()].reduce((count, arns) => count + arns.length, 0);
    return [
      `the read function's environment would take about ${bytes} bytes, over Lambda's ` +
        `${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit: grantReadViaFunction added ${roles} role ARNs to ` +
        `${ENV.extraConsumers}. List those roles in the providers' "consumers" in the configuration ` +
        `instead (a configuration over ${MAX_INLINE_CONFIG_BYTES} bytes moves into the bundle).`,
    ];
  }

  /** The read path's alarms: function errors, Function URL 5xx, throttles, latency. */
  #addReadAlarms(latencyThreshold: Duration): cloudwatch.Alarm[] {
    const errors = anyInPeriodAlarm(this, 'ReadFunctionErrorsAlarm', {
      alarmDescription:
        'The read function failed to run (Lambda Errors >= 1 in 5 minutes): an init failure (invalid ' +
        'environment or configuration), a crash or a timeout. Answers such as 403 or 503 are not errors. ' +
        'What to do: read the read function logs; EnvironmentError names the variable, Task timed out means ' +
        'a slow on-demand refresh or Secrets Manager. Consumers reading the token secret directly are not ' +
        'affected.',
      metric: this.readFunction.metricErrors({ period: ALARM_PERIOD, statistic: 'Sum' }),
    });
    const url5xx = new cloudwatch.Alarm(this, 'ReadUrl5xxAlarm', {
      alarmDescription:
        `The read function's URL answered ${READ_5XX_ALARM_THRESHOLD} or more 5xx in 5 minutes ` +
        '(Url5xxCount): consumers are being turned away. 503 means no valid token could be served (the ' +
        'token expired and the on-demand refresh failed); 502/500 mean the function failed or timed out. ' +
        'What to do: check the refresh failures and staleness alarms and the refresh function logs for ' +
        'the provider; read the read function logs (one line per request, with the error code).',
      metric: this.#urlMetric('Url5xxCount'),
      threshold: READ_5XX_ALARM_THRESHOLD,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const throttles = anyInPeriodAlarm(this, 'ReadFunctionThrottlesAlarm', {
      alarmDescription:
        'The read function was throttled (Throttles >= 1 in 5 minutes): the account or function ' +
        'concurrency limit was reached, and consumers got 429. What to do: check account concurrency and ' +
        'the functions using it; consumers should cache tokens until shortly before expiresAt rather than ' +
        'call per request.',
      metric: this.readFunction.metricThrottles({ period: ALARM_PERIOD, statistic: 'Sum' }),
    });
    const latency = new cloudwatch.Alarm(this, 'ReadLatencyAlarm', {
      alarmDescription:
        `The read function is slow: Duration p99 above ${latencyThreshold.toMilliseconds() / 1000} s for 15 minutes ` +
        '(3 of 3 5-minute periods). Reads from the cache or Secrets Manager take milliseconds; seconds mean ' +
        'many on-demand refreshes (consumers reporting rejected tokens, a slow token endpoint) or ' +
        'throttled Secrets Manager calls. What to do: check the RefreshDuration and failures of the ' +
        'providers in the dashboard and the read function logs.',
      metric: this.readFunction.metricDuration({ period: ALARM_PERIOD, statistic: 'p99' }),
      threshold: latencyThreshold.toMilliseconds(),
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    return [errors, url5xx, throttles, latency];
  }

  /** The dashboard row of the read path. */
  #readWidgets(latencyThreshold: Duration): cloudwatch.IWidget[] {
    return [
      new cloudwatch.GraphWidget({
        title: 'Read function: requests',
        left: [
          this.#urlMetric('UrlRequestCount', 'URL requests'),
          this.#urlMetric('Url4xxCount', 'URL 4xx'),
          this.#urlMetric('Url5xxCount', 'URL 5xx'),
          this.readFunction.metricInvocations({ period: ALARM_PERIOD, label: 'Invocations (URL + Invoke)' }),
          this.readFunction.metricErrors({ period: ALARM_PERIOD, label: 'Errors' }),
          this.readFunction.metricThrottles({ period: ALARM_PERIOD, label: 'Throttles' }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Read function: latency (ms)',
        left: [
          this.readFunction.metricDuration({ period: ALARM_PERIOD, statistic: 'p50', label: 'Duration p50' }),
          this.readFunction.metricDuration({ period: ALARM_PERIOD, statistic: 'p99', label: 'Duration p99' }),
        ],
        leftAnnotations: [{ value: latencyThreshold.toMilliseconds(), label: 'Latency alarm (p99)' }],
        width: 12,
      }),
    ];
  }

  /**
   * A Function URL metric of the read function (`AWS/Lambda`, dimension `FunctionName`; Sum, 5 minutes).
   * Names: docs.aws.amazon.com/lambda/latest/dg/urls-monitoring.html.
   */
  #urlMetric(
    metricName: 'UrlRequestCount' | 'Url4xxCount' | 'Url5xxCount',
    label?: string,
  ): cloudwatch.Metric {
    return this.readFunction.metric(metricName, {
      period: ALARM_PERIOD,
      statistic: 'Sum',
      ...(label === undefined ? {} : { label }),
    });
  }

  /** The refresh role's statements: see the README's IAM table. */
  #grantRefresh(role: iam.Role): void {
    const stack = Stack.of(this);
    const providers = [...this.#providers.values()];
    const exact = providers.length <= MAX_EXACT_SECRET_ARNS_PROVIDERS;
    const rotating = providers.filter((provider) => capabilitiesOf(provider.config).rotatesCredential);

    const tokenArns = this.#tokenSecretArns();
    const credentialsArns = (list: readonly ProviderResources[]) => {
      const own = list.filter((provider) => provider.config.credentialsSecretArn === undefined);
      const others = list.filter((provider) => provider.config.credentialsSecretArn !== undefined);
      return [
        ...(exact || own.length === 0
          ? own.map((provider) => provider.credentialsResourceArn)
          : [this.#secretArnPattern('credentials')]),
        ...others.map((provider) => provider.credentialsResourceArn),
      ];
    };

    const statements = [
      new iam.PolicyStatement({
        sid: 'TokenSecrets',
        actions: [
          'secretsmanager:GetSecretValue',
          'secretsmanager:PutSecretValue',
          'secretsmanager:UpdateSecretVersionStage',
        ],
        resources: tokenArns,
      }),
      new iam.PolicyStatement({
        sid: 'ReadCredentials',
        actions: ['secretsmanager:GetSecretValue'],
        resources: credentialsArns(providers),
      }),
      // Only the refresh_token grant writes credentials back (a rotated refresh token).
      ...(rotating.length === 0
        ? []
        : [
            new iam.PolicyStatement({
              sid: 'WriteRotatedCredentials',
              actions: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
              resources: credentialsArns(rotating),
            }),
          ]),
      new iam.PolicyStatement({
        sid: 'StateTable',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
      }),
      // Secrets Manager (GetSecretValue: Decrypt; PutSecretValue: GenerateDataKey) and DynamoDB
      // (Decrypt, DescribeKey) use the key on the function's behalf.
      new iam.PolicyStatement({
        sid: 'EncryptionKey',
        actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'],
        resources: [this.encryptionKey.keyArn],
      }),
      // Precise scheduling: SchedulerNextRun upserts `next-<provider>` (UpdateSchedule, then
      // CreateSchedule when absent); the schedule deletes itself after it fires.
      new iam.PolicyStatement({
        sid: 'NextRunSchedules',
        actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule'],
        resources: [
          stack.formatArn({
            service: 'scheduler',
            resource: 'schedule',
            resourceName: `${this.scheduleGroup.scheduleGroupName}/*`,
            arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
          }),
        ],
      }),
      new iam.PolicyStatement({
        sid: 'PassSchedulerRole',
        actions: ['iam:PassRole'],
        resources: [this.schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
      new iam.PolicyStatement({
        sid: 'Logs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.refreshLogGroup.logGroupArn],
      }),
    ];
    if (this.eventBus !== undefined) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'StateChangeEvents',
          actions: ['events:PutEvents'],
          resources: [this.eventBus.eventBusArn],
        }),
      );
    }
    for (const statement of statements) role.addToPrincipalPolicy(statement);
  }
}

/** An alarm that fires on any occurrence (≥ 1) in one period; no data means nothing happened. */
function anyInPeriodAlarm(
  scope: Construct,
  id: string,
  props: { readonly alarmDescription: string; readonly metric: cloudwatch.IMetric },
): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    ...props,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}

/** Validate the props; every problem at once, naming the construct. */
function validateProps(scope: Construct, props: TokenRefresherProps): RefresherConfig {
  const problems: string[] = [];
  let config: RefresherConfig | undefined;
  try {
    config = parseRefresherConfig(
      { secretPrefix: props.secretPrefix ?? 'token-refresher', providers: props.providers },
      'providers',
    );
    problems.push(...secretsManagerWriteRateProblems(config));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (props.staleThreshold !== undefined && !(props.staleThreshold > 0)) {
    problems.push(`staleThreshold: is ${props.staleThreshold}; it must be a positive number of seconds`);
  }
  const attempts = props.failureAlarmAttempts;
  if (attempts !== undefined && !(Number.isInteger(attempts) && attempts >= 1)) {
    problems.push(
      `failureAlarmAttempts: is ${attempts}; it must be a positive whole number of consecutive failed ` +
        `attempts (1 pages at every failure; the default ${DEFAULT_FAILURE_ALARM_ATTEMPTS} lets the retry fix a passing failure)`,
    );
  }
  const latency = props.readLatencyAlarmThreshold;
  if (
    latency !== undefined &&
    !(latency.toMilliseconds() > 0 && latency.toMilliseconds() <= READ_TIMEOUT.toMilliseconds())
  ) {
    problems.push(
      `readLatencyAlarmThreshold: is ${latency.toHumanString()}; it must be above 0 and at most the read ` +
        `function's timeout (${READ_TIMEOUT.toHumanString()})`,
    );
  }
  if (problems.length > 0 || config === undefined) {
    throw new ConfigError(
      `${scope.node.path}: invalid TokenRefresher props:\n  - ${problems.join('\n  - ')}`,
      problems,
    );
  }
  return config;
}

/**
 * The function timeout: the longest provider call, plus the engine's write reserve, plus 25 s for the
 * calls around it (two GetSecretValue, the lease GetItem/UpdateItem before; PutSecretValue,
 * UpdateSecretVersionStage, the release and the schedule upsert after: each normally tens of ms, but
 * up to 3 SDK attempts of 3 s connect + 5 s request under throttling). At least 60 s, so the default
 * 10 s request timeout never limits the lease (the lease lasts as long as the invocation).
 */
export function refreshTimeout(config: RefresherConfig): Duration {
  const longestCall = Math.max(...config.providers.map((provider) => provider.requestTimeout));
  return Duration.seconds(Math.max(60, longestCall + WRITE_RESERVE_MS / 1000 + 25));
}

/** A deterministic function name (≤ 64 characters), unique per construct and stack. */
function refreshFunctionName(scope: Construct): string {
  return `${Names.uniqueResourceName(scope, { maxLength: 56, separator: '-' })}-refresh`;
}

/** The interval of a `rate(...)` expression in seconds; cron expressions count as one hour. */
export function scheduleIntervalSeconds(expression: string): number {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (match === null) return 3600;
  const unit = match[2]?.startsWith('minute') ? 60 : match[2]?.startsWith('hour') ? 3600 : 86_400;
  return Number(match[1]) * unit;
}

function credentialsDescription(config: ProviderConfig): string {
  let shape: string;
  switch (config.grant) {
    case 'client_credentials':
      shape = '{"clientId":"...","clientSecret":"..."}';
      break;
    case 'refresh_token':
      shape =
        '{"clientId":"...","clientSecret":"...","refreshToken":"..."} (clientSecret optional for public ' +
        'clients; the refresher writes rotated refresh tokens back here)';
      break;
    case 'http': {
      const fields = new Set<string>();
      const text = JSON.stringify(config.request);
      for (const match of text.matchAll(/\{\{\s*credentials\.([\w-]+)\s*\}\}/g)) {
        if (match[1] !== undefined) fields.add(match[1]);
      }
      shape =
        fields.size === 0
          ? '{"<field>":"..."} (any string fields; this provider uses no {{credentials.<field>}} placeholder)'
          : `{${[...fields].map((field) => `"${field}":"..."`).join(',')}}`;
      break;
    }
  }
  return (
    `Client credentials of provider "${config.name}" (grant ${config.grant}), read by the token-refresher ` +
    `function only. Holds ${PLACEHOLDER_SECRET_STRING} until you put the JSON ${shape} with ` +
    '"aws secretsmanager put-secret-value --secret-id <this secret> --secret-string file://creds.json".'
  );
}

/** Variables both functions get. */
const COMMON_ENVIRONMENT: Readonly<Record<string, string>> = { NODE_OPTIONS: '--enable-source-maps' };

/** How the configuration reaches a function: its environment variable, plus a bundle file if large. */
interface ConfigDelivery {
  /** `PROVIDERS_CONFIG` (the JSON) or `PROVIDERS_CONFIG_FILE` (the file name in the bundle). */
  readonly environment: Readonly<Record<string, string>>;
  /** The file `afterBundling` copies into the bundle, when the JSON is over the inline limit. */
  readonly file?: string;
}

/** Inline up to {@link MAX_INLINE_CONFIG_BYTES}, else a file in the bundle (written once, shared). */
function configDelivery(config: {
  readonly secretPrefix: string;
  readonly providers: readonly ProviderConfigInput[];
}): ConfigDelivery {
  const configJson = JSON.stringify(config);
  if (Buffer.byteLength(configJson, 'utf8') <= MAX_INLINE_CONFIG_BYTES) {
    return { environment: { [ENV.providersConfig]: configJson } };
  }
  return {
    environment: { [ENV.providersConfigFile]: PROVIDERS_CONFIG_FILE_NAME },
    file: writeConfigFile(configJson),
  };
}

interface BundledFunctionProps {
  readonly entry: string;
  readonly functionName?: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly role: iam.IRole;
  readonly logGroup: logs.ILogGroup;
  /** The function's own variables; the configuration's and {@link COMMON_ENVIRONMENT} are added. */
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * A function of this service: Node.js 24 on arm64, an ESM bundle made by esbuild (SDK v3 external,
 * source maps), the configuration as {@link configDelivery} says.
 */
function bundledFunction(
  scope: Construct,
  id: string,
  config: ConfigDelivery,
  props: BundledFunctionProps,
): nodejs.NodejsFunction {
  const { file } = config;
  return new nodejs.NodejsFunction(scope, id, {
    ...(props.functionName === undefined ? {} : { functionName: props.functionName }),
    description: props.description,
    entry: props.entry,
    projectRoot: REPO_ROOT,
    depsLockFilePath: LOCK_FILE,
    handler: 'handler',
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: props.memorySize,
    timeout: props.timeout,
    role: props.role,
    logGroup: props.logGroup,
    environment: { ...props.environment, ...config.environment, ...COMMON_ENVIRONMENT },
    bundling: {
      format: nodejs.OutputFormat.ESM,
      minify: true,
      sourceMap: true,
      mainFields: ['module', 'main'],
      // The runtime provides SDK v3; Powertools, zod and oauth4webapi are bundled.
      externalModules: ['@aws-sdk/*'],
      // Some bundled CommonJS code calls require(); an ESM bundle has none unless we create it.
      banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      ...(file === undefined
        ? {}
        : {
            commandHooks: {
              beforeBundling: () => [],
              beforeInstall: () => [],
              afterBundling: (_inputDir: string, outputDir: string) => [
                `cp "${file}" "${outputDir}/${PROVIDERS_CONFIG_FILE_NAME}"`,
              ],
            },
          }),
    },
  });
}

/** Bytes of a function's environment as Lambda counts them (keys and values, UTF-8). */
function environmentBytes(environment: Readonly<Record<string, string>>): number {
  return Object.entries(environment).reduce(
    (total, [name, value]) => total + Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8'),
    0,
  );
}

/**
 * The ARN of an IAM role principal (a role, imported or not, or a Lambda function's execution role),
 * or `undefined` for any other principal. A literal ARN must be a role's.
 */
function roleArnOf(principal: iam.IPrincipal): string | undefined {
  const roleArn = (principal as Partial<iam.IRole>).roleArn;
  if (typeof roleArn !== 'string' || typeof (principal as Partial<iam.IRole>).roleName !== 'string') {
    return undefined;
  }
  if (!Token.isUnresolved(roleArn) && !/^arn:[\w-]+:iam::\d{12}:role\//.test(roleArn)) return undefined;
  return roleArn;
}

/** The configuration file copied into the bundle by `afterBundling` (too big for the environment). */
function writeConfigFile(configJson: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'token-refresher-config-')), PROVIDERS_CONFIG_FILE_NAME);
  writeFileSync(path, configJson);
  return path;
}
