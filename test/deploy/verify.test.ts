/**
 * The rehearsal's comparison and intrinsic resolution on plain values (no emulator): what they accept
 * as equal, and that what they cannot resolve fails with its name instead of passing unchecked.
 */
import { describe, expect, it } from 'vitest';
import { type DeployedStack, resolveIntrinsics } from './intrinsics.js';
import { difference } from './verify.js';

const stack: DeployedStack = {
  account: '123456789012',
  region: 'us-east-1',
  stackName: 'S',
  stackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/S/1',
  template: {
    Resources: {
      Queue: { Type: 'AWS::SQS::Queue' },
      Fn: { Type: 'AWS::Lambda::Function' },
      Vpc: { Type: 'AWS::EC2::VPC' },
    },
  },
  physical: {
    Queue: 'http://127.0.0.1:5000/123456789012/S-Queue-1',
    Fn: 'S-Fn-1',
    Vpc: 'vpc-1',
  },
};

/** `${name}` as Fn::Sub writes it. */
const placeholder = (name: string) => ['$', '{', name, '}'].join('');

describe('resolveIntrinsics', () => {
  it('resolves Ref, Fn::GetAtt, Fn::Join and Fn::Sub from the physical ids', () => {
    // Act
    const resolved = resolveIntrinsics(
      {
        url: { Ref: 'Queue' },
        arn: { 'Fn::GetAtt': ['Queue', 'Arn'] },
        joined: { 'Fn::Join': [':', [{ Ref: 'AWS::Region' }, { 'Fn::GetAtt': ['Fn', 'Arn'] }]] },
        sub: { 'Fn::Sub': `cdk-${placeholder('AWS::AccountId')}-${placeholder('Fn.Arn')}` },
        subWithVariables: {
          'Fn::Sub': [`${placeholder('Name')}/${placeholder('AWS::StackName')}`, { Name: { Ref: 'Fn' } }],
        },
      },
      stack,
    );

    // Assess
    expect(resolved).toMatchObject({
      url: 'http://127.0.0.1:5000/123456789012/S-Queue-1',
      arn: 'arn:aws:sqs:us-east-1:123456789012:S-Queue-1',
      joined: 'us-east-1:arn:aws:lambda:us-east-1:123456789012:function:S-Fn-1',
      sub: 'cdk-123456789012-arn:aws:lambda:us-east-1:123456789012:function:S-Fn-1',
      subWithVariables: 'S-Fn-1/S',
    });
  });

  it('fails naming what it cannot resolve: a function, an attribute, a resource', () => {
    expect(() => resolveIntrinsics({ 'Fn::ImportValue': 'x' }, stack)).toThrow(
      'Fn::ImportValue: the rehearsal cannot resolve this intrinsic function',
    );
    expect(() => resolveIntrinsics({ 'Fn::GetAtt': ['Vpc', 'CidrBlock'] }, stack)).toThrow(
      'the rehearsal cannot resolve AWS::EC2::VPC.CidrBlock',
    );
    expect(() => resolveIntrinsics({ Ref: 'Missing' }, stack)).toThrow('Ref Missing: no such resource');
  });
});

describe('difference', () => {
  it('takes a number and its text, a JSON string and its object, and extra keys on the deployed side as equal', () => {
    const counted = { resources: 0, stateless: 0, properties: 0, values: 0 };

    expect(difference(1209600, '1209600', 'P', counted)).toBeUndefined();
    expect(
      difference({ Statement: [{ Effect: 'Deny' }] }, '{"Statement":[{"Effect":"Deny"}]}', 'P', counted),
    ).toBe(undefined);
    expect(difference({ LogGroup: 'g' }, { LogGroup: 'g', LogFormat: 'Text' }, 'P', counted)).toBeUndefined();
    expect(counted.values).toBe(3);
  });

  it('names the path of the first difference, and a value the deployed resource lacks', () => {
    const counted = { resources: 0, stateless: 0, properties: 0, values: 0 };

    expect(difference({ A: [1, 2] }, { A: [1, 3] }, 'P', counted)).toBe(
      'P.A[1]: the template says 2, the deployed resource has 3',
    );
    expect(difference(['x'], [], 'P', counted)).toBe(
      'P: the template says ["x"], the deployed resource has []',
    );
    expect(difference('x', undefined, 'P', counted)).toBe(
      'P: the template says "x", the deployed resource has nothing',
    );
  });
});
