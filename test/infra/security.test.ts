/**
 * Issue 15, the infrastructure findings: each `describe` names its finding, and each test failed
 * before its fix (docs/security.md, "Threats", points at these tests).
 */
import { App, aws_iam as iam, type aws_lambda as lambda, Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/config.js';
import { TokenRefresherStack } from '../../infra/stack.js';
import { TokenRefresher } from '../../infra/token-refresher.js';
import { iamMatch, isAllowed, type PolicyDocument, resolveValue } from './iam-evaluation.js';
import { build, PROVIDERS } from './support.js';

const ACCOUNT = '123456789012';

describe('Finding 10: consumer ARNs the read function cannot use', () => {
  it('fails synth on a consumer ARN with a trailing "/", naming the provider, the field and the fix', () => {
    // Prepare
    const providers = [
      { ...PROVIDERS[0], consumers: [`arn:aws:iam::${ACCOUNT}:role/x/`] },
    ] as typeof PROVIDERS;

    // Act
    const failure = (() => {
      try {
        build({ providers });
      } catch (error) {
        return error;
      }
      return undefined;
    })();

    // Assess
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).problems).toEqual([
      'providers[0] (github).consumers[0]: must be an IAM role ARN (arn:aws:iam::<account>:role/[<path>/]<name>): ' +
        'it ends with "/", so it names no role: remove the trailing "/" (the role\'s name comes last)',
    ]);
  });

  it('refuses grantReadViaFunction to an imported role whose literal ARN the read function cannot use', () => {
    // Prepare
    const { stack } = build();
    const role = iam.Role.fromRoleArn(stack, 'Bad', `arn:aws:iam::${ACCOUNT}:role/team//consumer`);

    // Act / Assess
    expect(() => stack.refresher.grantReadViaFunction(role, 'github')).toThrow(
      /grantReadViaFunction\("github"\): the grantee's role ARN "arn:aws:iam::123456789012:role\/team\/\/consumer" must be an IAM role ARN .*empty path segment/,
    );
  });
});

describe('Finding 9: the scheduler role', () => {
  const { stack, template } = build();
  const resources = template.toJSON().Resources as Record<
    string,
    { Type: string; Properties: Record<string, unknown> }
  >;
  const roleId = stack.getLogicalId(stack.refresher.schedulerRole.node.defaultChild as iam.CfnRole);

  it("trusts EventBridge Scheduler only for this account's schedules of the construct's own group", () => {
    // Prepare: the group's name as the template creates it.
    const [group] = Object.values(resources).filter((r) => r.Type === 'AWS::Scheduler::ScheduleGroup');
    const trust = resources[roleId]?.Properties.AssumeRolePolicyDocument as {
      Statement: { Condition: Record<string, Record<string, unknown>> }[];
    };

    // Act
    const [statement] = trust.Statement;
    const sourceArn = JSON.stringify(statement?.Condition.ArnEquals?.['aws:SourceArn']);

    // Assess
    expect(trust.Statement).toHaveLength(1);
    expect(statement?.Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    expect(sourceArn).toContain(`:schedule-group/${group?.Properties.Name as string}"`);
    expect(sourceArn).toContain('":scheduler:"');
  });

  it('may use the key only through SQS (the dead-letter queue)', () => {
    // Act
    const policy = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: roleId }]),
    );
    const document = policy?.Properties.PolicyDocument as
      | { Statement: Record<string, unknown>[] }
      | undefined;
    const statements = document?.Statement ?? [];

    // Assess
    const kms = statements.filter((s) => JSON.stringify(s.Action).includes('kms:'));
    expect(kms).toEqual([
      expect.objectContaining({
        Condition: {
          StringEquals: {
            'kms:ViaService': { 'Fn::Join': ['', ['sqs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
          },
        },
      }),
    ]);
  });
});

