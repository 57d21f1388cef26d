/**
 * Issue 15, the infrastructure findings: each `describe` names its finding, and each test failed
 * before its fix (docs/security.md, "Threats", points at these tests).
 */
import { aws_iam as iam } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/config.js';
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
