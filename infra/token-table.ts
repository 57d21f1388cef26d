/**
 * The DynamoDB token store's table (issue 16): created only when a provider has
 * `tokenStore: "dynamodb"`, built with the construct as its scope (logical ID `TokenTable`, pinned in
 * test/infra/logical-ids.test.ts) and an explicit name derived from the construct's path
 * (`<unique name>-tokens`), so that consumers and IAM statements can name it. One item per provider,
 * keyed by its name (functions/aws/dynamodb-token-store.ts); on-demand, point-in-time recovery,
 * encrypted with the construct's key.
 *
 * Access is by partition key: every statement on the table is limited with `dynamodb:LeadingKeys` to
 * the providers it concerns, so a consumer granted one provider reads no other provider's item.
 */
import {
  aws_dynamodb as dynamodb,
  aws_iam as iam,
  type aws_kms as kms,
  type aws_lambda as lambda,
  type RemovalPolicy,
  Stack,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ProviderConfig } from '../functions/core/config.js';
import { ENV } from '../functions/core/env.js';
import { TOKEN_TABLE_NAME, TOKEN_TABLE_PARTITION_KEY } from '../functions/core/names.js';
import { derivedName } from './naming.js';
import { isOtherEnvironment } from './secret-access.js';

/** The token table's name: `<the construct's unique name>-tokens`. */
export function tokenTableName(scope: Construct): string {
  return derivedName(scope, TOKEN_TABLE_NAME);
}

/** The providers whose token is in the token table. */
export function dynamodbProviders(
  providers: readonly Pick<ProviderConfig, 'name' | 'tokenStore'>[],
): string[] {
  return providers.filter((provider) => provider.tokenStore === 'dynamodb').map((provider) => provider.name);
}

/** `dynamodb:LeadingKeys` limited to `providers`: GetItem and PutItem then reach those items only. */
function leadingKeys(providers: readonly string[]): Record<string, Record<string, unknown>> {
  return { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [...providers] } };
}

/** The condition that limits a key statement to DynamoDB calls in this stack's region. */
function viaDynamoDb(scope: Construct): Record<string, Record<string, unknown>> {
  return { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(scope).region}.amazonaws.com` } };
}

export interface TokenTableProps {
  readonly providers: readonly ProviderConfig[];
  readonly encryptionKey: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  readonly refreshFunction: lambda.Function;
  readonly refreshRole: iam.IRole;
  readonly readFunction: lambda.Function;
  readonly readRole: iam.IRole;
}

/**
 * `TokenTable`, when a provider uses it: the table, `TOKEN_TABLE_NAME` in both functions'
 * environment, and their statements. The refresh role reads and writes (one conditional `PutItem`)
 * the DynamoDB providers' items, and decrypts and encrypts with its key statement (the state table's);
 * the read role only reads them, and decrypts through DynamoDB only. No Query, Scan or delete.
 * @returns the table, or `undefined` when every provider keeps its token in Secrets Manager.
 */
export function buildTokenTable(scope: Construct, props: TokenTableProps): dynamodb.Table | undefined {
  const providers = dynamodbProviders(props.providers);
  if (providers.length === 0) return undefined;
  const table = new dynamodb.Table(scope, 'TokenTable', {
    tableName: tokenTableName(scope),
    partitionKey: { name: TOKEN_TABLE_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
    encryptionKey: props.encryptionKey,
    removalPolicy: props.removalPolicy,
  });
  for (const fn of [props.refreshFunction, props.readFunction]) {
    fn.addEnvironment(ENV.tokenTableName, table.tableName);
  }
  props.refreshRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'TokenTable',
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
      resources: [table.tableArn],
      conditions: leadingKeys(providers),
    }),
  );
  props.readRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'ReadTokenTable',
      actions: ['dynamodb:GetItem'],
      resources: [table.tableArn],
      conditions: leadingKeys(providers),
    }),
  );
  props.readRole.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'DecryptViaDynamoDb',
      actions: ['kms:Decrypt'],
      resources: [props.encryptionKey.keyArn],
      conditions: viaDynamoDb(scope),
    }),
  );
  return table;
}

export interface TokenItemReadGrantProps {
  readonly grantee: iam.IGrantable;
  readonly table: dynamodb.ITable;
  readonly provider: string;
  readonly encryptionKey: kms.IKey;
}

/**
 * `dynamodb:GetItem` on the token table limited to `provider`'s item (`dynamodb:LeadingKeys`), and
 * `kms:Decrypt` on its key through DynamoDB only. For a grantee of this account and region.
 * @throws Error for a grantee of another account or region (use the read function).
 */
export function grantReadTokenItem(scope: Construct, props: TokenItemReadGrantProps): iam.Grant {
  const { grantee, table, provider, encryptionKey } = props;
  if (isOtherEnvironment(scope, grantee)) {
    throw new Error(
      `${scope.node.path}: grantRead("${provider}"): the provider's token is in the DynamoDB token table ` +
        '(tokenStore "dynamodb"), which grantRead opens to this account and region only; give a consumer ' +
        'elsewhere grantReadViaFunction (or list its role in the provider\'s "consumers")',
    );
  }
  const grant = iam.Grant.addToPrincipal({
    grantee,
    actions: ['dynamodb:GetItem'],
    resourceArns: [table.tableArn],
    conditions: leadingKeys([provider]),
  });
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['kms:Decrypt'],
    resourceArns: [encryptionKey.keyArn],
    conditions: viaDynamoDb(scope),
  });
  return grant;
}
