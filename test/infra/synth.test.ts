import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { aws_iam as iam } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../functions/core/env.js';
import { PROVIDERS_CONFIG_FILE_NAME } from '../../infra/token-refresher.js';
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

  it('synthesises 100 providers under the 500-resource limit', () => {
    const providers = Array.from({ length: 100 }, (_, index) => ({
      name: `provider-${String(index).padStart(3, '0')}`,
      grant: 'client_credentials' as const,
      tokenUrl: `https://auth${index}.example.com/oauth2/token`,
    }));
    const started = performance.now();
    const { template: small } = build({ providers: providers.slice(0, 1) });
    const built = build({ providers, nag: true });
    built.app.synth(); // cdk-nag runs here: the <prefix>/* patterns are acknowledged too
    const { template } = built;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const total = Object.keys(template.toJSON().Resources).length;
    const fixed = Object.keys(small.toJSON().Resources).length - 4;
    console.log(
      `100 providers: ${total} resources (${fixed} shared + ${(total - fixed) / 100} per provider); synth ${seconds} s`,
    );
    expect(total).toBeLessThan(500);
    expect((total - fixed) / 100).toBe(4);
  });

  it('bundles the handler with esbuild, with the large configuration as a file', () => {
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
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function'));
    expect(fn?.Properties.Environment.Variables[ENV.providersConfigFile]).toBe(PROVIDERS_CONFIG_FILE_NAME);
    const assetDir = readdirSync(assembly.directory).find(
      (entry) => entry.startsWith('asset.') && existsSync(join(assembly.directory, entry, 'index.mjs')),
    );
    expect(assetDir).toBeDefined();
    const dir = join(assembly.directory, assetDir ?? '');
    const bundle = readFileSync(join(dir, 'index.mjs'), 'utf8');
    // The SDK stays external (the runtime provides it); zod is bundled.
    expect(bundle).toMatch(/from"@aws-sdk\/client-secrets-manager"|from "@aws-sdk\/client-secrets-manager"/);
    expect(bundle).not.toMatch(/from ?"zod"/);
    expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
    const config = JSON.parse(readFileSync(join(dir, PROVIDERS_CONFIG_FILE_NAME), 'utf8')) as {
      providers: unknown[];
    };
    expect(config.providers).toHaveLength(30);
  });
});
