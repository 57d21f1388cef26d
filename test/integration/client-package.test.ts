/**
 * The package entry points: `npm run build:client` compiles functions/client to JS + .d.ts, and a child
 * Node process imports `token-refresher/client` (and the per-source entries) by package
 * self-reference, through this package.json's `exports`, and uses them; `tsc` type-checks a consumer
 * against the emitted declarations.
 *
 * The build goes to a temporary package (this package.json copied, node_modules linked), not to the
 * shared dist/, so concurrent test runs in one working tree cannot trip over each other.
 *
 * This covers the repository's own `exports` (a built checkout). The published `@token-refresher/client`,
 * installed from its tarball, gets the same checks in test/package/consumer.test.ts.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Runs in the child process: import by self-reference and use each entry point with fakes. */
const CHILD_SCRIPT = `
import { createTokenClient, TokenClient, TokenClientError } from 'token-refresher/client';
import { createSecretsManagerTokenClient, TokenClientError as SmError } from 'token-refresher/client/secrets-manager';
import { createReadFunctionTokenClient } from 'token-refresher/client/read-function';

const record = {
  provider: 'github', accessToken: 'packaged-token', tokenType: 'Bearer',
  expiresAt: new Date(Date.now() + 3600000).toISOString(), issuedAt: new Date().toISOString(), generation: 1,
};
const commands = [];
const fakeSecretsManager = {
  send: async (command) => {
    commands.push({ name: command.constructor.name, input: command.input });
    return { SecretString: JSON.stringify(record) };
  },
};
const viaIndex = createTokenClient({ source: 'secrets-manager', client: fakeSecretsManager });
const smToken = await viaIndex.getToken('github');
await viaIndex.getToken('github');

let authorization;
const fakeFetch = async (url, init) => {
  authorization = new Headers(init.headers).get('authorization');
  return new Response(JSON.stringify({ ...record, expiresIn: 3600 }), { status: 200 });
};
const readFunction = createReadFunctionTokenClient({
  url: 'https://abc123.lambda-url.eu-west-1.on.aws/',
  credentials: { accessKeyId: 'AKIDPACKAGE', secretAccessKey: 'secret' },
  fetch: fakeFetch,
});
const rfToken = await readFunction.getToken('github');

let invalid;
try { createTokenClient({ source: 'nope' }); } catch (error) { invalid = error instanceof TokenClientError && error.code; }

console.log(JSON.stringify({
  smToken, commands, rfToken: rfToken.accessToken, authorization, invalid,
  instance: viaIndex instanceof TokenClient,
  sameErrorClass: SmError === TokenClientError,
  perSource: typeof createSecretsManagerTokenClient,
}));
`;

/** Type-checked against the emitted .d.ts: a wrong or `any` type makes a @ts-expect-error unused. */
const CONSUMER_TS = `
import { type ClientToken, createTokenClient, TokenClientError, type TokenClientErrorCode } from 'token-refresher/client';
import { createReadFunctionTokenClient } from 'token-refresher/client/read-function';
import { createSecretsManagerTokenClient } from 'token-refresher/client/secrets-manager';

const tokens = createTokenClient({ source: 'secrets-manager', secretPrefix: 'prod' });
// @ts-expect-error a read-function client needs its url
createTokenClient({ source: 'read-function' });
const code: TokenClientErrorCode = 'token_not_ready';

export async function handler(): Promise<number> {
  const token: ClientToken = await tokens.getToken('github');
  const response = await tokens.withToken('github', (t) =>
    fetch('https://api.example.com/', { headers: { authorization: \`\${t.tokenType} \${t.accessToken}\` } }),
  );
  // @ts-expect-error getToken resolves to a ClientToken, not a string
  const wrong: string = await tokens.getToken('github');
  return response.status + token.expiresAt.length + code.length + wrong.length;
}
export const others = [createReadFunctionTokenClient, createSecretsManagerTokenClient, TokenClientError];
`;

describe('Package entry points token-refresher/client', () => {
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'client-package-'));
    // --ignore-scripts: skip prebuild:client, which cleans the shared dist/ (not ours to touch here).
    await run(
      'npm',
      ['run', 'build:client', '--ignore-scripts', '--', '--outDir', join(work, 'dist/client')],
      {
        cwd: ROOT,
      },
    );
    await cp(join(ROOT, 'package.json'), join(work, 'package.json'));
    await symlink(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
  }, 120_000);

  afterAll(async () => {
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('emits JS and .d.ts for every entry in exports', async () => {
    // Prepare
    const { exports } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; default: string }>;
    };

    // Act
    const files = await Promise.all(
      Object.values(exports).flatMap((entry) => [
        readFile(join(work, entry.types), 'utf8'),
        readFile(join(work, entry.default), 'utf8'),
      ]),
    );

    // Assess
    expect(Object.keys(exports)).toStrictEqual([
      './client',
      './client/secrets-manager',
      './client/read-function',
    ]);
    expect(files.every((text) => text.length > 0)).toBe(true);
  });

  it('is imported by self-reference in a child Node process and works', async () => {
    // Prepare
    await writeFile(join(work, 'check.mjs'), CHILD_SCRIPT);

    // Act
    const { stdout } = await run(process.execPath, ['check.mjs'], { cwd: work });
    const result = JSON.parse(stdout) as Record<string, unknown>;

    // Assess
    expect(result).toMatchObject({
      smToken: { provider: 'github', accessToken: 'packaged-token', tokenType: 'Bearer' },
      commands: [
        {
          name: 'GetSecretValueCommand',
          input: { SecretId: 'token-refresher/github/token', VersionStage: 'AWSCURRENT' },
        },
      ],
      rfToken: 'packaged-token',
      invalid: 'invalid_options',
      instance: true,
      sameErrorClass: true,
      perSource: 'function',
    });
    expect(result.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDPACKAGE\/\d{8}\/eu-west-1\/lambda\/aws4_request, /,
    );
  });

  it('type-checks a consumer against the emitted declarations', async () => {
    // Prepare
    await writeFile(join(work, 'consumer.ts'), CONSUMER_TS);

    // Act
    const checking = run(
      process.execPath,
      [
        join(ROOT, 'node_modules/typescript/bin/tsc'),
        '--noEmit',
        '--strict',
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
        '--target',
        'es2022',
        '--types',
        'node',
        '--skipLibCheck',
        'consumer.ts',
      ],
      { cwd: work },
    );

    // Assess
    await expect(checking).resolves.toBeDefined();
  });
});
