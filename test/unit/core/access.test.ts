import { describe, expect, it } from 'vitest';
import { AccessPolicy, parseCallerArn } from '../../../functions/core/access.js';

const ROLE_A = 'arn:aws:iam::123456789012:role/consumer-a';
const ROLE_PATHED = 'arn:aws:iam::123456789012:role/service/team/Consumer-P';

describe('Function: parseCallerArn', () => {
  it.each([
    ['arn:aws:sts::123456789012:assumed-role/consumer-a/session-1', 'aws:123456789012:role/consumer-a'],
    ['arn:aws:iam::123456789012:role/consumer-a', 'aws:123456789012:role/consumer-a'],
    ['arn:aws:iam::123456789012:role/service/team/Consumer-P', 'aws:123456789012:role/consumer-p'],
    ['arn:aws:sts::123456789012:assumed-role/Consumer-P/i-0abc', 'aws:123456789012:role/consumer-p'],
    ['arn:aws-us-gov:sts::123456789012:assumed-role/r/s1', 'aws-us-gov:123456789012:role/r'],
    ['arn:aws-cn:sts::123456789012:assumed-role/r/s1', 'aws-cn:123456789012:role/r'],
  ])('reduces %s to its role', (arn, key) => {
    expect(parseCallerArn(arn)).toEqual({ kind: 'role', key });
  });

  it.each([
    'arn:aws:iam::123456789012:user/alice',
    'arn:aws:iam::123456789012:root',
    'arn:aws:sts::123456789012:federated-user/bob',
  ])('recognises the non-role principal %s', (arn) => {
    expect(parseCallerArn(arn)).toEqual({ kind: 'other' });
  });

  it.each([
    '',
    'not-an-arn',
    'arn:aws:sts::12345:assumed-role/r/s',
    'arn:aws:sts::123456789012:assumed-role/r',
    'arn:aws:s3:::bucket',
    'arn:aws:iam::123456789012:role/',
    'arn:aws:sts::123456789012:assumed-role/consumer-a/session-1/extra',
    ' arn:aws:iam::123456789012:role/consumer-a',
  ])('calls %j malformed', (arn) => {
    expect(parseCallerArn(arn)).toEqual({ kind: 'malformed' });
  });
});

describe('Class: AccessPolicy', () => {
  const policy = new AccessPolicy(
    new Map([
      ['alpha', [ROLE_A]],
      ['beta', [ROLE_PATHED]],
      ['gamma', []],
    ]),
  );

  it.each([
    [
      'allowed (assumed role)',
      'arn:aws:sts::123456789012:assumed-role/consumer-a/s1',
      'alpha',
      true,
      undefined,
    ],
    [
      'allowed (role path dropped)',
      'arn:aws:sts::123456789012:assumed-role/consumer-p/s1',
      'beta',
      true,
      undefined,
    ],
    [
      'other provider',
      'arn:aws:sts::123456789012:assumed-role/consumer-a/s1',
      'beta',
      false,
      'not_a_consumer',
    ],
    [
      'unknown provider',
      'arn:aws:sts::123456789012:assumed-role/consumer-a/s1',
      'delta',
      false,
      'not_a_consumer',
    ],
    [
      'provider without consumers',
      'arn:aws:sts::123456789012:assumed-role/consumer-a/s1',
      'gamma',
      false,
      'not_a_consumer',
    ],
    [
      'same role name, other account',
      'arn:aws:sts::210987654321:assumed-role/consumer-a/s1',
      'alpha',
      false,
      'not_a_consumer',
    ],
    ['no identity', undefined, 'alpha', false, 'missing_identity'],
    ['malformed ARN', 'arn:aws:sts::1:assumed-role', 'alpha', false, 'invalid_identity'],
    ['IAM user', 'arn:aws:iam::123456789012:user/consumer-a', 'alpha', false, 'not_a_role'],
  ])('%s', (_case, arn, provider, allowed, reason) => {
    const decision = policy.decide(arn, provider);
    expect(decision.allowed).toBe(allowed);
    if (!decision.allowed) expect(decision.reason).toBe(reason);
  });

  it('refuses to build from a consumer that is not a role ARN, naming it', () => {
    expect(() => new AccessPolicy(new Map([['alpha', ['arn:aws:iam::123456789012:user/x']]]))).toThrow(
      'Consumer "arn:aws:iam::123456789012:user/x" of provider "alpha" is not an IAM role ARN',
    );
  });
});
