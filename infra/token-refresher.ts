/**
 * The `TokenRefresher` construct: the state/lock table, the secrets, one EventBridge Scheduler schedule
 * per provider, the refresh Lambda and the read Lambda (Function URL) with least-privilege IAM, alarms
 * and a dashboard (docs/architecture.md, "Infrastructure").
 *
 * This file is the composition and the public API. Each concern has its own file, and every resource
 * is built with this construct as its scope, so that no logical ID depends on how the code is split
 * (test/infra/logical-ids.test.ts pins them): `props.ts` and `validate-props.ts`,
 * `shared-resources.ts` (key, table, dead-letter queue, schedule group, scheduler role),
 * `provider-resources.ts`, `refresh-function.ts` and `read-function.ts` (each with its role's
 * statements), `secret-access.ts`, `bundling.ts` (bundles and configuration delivery),
 * `monitoring.ts` (`alarms.ts`, `dashboard.ts`, `metrics.ts`), `nag.ts` and `naming.ts`.
 */
import {
  type aws_cloudwatch as cloudwatch,
  type aws_dynamodb as dynamodb,
  type aws_events as events,
  type aws_iam as iam,
  type aws_kms as kms,
  type aws_lambda as lambda,
  type aws_logs as logs,
  type aws_lambda_nodejs as nodejs,
  type aws_scheduler as scheduler,
  type aws_secretsmanager as secretsmanager,
  type aws_sns as sns,
  type aws_sqs as sqs,
  Token,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { RefresherConfig } from '../functions/core/config.js';
import { iamRoleArnProblem } from '../functions/core/iam-arn.js';
import { configDelivery } from './bundling.js';
import { buildCredentialsChangeRule } from './credentials-change.js';
import { buildCredentialsKey } from './credentials-protection.js';
import { allProvidersQuery, ENGINE_METRICS, type EngineMetric, providerMetric } from './metrics.js';
import { buildMonitoring } from './monitoring.js';
import { acknowledgeNagFindings } from './nag.js';
import { providerSecretArnPattern } from './naming.js';
import { type TokenRefresherProps, withDefaults } from './props.js';
import { buildProviderResources, type ProviderResources } from './provider-resources.js';
import { buildReadFunction, grantReadFunction, roleArnOf } from './read-function.js';
import { buildRefreshFunction, grantRefreshFunction } from './refresh-function.js';
import { grantReadToken } from './secret-access.js';
import { buildSharedResources } from './shared-resources.js';
import { buildTokenTable, grantReadTokenItem } from './token-table.js';
import { validateAllProps } from './validate-props.js';

export { scheduleIntervalSeconds } from './alarm-windows.js';
export { READ_5XX_ALARM_THRESHOLD } from './alarms.js';
export {
  LAMBDA_ENVIRONMENT_LIMIT_BYTES,
  MAX_INLINE_CONFIG_BYTES,
  PROVIDERS_CONFIG_FILE_NAME,
} from './bundling.js';
export type { ReservedConcurrency, TokenRefresherProps } from './props.js';
export { DEFAULT_RESERVED_CONCURRENCY } from './props.js';
export { refreshTimeout } from './refresh-function.js';
export { MAX_EXACT_SECRET_ARNS_PROVIDERS } from './secret-access.js';
export { MAX_PROVIDERS_PER_STACK } from './validate-props.js';

/**
 * Keeps third-party OAuth tokens fresh in Secrets Manager, and serves them to consumers.
 *
 * ```ts
 * const tokens = new TokenRefresher(this, 'Tokens', { providers: [...] });
 * tokens.grantRead(myConsumerFn, 'github');             // direct: GetSecretValue on the token secret
 * tokens.grantReadViaFunction(otherConsumerFn, 'crm');  // served: the read function's URL
 * ```
 *
 * Resources per provider (5): a token secret (none with `tokenStore: "dynamodb"`, whose providers share
 * one {@link tokenTable}), a credentials secret and its resource policy (none when
 * `credentialsSecretArn` is given), a recurring schedule and a staleness alarm.
 *
 * Shared resources (31, plus an e-mail subscription when `alarmEmail` is set; no key or topic when
 * given): the key, the credentials key, the state table, the dead-letter queue and its policy, the
 * schedule group, the scheduler role and its policy, the alarm topic and its policy, the dashboard,
 * the credentials-change rule and its permission to invoke the refresh function;
 * the refresh path (its role and policy, log group, function, and the permanent failure, refresh
 * failures, errors, throttles and dead-letter alarms); the read path (its role and policy, log group,
 * function, Function URL, and the errors, URL 5xx, throttles and latency alarms). Above 20 providers
 * the roles' secret statements take managed policies too (up to 8). One stack holds at most
 * {@link MAX_PROVIDERS_PER_STACK} (91) providers under CloudFormation's 500 resources.
 */
export class TokenRefresher extends Construct {
  /** The validated configuration (defaults applied). */
  readonly config: RefresherConfig;
  /** The key that encrypts the table, the token secrets, the topic and the dead-letter queue. */
  readonly encryptionKey: kms.IKey;
  /**
   * The key that encrypts the credentials secrets the construct creates: only the refresh function's
   * role and the `breakGlassPrincipals` may decrypt with it. `undefined` when every provider names an
   * existing credentials secret.
   */
  readonly credentialsEncryptionKey: kms.IKey | undefined;
  /** The state/lock table: one item per provider, key `provider` (S). */
  readonly table: dynamodb.Table;
  /**
   * The DynamoDB token store's table (`<unique name>-tokens`): the tokens of the providers with
   * `tokenStore: "dynamodb"`, one item per provider, key `provider` (S). `undefined` when none has it.
   */
  readonly tokenTable: dynamodb.Table | undefined;
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
   * Every request must carry a caller proof (docs/read-function.md, "Caller proof"), checked against
   * the providers' `consumers`, a direct Invoke included; only with the `trustDirectInvoke` prop does
   * `readFunction.grantInvoke(x)` let `x` read **every** provider. Use {@link grantReadViaFunction}
   * to grant one provider.
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
    this.config = validateAllProps(this, TokenRefresher.name, props);
    const settings = withDefaults(props);
    const { secretPrefix } = this.config;

    const shared = buildSharedResources(this, settings);
    this.encryptionKey = shared.encryptionKey;
    this.table = shared.table;
    this.deadLetterQueue = shared.deadLetterQueue;
    this.scheduleGroup = shared.scheduleGroup;
    this.schedulerRole = shared.schedulerRole;

    // Both functions parse the same configuration, delivered the same way (environment or bundle file).
    const delivery = configDelivery({
      secretPrefix,
      ...(this.config.trustDirectInvoke ? { trustDirectInvoke: true } : {}),
      providers: props.providers,
    });
    const refresh = buildRefreshFunction(this, {
      config: this.config,
      delivery,
      logRetention: settings.logRetention,
      table: this.table,
      scheduleGroup: this.scheduleGroup,
      schedulerRole: this.schedulerRole,
      eventBus: settings.eventBus,
      reservedConcurrency: settings.reservedConcurrency?.refresh,
    });
    this.refreshLogGroup = refresh.logGroup;
    this.eventBus = refresh.eventBus;
    this.refreshFunction = refresh.function;

    // The credentials' own key, whose policy names the refresh role; none when no secret needs it.
    const credentialsFence = {
      refreshRole: refresh.role,
      breakGlassPrincipals: settings.breakGlassPrincipals,
    };
    const createsCredentials = this.config.providers.some(
      (provider) => provider.credentialsSecretArn === undefined,
    );
    this.credentialsEncryptionKey =
      settings.credentialsEncryptionKey ??
      (createsCredentials
        ? buildCredentialsKey(this, { ...credentialsFence, removalPolicy: settings.removalPolicy })
        : undefined);

    for (const [index, config] of this.config.providers.entries()) {
      const resources = buildProviderResources(this, {
        ...shared,
        credentialsKey: this.credentialsEncryptionKey,
        credentialsFence,
        index,
        config,
        secretPrefix,
        removalPolicy: settings.removalPolicy,
        scheduleTimeWindow: settings.scheduleTimeWindow,
        staleThreshold: settings.staleThreshold,
        refreshFunction: this.refreshFunction,
      });
      this.#providers.set(config.name, resources);
    }
    const providers = [...this.#providers.values()];
    grantRefreshFunction(this, refresh.role, {
      ...shared,
      credentialsKey: this.credentialsEncryptionKey,
      providers,
      secretPrefix,
      logGroup: this.refreshLogGroup,
      eventBus: this.eventBus,
    });
    // New credentials lift a permanent failure within a minute (CloudTrail → EventBridge → refresh).
    buildCredentialsChangeRule(this, {
      ...this.config,
      refreshFunction: this.refreshFunction,
      refreshRole: refresh.role,
    });

    const read = buildReadFunction(this, {
      delivery,
      logRetention: settings.logRetention,
      refreshFunctionName: refresh.functionName,
      extraConsumers: this.#extraConsumers,
      reservedConcurrency: settings.reservedConcurrency?.read,
    });
    this.readLogGroup = read.logGroup;
    this.readFunction = read.function;
    this.readFunctionUrl = read.url;
    grantReadFunction(this, read.role, {
      providers,
      secretPrefix,
      encryptionKey: this.encryptionKey,
      refreshFunction: this.refreshFunction,
      logGroup: this.readLogGroup,
    });
    this.tokenTable = buildTokenTable(this, {
      removalPolicy: settings.removalPolicy,
      providers: this.config.providers,
      encryptionKey: this.encryptionKey,
      refreshFunction: this.refreshFunction,
      refreshRole: refresh.role,
      readFunction: this.readFunction,
      readRole: read.role,
    });

    acknowledgeNagFindings(this, {
      ...shared,
      providers,
      secretPrefix,
      scheduleGroupName: this.scheduleGroup.scheduleGroupName,
      refreshFunction: this.refreshFunction,
      readFunction: this.readFunction,
    });

    const monitoring = buildMonitoring(this, {
      providers: this.config.providers,
      encryptionKey: this.encryptionKey,
      alarmTopic: settings.alarmTopic,
      alarmEmail: settings.alarmEmail,
      failureAlarmAttempts: settings.failureAlarmAttempts,
      readLatencyAlarmThreshold: settings.readLatencyAlarmThreshold,
      scheduleTimeWindow: settings.scheduleTimeWindow,
      refreshFunction: this.refreshFunction,
      readFunction: this.readFunction,
      deadLetterQueue: this.deadLetterQueue,
      providerAlarms: providers.map((provider) => provider.staleAlarm),
    });
    this.alarmTopic = monitoring.alarmTopic;
    this.permanentFailureAlarm = monitoring.permanentFailureAlarm;
    this.refreshFailuresAlarm = monitoring.refreshFailuresAlarm;
    this.dashboard = monitoring.dashboard;
  }

  /**
   * The token secret of a provider. Throws when the provider is not configured, or keeps its token in
   * the DynamoDB token table ({@link tokenTable}).
   */
  tokenSecret(provider: string): secretsmanager.ISecret {
    const secret = this.#provider(provider).tokenSecret;
    if (secret === undefined) {
      throw new Error(
        `${this.node.path}: provider "${provider}" keeps its token in tokenTable (tokenStore "dynamodb")`,
      );
    }
    return secret;
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
   * secret and `kms:Decrypt` on the key, through Secrets Manager only (`kms:ViaService`). A grantee in
   * another account or region gets the matching statements in the secret's resource policy and the
   * key policy, and names neither by reference (`grantReadToken` in `secret-access.ts`); its role
   * needs a physical name (`roleName`), as for any reference across environments. A provider with
   * `tokenStore: "dynamodb"`: `dynamodb:GetItem` on {@link tokenTable} for its item only
   * (`dynamodb:LeadingKeys`) and `kms:Decrypt` through DynamoDB, this account and region only.
   */
  grantRead(grantee: iam.IGrantable, provider: string): iam.Grant {
    const { config } = this.#provider(provider);
    if (config.tokenStore === 'dynamodb' && this.tokenTable !== undefined) {
      const { tokenTable: table, encryptionKey } = this;
      return grantReadTokenItem(this, { grantee, table, provider, encryptionKey });
    }
    return grantReadToken(this, {
      grantee,
      secret: this.tokenSecret(provider),
      secretArnPattern: providerSecretArnPattern(this, this.config.secretPrefix, provider, 'token'),
      encryptionKey: this.encryptionKey,
    });
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
   * here: with `trustDirectInvoke`, a plain Invoke without a caller proof serves every provider, so a
   * consumer of one provider must not be able to Invoke the function directly.
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
    // A literal ARN the read function could not reduce to a role would fail it at every cold start.
    const problem = Token.isUnresolved(roleArn) ? undefined : iamRoleArnProblem(roleArn);
    if (problem !== undefined) {
      throw new Error(
        `${this.node.path}: grantReadViaFunction("${provider}"): the grantee's role ARN "${roleArn}" ${problem}`,
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
   * alarms can use. Every given option applies (see `#metric`), here and in the other `metric*`.
   */
  metricRefreshFailures(provider?: string, props: cloudwatch.MetricOptions = {}): cloudwatch.IMetric {
    return this.#metric(ENGINE_METRICS.refreshFailures, provider, props);
  }

  /**
   * `ConsecutiveFailures` (Maximum, 5 minutes): a provider's streak of failed attempts, emitted at each
   * failed attempt (none on success). With a provider: that provider's metric. Without: a Metrics
   * Insights query of the maximum over every provider (what {@link refreshFailuresAlarm} watches).
   */
  metricConsecutiveFailures(provider?: string, props: cloudwatch.MetricOptions = {}): cloudwatch.IMetric {
    return this.#metric(ENGINE_METRICS.consecutiveFailures, provider, props);
  }

  /**
   * `RefreshFailedPermanent` (Sum, 5 minutes): 1 at a permanent failure and at every run it blocks.
   * With a provider: that provider's metric. Without: a Metrics Insights query summing every provider
   * (what {@link permanentFailureAlarm} watches).
   */
  metricPermanentFailures(provider?: string, props: cloudwatch.MetricOptions = {}): cloudwatch.IMetric {
    return this.#metric(ENGINE_METRICS.permanentFailures, provider, props);
  }

  /**
   * `SecondsToExpiry` (Minimum, 5 minutes): emitted at every run, so a missing datapoint means no run.
   * With a provider: that provider's metric. Without: a Metrics Insights query of the minimum over
   * every provider.
   */
  metricSecondsToExpiry(provider?: string, props: cloudwatch.MetricOptions = {}): cloudwatch.IMetric {
    return this.#metric(ENGINE_METRICS.secondsToExpiry, provider, props);
  }

  /**
   * An engine metric, honouring every given option. With a provider: a plain metric (dimension
   * `provider`; `dimensionsMap` adds to it). Without: a Metrics Insights query over every provider,
   * where `statistic` picks the aggregate, `dimensionsMap` (`provider` only) filters, `account` and
   * `region` are searched, and the options only a plain metric has (`unit`, `id`, `stackAccount`,
   * `stackRegion`) throw (`allProvidersQuery` in `metrics.ts`).
   */
  #metric(
    metric: EngineMetric,
    provider: string | undefined,
    props: cloudwatch.MetricOptions,
  ): cloudwatch.IMetric {
    if (provider === undefined) return allProvidersQuery(metric, props);
    this.#provider(provider);
    return providerMetric(provider, metric, props);
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
}
