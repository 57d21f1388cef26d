/**
 * Issue 13, test 2: a consumer app in a scratch directory outside the repository, with only the
 * client tarball (then its optional peers, the AWS SDK clients) installed, as a user installs it:
 *
 * - the install stays small and holds nothing of the service (no CDK, no zod, no Powertools);
 * - the package's layout: four entry points, ESM + `.d.ts`, `sideEffects: false`, its dependencies;
 * - a child Node.js process in that app imports every entry point and uses it with fakes, and `tsc`
 *   type-checks a consumer against the installed declarations (what test/integration once checked
 *   on the repository's self-referenced build);
 * - against the running local service (`startLocal`, the code behind `npm start`, in this process),
 *   the app reads a token through both sources, and `withToken` retries once after a 401 from a real
 *   API on 127.0.0.1, which refuses the first token it sees and accepts the next: the read function
 *   refreshes on demand and the new token is the one Secrets Manager then holds.
 */
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretsManagerTokenStore } from '../../functions/aws/token-store.js';
import type { TokenRecord } from '../../functions/core/types.js';
import { LOCAL_AWS_CREDENTIALS } from '../../functions/local/session.js';
import { DEMO_PROVIDERS, type LocalService, startLocal } from '../../functions/local/start.js';
import { CLIENT_PACKAGE_NAME } from '../../infra/packaging/client.js';
import { type InstalledClient, installClient, REPO_ROOT } from './client-install.js';

const run = promisify(execFile);

/** Budgets of the install (sum of file sizes, 1 MB = 1,000,000 B), as functions/client/README.md states them. */
const MAX_INSTALLED_BYTES_ALONE = 4_000_000;
/** With its three optional peers (the DynamoDB client came with issue 16). */
const MAX_INSTALLED_BYTES_WITH_PEERS = 9_000_000;

/** What a consumer's install must not pull in: the service's own dependencies and tools. */
const NOT_INSTALLED = [
  'aws-cdk-lib',
  'constructs',
  'zod',
  'oauth4webapi',
  '@aws-lambda-powertools/logger',
  '@aws-lambda-powertools/metrics',
  'esbuild',
  'typescript',
  'tsx',
  '@aws-sdk/client-dynamodb',
  '@aws-sdk/client-secrets-manager',
  '@aws-sdk/credential-provider-node',
];

/** Runs in the scratch app: import each entry point and use it with fakes (no network). */
const FAKES_SCRIPT = `
import { createTokenClient, TokenClient, TokenClientError } from '@token-refresher/client';
import { createSecretsManagerTokenClient, TokenClientError as SmError } from '@token-refresher/client/secrets-manager';
import { createReadFunctionTokenClient } from '@token-refresher/client/read-function';
import { createDynamoDbTokenClient } from '@token-refresher/client/dynamodb';

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
  functionName: 'stack-ReadFunction-AbC123',
  credentials: { accessKeyId: 'AKIDPACKAGE', secretAccessKey: 'secret' },
  fetch: fakeFetch,
});
const rfToken = await readFunction.getToken('github');

const fakeDynamoDb = {
  send: async (command) => {
    commands.push({ name: command.constructor.name, input: command.input });
    return { Item: Object.fromEntries(['provider', 'accessToken', 'tokenType', 'expiresAt'].map((key) => [key, { S: record[key] }])) };
  },
};
const ddbToken = await createDynamoDbTokenClient({ tableName: 'stack-tokens', client: fakeDynamoDb }).getToken('github');

let invalid;
try { createTokenClient({ source: 'nope' }); } catch (error) { invalid = error instanceof TokenClientError && error.code; }

console.log(JSON.stringify({
  smToken, commands, rfToken: rfToken.accessToken, ddbToken: ddbToken.accessToken, authorization, invalid,
  instance: viaIndex instanceof TokenClient,
  sameErrorClass: SmError === TokenClientError,
  perSource: typeof createSecretsManagerTokenClient,
}));
`;

