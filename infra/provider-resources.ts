/**
 * The resources of one provider, under the construct `Provider-<name>` (an index-free id: renaming or
 * reordering other providers must not replace these): the token secret (none with
 * `tokenStore: "dynamodb"`: the token is an item of the token table, `token-table.ts`), the
 * credentials secret (none when the configuration names an existing one), the recurring schedule and
 * the staleness alarm.
 */
import {
  type aws_cloudwatch as cloudwatch,
  Duration,
  type aws_iam as iam,
  type aws_kms as kms,
  type aws_lambda as lambda,
  type RemovalPolicy,
  SecretValue,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  aws_secretsmanager as secretsmanager,
  type aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { ProviderConfig } from '../functions/core/config.js';
import {
  credentialsSecretName,
  PLACEHOLDER_SECRET_STRING,
  SECRET_ARN_SUFFIX_PATTERN,
  tokenSecretName,
} from '../functions/core/names.js';
import { buildStaleAlarm } from './alarms.js';
import { type CredentialsFenceProps, fenceCredentialsSecret } from './credentials-protection.js';

/** What the construct keeps of each provider. */
export interface ProviderResources {
  readonly config: ProviderConfig;
  /** `undefined` when the token is in the DynamoDB token table. */
  readonly tokenSecret: secretsmanager.ISecret | undefined;
  readonly credentialsSecret: secretsmanager.ISecret;
  /** The ARN (or ARN pattern) the IAM statements use for the credentials secret. */
  readonly credentialsResourceArn: string;
  readonly schedule: scheduler.Schedule;
  readonly staleAlarm: cloudwatch.Alarm;
}

export interface ProviderResourcesProps {
  /** The provider's position in the configuration (named in the schedule's description only). */
  readonly index: number;
  readonly config: ProviderConfig;
  readonly secretPrefix: string;
  readonly encryptionKey: kms.IKey;
  /** Encrypts the credentials secret the construct creates (issue 15, finding 2). */
  readonly credentialsKey: kms.IKey | undefined;
  /** Who may read the credentials secret the construct creates; nobody else can. */
  readonly credentialsFence: CredentialsFenceProps;
  readonly removalPolicy: RemovalPolicy;
  readonly scheduleGroup: scheduler.IScheduleGroup;
  readonly scheduleTimeWindow: Duration;
  readonly refreshFunction: lambda.IFunction;
  readonly schedulerRole: iam.IRole;
  readonly deadLetterQueue: sqs.IQueue;
  /** `undefined`: half the provider's effective `refreshBefore`. */
  readonly staleThreshold: number | undefined;
}

/** The resources of one provider, under `Provider-<name>` in `scope`. */
export function buildProviderResources(scope: Construct, props: ProviderResourcesProps): ProviderResources {
  const { config } = props;
  const providerScope = new Construct(scope, `Provider-${config.name}`);
  const tokenSecret = config.tokenStore === 'dynamodb' ? undefined : buildTokenSecret(providerScope, props);
  const { credentialsSecret, credentialsResourceArn } = buildCredentialsSecret(providerScope, props);
  const schedule = buildSchedule(providerScope, props);
  const staleAlarm = buildStaleAlarm(providerScope, {
    config,
    staleThreshold: props.staleThreshold,
    scheduleTimeWindow: props.scheduleTimeWindow,
  });
  return { config, tokenSecret, credentialsSecret, credentialsResourceArn, schedule, staleAlarm };
}

/** `TokenSecret`: what consumers read, holding the placeholder until the first refresh. */
function buildTokenSecret(scope: Construct, props: ProviderResourcesProps): secretsmanager.Secret {
  const { config } = props;
  return new secretsmanager.Secret(scope, 'TokenSecret', {
    secretName: tokenSecretName(props.secretPrefix, config.name),
    description:
      `Access token of provider "${config.name}", written by the token-refresher function; consumers read ` +
      `it (JSON: provider, accessToken, tokenType, expiresAt, issuedAt, generation). ` +
      `${PLACEHOLDER_SECRET_STRING} until the first refresh. Do not edit.`,
    encryptionKey: props.encryptionKey,
    secretStringValue: SecretValue.unsafePlainText(PLACEHOLDER_SECRET_STRING),
    removalPolicy: props.removalPolicy,
  });
}

/** `CredentialsSecret`: created with the placeholder, or imported from `credentialsSecretArn`. */
function buildCredentialsSecret(
  scope: Construct,
  props: ProviderResourcesProps,
): { credentialsSecret: secretsmanager.ISecret; credentialsResourceArn: string } {
  const { config } = props;
  const existing = config.credentialsSecretArn;
  if (existing === undefined) {
    const credentialsSecret = new secretsmanager.Secret(scope, 'CredentialsSecret', {
      secretName: credentialsSecretName(props.secretPrefix, config.name),
      description: credentialsDescription(config),
      secretStringValue: SecretValue.unsafePlainText(PLACEHOLDER_SECRET_STRING),
      removalPolicy: props.removalPolicy,
    });
    // Its own key, set on the resource and not through `encryptionKey`: with that prop CDK's Secret
    // adds key policy statements that let every IAM principal of the account decrypt through Secrets
    // Manager (and create grants), which would open the fence (credentials-protection.ts). An
    // existing secret is re-keyed in place: Secrets Manager re-encrypts its AWSCURRENT, AWSPENDING and
    // AWSPREVIOUS versions; older versions stay readable with the first key, which stays.
    (credentialsSecret.node.defaultChild as secretsmanager.CfnSecret).kmsKeyId = (
      props.credentialsKey ?? props.encryptionKey
    ).keyArn;
    fenceCredentialsSecret(credentialsSecret, props.credentialsFence);
    return { credentialsSecret, credentialsResourceArn: credentialsSecret.secretArn };
  }
  // A complete ARN ends with the 6-character suffix Secrets Manager adds; a partial one needs the
  // `-??????` pattern in IAM.
  if (/-[A-Za-z0-9]{6}$/.test(existing)) {
    return {
      credentialsSecret: secretsmanager.Secret.fromSecretCompleteArn(scope, 'CredentialsSecret', existing),
      credentialsResourceArn: existing,
    };
  }
  return {
    credentialsSecret: secretsmanager.Secret.fromSecretPartialArn(scope, 'CredentialsSecret', existing),
    credentialsResourceArn: `${existing}${SECRET_ARN_SUFFIX_PATTERN}`,
  };
}

/** `Schedule`: the safety-net run, with retries and the dead-letter queue. */
function buildSchedule(scope: Construct, props: ProviderResourcesProps): scheduler.Schedule {
  const { config } = props;
  const schedule = new scheduler.Schedule(scope, 'Schedule', {
    description: `Safety-net refresh of provider "${config.name}" (config index ${props.index})`,
    scheduleGroup: props.scheduleGroup,
    schedule: scheduler.ScheduleExpression.expression(config.schedule),
    timeWindow: scheduler.TimeWindow.flexible(props.scheduleTimeWindow),
    target: new schedulerTargets.LambdaInvoke(props.refreshFunction, {
      role: props.schedulerRole,
      input: scheduler.ScheduleTargetInput.fromObject({ provider: config.name }),
      deadLetterQueue: props.deadLetterQueue,
      // An event older than an hour is worthless: the next run is due long before.
      maxEventAge: Duration.hours(1),
      retryAttempts: 3,
    }),
  });
  // The group is named by a literal string (IAM and nag name it too), which gives CloudFormation no
  // reference to order by: without this, a first deploy may create the schedule before its group.
  schedule.node.addDependency(props.scheduleGroup);
  return schedule;
}

/** The JSON a grant's credentials secret must hold, for the secret's description. */
function credentialsShape(config: ProviderConfig): string {
  switch (config.grant) {
    case 'client_credentials':
      return config.clientAuth === 'private_key_jwt'
        ? '{"clientId":"...","privateKey":"<PEM or JWK>","kid":"..."} (kid optional)'
        : '{"clientId":"...","clientSecret":"..."}';
    case 'refresh_token':
      return (
        `{"clientId":"...",${config.clientAuth === 'private_key_jwt' ? '"privateKey":"<PEM or JWK>"' : '"clientSecret":"..."'},"refreshToken":"..."} (clientSecret optional for public ` +
        'clients; the refresher writes rotated refresh tokens back here)'
      );
    case 'jwt_bearer':
      return config.preset === 'google_service_account'
        ? "the service account's JSON key file as it is"
        : '{"privateKey":"<PEM or JWK>","kid":"...","clientId":"..."} (kid and clientId optional)';
    case 'github_app':
      return '{"privateKey":"<the app\'s PEM private key>"}';
    case 'http': {
      const fields = new Set<string>();
      const text = JSON.stringify(config.request);
      for (const match of text.matchAll(/\{\{\s*credentials\.([\w-]+)\s*\}\}/g)) {
        if (match[1] !== undefined) fields.add(match[1]);
      }
      return fields.size === 0
        ? '{"<field>":"..."} (any string fields; this provider uses no {{credentials.<field>}} placeholder)'
        : `{${[...fields].map((field) => `"${field}":"..."`).join(',')}}`;
    }
  }
}

/** The credentials secret's description: who reads it, and what to put in it, with which command. */
function credentialsDescription(config: ProviderConfig): string {
  return (
    `Client credentials of provider "${config.name}" (grant ${config.grant}), read by the token-refresher ` +
    `function only. Holds ${PLACEHOLDER_SECRET_STRING} until you put the JSON ${credentialsShape(config)} with ` +
    '"aws secretsmanager put-secret-value --secret-id <this secret> --secret-string file://creds.json".'
  );
}
