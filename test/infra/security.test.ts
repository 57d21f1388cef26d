/**
 * Issue 15, the infrastructure findings: each `describe` names its finding, and each test failed
 * before its fix (docs/security.md, "Threats", points at these tests).
 */
import { aws_iam as iam, type aws_lambda as lambda } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/config.js';
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