/** Type-checked against the installed .d.ts: a wrong or `any` type makes a @ts-expect-error unused. */
const CONSUMER_TS = `
import { type ClientToken, createTokenClient, TokenClientError, type TokenClientErrorCode } from '@token-refresher/client';
import { createReadFunctionTokenClient } from '@token-refresher/client/read-function';
import { createSecretsManagerTokenClient } from '@token-refresher/client/secrets-manager';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

const tokens = createTokenClient({ source: 'secrets-manager', secretPrefix: 'prod' });
// The app's own SDK client is the type the client expects (one copy of the SDK: a peer dependency).
const direct = createSecretsManagerTokenClient({ client: new SecretsManagerClient({}) });
// @ts-expect-error a read-function client needs its url
createTokenClient({ source: 'read-function', functionName: 'stack-ReadFunction-AbC123' });
// @ts-expect-error and the read function's name (caller proofs are bound to it)
createTokenClient({ source: 'read-function', url: 'https://abc123.lambda-url.eu-west-1.on.aws/' });
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
export const others = [createReadFunctionTokenClient, direct, TokenClientError];
`;

/** Runs in the scratch app against the local service: both sources, then withToken after a 401. */
const LIVE_SCRIPT = `
import { createTokenClient } from '@token-refresher/client';
import { createReadFunctionTokenClient } from '@token-refresher/client/read-function';
import { createSecretsManagerTokenClient } from '@token-refresher/client/secrets-manager';

const { PROVIDER, SECRET_PREFIX, TOKEN_READER_URL, TOKEN_READER_FUNCTION, API_URL, CALLER_CREDENTIALS } = process.env;
// The local caller's role (assumed on the emulator) signs the caller proofs; the environment's keys read directly.
const reader = { url: TOKEN_READER_URL, functionName: TOKEN_READER_FUNCTION, credentials: JSON.parse(CALLER_CREDENTIALS) };
const describe = (t) => ({ provider: t.provider, accessToken: t.accessToken, tokenType: t.tokenType, expiresAt: t.expiresAt });

const direct = createSecretsManagerTokenClient({ secretPrefix: SECRET_PREFIX });
const served = createReadFunctionTokenClient(reader);
const read = {
  direct: describe(await direct.getToken(PROVIDER)),
  served: describe(await served.getToken(PROVIDER)),
  indexDirect: describe(await createTokenClient({ source: 'secrets-manager', secretPrefix: SECRET_PREFIX }).getToken(PROVIDER)),
  indexServed: describe(await createTokenClient({ source: 'read-function', ...reader }).getToken(PROVIDER)),
};

const given = [];
const response = await served.withToken(PROVIDER, (t) => {
  given.push(t.accessToken);
  return fetch(API_URL, { headers: { authorization: \`\${t.tokenType} \${t.accessToken}\` } });
});
const body = await response.text();
const afterwards = describe(await createSecretsManagerTokenClient({ secretPrefix: SECRET_PREFIX }).getToken(PROVIDER));
console.log(JSON.stringify({ read, status: response.status, body, given, afterwards }));
`;

/** An API on 127.0.0.1 that refuses the first token it sees (401) and accepts any other (200). */
interface RefusingApi {
  readonly url: string;
  /** The bearer token of each request, and the status answered. */
  readonly requests: { token: string; status: number }[];
  close(): Promise<void>;
}

