/**
 * The fence around the credentials secrets (issue 15, finding 2; docs/security.md, "Credentials"):
 * only the refresh function's role, and the break-glass principals the operator names, may read
 * them, whatever other principals' IAM policies say. Two locks, each enough on its own:
 *
 * 1. **A key of their own** (`CredentialsKey`), whose policy lets nobody decrypt but those
 *    principals, through Secrets Manager. The account's IAM policies keep the key's administration
 *    (so that CloudFormation and the account's administrators manage it: no lock-out) and may encrypt
 *    with it through Secrets Manager (the deploy creates the secrets, the operator puts the
 *    credentials), but `kms:Decrypt`, `kms:ReEncrypt*` and `kms:CreateGrant` are not delegated to
 *    them: a token reader's `kms:Decrypt` on `*` (or on the other key) opens nothing here.
 * 2. **A resource policy on each secret** that denies reading it (and moving its version labels, or
 *    replicating it under another key) to every principal but those. It denies the data actions only:
 *    CloudFormation, and whoever administers the account, still describe, update, tag, re-key and
 *    delete the secret and its policy, so a stack update or delete never locks itself out (a Deny of
 *    `secretsmanager:*` would). `PutSecretValue` stays with IAM: the operator fills in the credentials
 *    without being able to read them back.
 *
 * The principals are matched by `aws:PrincipalArn` (a role session's is its role's ARN), not by a
 * `Principal` element: a key policy or a resource policy that names a principal that does not exist
 * (yet, or any more) fails to deploy, and `NotPrincipal` with Deny would also have to list every
 * session of each role.
 */
import {
  aws_iam as iam,
  aws_kms as kms,
  type RemovalPolicy,
  Stack,
  type aws_secretsmanager as secretsmanager,
  Token,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { iamPrincipalArnProblem } from '../functions/core/iam-arn.js';
import type { PropsRule } from './validate-props.js';

/** What the secret's resource policy denies to everyone but the refresh role and break-glass principals. */
export const FENCED_SECRET_ACTIONS = [
  // Read the credentials.
  'secretsmanager:GetSecretValue',
  // Move AWSCURRENT back to a spent (rotated) refresh token: replaying it revokes the token family.
  'secretsmanager:UpdateSecretVersionStage',
  // A replica in another region, encrypted under a key of the caller's choosing.
  'secretsmanager:ReplicateSecretToRegions',
] as const;

/**
 * What the account's IAM policies may do with the credentials key: administer it (AWS's default key
 * policy, "Allows key administrators to administer the KMS key", without `kms:CreateGrant`, which
 * would let an administrator grant itself `kms:Decrypt`, and without the cryptographic operations).
 */
export const CREDENTIALS_KEY_ADMIN_ACTIONS = [
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:DeleteAlias',
  'kms:DescribeKey',
  'kms:DisableKey',
  'kms:DisableKeyRotation',
  'kms:EnableKey',
  'kms:EnableKeyRotation',
  'kms:GetKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListGrants',
  'kms:ListKeyPolicies',
  'kms:ListKeyRotations',
  'kms:ListResourceTags',
  'kms:PutKeyPolicy',
  'kms:RetireGrant',
  'kms:RevokeGrant',
  'kms:RotateKeyOnDemand',
  'kms:ScheduleKeyDeletion',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:UpdateAlias',
  'kms:UpdateKeyDescription',
] as const;

export interface CredentialsFenceProps {
  /** The refresh function's role: the one reader in normal operation. */
  readonly refreshRole: iam.IRole;
  /** IAM role or user ARNs that may read the credentials too (validated with the props). */
  readonly breakGlassPrincipals: readonly string[];
}

/** Who may read the credentials: the refresh role's ARN, then the break-glass principals'. */
function readers(props: CredentialsFenceProps): string[] {
  return [props.refreshRole.roleArn, ...props.breakGlassPrincipals];
}

/** The accounts the readers belong to: this stack's, then each break-glass principal's. */
function readerAccounts(scope: Construct, props: CredentialsFenceProps): iam.IPrincipal[] {
  const here = Stack.of(scope).account;
  // A principal given as a reference (a role of this app) is taken to be of this stack's account.
  const literal = props.breakGlassPrincipals.filter((arn) => !Token.isUnresolved(arn));
  const others = [...new Set(literal.map((arn) => arn.split(':')[4] ?? ''))].filter(
    (account) => account !== here,
  );
  return [new iam.AccountRootPrincipal(), ...others.map((account) => new iam.AccountPrincipal(account))];
}

/** `kms:ViaService` = Secrets Manager in this stack's region. */
function viaSecretsManager(scope: Construct): Record<string, string> {
  return { 'kms:ViaService': `secretsmanager.${Stack.of(scope).region}.amazonaws.com` };
}

/**
 * `CredentialsKey`: encrypts the credentials secrets the construct creates; yearly rotation. Its policy
 * (see the file's header): administration by the account, encryption through Secrets Manager by the
 * account, decryption through Secrets Manager by the readers only.
 */
export function buildCredentialsKey(
  scope: Construct,
  props: CredentialsFenceProps & { readonly removalPolicy: RemovalPolicy },
): kms.Key {
  const account = new iam.AccountRootPrincipal();
  const policy = new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid: 'KeyAdministrationByTheAccount',
        principals: [account],
        actions: [...CREDENTIALS_KEY_ADMIN_ACTIONS],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'EncryptThroughSecretsManager',
        principals: [account],
        actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: viaSecretsManager(scope) },
      }),
      new iam.PolicyStatement({
        sid: 'DecryptByTheRefreshFunctionAndBreakGlassOnly',
        principals: readerAccounts(scope, props),
        actions: ['kms:Decrypt'],
        resources: ['*'],
        conditions: {
          StringEquals: viaSecretsManager(scope),
          ArnEquals: { 'aws:PrincipalArn': readers(props) },
        },
      }),
    ],
  });
  return new kms.Key(scope, 'CredentialsKey', {
    description: `Encrypts the token-refresher credentials secrets; only its refresh function decrypts (${scope.node.path})`,
    enableKeyRotation: true,
    policy,
    removalPolicy: props.removalPolicy,
  });
}

