import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { aws_iam as iam, type aws_lambda as lambda } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../functions/core/env.js';
import { PROVIDERS_CONFIG_FILE_NAME } from '../../infra/token-refresher.js';
import { MAX_PROVIDERS_PER_STACK } from '../../infra/validate-props.js';
import { build } from './support.js';

describe('Synthesis', () => {
  it('passes the cdk-nag AwsSolutions pack with no unacknowledged finding', () => {
    // Prepare
    const { app } = build({ nag: true });

    // Act
    const assembly = app.synth();

    // Assess: the validation report lists every plugin's violations (acknowledged ones are removed).
    const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as {
      pluginReports: { summary?: { status?: string }; violations?: unknown[] }[];
    };
    const violations = report.pluginReports.flatMap((plugin) => plugin.violations ?? []);
    expect(violations).toEqual([]);
  });

  it('fails synth when a finding is not acknowledged (the check is live)', () => {
    const { app, stack } = build({ nag: true });
    // An unacknowledged wildcard statement must be reported.
    stack.refresher.refreshFunction.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }),
    );
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Action::s3:\*\]/);
  });

  it(`synthesises ${MAX_PROVIDERS_PER_STACK} providers under the 500-resource limit, and refuses one more`, () => {
    // Prepare: the worst case for the count: 64-character names, every grant rotating (a third set of
    // secret statements), an alarm e-mail subscription.
    const providers = Array.from({ length: MAX_PROVIDERS_PER_STACK + 1 }, (_, index) => ({
      name: `provider-${String(index).padStart(3, '0')}-`.padEnd(64, 'x'),
      grant: 'refresh_token' as const,
      tokenUrl: `https://auth${index}.example.com/oauth2/token`,
    }));
    const refresher = { alarmEmail: 'ops@example.com' };
    const started = performance.now();
    const { template: small } = build({ providers: providers.slice(0, 1), refresher });
    const built = build({ providers: providers.slice(0, MAX_PROVIDERS_PER_STACK), refresher, nag: true });
    built.app.synth(); // cdk-nag runs here: the per-provider secret patterns are acknowledged too
    const { template } = built;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const resources = Object.values(template.toJSON().Resources as Record<string, { Type: string }>);
    const total = resources.length;
    const fixed = Object.keys(small.toJSON().Resources).length - 5;
    // Above 20 providers each secret is named by its own pattern (issue 15, finding 8), and CDK moves
    // the statements that do not fit the roles' inline policies into managed policies.
    const overflow = resources.filter((resource) => resource.Type === 'AWS::IAM::ManagedPolicy').length;
    console.log(
      `${MAX_PROVIDERS_PER_STACK} providers: ${total} resources (${fixed} shared + ${(total - fixed - overflow) / MAX_PROVIDERS_PER_STACK} per provider + ${overflow} managed policies); synth ${seconds} s`,
    );
    expect(total).toBeLessThan(500);
    expect(overflow).toBeLessThanOrEqual(8);
    expect((total - fixed - overflow) / MAX_PROVIDERS_PER_STACK).toBe(5);
    // The numbers in the construct's TSDoc: 31 shared (29 before the credentials-change rule and its
    // permission of issue 16; 28 before the credentials key of issue 15; 18 before the read path), plus
    // the e-mail subscription here; 5 per provider (4 before the credentials secret's resource policy).
    expect(fixed).toBe(32);
    expect(() => build({ providers, refresher })).toThrow(
      new RegExp(
        `providers: lists ${MAX_PROVIDERS_PER_STACK + 1}; one stack holds at most ${MAX_PROVIDERS_PER_STACK} `,
      ),
    );
  });

  it('bundles both handlers with esbuild, each with the large configuration as a file', () => {
    // Prepare: 30 providers do not fit in the environment.
    const providers = Array.from({ length: 30 }, (_, index) => ({
      name: `provider-${index}`,
      grant: 'client_credentials' as const,
      tokenUrl: `https://auth${index}.example.com/oauth2/token`,
    }));
    const built = build({ providers, bundle: true });

    // Act
    const assembly = built.app.synth();
    const template = built.template;

    // Assess
    const functions = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(functions).toHaveLength(2);
    for (const fn of functions) {
      expect(fn.Properties.Environment.Variables[ENV.providersConfigFile]).toBe(PROVIDERS_CONFIG_FILE_NAME);
    }
    const bundles = readdirSync(assembly.directory)
      .filter(
        (entry) => entry.startsWith('asset.') && existsSync(join(assembly.directory, entry, 'index.mjs')),
      )
      .map((entry) => join(assembly.directory, entry));
    // The two functions' assets, each staged from its own entry.
    expect(bundles).toHaveLength(2);
    // A function's asset directory is named after its code's hash (the S3 key without `.zip`).
    const assetOf = (fn: lambda.Function) => {
      const id = built.stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction);
      const key = String(template.toJSON().Resources[id].Properties.Code.S3Key);
      return join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`);
    };
    const sources: Record<string, string> = {};
    for (const [name, fn] of [
      ['refresh', built.stack.refresher.refreshFunction],
      ['read', built.stack.refresher.readFunction],
    ] as const) {
      const dir = assetOf(fn);
      expect(bundles).toContain(dir);
      const bundle = readFileSync(join(dir, 'index.mjs'), 'utf8');
      sources[name] = bundle;
      // The SDK stays external (the runtime provides it); zod is bundled.
      expect(bundle).not.toMatch(/from ?"zod"/);
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
      const config = JSON.parse(readFileSync(join(dir, PROVIDERS_CONFIG_FILE_NAME), 'utf8')) as {
        providers: unknown[];
      };
      expect(config.providers).toHaveLength(30);
    }
    // Which SDK clients each bundle loads at start is pinned in function-bundles.test.ts; here: the
    // refresh bundle uses Secrets Manager, and the read bundle (issue 17) sends its calls as signed
    // requests and imports every SDK client only with import() (its transport "sdk").
    expect(sources.refresh).toMatch(/(from ?|import\()"@aws-sdk\/client-secrets-manager"/);
    expect(sources.read).not.toMatch(/from ?"@aws-sdk\//);
    for (const client of ['client-secrets-manager', 'client-lambda', 'client-dynamodb']) {
      expect(sources.read).toContain(`import("@aws-sdk/${client}")`);
    }
  });
});