async function startRefusingApi(): Promise<RefusingApi> {
  const requests: { token: string; status: number }[] = [];
  let first: string | undefined;
  const server: Server = createServer((request, response) => {
    const token = (request.headers.authorization ?? '').replace(/^Bearer /i, '');
    first ??= token;
    const status = token === first ? 401 : 200;
    requests.push({ token, status });
    response.writeHead(status, { 'content-type': 'text/plain' });
    response.end(status === 200 ? 'welcome' : 'token refused');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/me`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const MB = (bytes: number): string => `${(bytes / 1_000_000).toFixed(1)} MB`;

describe(`${CLIENT_PACKAGE_NAME} installed from its tarball into an empty app`, () => {
  let installed: InstalledClient;
  const packageDir = (): string => join(installed.dir, 'node_modules', CLIENT_PACKAGE_NAME);

  beforeAll(async () => {
    installed = await installClient('client-consumer-');
    console.log(
      `tarball ${installed.tarballBytes.toLocaleString('en')} B; du -sh node_modules: ` +
        `${installed.alone.duSh} alone (${MB(installed.alone.bytes)} of files, ${installed.packagesAlone.length} packages), ` +
        `${installed.withPeers.duSh} with its peers (${MB(installed.withPeers.bytes)} of files)`,
    );
  }, 180_000);

  it('stays small and installs nothing of the service', () => {
    // Assess
    expect(installed.packagesAlone).toContain(CLIENT_PACKAGE_NAME);
    expect(installed.packagesAlone).toContain('@smithy/signature-v4');
    expect(installed.packagesAlone.filter((name) => NOT_INSTALLED.includes(name))).toStrictEqual([]);
    expect(installed.alone.bytes).toBeLessThanOrEqual(MAX_INSTALLED_BYTES_ALONE);
    expect(installed.withPeers.bytes).toBeLessThanOrEqual(MAX_INSTALLED_BYTES_WITH_PEERS);
  });

  it('has four ESM entry points with declarations, no side effects, and only the dependencies it imports', async () => {
    // Prepare
    const manifest = JSON.parse(await readFile(join(packageDir(), 'package.json'), 'utf8')) as {
      type: string;
      sideEffects: boolean;
      license: string;
      engines: Record<string, string>;
      exports: Record<string, { types: string; default: string } | string>;
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional: boolean }>;
    };
    const entries = Object.entries(manifest.exports).filter(([entry]) => entry !== './package.json');

    // Act
    const files = await Promise.all(
      entries.flatMap(([, target]) =>
        typeof target === 'string'
          ? []
          : [stat(join(packageDir(), target.types)), stat(join(packageDir(), target.default))],
      ),
    );

    // Assess
    expect(entries.map(([entry]) => entry)).toStrictEqual([
      '.',
      './secrets-manager',
      './read-function',
      './dynamodb',
    ]);
    expect(files).toHaveLength(8);
    expect(files.every((file) => file.size > 0)).toBe(true);
    expect(manifest).toMatchObject({ type: 'module', sideEffects: false, license: 'Apache-2.0' });
    expect(manifest.engines.node).toBeDefined();
    expect(Object.keys(manifest.dependencies)).toStrictEqual(['@smithy/signature-v4']);
    expect(Object.keys(manifest.peerDependencies).sort()).toStrictEqual([
      '@aws-sdk/client-dynamodb',
      '@aws-sdk/client-secrets-manager',
      '@aws-sdk/credential-provider-node',
    ]);
    expect(Object.values(manifest.peerDependenciesMeta).every((meta) => meta.optional)).toBe(true);
    await expect(stat(join(packageDir(), 'LICENSE'))).resolves.toBeDefined();
  });

  it('is imported by a consumer in a child Node.js process and works', async () => {
    // Prepare
    await writeFile(join(installed.dir, 'fakes.mjs'), FAKES_SCRIPT);

    // Act
    const { stdout } = await run(process.execPath, ['fakes.mjs'], { cwd: installed.dir });
    const result = JSON.parse(stdout) as Record<string, unknown>;

    // Assess
    expect(result).toMatchObject({
      smToken: { provider: 'github', accessToken: 'packaged-token', tokenType: 'Bearer' },
      commands: [
        {
          name: 'GetSecretValueCommand',
          input: { SecretId: 'token-refresher/github/token', VersionStage: 'AWSCURRENT' },
        },
        {
          name: 'GetItemCommand',
          input: { TableName: 'stack-tokens', Key: { provider: { S: 'github' } }, ConsistentRead: true },
        },
      ],
      rfToken: 'packaged-token',
      ddbToken: 'packaged-token',
      invalid: 'invalid_options',
      instance: true,
      sameErrorClass: true,
      perSource: 'function',
    });
    expect(result.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDPACKAGE\/\d{8}\/eu-west-1\/lambda\/aws4_request, /,
    );
  });

  it('type-checks a consumer against the installed declarations', async () => {
    // Prepare
    await writeFile(join(installed.dir, 'consumer.ts'), CONSUMER_TS);

    // Act: this repository's tsc and @types/node; everything else from the app's node_modules.
    const checking = run(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
        ...['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext'],
        ...['--target', 'es2022', '--types', 'node', '--typeRoots', join(REPO_ROOT, 'node_modules/@types')],
        ...['--skipLibCheck', 'consumer.ts'],
      ],
      { cwd: installed.dir },
    );

    // Assess
    await expect(checking).resolves.toBeDefined();
  });

  describe('against the running local service (npm start)', () => {
    const provider = DEMO_PROVIDERS[0];
    let service: LocalService | undefined;
    let api: RefusingApi | undefined;
    let store: SecretsManagerTokenStore;
    let stored: TokenRecord;

    beforeAll(async () => {
      const quiet = Object.assign(new Writable({ write: (_chunk, _encoding, done) => done() }), {
        isTTY: false,
      });
      // 10-minute demo tokens: no scheduled refresh can replace the token while the test runs.
      service = await startLocal({
        cwd: installed.dir,
        port: 0,
        demoTokenTtlSeconds: 600,
        out: quiet,
        tty: false,
      });
      api = await startRefusingApi();
      const { session } = service;
      store = new SecretsManagerTokenStore({
        clientConfig: {
          endpoint: session.awsEndpoint,
          region: session.region,
          credentials: LOCAL_AWS_CREDENTIALS,
        },
        secretPrefix: session.secretPrefix,
      });
      stored = await until('the first token', async () => (await store.readCurrent(provider)).token);
      // The read function refreshes on demand only a token older than the provider's
      // onDemandRefreshInterval (10 s for the demo providers); younger, it answers 429.
      await until('the token to be 11 s old', async () =>
        Date.now() >= Date.parse(stored.issuedAt) + 11_000 ? true : undefined,
      );
    }, 120_000);

    afterAll(async () => {
      await api?.close();
      await service?.stop();
    });

    it('reads the token through both sources, and withToken retries once after a 401', async () => {
      // Prepare
      if (service === undefined || api === undefined) throw new Error('the local service did not start');
      const { session, caller } = service;
      await writeFile(join(installed.dir, 'live.mjs'), LIVE_SCRIPT);
      const env = {
        PATH: process.env.PATH ?? '',
        HOME: installed.dir,
        AWS_REGION: session.region,
        AWS_ACCESS_KEY_ID: LOCAL_AWS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_AWS_CREDENTIALS.secretAccessKey,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: session.awsEndpoint,
        // The read function checks caller proofs against the emulator's STS, made by the local caller.
        AWS_ENDPOINT_URL_STS: caller.stsEndpoint,
        TOKEN_READER_FUNCTION: caller.functionName,
        CALLER_CREDENTIALS: JSON.stringify(caller.credentials),
        // No profile files of this machine, no instance metadata: the environment's credentials only.
        AWS_CONFIG_FILE: join(installed.dir, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(installed.dir, 'no-aws-credentials'),
        AWS_EC2_METADATA_DISABLED: 'true',
        PROVIDER: provider,
        SECRET_PREFIX: session.secretPrefix,
        TOKEN_READER_URL: session.readUrl,
        API_URL: api.url,
      };

      // Act
      const { stdout } = await run(process.execPath, ['live.mjs'], { cwd: installed.dir, env });
      const result = JSON.parse(stdout) as {
        read: Record<string, { provider: string; accessToken: string; tokenType: string; expiresAt: string }>;
        status: number;
        body: string;
        given: string[];
        afterwards: { accessToken: string };
      };
      const now = (await store.readCurrent(provider)).token;

      // Assess: every source and entry point read the stored token.
      for (const token of Object.values(result.read)) {
        expect(token).toStrictEqual({
          provider,
          accessToken: stored.accessToken,
          tokenType: stored.tokenType,
          expiresAt: stored.expiresAt,
        });
      }
      expect(Object.keys(result.read)).toStrictEqual(['direct', 'served', 'indexDirect', 'indexServed']);
      // Assess: refused once, retried once with the token the on-demand refresh wrote.
      expect(api.requests.map((request) => request.status)).toStrictEqual([401, 200]);
      expect(result.given).toStrictEqual(api.requests.map((request) => request.token));
      expect(result.given[0]).toBe(stored.accessToken);
      expect(result.given[1]).not.toBe(stored.accessToken);
      expect(result).toMatchObject({ status: 200, body: 'welcome' });
      expect(result.afterwards.accessToken).toBe(result.given[1]);
      expect(now?.accessToken).toBe(result.given[1]);
      expect(now?.generation).toBe(stored.generation + 1);
    });
  });
});
