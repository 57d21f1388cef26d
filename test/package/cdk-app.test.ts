/**
 * Issue 13, test 1: a fresh TypeScript CDK app in a scratch directory outside the repository, with its
 * own package.json: `aws-cdk-lib`, `constructs`, the `@token-refresher/cdk` tarball, the `aws-cdk`
 * CLI, TypeScript and `@types/node` (the versions this repository's lockfile installed, so they come
 * from the npm cache). No esbuild, no tsx, none of this repository's sources.
 *
 * The app (`bin/app.ts`, compiled by `tsc` against the package's declarations, run by `cdk synth`):
 * - stack `Consumers`: `new TokenRefresher(...)` with two providers, `grantRead` to a function of the
 *   app, `grantReadViaFunction` to another;
 * - stack `LargeConfig`: the package's `TokenRefresherStack` with a configuration over 3,000 bytes,
 *   which reaches the functions as a file next to their prebuilt bundle.
 *
 * Its `cdk.json` carries this repository's feature flags, so that `LargeConfig` can be compared with
 * the same stack synthesized in this process from the repository's sources.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App } from 'aws-cdk-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ProviderConfigInput } from '../../functions/core/config.js';
import { parseRefresherConfig } from '../../functions/core/config-schema.js';
import { ENV } from '../../functions/core/env.js';
import { MAX_INLINE_CONFIG_BYTES, PROVIDERS_CONFIG_FILE_NAME } from '../../infra/bundling.js';
import { readConfigFile, TokenRefresherStack } from '../../infra/stack.js';
import {
  diskUsage,
  npmInstall,
  packedTarballs,
  pinned,
  REPO_ROOT,
  scratchDir,
  scratchEnv,
} from './support.js';

const run = promisify(execFile);

/** The app, as a user writes it. The `@ts-expect-error` lines fail `tsc` if the props were `any`. */
const APP_TS = `
import { App, Stack, aws_lambda as lambda } from 'aws-cdk-lib';
import { readConfigFile, TokenRefresher, TokenRefresherStack, type TokenRefresherProps } from '@token-refresher/cdk';

const app = new App();
const stack = new Stack(app, 'Consumers');
const props: TokenRefresherProps = {
  providers: [
    { name: 'github', grant: 'client_credentials', tokenUrl: 'https://auth.example.com/oauth2/token', scope: 'repo' },
    { name: 'crm', grant: 'refresh_token', tokenUrl: 'https://crm.example.com/oauth/token', expectedLifetime: '2h' },
  ],
  alarmEmail: 'ops@example.com',
};
// @ts-expect-error a provider needs a grant
const missingGrant: TokenRefresherProps = { providers: [{ name: 'x', tokenUrl: 'https://x.example.com/' }] };
// @ts-expect-error alarmEmail is a string
const wrongEmail: TokenRefresherProps = { ...props, alarmEmail: 42 };
void missingGrant;
void wrongEmail;

const tokens = new TokenRefresher(stack, 'Tokens', props);
const consumer = (id: string) =>
  new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('export const handler = async () => "ok";'),
  });
tokens.grantRead(consumer('DirectConsumer'), 'github');
tokens.grantReadViaFunction(consumer('ServedConsumer'), 'crm');

new TokenRefresherStack(app, 'LargeConfig', { config: readConfigFile('large-config.json') });
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    skipLibCheck: true,
    outDir: 'dist',
    types: ['node'],
  },
  include: ['bin'],
};

/** 30 `client_credentials` providers with scopes and audiences: well over the inline limit. */
const LARGE_CONFIG = {
  secretPrefix: 'large',
  providers: Array.from(
    { length: 30 },
    (_, index): ProviderConfigInput => ({
      name: `partner-api-${String(index).padStart(2, '0')}`,
      grant: 'client_credentials',
      tokenUrl: `https://login.partner-${index}.example.com/oauth2/v2.0/token`,
      scope: 'https://graph.partner.example.com/.default offline_access',
      audience: `https://api.partner-${index}.example.com`,
    }),
  ),
};