describe('Finding 13: reserved concurrency', () => {
  /** `ReservedConcurrentExecutions` of the refresh and the read function. */
  function reservations(built: ReturnType<typeof build>): { refresh: unknown; read: unknown } {
    const { stack, template } = built;
    const resources = template.toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>;
    const of = (fn: lambda.IFunction) =>
      resources[stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)]?.Properties
        .ReservedConcurrentExecutions;
    return { refresh: of(stack.refresher.refreshFunction), read: of(stack.refresher.readFunction) };
  }

  it('reserves 20 for the refresh function and 10 for the read function by default', () => {
    expect(reservations(build())).toEqual({ refresh: 20, read: 10 });
  });

  it('takes the values given, and none with reservedConcurrency: false', () => {
    expect(reservations(build({ refresher: { reservedConcurrency: { refresh: 50, read: 5 } } }))).toEqual({
      refresh: 50,
      read: 5,
    });
    expect(reservations(build({ refresher: { reservedConcurrency: { read: 3 } } }))).toEqual({
      refresh: 20,
      read: 3,
    });
    expect(reservations(build({ refresher: { reservedConcurrency: false } }))).toEqual({
      refresh: undefined,
      read: undefined,
    });
  });

  it('fails synth when the read function could take every refresh slot, or a value is not a count', () => {
    // Act
    const problems = (reservedConcurrency: { refresh?: number; read?: number }) => {
      try {
        build({ refresher: { reservedConcurrency } });
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    };

    // Assess
    expect(problems({ refresh: 10, read: 10 })).toEqual([
      expect.stringMatching(
        /^reservedConcurrency\.refresh: is 10, not more than reservedConcurrency\.read \(10\); .* make refresh greater than read/,
      ),
    ]);
    expect(problems({ read: 25 })).toEqual([
      expect.stringMatching(/^reservedConcurrency\.refresh: is 20, not more/),
    ]);
    expect(problems({ refresh: 0, read: 1.5 })).toEqual([
      expect.stringMatching(/^reservedConcurrency\.refresh: is 0; it must be a whole number of at least 1/),
      expect.stringMatching(/^reservedConcurrency\.read: is 1.5; it must be a whole number of at least 1/),
    ]);
  });
});

/** The tests' account and region, and a secret's ARN there with a suffix. */
const REGION = 'eu-west-1';
const secretArn = (name: string, suffix = 'AbC123') =>
  `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-${suffix}`;

