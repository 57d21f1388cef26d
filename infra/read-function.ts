/**
 * The read function (served path): its log group, role and Function URL (`AWS_IAM`), the role's
 * statements, and the check of its environment against Lambda's 4 KB at synth.
 */
import {
  Duration,
  aws_iam as iam,
  type aws_kms as kms,
  Lazy,
  aws_lambda as lambda,
  aws_logs as logs,
  type aws_lambda_nodejs as nodejs,
  RemovalPolicy,
  Stack,
  Token,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ENV } from '../functions/core/env.js';
import {
  bundledFunction,
  COMMON_ENVIRONMENT,
  type ConfigDelivery,
  environmentBytes,
  LAMBDA_ENVIRONMENT_LIMIT_BYTES,
  MAX_INLINE_CONFIG_BYTES,
  READ_ENTRY,
} from './bundling.js';
import type { ProviderResources } from './provider-resources.js';
import { secretStatements, tokenSecretArns, viaSecretsManager } from './secret-access.js';

/** The read function's timeout: it waits up to 20 s for an on-demand refresh (functions/core/read.ts). */
export const READ_TIMEOUT = Duration.seconds(30);

/**
 * What an unresolved role ARN in `EXTRA_CONSUMERS` is assumed to take once deployed: `arn:aws:iam::`,
 * the account, `:role/`, a generated name of up to 64 characters, and room for a path and quotes.
 */
const ESTIMATED_ROLE_ARN_BYTES = 128;

/** Role ARNs granted per provider in code (`grantReadViaFunction`), read when the stack synthesizes. */
export type ExtraConsumers = ReadonlyMap<string, readonly string[]>;

export interface ReadFunctionProps {
  readonly delivery: ConfigDelivery;
  readonly logRetention: logs.RetentionDays;
  /** The refresh function's name (the read function invokes it by name for on-demand refreshes). */
  readonly refreshFunctionName: string;
  /** Filled after the constructor too: the environment and its check read it at synth. */
  readonly extraConsumers: ExtraConsumers;
  /** Reserved concurrency; `undefined`: none. */
  readonly reservedConcurrency: number | undefined;
}

export interface ReadFunctionResources {
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;
  readonly function: nodejs.NodejsFunction;
  readonly url: lambda.FunctionUrl;
}