/** The credentials secret's resource policy: {@link FENCED_SECRET_ACTIONS} denied to all but the readers. */
export function fenceCredentialsSecret(secret: secretsmanager.ISecret, props: CredentialsFenceProps): void {
  secret.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'OnlyTheRefreshFunctionAndBreakGlassRead',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: [...FENCED_SECRET_ACTIONS],
      resources: ['*'],
      conditions: { ArnNotEquals: { 'aws:PrincipalArn': readers(props) } },
    }),
  );
}

/** The most break-glass principals the props may list. */
export const MAX_BREAK_GLASS_PRINCIPALS = 10;

function breakGlassProblem(arn: string | undefined): string | undefined {
  // A reference (`role.roleArn` of a role in this app) is a role's ARN once deployed.
  if (arn === undefined || Token.isUnresolved(arn)) return undefined;
  return iamPrincipalArnProblem(arn, ['role', 'user']);
}

/**
 * The rules of `breakGlassPrincipals`: each an IAM role or user ARN in the grammar of
 * `functions/core/iam-arn.ts` (one rule per position, so that each problem names its entry), and at
 * most {@link MAX_BREAK_GLASS_PRINCIPALS} of them.
 */
export const BREAK_GLASS_RULES: readonly PropsRule[] = [
  ...Array.from(
    { length: MAX_BREAK_GLASS_PRINCIPALS },
    (_, index): PropsRule => ({
      condition: ({ breakGlassPrincipals = [] }) =>
        breakGlassProblem(breakGlassPrincipals[index]) !== undefined,
      message: ({ breakGlassPrincipals = [] }) =>
        `breakGlassPrincipals[${index}]: ${breakGlassProblem(breakGlassPrincipals[index])}`,
    }),
  ),
  {
    condition: ({ breakGlassPrincipals = [] }) => breakGlassPrincipals.length > MAX_BREAK_GLASS_PRINCIPALS,
    message: ({ breakGlassPrincipals = [] }) =>
      `breakGlassPrincipals: lists ${breakGlassPrincipals.length} principals; at most ${MAX_BREAK_GLASS_PRINCIPALS} ` +
      '(break-glass access is for a few incident roles: list a role that people assume)',
  },
];
