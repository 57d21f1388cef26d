/**
 * The credentials-change rule (infra/credentials-change.ts): its event pattern, its target and the
 * permission that lets it invoke the refresh function, the refresh role's DescribeSecret, the stable
 * logical ID, and the pattern's length bound.
 */
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EVENT_PATTERN_MAX_LENGTH } from '../../infra/credentials-change.js';
import { build, logicalIds, PROVIDERS } from './support.js';

const { stack, template } = build({ secretPrefix: 'prod/tokens' });
const refresher = stack.refresher;
const ref = (value: unknown) => stack.resolve(value);
const EXISTING_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shared/billing-AbC123';

type Pattern = {
  detail: {
    requestParameters: { secretId: unknown[] };
    userIdentity: { arn: unknown[] };
  };
} & Record<string, unknown>;

function ruleOf(built: { template: { findResources(type: string): Record<string, unknown> } }) {
  const rules = Object.entries(built.template.findResources('AWS::Events::Rule')) as [
    string,
    { Properties: { EventPattern: Pattern; Targets: unknown[]; EventBusName?: unknown } },
  ][];
  expect(rules).toHaveLength(1);
  const [id, rule] = rules[0] ?? ['', { Properties: {} as never }];
  return { id, ...rule.Properties };
}

/** A template value as CloudFormation resolves it, with each reference at its longest. */
function resolveLongest(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(resolveLongest);
  if (value === null || typeof value !== 'object') return value;
  const node = value as Record<string, unknown>;
  if ('Ref' in node) {
    const pseudo: Record<string, string> = {
      'AWS::Partition': 'aws-iso-b',
      'AWS::Region': 'ap-southeast-5',
      'AWS::AccountId': '123456789012',
    };
    return pseudo[String(node.Ref)] ?? 'r'.repeat(64); // a role name has at most 64 characters
  }
  if ('Fn::Join' in node) {
    const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map(resolveLongest).join(separator);
  }
  return Object.fromEntries(Object.entries(node).map(([key, item]) => [key, resolveLongest(item)]));
}

describe('Construct: CredentialsChangeRule', () => {
  const rule = ruleOf({ template });

  it('has a logical ID derived from the construct path alone', () => {
    expect(rule.id).toMatch(/^RefresherCredentialsChangeRule[0-9A-F]{8}$/);
    expect(logicalIds(template, 'AWS::Events::Rule')).toEqual([rule.id]);
  });

  it("listens on the account's default bus to successful PutSecretValue and UpdateSecret calls", () => {
    expect(rule.EventBusName).toBeUndefined();
    expect(rule.EventPattern).toMatchObject({
      source: ['aws.secretsmanager'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['secretsmanager.amazonaws.com'],
        eventName: ['PutSecretValue', 'UpdateSecret'],
        errorCode: [{ exists: false }],
      },
    });
  });

  it('matches the credentials secrets by name and ARN, the created ones by prefix, the existing one exactly', () => {
    expect(rule.EventPattern.detail.requestParameters.secretId).toEqual([
      { prefix: 'prod/tokens/' },
      {
        prefix: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':secretsmanager:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':secret:prod/tokens/',
            ],
          ],
        },
      },
      'shared/billing',
      { prefix: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shared/billing' },
    ]);
    expect(PROVIDERS[2]?.credentialsSecretArn).toBe(EXISTING_ARN);
  });

  it("leaves out the refresh function's own writes (its role's sessions)", () => {
    expect(rule.EventPattern.detail.userIdentity.arn).toEqual([
      {
        'anything-but': {
          prefix: {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':sts::',
                { Ref: 'AWS::AccountId' },
                ':assumed-role/',
                ref(refresher.refreshFunction.role?.roleName),
                '/',
              ],
            ],
          },
        },
      },
    ]);
  });

  it('invokes the refresh function with the event as it is, retried for an hour at most', () => {
    expect(rule.Targets).toEqual([
      {
        Arn: ref(refresher.refreshFunction.functionArn),
        Id: 'Target0',
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
      },
    ]);
  });

  it('is allowed to invoke the refresh function, and only from this rule', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: ref(refresher.refreshFunction.functionArn),
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [rule.id, 'Arn'] },
    });
    template.resourceCountIs('AWS::Lambda::Permission', 1);
  });

  it('lets the refresh role describe the credentials secrets (their version ids), and no other secret', () => {
    const statements = template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [ref(refresher.refreshFunction.role?.roleName)] },
    });
    const describing = Object.values(statements).flatMap((policy) =>
      (
        policy as { Properties: { PolicyDocument: { Statement: { Sid?: string; Action: unknown }[] } } }
      ).Properties.PolicyDocument.Statement.filter((statement) =>
        JSON.stringify(statement.Action).includes('secretsmanager:DescribeSecret'),
      ),
    );
    expect(describing.map((statement) => statement.Sid)).toEqual(['ReadCredentials']);
    expect(describing[0]).toMatchObject({
      Resource: [
        ref(refresher.credentialsSecret('github').secretArn),
        ref(refresher.credentialsSecret('salesforce').secretArn),
        EXISTING_ARN,
      ],
    });
  });

  it(`fits EventBridge's ${EVENT_PATTERN_MAX_LENGTH}-character pattern`, () => {
    expect(JSON.stringify(resolveLongest(rule.EventPattern)).length).toBeLessThan(
      EVENT_PATTERN_MAX_LENGTH / 2,
    );
  });

  it('names only existing secrets when the construct creates none', () => {
    const existingOnly = build({
      providers: [{ ...PROVIDERS[2], name: 'billing' } as (typeof PROVIDERS)[number]],
    });
    expect(ruleOf(existingOnly).EventPattern.detail.requestParameters.secretId).toEqual([
      'shared/billing',
      { prefix: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shared/billing' },
    ]);
  });

  it(`keeps the pattern within ${EVENT_PATTERN_MAX_LENGTH} characters, warning about the existing secrets left to the scheduled check`, () => {
    // Prepare: 40 providers with existing secrets of long names.
    const providers = Array.from({ length: 40 }, (_, index) => ({
      name: `existing-${index}`,
      grant: 'client_credentials' as const,
      tokenUrl: 'https://auth.example.com/token',
      credentialsSecretArn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/${'x'.repeat(40)}-${index}`,
    }));

    // Act
    const built = build({ providers });
    const pattern = ruleOf(built).EventPattern;

    // Assess
    const length = JSON.stringify(resolveLongest(pattern)).length;
    const included = pattern.detail.requestParameters.secretId.length / 2;
    expect(length).toBeLessThanOrEqual(EVENT_PATTERN_MAX_LENGTH);
    expect(included).toBeGreaterThan(0);
    expect(included).toBeLessThan(40);
    Annotations.fromStack(built.stack).hasWarning(
      '*',
      Match.stringLikeRegexp(
        `${40 - included} of the credentials secrets given by credentialsSecretArn do not fit`,
      ),
    );
  });
});
