/**
 * Monitoring: the alarm topic, every alarm sending to it (alarm and OK), and the dashboard.
 */
import {
  type aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cloudwatchActions,
  type Duration,
  aws_iam as iam,
  type aws_kms as kms,
  type aws_lambda as lambda,
  Stack,
  aws_sns as sns,
  type aws_sqs as sqs,
  aws_sns_subscriptions as subscriptions,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ProviderConfig } from '../functions/core/config.js';
import {
  buildPermanentFailureAlarm,
  buildReadAlarms,
  buildRefreshFailuresAlarm,
  buildRefreshFunctionAlarms,
} from './alarms.js';
import { buildDashboard } from './dashboard.js';

export interface MonitoringProps {
  readonly providers: readonly ProviderConfig[];
  readonly encryptionKey: kms.IKey;
  /** A topic of the user's; `undefined`: a new one. */
  readonly alarmTopic: sns.ITopic | undefined;
  readonly alarmEmail: string | undefined;
  readonly failureAlarmAttempts: number;
  readonly readLatencyAlarmThreshold: Duration;
  readonly scheduleTimeWindow: Duration;
  readonly refreshFunction: lambda.IFunction;
  readonly readFunction: lambda.IFunction;
  readonly deadLetterQueue: sqs.IQueue;
  /** The alarms built with the providers (staleness), listed after the shared ones. */
  readonly providerAlarms: readonly cloudwatch.Alarm[];
}

export interface Monitoring {
  readonly alarmTopic: sns.ITopic;
  readonly permanentFailureAlarm: cloudwatch.Alarm;
  readonly refreshFailuresAlarm: cloudwatch.Alarm;
  readonly dashboard: cloudwatch.Dashboard;
}

/** The topic, the alarms and the dashboard. */
export function buildMonitoring(scope: Construct, props: MonitoringProps): Monitoring {
  const alarmTopic = props.alarmTopic ?? buildAlarmTopic(scope, props.encryptionKey);
  if (props.alarmEmail !== undefined) {
    alarmTopic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));
  }
  // CloudWatch publishes to a KMS-encrypted topic only if the key policy lets it (a no-op for an
  // imported key: its owner must add this statement).
  if (props.alarmTopic === undefined) allowCloudWatchToPublish(scope, props.encryptionKey);

  const permanentFailureAlarm = buildPermanentFailureAlarm(scope, props.providers, props.scheduleTimeWindow);
  const refreshFailuresAlarm = buildRefreshFailuresAlarm(scope, props.providers, props.failureAlarmAttempts);
  const alarms = [
    permanentFailureAlarm,
    refreshFailuresAlarm,
    ...buildRefreshFunctionAlarms(scope, props),
    ...buildReadAlarms(scope, {
      readFunction: props.readFunction,
      latencyThreshold: props.readLatencyAlarmThreshold,
    }),
    ...props.providerAlarms,
  ];
  const action = new cloudwatchActions.SnsAction(alarmTopic);
  for (const alarm of alarms) {
    alarm.addAlarmAction(action);
    alarm.addOkAction(action);
  }

  const dashboard = buildDashboard(scope, { ...props, alarms });
  return { alarmTopic, permanentFailureAlarm, refreshFailuresAlarm, dashboard };
}

/** `AlarmTopic`: encrypted with the key, SSL requests only. */
function buildAlarmTopic(scope: Construct, encryptionKey: kms.IKey): sns.Topic {
  return new sns.Topic(scope, 'AlarmTopic', {
    displayName: 'token-refresher alarms',
    masterKey: encryptionKey,
    enforceSSL: true,
  });
}

/** The key policy statement that lets CloudWatch (of this account) publish to the encrypted topic. */
function allowCloudWatchToPublish(scope: Construct, encryptionKey: kms.IKey): void {
  encryptionKey.addToResourcePolicy(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
      resources: ['*'],
      conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(scope).account } },
    }),
  );
}
