/**
 * How the IAM statements name the secrets (each ARN, or a prefix pattern for many providers) and
 * the key (decrypt through Secrets Manager only), shared by the refresh role, the read role and
 * `grantRead`.
 */
import { aws_iam as iam, type aws_kms as kms, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { secretArnPattern } from './naming.js';
import type { ProviderResources } from './provider-resources.js';

/**
 * Up to this many providers the refresh role names every secret ARN; above it, the statements use
 * the `<prefix>/*` pattern: a role's inline policies may hold 10,240 characters, and each full
 * secret ARN takes about 95 of them once resolved (two secrets per provider).
 */
export const MAX_EXACT_SECRET_ARNS_PROVIDERS = 20;

/** Whether the statements of this many providers name each secret ARN (else the prefix patterns). */
export function namesEachSecret(providerCount: number): boolean {
  return providerCount <= MAX_EXACT_SECRET_ARNS_PROVIDERS;
}

/**
 * The token secrets' ARNs for IAM statements: each one up to
 * {@link MAX_EXACT_SECRET_ARNS_PROVIDERS} providers, else `<prefix>/*\/token-??????` (which no
 * credentials secret `<prefix>/<name>/credentials-??????` matches).
 */
export function tokenSecretArns(
  scope: Construct,
  providers: readonly ProviderResources[],
  secretPrefix: string,
): string[] {
  if (namesEachSecret(providers.length)) return providers.map((provider) => provider.tokenSecret.secretArn);
  return [secretArnPattern(scope, secretPrefix, 'token')];
}

/**
 * The credentials secrets' ARNs of `list` for IAM statements: the secrets the construct created,
 * each one (`exact`) or as `<prefix>/*\/credentials-??????`; then the existing secrets of
 * `credentialsSecretArn`, each one.
 */
export function credentialsSecretArns(
  scope: Construct,
  list: readonly ProviderResources[],
  options: { readonly secretPrefix: string; readonly exact: boolean },
): string[] {
  const own = list.filter((provider) => provider.config.credentialsSecretArn === undefined);
  const others = list.filter((provider) => provider.config.credentialsSecretArn !== undefined);
  return [
    ...(options.exact || own.length === 0
      ? own.map((provider) => provider.credentialsResourceArn)
      : [secretArnPattern(scope, options.secretPrefix, 'credentials')]),
    ...others.map((provider) => provider.credentialsResourceArn),
  ];
}

/** The condition that limits `kms:Decrypt` to Secrets Manager calls in this stack's region. */
export function viaSecretsManager(scope: Construct): Record<string, Record<string, unknown>> {
  return { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(scope).region}.amazonaws.com` } };
}

/**
 * `kms:Decrypt` on the key, only when Secrets Manager calls KMS on the grantee's behalf: the key also
 * encrypts the table, the topic and the queue, which a token reader has no business decrypting.
 */
export function grantDecryptViaSecretsManager(
  scope: Construct,
  encryptionKey: kms.IKey,
  grantee: iam.IGrantable,
): iam.Grant {
  return iam.Grant.addToPrincipalOrResource({
    grantee,
    actions: ['kms:Decrypt'],
    resourceArns: [encryptionKey.keyArn],
    resource: encryptionKey,
    conditions: viaSecretsManager(scope),
  });
}
