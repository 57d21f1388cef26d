/**
 * `CredentialsChangeRule` (issue 16, item 5; docs/runbook.md, "Permanent refresh failure"): an EventBridge
 * rule on the account's default bus that invokes the refresh function when an operator writes a new
 * value to a provider's credentials secret, so that new credentials lift a permanent failure within a
 * minute, with no CLI step.
 *
 * Secrets Manager calls reach EventBridge as CloudTrail events (`AWS API Call via CloudTrail`), only
 * where a trail records management events; without one, a blocked provider's scheduled run looks at
 * the secret's version itself. The function takes the event as it is (no input transformer) and
 * trusts nothing in it but the secret's name: it compares the secret's current version with the one
 * that failed (functions/core/credentials-change.ts), so an event of an unchanged secret costs one
 * invocation, one state read and one `DescribeSecret`, and no provider call.
 *
 * The pattern, clause by clause:
 * - `PutSecretValue` and `UpdateSecret` (the calls that write a value), only those that succeeded
 *   (`errorCode` absent: CloudTrail records refused calls too);
 * - `requestParameters.secretId`, as the caller wrote it: the secrets the construct creates by name
 *   (`<prefix>/…`) and by ARN (`arn:…:secret:<prefix>/…`), and each `credentialsSecretArn` by name
 *   and by ARN. Prefix matches, not wildcards (EventBridge allows 30 rules with wildcards per bus and
 *   account, a quota this construct should not spend); they also match token secrets, which the
 *   function ignores by their name;
 * - not the refresh function's own calls (`userIdentity.arn` of its role's sessions): it writes a
 *   token secret at every refresh and a rotated refresh token often; those are no news to it.
 *
 * The pattern must stay within EventBridge's 2,048 characters (the default quota): an existing secret
 * whose clauses would pass it is left to the scheduled check, with a synth warning.
 */
import {
  Annotations,
  ArnFormat,
  Aws,
  Duration,
  aws_events as events,
  aws_events_targets as eventsTargets,
  type aws_iam as iam,
  type aws_lambda as lambda,
  Stack,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ProviderConfig } from '../functions/core/config.js';

/** EventBridge's default limit on an event pattern's length, in characters. */
export const EVENT_PATTERN_MAX_LENGTH = 2_048;

/** The complete ARN's suffix: `-` and the 6 characters Secrets Manager appends to the name. */
const ARN_SUFFIX = /-[A-Za-z0-9]{6}$/;

export interface CredentialsChangeRuleProps {
  readonly providers: readonly ProviderConfig[];
  readonly secretPrefix: string;
  readonly refreshFunction: lambda.IFunction;
  /** The refresh function's role: its own writes are left out of the pattern. */
  readonly refreshRole: iam.IRole;
}

/** How the pattern names the stack's account, region and partition, and the refresh role. */
interface PatternParts {
  readonly secretArn: (name: string) => string;
  readonly refreshSessionArnPrefix: string;
}

/** `CredentialsChangeRule`, targeting the refresh function (and the permission that lets it). */
export function buildCredentialsChangeRule(scope: Construct, props: CredentialsChangeRuleProps): events.Rule {
  const stack = Stack.of(scope);
  const existing = [...new Set(props.providers.flatMap((provider) => provider.credentialsSecretArn ?? []))];
  // Measured with the longest partition and region names and a role name of the most characters.
  const measuring: PatternParts = {
    secretArn: (name) => `arn:aws-iso-b:secretsmanager:ap-southeast-5:123456789012:secret:${name}`,
    refreshSessionArnPrefix: `arn:aws-iso-b:sts::123456789012:assumed-role/${'r'.repeat(64)}/`,
  };
  let included = existing.length;
  while (
    included > 0 &&
    patternLength(measuring, props, existing.slice(0, included)) > EVENT_PATTERN_MAX_LENGTH
  ) {
    included -= 1;
  }
  const rule = new events.Rule(scope, 'CredentialsChangeRule', {
    description:
      'Refreshes a provider when its credentials secret gets a new value (Secrets Manager PutSecretValue or ' +
      'UpdateSecret, recorded by CloudTrail); the function checks the secret version itself',
    eventPattern: credentialsChangePattern(
      {
        secretArn: (name) =>
          stack.formatArn({
            service: 'secretsmanager',
            resource: 'secret',
            resourceName: name,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        // A role session's ARN: `arn:<partition>:sts::<account>:assumed-role/<role name>/<session>`.
        refreshSessionArnPrefix: `arn:${Aws.PARTITION}:sts::${Aws.ACCOUNT_ID}:assumed-role/${props.refreshRole.roleName}/`,
      },
      props,
      existing.slice(0, included),
    ),
  });
  if (included < existing.length) {
    Annotations.of(rule).addWarningV2(
      'token-refresher:credentialsChangeRulePattern',
      `CredentialsChangeRule: ${existing.length - included} of the credentials secrets given by ` +
        `credentialsSecretArn do not fit EventBridge's ${EVENT_PATTERN_MAX_LENGTH}-character event pattern; ` +
        'a new value in them is found at the next scheduled run of a blocked provider instead of when its CloudTrail event arrives',
    );
  }
  rule.addTarget(
    new eventsTargets.LambdaFunction(props.refreshFunction, {
      // A lost event costs little: the blocked provider's scheduled run finds the new version too.
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
    }),
  );
  return rule;
}

/** The event pattern (see the file's header), for the given existing secrets. */
function credentialsChangePattern(
  parts: PatternParts,
  props: CredentialsChangeRuleProps,
  existingArns: readonly string[],
): events.EventPattern {
  // Plain JSON, as EventBridge reads it (and as its length is measured), not `events.Match` tokens.
  const secretIds: (string | { readonly prefix: string })[] = [];
  if (props.providers.some((provider) => provider.credentialsSecretArn === undefined)) {
    const prefix = `${props.secretPrefix}/`;
    secretIds.push({ prefix }, { prefix: parts.secretArn(prefix) });
  }
  for (const arn of existingArns) {
    // By name, and by ARN with or without the suffix (the ARN up to the name is a prefix of both).
    const name = (arn.split(':secret:')[1] ?? arn).replace(ARN_SUFFIX, '');
    secretIds.push(name, { prefix: arn.replace(ARN_SUFFIX, '') });
  }
  return {
    source: ['aws.secretsmanager'],
    detailType: ['AWS API Call via CloudTrail'],
    detail: {
      eventSource: ['secretsmanager.amazonaws.com'],
      eventName: ['PutSecretValue', 'UpdateSecret'],
      errorCode: [{ exists: false }],
      requestParameters: { secretId: secretIds },
      userIdentity: { arn: [{ 'anything-but': { prefix: parts.refreshSessionArnPrefix } }] },
    },
  };
}

/** The pattern's length as EventBridge counts it (its JSON), with literal stand-ins for the references. */
function patternLength(
  parts: PatternParts,
  props: CredentialsChangeRuleProps,
  existingArns: readonly string[],
): number {
  const { detailType, ...rest } = credentialsChangePattern(parts, props, existingArns);
  return JSON.stringify({ ...rest, 'detail-type': detailType }).length;
}