/** `ReadLogGroup`, `ReadRole`, `ReadFunction` and its `FunctionUrl`, with the environment check. */
export function buildReadFunction(scope: Construct, props: ReadFunctionProps): ReadFunctionResources {
  const logGroup = new logs.LogGroup(scope, 'ReadLogGroup', {
    retention: props.logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const role = new iam.Role(scope, 'ReadRole', {
    description: 'The token-refresher read function: reads the token secrets, invokes the refresh function',
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
  });
  const stack = Stack.of(scope);
  const environment = {
    [ENV.refreshFunctionName]: props.refreshFunctionName,
    // Filled by grantReadViaFunction, which may run after the constructor; role ARNs may be tokens
    // (Fn::GetAtt), hence toJsonString. `{}` when no role was granted in code.
    [ENV.extraConsumers]: Lazy.uncachedString({
      produce: () => stack.toJsonString(Object.fromEntries(props.extraConsumers)),
    }),
  };
  const fn = bundledFunction(scope, 'ReadFunction', props.delivery, {
    description:
      'Serves provider tokens to consumers: Function URL (AWS_IAM) GET /tokens/{provider}, ' +
      'POST /tokens/{provider}/refresh, or Invoke',
    entry: READ_ENTRY,
    // A cache hit is microseconds and a miss one GetSecretValue; 256 MB for TLS and the cold start.
    memorySize: 256,
    timeout: READ_TIMEOUT,
    role,
    logGroup,
    reservedConcurrentExecutions: props.reservedConcurrency,
    environment,
  });
  const url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  // The environment is known only at synth (grants made after the constructor): check it then.
  fn.node.addValidation({ validate: () => readEnvironmentProblems(props) });
  return { logGroup, role, function: fn, url };
}

export interface ServeGrantsProps {
  readonly providers: readonly ProviderResources[];
  readonly secretPrefix: string;
  readonly encryptionKey: kms.IKey;
  readonly refreshFunction: lambda.IFunction;
  readonly logGroup: logs.ILogGroup;
}

/**
 * The read role's statements: read the token secrets (never the credentials), decrypt them through
 * Secrets Manager, invoke the refresh function (on-demand refresh, RequestResponse), write its logs.
 * No table, no secret writes, no schedules.
 */
export function grantReadFunction(scope: Construct, role: iam.Role, props: ServeGrantsProps): void {
  const statements = [
    ...secretStatements('ReadTokenSecrets', tokenSecretArns(scope, props.providers, props.secretPrefix), {
      actions: ['secretsmanager:GetSecretValue'],
    }),
    new iam.PolicyStatement({
      sid: 'DecryptViaSecretsManager',
      actions: ['kms:Decrypt'],
      resources: [props.encryptionKey.keyArn],
      conditions: viaSecretsManager(scope),
    }),
    // The unqualified function only (no `:*` for versions and aliases): the read function invokes it
    // by name.
    new iam.PolicyStatement({
      sid: 'InvokeRefresh',
      actions: ['lambda:InvokeFunction'],
      resources: [props.refreshFunction.functionArn],
    }),
    new iam.PolicyStatement({
      sid: 'Logs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [props.logGroup.logGroupArn],
    }),
  ];
  for (const statement of statements) role.addToPrincipalPolicy(statement);
}

/**
 * The read function's environment against Lambda's 4 KB: the configuration moves into the bundle
 * above 3 KB, but the role ARNs of `grantReadViaFunction` stay in `EXTRA_CONSUMERS` (they are
 * known only at deploy time). Unresolved ARNs count as {@link ESTIMATED_ROLE_ARN_BYTES}.
 */
function readEnvironmentProblems(props: ReadFunctionProps): string[] {
  const extraConsumers = JSON.stringify(
    Object.fromEntries(
      [...props.extraConsumers].map(([provider, arns]) => [
        provider,
        arns.map((arn) => (Token.isUnresolved(arn) ? 'x'.repeat(ESTIMATED_ROLE_ARN_BYTES) : arn)),
      ]),
    ),
  );
  const environment = {
    ...props.delivery.environment,
    [ENV.refreshFunctionName]: props.refreshFunctionName,
    [ENV.extraConsumers]: extraConsumers,
    ...COMMON_ENVIRONMENT,
  };
  const bytes = environmentBytes(environment);
  if (bytes <= LAMBDA_ENVIRONMENT_LIMIT_BYTES) return [];
  const roles = [...props.extraConsumers.values()].reduce((count, arns) => count + arns.length, 0);
  return [
    `the read function's environment would take about ${bytes} bytes, over Lambda's ` +
      `${LAMBDA_ENVIRONMENT_LIMIT_BYTES}-byte limit: grantReadViaFunction added ${roles} role ARNs to ` +
      `${ENV.extraConsumers}. List those roles in the providers' "consumers" in the configuration ` +
      `instead (a configuration over ${MAX_INLINE_CONFIG_BYTES} bytes moves into the bundle).`,
  ];
}

/**
 * The ARN of an IAM role principal (a role, imported or not, or a Lambda function's execution role),
 * or `undefined` for any other principal. A literal ARN must be a role's.
 */
export function roleArnOf(principal: iam.IPrincipal): string | undefined {
  const roleArn = (principal as Partial<iam.IRole>).roleArn;
  if (typeof roleArn !== 'string' || typeof (principal as Partial<iam.IRole>).roleName !== 'string') {
    return undefined;
  }
  if (!Token.isUnresolved(roleArn) && !/^arn:[\w-]+:iam::\d{12}:role\//.test(roleArn)) return undefined;
  return roleArn;
}
