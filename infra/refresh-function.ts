/**
 * The refresh function (one provider per invocation, from EventBridge Scheduler or the read
 * function), its log group and role, and the role's statements (docs/security.md, "Who can read
 * what").
 */
import {
  Duration,
  type aws_dynamodb as dynamodb,
  aws_events as events,
  aws_iam as iam,
  type aws_kms as kms,
  aws_logs as logs,
  type aws_lambda_nodejs as nodejs,
  RemovalPolicy,
  type aws_scheduler as scheduler,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { RefresherConfig } from '../functions/core/config.js';
import { WRITE_RESERVE_MS } from '../functions/core/engine.js';
import { ENV } from '../functions/core/env.js';
import { capabilitiesOf } from '../functions/core/grants.js';
import { bundledFunction, type ConfigDelivery, REFRESH_ENTRY } from './bundling.js';
import { functionArnByName, refreshFunctionName, scheduleArnPattern } from './naming.js';
import type { ProviderResources } from './provider-resources.js';
import {
  credentialsSecretArns,
  namesEachSecret,
  secretStatements,
  tokenSecretArns,
  viaSecretsManager,
} from './secret-access.js';

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

export interface RefreshFunctionProps {
  readonly config: RefresherConfig;
  readonly delivery: ConfigDelivery;
  readonly logRetention: logs.RetentionDays;
  readonly table: dynamodb.ITable;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  readonly schedulerRole: iam.IRole;
  /** A bus of the user's; `undefined`: the account's default bus; `false`: no events. */
  readonly eventBus: events.IEventBus | false | undefined;
  /** Reserved concurrency; `undefined`: none. */
  readonly reservedConcurrency: number | undefined;
}

export interface RefreshFunctionResources {
  /** The function's explicit name (a plain string, not a reference). */
  readonly functionName: string;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;
  readonly eventBus: events.IEventBus | undefined;
  readonly function: nodejs.NodejsFunction;
}

/** `RefreshLogGroup`, `RefreshRole` and `RefreshFunction` (and `DefaultEventBus`, an import). */
export function buildRefreshFunction(
  scope: Construct,
  props: RefreshFunctionProps,
): RefreshFunctionResources {
  const logGroup = new logs.LogGroup(scope, 'RefreshLogGroup', {
    retention: props.logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });

  // The function's own ARN reaches its environment (target of the one-time schedules) through an
  // explicit name: a reference to its Arn attribute would make the function depend on itself.
  const functionName = refreshFunctionName(scope);
  const role = new iam.Role(scope, 'RefreshRole', {
    description: 'The token-refresher function: its table, its secrets, its schedules',
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
  });
  const eventBus =
    props.eventBus === false
      ? undefined
      : (props.eventBus ?? events.EventBus.fromEventBusName(scope, 'DefaultEventBus', 'default'));

  const fn = bundledFunction(scope, 'RefreshFunction', props.delivery, {
    functionName,
    description: 'Refreshes one provider token per invocation (EventBridge Scheduler input {"provider"})',
    entry: REFRESH_ENTRY,
    // One HTTPS call plus a handful of SDK calls; 256 MB (vs 128) buys CPU for TLS and a faster cold
    // start, and costs nothing noticeable at one invocation per provider every few minutes.
    memorySize: 256,
    timeout: refreshTimeout(props.config),
    role,
    logGroup,
    reservedConcurrentExecutions: props.reservedConcurrency,
    environment: {
      [ENV.tableName]: props.table.tableName,
      [ENV.schedulerGroup]: props.scheduleGroup.scheduleGroupName,
      [ENV.schedulerRoleArn]: props.schedulerRole.roleArn,
      [ENV.refreshFunctionArn]: functionArnByName(scope, functionName),
      // The ARN, so that a bus in another account works as well as a name would here.
      ...(eventBus === undefined ? {} : { [ENV.eventBusName]: eventBus.eventBusArn }),
    },
  });
  return { functionName, logGroup, role, eventBus, function: fn };
}

export interface RefreshGrantsProps {
  readonly providers: readonly ProviderResources[];
  readonly secretPrefix: string;
  readonly table: dynamodb.ITable;
  readonly encryptionKey: kms.IKey;
  /** The credentials secrets' key; `undefined` when the construct creates none. */
  readonly credentialsKey: kms.IKey | undefined;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  readonly schedulerRole: iam.IRole;
  readonly logGroup: logs.ILogGroup;
  readonly eventBus: events.IEventBus | undefined;
}

/** The refresh role's statements (docs/security.md, "Who can read what"). */
export function grantRefreshFunction(scope: Construct, role: iam.Role, props: RefreshGrantsProps): void {
  const { providers, secretPrefix } = props;
  const exact = namesEachSecret(providers.length);
  // Only a grant that rotates its credential (refresh_token) writes the credentials back.
  const rotating = providers.filter((provider) => capabilitiesOf(provider.config).rotatesCredential);
  const statements = [
    ...secretStatements('TokenSecrets', tokenSecretArns(scope, providers, secretPrefix), {
      actions: [
        'secretsmanager:GetSecretValue',
        'secretsmanager:PutSecretValue',
        'secretsmanager:UpdateSecretVersionStage',
      ],
    }),
    ...secretStatements('ReadCredentials', credentialsSecretArns(scope, providers, { secretPrefix, exact }), {
      // DescribeSecret: a blocked provider's run looks at the version without reading the value.
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
    }),
    ...secretStatements(
      'WriteRotatedCredentials',
      credentialsSecretArns(scope, rotating, { secretPrefix, exact }),
      {
        actions: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
      },
    ),
    new iam.PolicyStatement({
      sid: 'StateTable',
      actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
      resources: [props.table.tableArn],
    }),
    // Secrets Manager (GetSecretValue: Decrypt; PutSecretValue: GenerateDataKey) and DynamoDB
    // (Decrypt, DescribeKey) use the key on the function's behalf.
    new iam.PolicyStatement({
      sid: 'EncryptionKey',
      actions: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'],
      resources: [props.encryptionKey.keyArn],
    }),
    // The credentials' own key (issue 15, finding 2): read them, and write a rotated refresh token.
    ...(props.credentialsKey === undefined
      ? []
      : [
          new iam.PolicyStatement({
            sid: 'CredentialsKey',
            actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
            resources: [props.credentialsKey.keyArn],
            conditions: viaSecretsManager(scope),
          }),
        ]),
    // Precise scheduling: SchedulerNextRun upserts `next-<provider>` (UpdateSchedule, then
    // CreateSchedule when absent); the schedule deletes itself after it fires.
    new iam.PolicyStatement({
      sid: 'NextRunSchedules',
      actions: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule'],
      resources: [scheduleArnPattern(scope, props.scheduleGroup.scheduleGroupName)],
    }),
    new iam.PolicyStatement({
      sid: 'PassSchedulerRole',
      actions: ['iam:PassRole'],
      resources: [props.schedulerRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    }),
    new iam.PolicyStatement({
      sid: 'Logs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [props.logGroup.logGroupArn],
    }),
  ];
  if (props.eventBus !== undefined) {
    statements.push(
      new iam.PolicyStatement({
        sid: 'StateChangeEvents',
        actions: ['events:PutEvents'],
        resources: [props.eventBus.eventBusArn],
      }),
    );
  }
  for (const statement of statements) role.addToPrincipalPolicy(statement);
}
