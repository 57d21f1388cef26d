/**
 * cdk-nag (AwsSolutions pack, v3 acknowledgements through CDK `Validations`): each finding that does
 * not apply is acknowledged on the narrowest construct, with the reason.
 */
import { type aws_iam as iam, type aws_lambda as lambda, Stack, Validations } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { SECRET_ARN_SUFFIX_PATTERN } from '../functions/core/names.js';
import { nagProviderSecretArnPattern, nagScheduleArnPattern } from './naming.js';
import type { ProviderResources } from './provider-resources.js';
import { MAX_EXACT_SECRET_ARNS_PROVIDERS, namesEachSecret } from './secret-access.js';

export interface NagAcknowledgementsProps {
  readonly providers: readonly ProviderResources[];
  readonly secretPrefix: string;
  readonly deadLetterQueue: Construct;
  readonly schedulerRole: Construct;
  readonly scheduleGroupName: string;
  readonly refreshFunction: lambda.Function;
  readonly readFunction: lambda.Function;
}

/** Acknowledge the findings that do not apply, each on its construct, with the reason. */
export function acknowledgeNagFindings(scope: Construct, props: NagAcknowledgementsProps): void {
  acknowledgeSecretRotation(props.providers);
  Validations.of(props.deadLetterQueue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: 'This queue is itself the dead-letter queue of the EventBridge Scheduler schedules.',
  });
  const stack = Stack.of(scope);
  const functionLogicalId = stack.resolve(
    stack.getLogicalId(props.refreshFunction.node.defaultChild as lambda.CfnFunction),
  ) as string;
  Validations.of(props.schedulerRole).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${functionLogicalId}.Arn>:*]`,
    reason:
      'LambdaInvoke grants lambda:InvokeFunction on the function and its versions/aliases (<arn>:*); ' +
      'the role can invoke this one function only.',
  });
  acknowledgeRefreshRoleWildcards(props);
  if (!namesEachSecret(props.providers.length)) {
    for (const { config } of props.providers) {
      Validations.of(props.readFunction.role as iam.Role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagProviderSecretArnPattern(props.secretPrefix, config.name, 'token')}]`,
        reason:
          "GetSecretValue on this provider's token secret only: -?????? is the random suffix Secrets Manager " +
          `appends (six characters exactly, so no other secret matches); above ${MAX_EXACT_SECRET_ARNS_PROVIDERS} ` +
          'providers the name pattern replaces the reference to the secret.',
      });
    }
  }
}

/** SMG4 (no rotation) on the secrets the construct creates: the refresher rewrites them itself. */
function acknowledgeSecretRotation(providers: readonly ProviderResources[]): void {
  for (const { config, tokenSecret, credentialsSecret } of providers) {
    // None when the token is in the DynamoDB token table.
    if (tokenSecret !== undefined) {
      Validations.of(tokenSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'The token secret is rewritten by the refresh function before each token expires (EventBridge ' +
          'Scheduler), not by Secrets Manager rotation: its value is an access token a third party issues.',
      });
    }
    if (config.credentialsSecretArn === undefined) {
      Validations.of(credentialsSecret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason:
          'Client credentials are issued by the third-party provider and rotated there by the operator; a ' +
          'rotated refresh token is written back by the refresh function.',
      });
    }
  }
}

/** IAM5 on the refresh role: its schedule group's schedules, and the secret ARN patterns. */
function acknowledgeRefreshRoleWildcards(props: NagAcknowledgementsProps): void {
  const findings = [
    {
      resource: nagScheduleArnPattern(props.scheduleGroupName),
      reason:
        "The one-time schedules (next-<provider>) are created at run time; the group is this construct's " +
        'own, and the role may only pass the scheduler role.',
    },
    ...secretPatterns(props).map((pattern) => ({
      resource: pattern,
      reason:
        '-?????? is the random suffix Secrets Manager appends to secret ARNs (six characters exactly): the ' +
        "pattern matches one provider's secret; above " +
        `${MAX_EXACT_SECRET_ARNS_PROVIDERS} providers the name pattern replaces the reference to the secret.`,
    })),
  ];
  const refreshRole = props.refreshFunction.role as iam.Role;
  for (const { resource, reason } of findings) {
    Validations.of(refreshRole).acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
  }
}

/** The secret ARN patterns with wildcards in the refresh role's policy, as cdk-nag renders them. */
function secretPatterns(props: NagAcknowledgementsProps): string[] {
  const { providers, secretPrefix } = props;
  const patterns = providers
    .filter((provider) => provider.credentialsResourceArn.endsWith(SECRET_ARN_SUFFIX_PATTERN))
    .map((provider) => provider.credentialsResourceArn);
  if (!namesEachSecret(providers.length)) {
    for (const { config } of providers) {
      patterns.push(nagProviderSecretArnPattern(secretPrefix, config.name, 'token'));
      if (config.credentialsSecretArn === undefined) {
        patterns.push(nagProviderSecretArnPattern(secretPrefix, config.name, 'credentials'));
      }
    }
  }
  return patterns;
}