/** A template's resources, resolved: secrets' `Ref` become their ARN (suffix `AbC123`). */
function resolvedResources(built: ReturnType<typeof build>): Record<string, TemplateResource> {
  const resources = built.template.toJSON().Resources as Record<string, TemplateResource>;
  const refs: Record<string, string> = {};
  const attributes: Record<string, string> = {};
  for (const [id, resource] of Object.entries(resources)) {
    if (resource.Type === 'AWS::SecretsManager::Secret')
      refs[id] = secretArn(String(resource.Properties.Name));
    if (resource.Type === 'AWS::IAM::Role') {
      refs[id] = id;
      attributes[`${id}.Arn`] = `arn:aws:iam::${ACCOUNT}:role/${id}`;
    }
    if (resource.Type === 'AWS::KMS::Key') {
      refs[id] = id;
      attributes[`${id}.Arn`] = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
    }
    if (resource.Type === 'AWS::IAM::ManagedPolicy') refs[id] = `arn:aws:iam::${ACCOUNT}:policy/${id}`;
    if (resource.Type === 'AWS::Lambda::Function') {
      refs[id] = id;
      attributes[`${id}.Arn`] = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${id}`;
    }
  }
  const context = { account: ACCOUNT, region: REGION, refs, attributes };
  return Object.fromEntries(
    Object.entries(resources).map(([id, resource]) => [
      id,
      { ...resource, Properties: resolveValue(resource.Properties, context) },
    ]),
  ) as Record<string, TemplateResource>;
}

interface TemplateResource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DependsOn?: unknown;
}

/** The identity policies (inline and managed) attached to a role, with the role's ARN. */
function identityOf(
  resources: Record<string, TemplateResource>,
  roleId: string,
): { principalArn: string; identity: PolicyDocument[] } {
  const attached = (roles: unknown) => Array.isArray(roles) && roles.includes(roleId);
  const identity = Object.values(resources)
    .filter(
      (r) =>
        (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') &&
        attached(r.Properties.Roles),
    )
    .map((r) => r.Properties.PolicyDocument as PolicyDocument);
  return { principalArn: `arn:aws:iam::${ACCOUNT}:role/${roleId}`, identity };
}

describe('Finding 8: secret ARN patterns above 20 providers', () => {
  // Prepare: 23 providers whose names are prefixes of one another, or name a kind of secret; one
  // rotating grant; one existing credentials secret named like a token secret under the prefix.
  const names = ['a', 'a-b', 'ab', 'token', 'credentials', 'a-token', 'b-credentials', 'api', 'api-v2'];
  const providers = [
    ...[...names, ...Array.from({ length: 13 }, (_, index) => `p${index}`)].map((name) => ({
      name,
      grant: 'client_credentials' as const,
      tokenUrl: 'https://auth.example.com/token',
    })),
    { name: 'rotating', grant: 'refresh_token' as const, tokenUrl: 'https://auth.example.com/token' },
    {
      name: 'legacy',
      grant: 'client_credentials' as const,
      tokenUrl: 'https://auth.example.com/token',
      credentialsSecretArn: secretArn('prod/tokens/shared/token'),
    },
  ];
  const built = build({ providers, secretPrefix: 'prod/tokens' });
  const resources = resolvedResources(built);
  const { stack } = built;
  const roleId = (role: iam.IRole | undefined) => stack.getLogicalId(role?.node.defaultChild as iam.CfnRole);
  const ownNames = providers.filter((p) => !('credentialsSecretArn' in p)).map((p) => p.name);
  const tokens = providers.map((p) => secretArn(`prod/tokens/${p.name}/token`));
  const credentials = [
    ...ownNames.map((name) => secretArn(`prod/tokens/${name}/credentials`)),
    secretArn('prod/tokens/shared/token'),
  ];
  // Secrets of nobody here: another deployment under a longer prefix, deeper names under the prefix.
  const foreign = [
    secretArn('prod/tokens/team/a/credentials'),
    secretArn('prod/tokens/team/a/token'),
    secretArn('prod/tokens/a/credentials/token'),
    secretArn('prod/tokens/a/token/credentials'),
    secretArn('prod/tokens-b/a/token'),
  ];
  const universe = [...tokens, ...credentials, ...foreign];
  /** The secrets the role's identity policies allow `action` on. */
  const allowed = (role: iam.IRole | undefined, action: string) => {
    const { principalArn, identity } = identityOf(resources, roleId(role));
    return universe.filter((resource) =>
      isAllowed({ principalArn, action, resource }, { identity, resourceAccount: ACCOUNT }),
    );
  };

  it('lets the read function read exactly the token secrets, no credentials and nothing deeper', () => {
    expect(allowed(stack.refresher.readFunction.role, 'secretsmanager:GetSecretValue')).toEqual(tokens);
  });

  it('lets the refresh function write exactly the token secrets and the rotating grant credentials', () => {
    const role = stack.refresher.refreshFunction.role;
    expect(allowed(role, 'secretsmanager:GetSecretValue')).toEqual([...tokens, ...credentials]);
    expect(allowed(role, 'secretsmanager:PutSecretValue')).toEqual([
      ...tokens,
      secretArn('prod/tokens/rotating/credentials'),
    ]);
    expect(allowed(role, 'secretsmanager:UpdateSecretVersionStage')).toEqual(
      allowed(role, 'secretsmanager:PutSecretValue'),
    );
  });

  it('matches no credentials secret with any statement on token secrets', () => {
    // Act
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
      .flatMap((r) => (r.Properties.PolicyDocument as PolicyDocument).Statement)
      .filter((statement) => /^(Read)?TokenSecrets\d*$/.test(statement.Sid ?? ''));
    const patterns = statements.flatMap((statement) =>
      typeof statement.Resource === 'string' ? [statement.Resource] : [...(statement.Resource ?? [])],
    );

    // Assess
    expect(patterns.length).toBe(2 * providers.length);
    expect(
      patterns.filter((pattern) => [...credentials, ...foreign].some((arn) => iamMatch(pattern, arn))),
    ).toEqual([]);
  });
});

/** The logical id a `Ref` or `Fn::GetAtt` object names, if it is one. */
function referenceOf(object: Record<string, unknown>): string | undefined {
  if (typeof object.Ref === 'string') return object.Ref;
  const getAtt = object['Fn::GetAtt'];
  return Array.isArray(getAtt) && typeof getAtt[0] === 'string' ? getAtt[0] : undefined;
}

/** The logical ids of a template that take part in a cycle of `Ref`, `Fn::GetAtt`, `Fn::Sub` and `DependsOn`. */
function cycles(resources: Record<string, { DependsOn?: unknown; Properties?: unknown }>): string[] {
  const edges = new Map<string, Set<string>>();
  const visit = (value: unknown, into: Set<string>): void => {
    if (value === null || typeof value !== 'object') return;
    const target = referenceOf(value as Record<string, unknown>);
    if (target !== undefined) into.add(target);
    for (const item of Object.values(value)) visit(item, into);
  };
  for (const [id, resource] of Object.entries(resources)) {
    const into = new Set<string>();
    visit(resource.Properties, into);
    for (const dependency of [resource.DependsOn ?? []].flat()) into.add(String(dependency));
    edges.set(id, new Set([...into].filter((target) => target in resources)));
  }
  const state = new Map<string, 'open' | 'done'>();
  const found = new Set<string>();
  const walk = (id: string, path: string[]) => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'open') {
      for (const member of path.slice(path.indexOf(id))) found.add(member);
      return;
    }
    state.set(id, 'open');
    for (const next of edges.get(id) ?? []) walk(next, [...path, id]);
    state.set(id, 'done');
  };
  for (const id of edges.keys()) walk(id, []);
  return [...found];
}

describe('Finding 7: grantRead to a grantee in another account', () => {
  // Prepare: the refresher in account 111111111111, a consumer role in 222222222222.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const owner = new TokenRefresherStack(app, 'Owner', {
    env: { account: '111111111111', region: REGION },
    config: { providers: [...PROVIDERS] },
  });
  const consumerStack = new Stack(app, 'Consumer', { env: { account: '222222222222', region: REGION } });
  const consumer = new iam.Role(consumerStack, 'Consumer', {
    roleName: 'token-consumer',
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
  });

  // Act
  owner.refresher.grantRead(consumer, 'github');
  const assembly = app.synth();
  const ownerResources = assembly.getStackByName('Owner').template.Resources as Record<
    string,
    TemplateResource
  >;
  const consumerResources = assembly.getStackByName('Consumer').template.Resources as Record<
    string,
    TemplateResource
  >;

  it('synthesizes both stacks without a circular dependency, and the consumer refers to nothing of the owner', () => {
    expect(cycles(ownerResources)).toEqual([]);
    expect(cycles(consumerResources)).toEqual([]);
    expect(JSON.stringify(consumerResources)).not.toMatch(/Fn::ImportValue|Fn::GetStackOutput/);
    expect(Object.values(ownerResources).map((r) => r.Type)).not.toContain(
      'Custom::CrossAccountExportsWriter',
    );
  });

  it('lets the consumer read that token secret and decrypt it through Secrets Manager, nothing more', () => {
    // Prepare: the owner's policies, resolved in its account.
    const resolve = (value: unknown, account: string) =>
      resolveValue(value, {
        account,
        region: REGION,
        refs: Object.fromEntries(
          Object.entries(ownerResources)
            .filter(([, r]) => r.Type === 'AWS::SecretsManager::Secret')
            .map(([id, r]) => [
              id,
              `arn:aws:secretsmanager:${REGION}:111111111111:secret:${r.Properties.Name}-AbC123`,
            ]),
        ),
      });
    const of = (type: string, match: (r: TemplateResource) => boolean = () => true) =>
      Object.values(ownerResources).filter((r) => r.Type === type && match(r));
    const github = 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:token-refresher/github/token-AbC123';
    const salesforce =
      'arn:aws:secretsmanager:eu-west-1:111111111111:secret:token-refresher/salesforce/token-AbC123';
    const [secretPolicy] = of('AWS::SecretsManager::ResourcePolicy', (r) =>
      JSON.stringify(r.Properties).includes('token-consumer'),
    );
    const [key] = of('AWS::KMS::Key');
    const identity = Object.values(consumerResources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .map((r) => resolve(r.Properties.PolicyDocument, '222222222222') as PolicyDocument);
    const principalArn = 'arn:aws:iam::222222222222:role/token-consumer';
    const read = (resource: string) =>
      isAllowed(
        { principalArn, action: 'secretsmanager:GetSecretValue', resource },
        {
          identity,
          resource: resolve(secretPolicy?.Properties.ResourcePolicy, '111111111111') as PolicyDocument,
          resourceAccount: '111111111111',
        },
      );
    const decrypt = (secretArn: string, viaService: string) =>
      isAllowed(
        {
          principalArn,
          action: 'kms:Decrypt',
          resource: 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab',
          context: { 'kms:ViaService': viaService, 'kms:EncryptionContext:SecretARN': secretArn },
        },
        {
          identity,
          resource: resolve(key?.Properties.KeyPolicy, '111111111111') as PolicyDocument,
          resourceAccount: '111111111111',
          isKeyPolicy: true,
        },
      );

    // Assess
    expect(read(github)).toBe(true);
    expect(read(salesforce)).toBe(false);
    expect(decrypt(github, 'secretsmanager.eu-west-1.amazonaws.com')).toBe(true);
    expect(decrypt(salesforce, 'secretsmanager.eu-west-1.amazonaws.com')).toBe(false);
    expect(decrypt(github, 'dynamodb.eu-west-1.amazonaws.com')).toBe(false);
  });
});

describe('Finding 2: the credentials secrets are fenced', () => {
  // Prepare: the default providers (github and salesforce get credentials secrets of the construct's,
  // billing names an existing one) and one break-glass role.
  const breakGlass = `arn:aws:iam::${ACCOUNT}:role/ops/break-glass`;
  const built = build({ refresher: { breakGlassPrincipals: [breakGlass] } });
  const { stack } = built;
  const resources = resolvedResources(built);
  const idOf = (construct: { node: { defaultChild?: unknown } }) =>
    stack.getLogicalId(construct.node.defaultChild as iam.CfnRole);
  const refresher = stack.refresher;
  const keyId = idOf(refresher.credentialsEncryptionKey as unknown as { node: { defaultChild?: unknown } });
  const keyArn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyId}`;
  const sharedKeyArn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/${idOf(refresher.encryptionKey as unknown as { node: { defaultChild?: unknown } })}`;
  const credentials = (name: string) => secretArn(`token-refresher/${name}/credentials`);
  const roleArn = (role: iam.IRole | undefined) => `arn:aws:iam::${ACCOUNT}:role/${idOf(role as iam.Role)}`;
  const refreshRole = roleArn(refresher.refreshFunction.role);
  const readRole = roleArn(refresher.readFunction.role);
  const resourcePolicyOf = (secretArnValue: string): PolicyDocument | undefined =>
    Object.values(resources).find(
      (r) => r.Type === 'AWS::SecretsManager::ResourcePolicy' && r.Properties.SecretId === secretArnValue,
    )?.Properties.ResourcePolicy as PolicyDocument | undefined;
  const keyPolicy = resources[keyId]?.Properties.KeyPolicy as PolicyDocument;
  const everything: PolicyDocument = {
    Statement: [{ Effect: 'Allow', Action: ['secretsmanager:*', 'kms:*'], Resource: '*' }],
  };
  /** A request against a credentials secret, then against its key as Secrets Manager makes it. */
  const canRead = (principalArn: string, identity: PolicyDocument[], name: string, fenced = true) => {
    const secret = credentials(name);
    const read = isAllowed(
      { principalArn, action: 'secretsmanager:GetSecretValue', resource: secret },
      { identity, ...(fenced ? { resource: resourcePolicyOf(secret) } : {}), resourceAccount: ACCOUNT },
    );
    const decrypt = isAllowed(
      {
        principalArn,
        action: 'kms:Decrypt',
        resource: keyArn,
        context: {
          'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
          'kms:EncryptionContext:SecretARN': secret,
        },
      },
      { identity, resource: keyPolicy, resourceAccount: ACCOUNT, isKeyPolicy: true },
    );
    return { read, decrypt };
  };

  it('encrypts the credentials secrets with their own key, and the token secrets with the shared one', () => {
    const keyOf = (name: string) =>
      Object.values(resources).find(
        (r) => r.Type === 'AWS::SecretsManager::Secret' && r.Properties.Name === name,
      )?.Properties.KmsKeyId;
    expect(keyOf('token-refresher/github/credentials')).toBe(keyArn);
    expect(keyOf('token-refresher/salesforce/credentials')).toBe(keyArn);
    expect(keyOf('token-refresher/github/token')).toBe(sharedKeyArn);
    expect(resources[keyId]).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: { EnableKeyRotation: true },
    });
  });

  it('gives each credentials secret the construct creates a resource policy that denies reading it to all but the refresh role and break-glass', () => {
    for (const name of ['github', 'salesforce']) {
      expect(resourcePolicyOf(credentials(name))?.Statement).toEqual([
        {
          Sid: 'OnlyTheRefreshFunctionAndBreakGlassRead',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: [
            'secretsmanager:GetSecretValue',
            'secretsmanager:UpdateSecretVersionStage',
            'secretsmanager:ReplicateSecretToRegions',
          ],
          Resource: '*',
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': [refreshRole, breakGlass] } },
        },
      ]);
    }
    // An existing secret's policy is its owner's: the construct does not replace it.
    const policies = Object.values(resources).filter((r) => r.Type === 'AWS::SecretsManager::ResourcePolicy');
    expect(policies).toHaveLength(2);
  });

  it('keeps a consumer with secretsmanager:* and kms:* on * out, even after it deletes the resource policy', () => {
    const consumer = `arn:aws:iam::${ACCOUNT}:role/greedy-consumer`;
    expect(canRead(consumer, [everything], 'github')).toEqual({ read: false, decrypt: false });
    // Each lock holds alone: without the resource policy the key still refuses to decrypt.
    expect(canRead(consumer, [everything], 'github', false)).toEqual({ read: true, decrypt: false });
  });

  it("keeps the read function out, whose role may decrypt the token secrets' key", () => {
    const { identity } = identityOf(resources, idOf(refresher.readFunction.role as iam.Role));
    expect(canRead(readRole, identity, 'salesforce')).toEqual({ read: false, decrypt: false });
  });

  it('lets the refresh function and the break-glass principal (with IAM rights of its own) read them', () => {
    const { identity } = identityOf(resources, idOf(refresher.refreshFunction.role as iam.Role));
    expect(canRead(refreshRole, identity, 'salesforce')).toEqual({ read: true, decrypt: true });
    expect(canRead(breakGlass, [everything], 'github')).toEqual({ read: true, decrypt: true });
  });

  it('does not lock CloudFormation or the account out: an administrator manages, re-keys and fills them, but cannot read them', () => {
    // Prepare: an administrator (the CloudFormation execution role of `cdk bootstrap`, or a person).
    const admin = `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-${ACCOUNT}-${REGION}`;
    const secret = credentials('github');
    const onSecret = (action: string) =>
      isAllowed(
        { principalArn: admin, action, resource: secret },
        { identity: [everything], resource: resourcePolicyOf(secret), resourceAccount: ACCOUNT },
      );
    const onKey = (action: string, context: Record<string, string> = {}) =>
      isAllowed(
        { principalArn: admin, action, resource: keyArn, context },
        { identity: [everything], resource: keyPolicy, resourceAccount: ACCOUNT, isKeyPolicy: true },
      );
    const viaSecretsManager = { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` };

    // Assess
    for (const action of [
      'secretsmanager:CreateSecret',
      'secretsmanager:DescribeSecret',
      'secretsmanager:UpdateSecret',
      'secretsmanager:PutSecretValue',
      'secretsmanager:TagResource',
      'secretsmanager:PutResourcePolicy',
      'secretsmanager:DeleteResourcePolicy',
      'secretsmanager:DeleteSecret',
    ]) {
      expect([action, onSecret(action)]).toEqual([action, true]);
    }
    for (const action of [
      'kms:PutKeyPolicy',
      'kms:DescribeKey',
      'kms:EnableKeyRotation',
      'kms:ScheduleKeyDeletion',
    ]) {
      expect([action, onKey(action)]).toEqual([action, true]);
    }
    expect(onKey('kms:GenerateDataKey', viaSecretsManager)).toBe(true);
    expect(onSecret('secretsmanager:GetSecretValue')).toBe(false);
    expect(onKey('kms:Decrypt', viaSecretsManager)).toBe(false);
    expect(onKey('kms:GenerateDataKey')).toBe(false);
    expect(onKey('kms:CreateGrant')).toBe(false);
    expect(onKey('kms:ReEncryptFrom', viaSecretsManager)).toBe(false);
  });

  it('refuses a break-glass entry that is not an IAM role or user ARN, naming the entry and the fix', () => {
    expect(() =>
      build({ refresher: { breakGlassPrincipals: [breakGlass, `arn:aws:iam::${ACCOUNT}:role/ops/`] } }),
    ).toThrow(/breakGlassPrincipals\[1\]: must be an IAM role or user ARN .*remove the trailing "\/"/);
  });
});

describe('Finding 2: break-glass principals given as references', () => {
  it('accepts a role of the app as a break-glass principal, and lets it through both locks', () => {
    // Prepare: a role of the same stack, named by its (unresolved) ARN.
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'WithRole');
    const incident = new iam.Role(stack, 'Incident', { assumedBy: new iam.AccountRootPrincipal() });

    // Act
    new TokenRefresher(stack, 'Tokens', { providers: PROVIDERS, breakGlassPrincipals: [incident.roleArn] });
    const text = JSON.stringify(app.synth().getStackByName('WithRole').template.Resources);

    // Assess: the role's ARN reference stands in the secrets' and the key's conditions.
    const reference = JSON.stringify({
      'Fn::GetAtt': [stack.getLogicalId(incident.node.defaultChild as iam.CfnRole), 'Arn'],
    });
    expect(text.split(reference).length - 1).toBe(3); // 2 credentials secrets' policies, 1 key policy
  });
});
