/**
 * How the IAM statements name the secrets (each ARN, or a prefix pattern for many providers) and
 * the key (decrypt through Secrets Manager only), shared by the refresh role, the read role and
 * `grantRead`.
 */
import {
  aws_iam as iam,
  type aws_kms as kms,
  Stack,
  type aws_secretsmanager as secretsmanager,
  Token,
  TokenComparison,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { credentialsSecretName, tokenSecretName } from '../functions/core/names.js';
import { providerSecretArnPattern } from './naming.js';
import type { ProviderResources } from './provider-resources.js';

/**
 * Up to this many providers the roles name every secret by its ARN (a reference to the secret);
 * above it, by its name pattern `<prefix>/<provider>/<kind>-??????` (a literal, which CDK sizes at
 * least as long as it is once resolved, so its split of a large policy into managed policies is
 * safe; a reference is sized shorter than the ARN it becomes).
 */
export const MAX_EXACT_SECRET_ARNS_PROVIDERS = 20;

/** A secret's ARN (or ARN pattern) for a statement, and its name (to size the statement). */
export interface SecretArn {
  readonly arn: string;
  readonly name: string;
}

/** Whether the statements of this many providers name each secret ARN (else each name pattern). */
export function namesEachSecret(providerCount: number): boolean {
  return providerCount <= MAX_EXACT_SECRET_ARNS_PROVIDERS;
}

/**
 * The token secrets' ARNs for IAM statements: one per provider, the ARN up to
 * {@link MAX_EXACT_SECRET_ARNS_PROVIDERS} providers, else `<prefix>/<name>/token-??????`. Never a
 * pattern across providers: a `*` would also cross `/` (issue 15, finding 8), so that
 * `<prefix>/*\/token-??????` matched any secret under the prefix whose name ends in `/token`, such as
 * an existing credentials secret named that way, or another deployment's under a longer prefix.
 */
export function tokenSecretArns(
  scope: Construct,
  providers: readonly ProviderResources[],
  secretPrefix: string,
): SecretArn[] {
  const exact = namesEachSecret(providers.length);
  // A provider whose token is in the DynamoDB token table has no token secret.
  return providers.flatMap(({ config, tokenSecret }) =>
    tokenSecret === undefined
      ? []
      : [
          {
            arn: exact
              ? tokenSecret.secretArn
              : providerSecretArnPattern(scope, secretPrefix, config.name, 'token'),
            name: tokenSecretName(secretPrefix, config.name),
          },
        ],
  );
}

/**
 * The credentials secrets' ARNs of `list` for IAM statements, one per provider: the secrets the
 * construct created, by ARN (`exact`) or as `<prefix>/<name>/credentials-??????`; the existing
 * secrets of `credentialsSecretArn` as configured.
 */
export function credentialsSecretArns(
  scope: Construct,
  list: readonly ProviderResources[],
  options: { readonly secretPrefix: string; readonly exact: boolean },
): SecretArn[] {
  return list.map(({ config, credentialsResourceArn }) => {
    // An existing secret's ARN is counted whole: longer than its name, never shorter.
    if (config.credentialsSecretArn !== undefined)
      return { arn: credentialsResourceArn, name: credentialsResourceArn };
    return {
      arn: options.exact
        ? credentialsResourceArn
        : providerSecretArnPattern(scope, options.secretPrefix, config.name, 'credentials'),
      name: credentialsSecretName(options.secretPrefix, config.name),
    };
  });
}

/**
 * The most characters one statement's secret ARNs take once resolved, counted at their longest
 * (`arn:aws-us-gov:secretsmanager:ap-southeast-2:<account>:secret:` and the name): CDK moves whole
 * statements into managed policies (6,144 characters each) when a role's policy outgrows the inline
 * limit, so no statement may be larger than that.
 */
export const MAX_STATEMENT_ARN_CHARS = 3000;

/** The longest an ARN of this secret name can be once resolved, with its quotes and comma. */
function resolvedArnChars(secretName: string): number {
  return (
    'arn:aws-us-gov:secretsmanager:ap-southeast-2:123456789012:secret:'.length + secretName.length + 7 + 3
  );
}

/**
 * `arns` in statements of at most {@link MAX_STATEMENT_ARN_CHARS} resolved characters: `sid`, then
 * `sid2`, `sid3`... (CDK does not merge statements that have a Sid, so the split stays).
 */
export function secretStatements(
  sid: string,
  arns: readonly SecretArn[],
  props: {
    readonly actions: readonly string[];
    readonly conditions?: Record<string, Record<string, unknown>>;
  },
): iam.PolicyStatement[] {
  const chunks: string[][] = [];
  let chars = Number.POSITIVE_INFINITY;
  for (const { arn, name } of arns) {
    const size = resolvedArnChars(name);
    if (chars + size > MAX_STATEMENT_ARN_CHARS) {
      chunks.push([]);
      chars = 0;
    }
    chunks[chunks.length - 1]?.push(arn);
    chars += size;
  }
  return chunks.map(
    (resources, index) =>
      new iam.PolicyStatement({
        sid: index === 0 ? sid : `${sid}${index + 1}`,
        actions: [...props.actions],
        resources,
        ...(props.conditions === undefined ? {} : { conditions: props.conditions }),
      }),
  );
}

/** The condition that limits `kms:Decrypt` to Secrets Manager calls in this stack's region. */
export function viaSecretsManager(scope: Construct): Record<string, Record<string, unknown>> {
  return { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(scope).region}.amazonaws.com` } };
}

/** Whether `grantee` is of another account or region than `scope` (a stack of another environment). */
export function isOtherEnvironment(scope: Construct, grantee: iam.IGrantable): boolean {
  const here = Stack.of(scope);
  const differs = (value: string | undefined, other: string) =>
    value !== undefined && Token.compareStrings(value, other) === TokenComparison.DIFFERENT;
  if (differs(grantee.grantPrincipal.principalAccount, here.account)) return true;
  if (!Construct.isConstruct(grantee)) return false;
  const there = Stack.of(grantee);
  return differs(there.account, here.account) || differs(there.region, here.region);
}

export interface TokenReadGrantProps {
  readonly grantee: iam.IGrantable;
  readonly secret: secretsmanager.ISecret;
  /** The secret's name pattern `<prefix>/<provider>/token-??????` in this stack's account and region. */
  readonly secretArnPattern: string;
  readonly encryptionKey: kms.IKey;
}

/**
 * `secretsmanager:GetSecretValue` on one token secret and `kms:Decrypt` on its key through Secrets
 * Manager only (the key also encrypts the table, the topic and the queue). For a grantee of this
 * environment the grantee's policy names the secret and the key. For a grantee of another account
 * or region (issue 15, finding 7) nothing may refer to a resource of this stack, and the key's policy
 * must not name the key itself (it did, and CloudFormation saw a circular dependency):
 * - the grantee's policy names the secret by its name pattern and the key as `key/*` of this account,
 *   limited to Secrets Manager decrypting this secret (`kms:EncryptionContext:SecretARN`);
 * - the secret's resource policy and the key policy grant the grantee (its role needs a physical
 *   name, as CDK requires of any cross-environment reference), each on `*`, that is themselves.
 */
export function grantReadToken(scope: Construct, props: TokenReadGrantProps): iam.Grant {
  const { grantee, secret, encryptionKey } = props;
  const other = isOtherEnvironment(scope, grantee);
  const grant = iam.Grant.addToPrincipalOrResource({
    grantee,
    actions: ['secretsmanager:GetSecretValue'],
    resourceArns: [other ? props.secretArnPattern : secret.secretArn],
    resourceSelfArns: ['*'],
    resource: secret,
  });
  const keyArns = other
    ? [Stack.of(scope).formatArn({ service: 'kms', resource: 'key', resourceName: '*' })]
    : [encryptionKey.keyArn];
  iam.Grant.addToPrincipalOrResource({
    grantee,
    actions: ['kms:Decrypt'],
    resourceArns: keyArns,
    resourceSelfArns: ['*'],
    resource: encryptionKey,
    conditions: other
      ? {
          ...viaSecretsManager(scope),
          StringLike: { 'kms:EncryptionContext:SecretARN': props.secretArnPattern },
        }
      : viaSecretsManager(scope),
  });
  return grant;
}
