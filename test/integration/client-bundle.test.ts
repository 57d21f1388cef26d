/**
 * What a bundler (esbuild) includes for a tiny consumer of each entry point: once with `@aws-sdk/*`
 * external, as on the Lambda Node.js runtime that ships SDK v3, and once with everything bundled.
 * Sizes are printed, not asserted (they move with every SDK release); what is asserted is that a
 * per-source entry pulls in nothing of the other source, and that no entry point imports the AWS SDK
 * statically (issue 17: a bundler hoists a static import of an external package to the top of the
 * bundle, so it loads at cold start; the client imports the SDK with `import()` on first use only).
 * Then the bundles run where no AWS SDK is installed, against moto: the `fetch` transport needs none.
 *
 * Settings as the stack bundles its own functions (infra: ESM, minified, `mainFields: ['module',
 * 'main']`). With esbuild's default for platform node (`main` first), `@smithy/signature-v4` comes in
 * as CommonJS, which pulls all of `@smithy/core` in un-tree-shaken; that size is printed too. The
 * published package avoids it (its own `#smithy/signature-v4` import); its sizes with esbuild's
 * defaults are asserted against budgets in test/package/client-bundle-size.test.ts.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { providerTableInput } from '../../functions/local/resources.js';
import { startMoto } from '../support/moto.js';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Strings only one source's code contains (they survive minification). */
const SECRETS_MANAGER_MARKER = 'AWSCURRENT';
const READ_FUNCTION_MARKER = 'rejectedTokenSha256';

const CONSUMERS = {
  'createTokenClient (index)': `
    import { createTokenClient } from './functions/client/index.js';
    const tokens = createTokenClient({ source: 'secrets-manager' });
    export const handler = async () => (await tokens.getToken('github')).expiresAt;`,
  'token-refresher/client/secrets-manager': `
    import { createSecretsManagerTokenClient } from './functions/client/secrets-manager.js';
    const tokens = createSecretsManagerTokenClient();
    export const handler = async () => (await tokens.getToken('github')).expiresAt;`,
  'token-refresher/client/read-function': `
    import { createReadFunctionTokenClient } from './functions/client/read-function.js';
    const tokens = createReadFunctionTokenClient({ url: process.env.TOKEN_URL ?? '' });
    export const handler = async () => (await tokens.getToken('github')).expiresAt;`,
  'token-refresher/client/dynamodb': `
    import { createDynamoDbTokenClient } from './functions/client/dynamodb.js';
    const tokens = createDynamoDbTokenClient({ tableName: 'token-refresher-tokens' });
    export const handler = async () => (await tokens.getToken('github')).expiresAt;`,
} as const;

interface Bundle {
  readonly text: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Packages left as static imports, loaded with the bundle (Node built-ins excluded). */
  readonly externals: string[];
  /** Packages left as `import()`, loaded when that code runs. */
  readonly dynamicExternals: string[];
}