interface Template {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; Metadata?: unknown }>;
  Conditions?: Record<string, unknown>;
}

describe('A CDK app with @token-refresher/cdk installed from its tarball', () => {
  let dir: string;
  let packageDir: string;
  let synthSeconds: number;
  let consumers: Template;
  let large: Template;

  beforeAll(async () => {
    const { cdk: tarball } = await packedTarballs();
    dir = scratchDir('token-refresher-cdk-app');
    packageDir = join(dir, 'node_modules', '@token-refresher', 'cdk');
    const repoCdkJson = JSON.parse(await readFile(join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
      context: Record<string, unknown>;
    };
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'scratch-cdk-app', private: true, type: 'module' }),
    );
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    await writeFile(
      join(dir, 'cdk.json'),
      JSON.stringify({ app: 'node dist/app.js', context: repoCdkJson.context }),
    );
    await writeFile(join(dir, 'large-config.json'), JSON.stringify(LARGE_CONFIG));
    await mkdir(join(dir, 'bin'));
    await writeFile(join(dir, 'bin', 'app.ts'), APP_TS);
    const tools = ['aws-cdk-lib', 'constructs', 'aws-cdk', 'typescript', '@types/node'];
    await npmInstall(dir, [...(await Promise.all(tools.map(pinned))), tarball]);

    await run('npx', ['tsc', '-p', '.'], { cwd: dir, env: scratchEnv() });
    const started = performance.now();
    await run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', 'cdk.out'], {
      cwd: dir,
      // No AWS account, and no network but the npm registry: the CLI must not try to report telemetry.
      env: scratchEnv({ CDK_DISABLE_CLI_TELEMETRY: 'true' }),
      maxBuffer: 16 * 1024 * 1024,
    });
    synthSeconds = (performance.now() - started) / 1000;
    consumers = readTemplate(join(dir, 'cdk.out', 'Consumers.template.json'));
    large = readTemplate(join(dir, 'cdk.out', 'LargeConfig.template.json'));
    console.log(
      `PACKAGE cdk-app: tarball ${tarball}, scratch app node_modules ${await diskUsage(join(dir, 'node_modules'))}, ` +
        `cdk synth of 2 stacks ${synthSeconds.toFixed(1)} s`,
    );
  });

  it('has no esbuild, tsx or this repository to bundle from', async () => {
    // Act
    const resolve = (name: string) =>
      run(process.execPath, ['-e', `require.resolve(${JSON.stringify(name)})`], { cwd: dir }).then(
        () => 'resolved',
        (error: { stderr: string }) => error.stderr,
      );
    const esbuild = await resolve('esbuild');
    const tsx = await resolve('tsx');

    // Assess
    expect(esbuild).toContain("Cannot find module 'esbuild'");
    expect(tsx).toContain("Cannot find module 'tsx'");
    const shipped = readdirSync(packageDir, { recursive: true }).map(String);
    expect(shipped.filter((file) => /\.ts$/.test(file) && !file.endsWith('.d.ts'))).toEqual([]);
    expect(shipped.filter((file) => file.startsWith('infra/packaging') || file === 'infra/app.js')).toEqual(
      [],
    );
    expect(shipped).toEqual(
      expect.arrayContaining([
        'assets/refresh/index.mjs',
        'assets/read/index.mjs',
        'infra/index.d.ts',
        'LICENSE',
      ]),
    );
  });

  it('loads from CommonJS too, as a `cdk init` app does (require of an ES module, Node.js >= 20.19)', async () => {
    // Act
    const { stdout, stderr } = await run(
      process.execPath,
      [
        '-e',
        "const m = require('@token-refresher/cdk'); console.log(typeof m.TokenRefresher, typeof m.TokenRefresherStack)",
      ],
      { cwd: dir },
    );

    // Assess
    expect(stdout).toBe('function function\n');
    expect(stderr).toBe('');
  });

  it('declares aws-cdk-lib and constructs as peers, and only zod as a dependency', async () => {
    // Act
    const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;

    // Assess
    expect(manifest).toMatchObject({ name: '@token-refresher/cdk', type: 'module', license: 'Apache-2.0' });
    expect(Object.keys(manifest.peerDependencies as object).sort()).toEqual(['aws-cdk-lib', 'constructs']);
    expect(Object.keys(manifest.dependencies as object)).toEqual(['zod']);
    expect(manifest.bin).toEqual({ 'token-refresher': 'bin/token-refresher.mjs' });
  });

  it('synthesizes both functions from the prebuilt bundles, with the secrets and the schedules', () => {
    // Act
    const functions = ofType(consumers, 'AWS::Lambda::Function');
    const tokenRefresher = functions.filter(([id]) => id.startsWith('Tokens'));

    // Assess: the refresh and read functions run the package's bundles, as S3 assets.
    expect(tokenRefresher.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'TokensReadFunction',
      'TokensRefreshFunction',
    ]);
    for (const [, fn] of tokenRefresher) {
      expect(fn.Properties).toMatchObject({
        Handler: 'index.handler',
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Code: { S3Key: expect.stringMatching(/^[0-9a-f]{64}\.zip$/) },
      });
    }
    for (const name of ['refresh', 'read']) {
      expect(
        stagedAssetsOf(dir, 'Consumers').some((asset) => sameBundle(asset, join(packageDir, 'assets', name))),
      ).toBe(true);
    }
    const secretNames = ofType(consumers, 'AWS::SecretsManager::Secret').map(
      ([, secret]) => secret.Properties?.Name,
    );
    expect(secretNames.sort()).toEqual([
      'token-refresher/crm/credentials',
      'token-refresher/crm/token',
      'token-refresher/github/credentials',
      'token-refresher/github/token',
    ]);
    const schedules = ofType(consumers, 'AWS::Scheduler::Schedule').map(
      ([, schedule]) => schedule.Properties as { Target: { Input: string } },
    );
    expect(schedules).toHaveLength(2);
    expect(schedules.map((schedule) => JSON.parse(schedule.Target.Input))).toEqual(
      expect.arrayContaining([{ provider: 'github' }, { provider: 'crm' }]),
    );
  });

  it('grants the direct consumer its token secret, and the served one the read function', () => {
    // Act
    const policies = ofType(consumers, 'AWS::IAM::Policy').map(([, policy]) =>
      JSON.stringify(policy.Properties),
    );
    const direct = policies.find((policy) => policy.includes('DirectConsumer'));
    const served = policies.find((policy) => policy.includes('ServedConsumer'));
    const readFunction = ofType(consumers, 'AWS::Lambda::Function').find(([id]) =>
      id.startsWith('TokensReadFunction'),
    );
    const environment = JSON.stringify(readFunction === undefined ? {} : variablesOf(readFunction[1]));
    const githubTokenSecret = ofType(consumers, 'AWS::SecretsManager::Secret').find(
      ([, secret]) => secret.Properties?.Name === 'token-refresher/github/token',
    );

    // Assess
    expect(direct).toContain('secretsmanager:GetSecretValue');
    expect(direct).toContain(JSON.stringify({ Ref: githubTokenSecret?.[0] }));
    expect(direct).not.toContain('crm');
    expect(served).toContain('lambda:InvokeFunctionUrl');
    expect(served).not.toContain('secretsmanager:GetSecretValue');
    expect(environment).toContain(ENV.extraConsumers);
    expect(environment).toContain('ServedConsumer');
  });

  it(`delivers a configuration over ${MAX_INLINE_CONFIG_BYTES} bytes as a file next to each prebuilt bundle`, () => {
    // Act
    const functions = ofType(large, 'AWS::Lambda::Function');
    const assets = stagedAssetsOf(dir, 'LargeConfig');

    // Assess
    expect(Buffer.byteLength(JSON.stringify(LARGE_CONFIG))).toBeGreaterThan(MAX_INLINE_CONFIG_BYTES);
    expect(functions).toHaveLength(2);
    for (const [, fn] of functions) {
      const variables = variablesOf(fn);
      expect(variables[ENV.providersConfigFile]).toBe(PROVIDERS_CONFIG_FILE_NAME);
      expect(variables[ENV.providersConfig]).toBeUndefined();
    }
    expect(assets).toHaveLength(2);
    for (const name of ['refresh', 'read']) {
      const asset = assets.find((candidate) => sameBundle(candidate, join(packageDir, 'assets', name)));
      expect(asset, `no asset holds the ${name} bundle`).toBeDefined();
      const delivered = JSON.parse(
        readFileSync(join(asset ?? '', PROVIDERS_CONFIG_FILE_NAME), 'utf8'),
      ) as unknown;
      // Normalized at synth (defaults applied): the functions check only its shape (issue 17).
      expect(delivered).toEqual(parseRefresherConfig(LARGE_CONFIG));
    }
  });

  it("synthesizes the same template as this repository's sources, asset keys aside", () => {
    // Prepare: the same stack from the repository's sources (bundling skipped: only the keys differ).
    const context = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: object };
    const app = new App({ context: { ...context.context, 'aws:cdk:bundling-stacks': [] } });
    const stack = new TokenRefresherStack(app, 'LargeConfig', {
      config: readConfigFile(join(dir, 'large-config.json')),
    });

    // Act
    const fromSources = app.synth().getStackByName(stack.stackName).template as Template;

    // Assess
    expect(normalized(large)).toEqual(normalized(fromSources));
  });
});

