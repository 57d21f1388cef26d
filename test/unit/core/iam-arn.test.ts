/**
 * Issue 15, finding 10: a consumer ARN such as `arn:aws:iam::123456789012:role/x/` passed the
 * configuration schema (synth, `validate-config`), and the read function then failed at every cold
 * start (its access policy could not reduce it to a role). The schema now applies the grammar of
 * `functions/core/iam-arn.ts`, which accepts exactly what the access policy reduces to a role.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../../functions/cli/main.js';
import { AccessPolicy, parseCallerArn } from '../../../functions/core/access.js';
import { ConfigError } from '../../../functions/core/config.js';
import { deployedConfigJson, parseRefresherConfig } from '../../../functions/core/config-schema.js';
import { readReadEnvironment } from '../../../functions/core/env.js';
import { iamPrincipalArnProblem, iamRoleArnProblem } from '../../../functions/core/iam-arn.js';

const ACCOUNT = '123456789012';

/** Refused consumer ARNs, each with what its message must say (the problem and the fix). */
const REFUSED: readonly (readonly [string, RegExp])[] = [
  [`arn:aws:iam::${ACCOUNT}:role/x/`, /ends with "\/", so it names no role: remove the trailing "\/"/],
  [`arn:aws:iam::${ACCOUNT}:role/`, /nothing follows "role\/": add the role's name/],
  [`arn:aws:iam::${ACCOUNT}:role//x`, /empty path segment \("\/\/"\)/],
  [`arn:aws:iam::${ACCOUNT}:role/a//x`, /empty path segment/],
  [`arn:aws:iam::${ACCOUNT}:role/team/`, /remove the trailing "\/"/],
  [`arn:aws:iam::${ACCOUNT}:role/${'n'.repeat(65)}`, /role name "n{65}" must be 1 to 64 letters/],
  [`arn:aws:iam::${ACCOUNT}:role/bad#name`, /role name "bad#name"/],
  [`arn:aws:iam::${ACCOUNT}:role/pa!th/x`, /the path "\/pa!th\/" must be segments/],
  [`arn:aws:iam::${ACCOUNT}:user/alice`, /names an IAM user, and only "role\/" ARNs are accepted/],
  [`arn:aws:iam::${ACCOUNT}:root`, /names an IAM root/],
  [`arn:aws:iam::${ACCOUNT}:group/admins`, /names an IAM group/],
  [`arn:aws:iam::${ACCOUNT}:instance-profile/x`, /resource must start with "role\/"/],
  [
    `arn:aws:sts::${ACCOUNT}:assumed-role/consumer/session-1`,
    /STS session ARN: name the role itself, arn:aws:iam::123456789012:role\/<path if any>\/consumer/,
  ],
  [`arn:aws:lambda:eu-west-1:${ACCOUNT}:function:consumer`, /"lambda" ARN, not an IAM one: .*execution role/],
  [`arn:aws:iam:eu-west-1:${ACCOUNT}:role/x`, /IAM ARNs have no region: remove "eu-west-1"/],
  ['arn:aws:iam::1234:role/x', /account "1234" must be 12 digits/],
  [`arn:awsx:iam::${ACCOUNT}:role/x`, /partition "awsx" is not an AWS partition/],
  [`arn:aws:iam::${ACCOUNT}:role/*`, /wildcards are not accepted/],
  [` arn:aws:iam::${ACCOUNT}:role/x`, /white space/],
  ['consumer-role', /arn:<partition>:<service>:<region>:<account>:<resource> shape/],
  ['', /shape/],
];

const ACCEPTED: readonly string[] = [
  `arn:aws:iam::${ACCOUNT}:role/x`,
  `arn:aws:iam::${ACCOUNT}:role/consumer-a`,
  `arn:aws:iam::${ACCOUNT}:role/team/app/Consumer_1+=,.@-`,
  `arn:aws:iam::${ACCOUNT}:role/service-role/${'n'.repeat(64)}`,
  `arn:aws-cn:iam::${ACCOUNT}:role/x`,
  `arn:aws-us-gov:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd`,
];

/** A configuration whose one provider lists `consumers`. */
function configWith(consumers: readonly string[]) {
  return {
    providers: [
      { name: 'acme', grant: 'client_credentials', tokenUrl: 'https://a.example.com/t', consumers },
    ],
  };
}

describe('Function: iamRoleArnProblem', () => {
  it.each(REFUSED)('refuses %j, naming the expected form, the problem and the fix', (arn, fix) => {
    // Act
    const problem = iamRoleArnProblem(arn);

    // Assess
    expect(problem).toMatch(/^must be an IAM role ARN \(arn:aws:iam::<account>:role\/\[<path>\/\]<name>\): /);
    expect(problem).toMatch(fix);
  });

  it.each(ACCEPTED)('accepts %s', (arn) => {
    expect(iamRoleArnProblem(arn)).toBeUndefined();
  });

  it('accepts IAM users too when asked (break-glass principals), never roots or sessions', () => {
    expect(
      iamPrincipalArnProblem(`arn:aws:iam::${ACCOUNT}:user/ops/alice`, ['role', 'user']),
    ).toBeUndefined();
    expect(iamPrincipalArnProblem(`arn:aws:iam::${ACCOUNT}:root`, ['role', 'user'])).toMatch(
      /^must be an IAM role or user ARN .*names an IAM root, and only "role\/" or "user\/" ARNs are accepted/,
    );
  });
});

describe('Contract: a consumer the schema accepts never fails the read function at cold start', () => {
  // Every ARN of both tables, plus mutations of each (a character dropped, a "/" or "//" inserted).
  const corpus = [...new Set([...ACCEPTED, ...REFUSED.map(([arn]) => arn)].flatMap(mutations))];

  it('accepts exactly the ARNs the access policy reduces to a role (the tables and their near misses)', () => {
    // Act
    const disagreements = corpus.filter(
      (arn) => (iamRoleArnProblem(arn) === undefined) !== (parseCallerArn(arn).kind === 'role'),
    );

    // Assess: the only ARNs the access policy takes as a role that the schema refuses are STS
    // session ARNs (a caller's identity, never a consumer entry).
    expect(disagreements.filter((arn) => !arn.includes(':sts::'))).toEqual([]);
    expect(corpus.length).toBeGreaterThan(500);
  });

  it('builds the read function environment and access policy from every accepted consumer', () => {
    // Prepare: what `cdk synth` and `validate-config` let through (the configuration schema).
    const accepted = corpus.filter((arn) => {
      try {
        parseRefresherConfig(configWith([arn]));
        return true;
      } catch {
        return false;
      }
    });

    // Act
    const environment = readReadEnvironment({
      PROVIDERS_CONFIG: deployedConfigJson(configWith(accepted)),
      REFRESH_FUNCTION_NAME: 'refresh',
    });

    // Assess
    expect(() => new AccessPolicy(environment.consumers)).not.toThrow();
    expect(accepted.length).toBeGreaterThan(20);
  });

  it('refuses the ARN of the finding in the configuration, naming the provider, the field and the fix', () => {
    // Act
    const failure = (() => {
      try {
        parseRefresherConfig(configWith([`arn:aws:iam::${ACCOUNT}:role/x/`]));
      } catch (error) {
        return error;
      }
      return undefined;
    })();

    // Assess
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).problems).toEqual([
      'providers[0] (acme).consumers[0]: must be an IAM role ARN (arn:aws:iam::<account>:role/[<path>/]<name>): ' +
        'it ends with "/", so it names no role: remove the trailing "/" (the role\'s name comes last)',
    ]);
  });
});

describe('Command: validate-config', () => {
  it('refuses the ARN of the finding with exit code 1, naming the provider, the field and the fix', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'iam-arn-'));
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify(configWith([`arn:aws:iam::${ACCOUNT}:role/x/`])));
    let stdout = '';

    // Act
    const code = await run(['validate-config', path], {
      cwd: dir,
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: () => undefined },
      env: {},
    });

    // Assess
    expect(code).toBe(1);
    expect(stdout.split('\n')).toEqual([
      `${path}: 1 problem`,
      '  - providers[0] (acme).consumers[0]: must be an IAM role ARN (arn:aws:iam::<account>:role/[<path>/]<name>): ' +
        'it ends with "/", so it names no role: remove the trailing "/" (the role\'s name comes last)',
      '',
    ]);
  });
});

/** `arn` and some of its near misses: each character dropped, "/" and "//" inserted at each "/". */
function mutations(arn: string): string[] {
  const out = [arn, `${arn}/`, `${arn}//x`];
  for (let index = 0; index < arn.length; index++) {
    out.push(arn.slice(0, index) + arn.slice(index + 1));
    if (arn[index] === '/') out.push(`${arn.slice(0, index)}//${arn.slice(index + 1)}`);
  }
  return out;
}