async function bundle(contents: string, sdkExternal: boolean, mainFirst = false): Promise<Bundle> {
  const result = await build({
    stdin: { contents, resolveDir: ROOT, sourcefile: 'consumer.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
    external: sdkExternal ? ['@aws-sdk/*'] : [],
    mainFields: mainFirst ? ['main', 'module'] : ['module', 'main'],
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('esbuild produced no output');
  return {
    text: output.text,
    bytes: output.contents.byteLength,
    gzipBytes: gzipSync(output.contents).byteLength,
    externals: externalsOf(result.metafile, 'import-statement'),
    dynamicExternals: externalsOf(result.metafile, 'dynamic-import'),
  };
}

function externalsOf(metafile: Metafile, kind: 'import-statement' | 'dynamic-import'): string[] {
  const names = Object.values(metafile.inputs)
    .flatMap((input) => input.imports)
    .filter((imported) => imported.external && imported.kind === kind && !imported.path.startsWith('node:'))
    .map((imported) => imported.path);
  return [...new Set(names)].sort();
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

describe('Bundles of a tiny consumer (esbuild, minified, ESM, node20)', () => {
  it('include only the chosen source from a per-source entry point; sizes are reported', async () => {
    // Act
    const rows: string[] = [];
    const bundles: Record<string, { external: Bundle; bundled: Bundle }> = {};
    for (const [name, contents] of Object.entries(CONSUMERS)) {
      const external = await bundle(contents, true);
      const bundled = await bundle(contents, false);
      bundles[name] = { external, bundled };
      rows.push(
        `| ${name} | ${kib(external.bytes)} (gzip ${kib(external.gzipBytes)}) | ${external.externals.join(', ')} | ` +
          `${kib(bundled.bytes)} (gzip ${kib(bundled.gzipBytes)}) | ${external.dynamicExternals.join(', ')} |`,
      );
    }
    const mainFirst = await bundle(CONSUMERS['token-refresher/client/read-function'], true, true);
    console.log(
      [
        '| entry point | @aws-sdk/* external | static imports | all bundled | imported on first use |',
        '|---|---|---|---|---|',
        ...rows,
        '',
        `read-function, @aws-sdk/* external, mainFields main first (esbuild's default): ${kib(mainFirst.bytes)}`,
      ].join('\n'),
    );

    // Assess
    const sm = bundles['token-refresher/client/secrets-manager'];
    const rf = bundles['token-refresher/client/read-function'];
    const index = bundles['createTokenClient (index)'];
    const ddb = bundles['token-refresher/client/dynamodb'];
    for (const entry of [sm, rf, index, ddb]) expect(entry?.external.externals).toStrictEqual([]);
    expect(ddb?.external.dynamicExternals).toStrictEqual([
      '@aws-sdk/client-dynamodb',
      '@aws-sdk/credential-provider-node',
    ]);
    expect(sm?.external.dynamicExternals).toStrictEqual([
      '@aws-sdk/client-secrets-manager',
      '@aws-sdk/credential-provider-node',
    ]);
    expect(rf?.external.dynamicExternals).toStrictEqual(['@aws-sdk/credential-provider-node']);
    // The index reaches every source (and the SDK packages of their fallbacks), each on first use.
    expect(index?.external.dynamicExternals).toStrictEqual(
      expect.arrayContaining(['@aws-sdk/client-secrets-manager', '@aws-sdk/credential-provider-node']),
    );
    for (const variant of ['external', 'bundled'] as const) {
      expect(sm?.[variant].text).toContain(SECRETS_MANAGER_MARKER);
      expect(sm?.[variant].text).not.toContain(READ_FUNCTION_MARKER);
      expect(rf?.[variant].text).toContain(READ_FUNCTION_MARKER);
      expect(rf?.[variant].text).not.toContain(SECRETS_MANAGER_MARKER);
      expect(rf?.[variant].text).not.toContain('GetSecretValue');
      // The index reaches both sources through its dynamic imports: the documented trade-off.
      expect(index?.[variant].text).toContain(SECRETS_MANAGER_MARKER);
      expect(index?.[variant].text).toContain(READ_FUNCTION_MARKER);
    }
  });
});

/** Reads one token through the Secrets Manager source and prints it, or the error's code and message. */
const RUNNABLE_CONSUMERS = {
  index: `
    import { createTokenClient } from './functions/client/index.js';
    const tokens = createTokenClient({ source: 'secrets-manager', secretPrefix: process.env.PREFIX, transport: process.env.TRANSPORT });
    try { console.log(JSON.stringify({ token: (await tokens.getToken('github')).accessToken })); }
    catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`,
  'secrets-manager': `
    import { createSecretsManagerTokenClient } from './functions/client/secrets-manager.js';
    const tokens = createSecretsManagerTokenClient({ secretPrefix: process.env.PREFIX, transport: process.env.TRANSPORT });
    try { console.log(JSON.stringify({ token: (await tokens.getToken('github')).accessToken })); }
    catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`,
  dynamodb: `
    import { createDynamoDbTokenClient } from './functions/client/dynamodb.js';
    const tokens = createDynamoDbTokenClient({ tableName: 'no-sdk-tokens', transport: process.env.TRANSPORT });
    try { console.log(JSON.stringify({ token: (await tokens.getToken('github')).accessToken })); }
    catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }`,
} as const;

describe('Bundles run where no AWS SDK is installed (@aws-sdk/* external, as on a runtime without it)', () => {
  it('read a token from moto through the fetch transport, and name the missing SDK on transport sdk', async () => {
    // Prepare: the token secret on moto; the bundles in a directory with no node_modules above it
    const moto = await startMoto();
    const dir = await mkdtemp(join(tmpdir(), 'client-no-sdk-'));
    try {
      const admin = new SecretsManagerClient(moto.clientConfig);
      await admin.send(
        new CreateSecretCommand({
          Name: 'no-sdk/github/token',
          SecretString: JSON.stringify({
            provider: 'github',
            accessToken: 'token-read-without-sdk',
            tokenType: 'Bearer',
            expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
            issuedAt: new Date().toISOString(),
            generation: 1,
          }),
        }),
      );
      admin.destroy();
      const dynamodb = new DynamoDBClient(moto.clientConfig);
      await dynamodb.send(new CreateTableCommand(providerTableInput('no-sdk-tokens')));
      await dynamodb.send(
        new PutItemCommand({
          TableName: 'no-sdk-tokens',
          Item: {
            provider: { S: 'github' },
            accessToken: { S: 'token-read-without-sdk-from-dynamodb' },
            tokenType: { S: 'Bearer' },
            expiresAt: { S: new Date(Date.now() + 3_600_000).toISOString() },
          },
        }),
      );
      dynamodb.destroy();
      const run = async (name: keyof typeof RUNNABLE_CONSUMERS, transport: string) => {
        const file = join(dir, `${name}.mjs`);
        await writeFile(file, (await bundle(RUNNABLE_CONSUMERS[name], true)).text);
        const { stdout } = await promisify(execFile)(process.execPath, [file], {
          cwd: dir,
          env: {
            PATH: process.env.PATH ?? '',
            ...moto.env,
            AWS_CONFIG_FILE: join(dir, 'none'),
            AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
            PREFIX: 'no-sdk',
            TRANSPORT: transport,
          },
        });
        return JSON.parse(stdout) as { token?: string; code?: string; message?: string };
      };

      // Act
      const results = {
        index: await run('index', 'fetch'),
        'secrets-manager': await run('secrets-manager', 'fetch'),
        'secrets-manager, transport sdk': await run('secrets-manager', 'sdk'),
        dynamodb: await run('dynamodb', 'fetch'),
        'dynamodb, transport sdk': await run('dynamodb', 'sdk'),
      };

      // Assess
      expect(results).toStrictEqual({
        index: { token: 'token-read-without-sdk' },
        'secrets-manager': { token: 'token-read-without-sdk' },
        'secrets-manager, transport sdk': {
          code: 'read_failed',
          message: expect.stringContaining(
            'The AWS SDK (@aws-sdk/client-secrets-manager) could not be loaded',
          ),
        },
        dynamodb: { token: 'token-read-without-sdk-from-dynamodb' },
        'dynamodb, transport sdk': {
          code: 'read_failed',
          message: expect.stringContaining('needs the AWS SDK package @aws-sdk/client-dynamodb'),
        },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
      await moto.stop();
    }
  }, 120_000);
});
