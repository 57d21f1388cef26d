/**
 * The DynamoDB token store's table in the template (issue 16, item 1): created only when a provider
 * has `tokenStore: "dynamodb"`, KMS-encrypted with the construct's key, named, and reached only by
 * partition key: the refresh role reads and writes the DynamoDB providers' items, the read role reads
 * them, and `grantRead` gives a consumer its one provider's item.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, aws_iam as iam, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { ProviderConfigInput } from '../../functions/core/config.js';
import { ENV } from '../../functions/core/env.js';
import { TokenRefresher } from '../../infra/token-refresher.js';
import { build, logicalIds, PROVIDERS } from './support.js';

const SHORT: ProviderConfigInput = {
  name: 'keycloak',
  grant: 'client_credentials',
  tokenUrl: 'https://sso.example.com/realms/x/protocol/openid-connect/token',
  expectedLifetime: '5m',
  tokenStore: 'dynamodb',
};
const MINUTE_TOKENS: ProviderConfigInput = { ...SHORT, name: 'pager', expectedLifetime: 60 };

const VIA_DYNAMODB = {
  StringEquals: {
    'kms:ViaService': { 'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
  },
};

const LEADING_KEYS = (providers: string[]) => ({
  'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': providers },
});

/** Every statement of every policy attached to `role`, resolved. */
function statementsOf(built: ReturnType<typeof build>, role: iam.IRole): Record<string, unknown>[] {
  const roleId = built.stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
  return Object.values(built.template.findResources('AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Record<string, unknown>[]);
}

describe('Token table (tokenStore "dynamodb")', () => {
  const built = build({ providers: [...PROVIDERS, SHORT, MINUTE_TOKENS] });
  const { refresher } = built.stack;
  const tableId = () => built.stack.getLogicalId(refresher.tokenTable?.node.defaultChild as never);

  it('is one KMS-encrypted, on-demand table with point-in-time recovery, keyed by provider, named after the construct', () => {
    // Assess
    built.template.resourceCountIs('AWS::DynamoDB::Table', 2);
    built.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        TableName: 'TokenRefresher-9A593E78-tokens',
        KeySchema: [{ AttributeName: 'provider', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: {
          SSEEnabled: true,
          SSEType: 'KMS',
          KMSMasterKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^RefresherKey'), 'Arn'] },
        },
      },
    });
    expect(tableId()).toMatch(/^RefresherTokenTable/);
  });

  it('creates no token secret for the providers whose token is in the table', () => {
    // Assess
    const names = Object.values(built.template.findResources('AWS::SecretsManager::Secret')).map(
      (secret) => secret.Properties.Name as string,
    );
    expect(names.filter((name) => name.endsWith('/token')).sort()).toEqual([
      'token-refresher/billing/token',
      'token-refresher/github/token',
      'token-refresher/salesforce/token',
    ]);
    expect(names).toContain('token-refresher/keycloak/credentials');
    expect(() => refresher.tokenSecret('keycloak')).toThrow(/keeps its token in tokenTable/);
  });

  it("gives both functions the table's name (TOKEN_TABLE_NAME)", () => {
    // Assess
    for (const fn of [refresher.refreshFunction, refresher.readFunction]) {
      const id = built.stack.getLogicalId(fn.node.defaultChild as never);
      const variables = built.template.toJSON().Resources[id].Properties.Environment.Variables;
      // A reference: the functions are updated after the table exists.
      expect(variables[ENV.tokenTableName]).toEqual({ Ref: tableId() });
    }
  });

  it("lets the refresh role get and put the DynamoDB providers' items only, the read role get them only", () => {
    // Act
    const refresh = statementsOf(built, refresher.refreshFunction.role as iam.IRole);
    const read = statementsOf(built, refresher.readFunction.role as iam.IRole);

    // Assess
    const onTable = (statements: Record<string, unknown>[]) =>
      statements.filter((statement) => JSON.stringify(statement.Resource).includes(tableId()));
    expect(onTable(refresh)).toEqual([
      {
        Sid: 'TokenTable',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        Resource: { 'Fn::GetAtt': [tableId(), 'Arn'] },
        Condition: LEADING_KEYS(['keycloak', 'pager']),
      },
    ]);
    expect(onTable(read)).toEqual([
      {
        Sid: 'ReadTokenTable',
        Effect: 'Allow',
        Action: 'dynamodb:GetItem',
        Resource: { 'Fn::GetAtt': [tableId(), 'Arn'] },
        Condition: LEADING_KEYS(['keycloak', 'pager']),
      },
    ]);
    expect(read).toContainEqual(
      expect.objectContaining({
        Sid: 'DecryptViaDynamoDb',
        Action: 'kms:Decrypt',
        Condition: VIA_DYNAMODB,
      }),
    );
  });

  it("grantRead gives a consumer GetItem on its provider's item only, and decryption through DynamoDB only", () => {
    // Prepare: a fresh stack (the shared one is synthesised already).
    const fresh = build({ providers: [...PROVIDERS, SHORT, MINUTE_TOKENS] });
    const consumer = new iam.Role(fresh.stack, 'Consumer', { assumedBy: new iam.AccountRootPrincipal() });
    const { refresher: tokens } = fresh.stack;

    // Act
    tokens.grantRead(consumer, 'keycloak');

    // Assess
    const table = fresh.stack.getLogicalId(tokens.tokenTable?.node.defaultChild as never);
    const key = fresh.stack.getLogicalId(tokens.encryptionKey.node.defaultChild as never);
    expect(statementsOf(fresh, consumer)).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:GetItem',
        Resource: { 'Fn::GetAtt': [table, 'Arn'] },
        Condition: LEADING_KEYS(['keycloak']),
      },
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: { 'Fn::GetAtt': [key, 'Arn'] },
        Condition: VIA_DYNAMODB,
      },
    ]);
  });

  it('refuses grantRead of a DynamoDB provider to a consumer of another account', () => {
    // Prepare
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Tokens', { env: { account: '111111111111', region: 'eu-west-1' } });
    const tokens = new TokenRefresher(stack, 'Refresher', { providers: [SHORT] });
    const other = new Stack(app, 'Other', { env: { account: '222222222222', region: 'eu-west-1' } });
    const consumer = new iam.Role(other, 'Consumer', {
      assumedBy: new iam.AccountRootPrincipal(),
      roleName: 'consumer',
    });

    // Act / Assess
    expect(() => tokens.grantRead(consumer, 'keycloak')).toThrow(/grantReadViaFunction/);
  });

  it('is not created when every provider keeps its token in Secrets Manager', () => {
    // Act
    const { stack, template } = build();

    // Assess
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    expect(stack.refresher.tokenTable).toBeUndefined();
    expect(logicalIds(template, 'AWS::DynamoDB::Table')).toEqual([
      expect.stringMatching(/^RefresherStateTable/),
    ]);
  });

  it('is the fix cdk synth names for 60 s tokens in Secrets Manager, and synth accepts them in DynamoDB', () => {
    // Prepare
    const inSecret = { ...MINUTE_TOKENS, tokenStore: 'secrets-manager' as const };
    const synth = (provider: ProviderConfigInput) => () =>
      new TokenRefresher(new Stack(new App()), 'Tokens', { providers: [provider] });

    // Assess
    expect(synth(inSecret)).toThrow(
      /providers\[0\] \(pager\): tokens would be written every 30 s .*Fix: set tokenStore: "dynamodb"/,
    );
    expect(synth(MINUTE_TOKENS)).not.toThrow();
  });

  it('passes the cdk-nag AwsSolutions pack with no unacknowledged finding', () => {
    // Prepare
    const { app } = build({ providers: [...PROVIDERS, SHORT], nag: true });

    // Act
    const assembly = app.synth();

    // Assess
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: { violations?: unknown[] }[];
    };
    expect(report.pluginReports.flatMap((plugin) => plugin.violations ?? [])).toEqual([]);
  });
});