function readTemplate(path: string): Template {
  return JSON.parse(readFileSync(path, 'utf8')) as Template;
}

function ofType(template: Template, type: string) {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

function variablesOf(resource: Template['Resources'][string]): Record<string, unknown> {
  const environment = resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined;
  return environment?.Variables ?? {};
}

/** The asset directories `cdk synth` staged for a stack's functions (from its assets manifest). */
function stagedAssetsOf(dir: string, stackName: string): string[] {
  const manifest = JSON.parse(readFileSync(join(dir, 'cdk.out', `${stackName}.assets.json`), 'utf8')) as {
    files: Record<string, { source: { path: string; packaging: string } }>;
  };
  return Object.values(manifest.files)
    .filter(({ source }) => source.packaging === 'zip')
    .map(({ source }) => join(dir, 'cdk.out', source.path));
}

/** Whether an asset directory holds a prebuilt bundle: the same `index.mjs` and source map, byte for byte. */
function sameBundle(assetDir: string, bundleDir: string): boolean {
  return ['index.mjs', 'index.mjs.map'].every((file) => {
    try {
      return readFileSync(join(assetDir, file)).equals(readFileSync(join(bundleDir, file)));
    } catch {
      return false;
    }
  });
}

/**
 * A template without what differs between the CLI's synth and this process's by design: the asset
 * hashes (the package's bundles are not the skipped bundling's empty staging), the resources'
 * metadata (construct paths, asset paths) and the CDK version-reporting resource.
 */
function normalized(template: Template): unknown {
  const resources = Object.fromEntries(
    Object.entries(template.Resources)
      .filter(([, resource]) => resource.Type !== 'AWS::CDK::Metadata')
      .map(([id, { Metadata: _metadata, ...resource }]) => [id, resource]),
  );
  const { CDKMetadataAvailable: _available, ...conditions } = template.Conditions ?? {};
  return JSON.parse(
    JSON.stringify({ ...template, Resources: resources, Conditions: conditions }).replace(
      /[0-9a-f]{64}/g,
      '<hash>',
    ),
  );
}
