/**
 * The resources every provider shares: the key, the state/lock table, and the scheduling around the
 * refresh function (the dead-letter queue, the schedule group, the scheduler role). Each is built
 * with the construct itself as scope, so its logical ID is the one test/infra/logical-ids.test.ts
 * pins.
 */
import {
  ArnFormat,
  Duration,
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  aws_kms as kms,
  RemovalPolicy,
  Stack,
  aws_scheduler as scheduler,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { STATE_TABLE_PARTITION_KEY, STATE_TABLE_TTL_ATTRIBUTE } from '../functions/core/names.js';
import { scheduleGroupName } from './naming.js';

export interface SharedResources {
  readonly encryptionKey: kms.IKey;
  readonly table: dynamodb.Table;
  readonly deadLetterQueue: sqs.Queue;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  readonly schedulerRole: iam.Role;
}

export interface SharedResourcesProps {
  /** A key of the user's; `undefined`: a new one. */
  readonly encryptionKey: kms.IKey | undefined;
  readonly removalPolicy: RemovalPolicy;
}

/** The shared resources, in the order (and so the template order) of the original construct. */
export function buildSharedResources(scope: Construct, props: SharedResourcesProps): SharedResources {
  const encryptionKey = props.encryptionKey ?? buildEncryptionKey(scope, props.removalPolicy);
  return {
    encryptionKey,
    table: buildStateTable(scope, encryptionKey, props.removalPolicy),
    deadLetterQueue: buildDeadLetterQueue(scope, encryptionKey),
    scheduleGroup: buildScheduleGroup(scope),
    schedulerRole: buildSchedulerRole(scope, encryptionKey),
  };
}

/** The schedule group's ARN (`…:schedule-group/<name>`): what `aws:SourceArn` is when Scheduler assumes its role. */
export function scheduleGroupArn(scope: Construct): string {
  return Stack.of(scope).formatArn({
    service: 'scheduler',
    resource: 'schedule-group',
    resourceName: scheduleGroupName(scope),
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/** `Key`: encrypts the table, the secrets, the alarm topic and the dead-letter queue; yearly rotation. */
export function buildEncryptionKey(scope: Construct, removalPolicy: RemovalPolicy): kms.Key {
  return new kms.Key(scope, 'Key', {
    description: `Encrypts the token-refresher table, secrets, alarm topic and dead-letter queue (${scope.node.path})`,
    enableKeyRotation: true,
    removalPolicy,
  });
}

/** `StateTable`: one item per provider; on-demand, point-in-time recovery, TTL, the key. */
export function buildStateTable(
  scope: Construct,
  encryptionKey: kms.IKey,
  removalPolicy: RemovalPolicy,
): dynamodb.Table {
  return new dynamodb.Table(scope, 'StateTable', {
    partitionKey: { name: STATE_TABLE_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    timeToLiveAttribute: STATE_TABLE_TTL_ATTRIBUTE,
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey,
    removalPolicy,
  });
}

/** `ScheduleDeadLetterQueue`: where EventBridge Scheduler puts the events it could not deliver. */
export function buildDeadLetterQueue(scope: Construct, encryptionKey: kms.IKey): sqs.Queue {
  return new sqs.Queue(scope, 'ScheduleDeadLetterQueue', {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: encryptionKey,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
}

/** `ScheduleGroup`: the recurring and the one-time schedules. */
export function buildScheduleGroup(scope: Construct): scheduler.ScheduleGroup {
  return new scheduler.ScheduleGroup(scope, 'ScheduleGroup', {
    // Explicit, so that IAM statements and nag acknowledgements can name it.
    scheduleGroupName: scheduleGroupName(scope),
    removalPolicy: RemovalPolicy.DESTROY,
  });
}

/**
 * `SchedulerRole`: one role for every schedule, recurring and one-time, so that the function's
 * iam:PassRole names one role. Confused deputy (EventBridge Scheduler User Guide, "Confused deputy
 * prevention"): only EventBridge Scheduler may assume it, for a schedule of this account
 * (`aws:SourceAccount`) in this construct's group (`aws:SourceArn`, the group's ARN: Scheduler sets
 * it to the group, never to a schedule). Its key permissions hold only when SQS uses the key for it
 * (`kms:ViaService`): the dead-letter queue is the one thing it encrypts.
 */
export function buildSchedulerRole(scope: Construct, encryptionKey: kms.IKey): iam.Role {
  const stack = Stack.of(scope);
  const role = new iam.Role(scope, 'SchedulerRole', {
    description: 'Assumed by EventBridge Scheduler to invoke the token-refresher function',
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      conditions: {
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnEquals: { 'aws:SourceArn': scheduleGroupArn(scope) },
      },
    }),
  });
  // The dead-letter queue is KMS-encrypted: the Scheduler sends to it with this role.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [encryptionKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `sqs.${stack.region}.amazonaws.com` } },
    }),
  );
  return role;
}
