/**
 * The physical names and ARNs the construct derives: from its unique path (the schedule group, the
 * refresh function) and from the secret prefix (the ARN patterns of the IAM statements and of their
 * cdk-nag acknowledgements). The names themselves are defined in `functions/core/names.ts`, which the
 * functions, the CLI and local mode share.
 */
import { ArnFormat, Names, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import {
  type DerivedName,
  REFRESH_FUNCTION_NAME,
  SCHEDULE_GROUP_NAME,
  SECRET_ARN_SUFFIX_PATTERN,
  type SecretKind,
  secretName,
} from '../functions/core/names.js';

/** A name unique per construct and stack: `scope`'s unique name, cut to the base length, then the suffix. */
export function derivedName(scope: Construct, name: DerivedName): string {
  return `${Names.uniqueResourceName(scope, { maxLength: name.maxBaseLength, separator: '-' })}${name.suffix}`;
}

/** The schedule group's name (≤ 64 characters). */
export function scheduleGroupName(scope: Construct): string {
  return derivedName(scope, SCHEDULE_GROUP_NAME);
}

/** The refresh function's name (≤ 64 characters). */
export function refreshFunctionName(scope: Construct): string {
  return derivedName(scope, REFRESH_FUNCTION_NAME);
}

/** The ARN of a function of this stack, by name (no reference to the function itself). */
export function functionArnByName(scope: Construct, functionName: string): string {
  return Stack.of(scope).formatArn({
    service: 'lambda',
    resource: 'function',
    resourceName: functionName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** Every schedule of a group: `…:schedule/<group>/*`. */
export function scheduleArnPattern(scope: Construct, groupName: string): string {
  return Stack.of(scope).formatArn({
    service: 'scheduler',
    resource: 'schedule',
    resourceName: `${groupName}/*`,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/**
 * `…:secret:<prefix>/<provider>/<kind>-??????`: one provider's token (or credentials) secret. Each `?`
 * is exactly one character, so the pattern matches the one secret of that exact name, whatever the
 * suffix, and nothing under another provider's name or another path (issue 15, finding 8).
 */
export function providerSecretArnPattern(
  scope: Construct,
  secretPrefix: string,
  provider: string,
  kind: SecretKind,
): string {
  return Stack.of(scope).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${secretName(secretPrefix, provider, kind)}${SECRET_ARN_SUFFIX_PATTERN}`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** The start of an ARN of this stack's partition, region and account as cdk-nag renders it. */
function nagArnPrefix(service: string): string {
  return `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:`;
}

/** {@link providerSecretArnPattern} as cdk-nag renders it in a finding's id. */
export function nagProviderSecretArnPattern(
  secretPrefix: string,
  provider: string,
  kind: SecretKind,
): string {
  return `${nagArnPrefix('secretsmanager')}secret:${secretName(secretPrefix, provider, kind)}${SECRET_ARN_SUFFIX_PATTERN}`;
}

/** {@link scheduleArnPattern} as cdk-nag renders it in a finding's id. */
export function nagScheduleArnPattern(groupName: string): string {
  return `${nagArnPrefix('scheduler')}schedule/${groupName}/*`;
}
