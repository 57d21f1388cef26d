/**
 * Issue 13, test 3: the operator CLI as a user gets it: `npm install` of the `@token-refresher/cdk`
 * tarball into an empty scratch directory outside the repository, with its peers `aws-cdk-lib` and
 * `constructs` (pinned to this repository's versions, so that they come from the npm cache), then
 * `npx token-refresher ...` there. No tsx, esbuild or TypeScript is installed
 * and the AWS SDK is not either: the bin is the compiled, self-contained CLI.
 *
 * - `validate-config` prints exactly what this repository's CLI (`run`, from the sources) prints for
 *   the same files, with the same exit codes (0 valid, 1 schema, 2 unreadable, 3 deploy check);
 * - `status` and `refresh` work against a moto server and a real OAuth server on 127.0.0.1 with
 *   `--endpoint`, `--table` and `--config` (the emulator has no stack outputs to read).
 */
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as runFromSources } from '../../functions/cli/main.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { provision } from '../support/resources.js';
import { diskUsage, npmInstall, packedTarballs, pinned, scratchDir, scratchEnv } from './support.js';

const execFileAsync = promisify(execFile);

const TABLE = 'cli-package-state';
const PREFIX = 'cli-package';
const CLIENT_SECRET = 'cli-package-secret-5e1d';
const DDB_TABLE = 'cli-package-ddb-state';
// The token table local mode derives from --table (refresh takes no --token-table).
const DDB_TOKEN_TABLE = `${DDB_TABLE}-tokens`;
const DDB_PREFIX = 'cli-package-ddb';

interface Printed {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Configuration files of `validate-config`, one per exit code. */
const FILES: Record<string, string> = {
  'valid.json': JSON.stringify({
    providers: [{ name: 'github', grant: 'client_credentials', tokenUrl: 'https://auth.example.com/token' }],
  }),
  'schema-problem.json': JSON.stringify({
    providers: [
      { name: 'Not A Slug', grant: 'client_credentials', tokenUrl: 'ftp://auth.example.com/token' },
    ],
  }),
  'broken.json': '{"providers": [',
  'short-tokens.json': JSON.stringify({
    providers: [
      {
        name: 'pager',
        grant: 'client_credentials',
        tokenUrl: 'https://auth.example.com/token',
        expectedLifetime: 60,
      },
    ],
  }),
};

describe('The token-refresher CLI of @token-refresher/cdk, installed from its tarball', () => {
  let dir: string;
  let moto: MotoServer;
  let oauth: OAuthServer;
  const printed: string[] = [];

  /** `npx token-refresher <argv>` in the scratch directory: exit code and output. */
  function npx(argv: readonly string[]): Promise<Printed> {
    return new Promise((resolve, reject) => {
      execFile(
        'npx',
        ['token-refresher', ...argv],
        { cwd: dir, env: scratchEnv({ AWS_REGION: 'us-east-1' }) },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : undefined;
          if (code === undefined) reject(error);
          else {
            printed.push(stdout, stderr);
            resolve({ code, stdout, stderr });
          }
        },
      );
    });
  }

  beforeAll(async () => {
    const { cdk: tarball } = await packedTarballs();
    dir = scratchDir('token-refresher-cdk-cli');
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'scratch-operator', private: true }));
    const [, motoServer, oauthServer] = await Promise.all([
      // The peers npm would add, at the versions this repository's lockfile has (from the npm cache).
      npmInstall(dir, [tarball, ...(await Promise.all(['aws-cdk-lib', 'constructs'].map(pinned)))]),
      startMoto(),
      startOAuthServer({
        clients: [
          {
            clientId: 'svc',
            clientSecret: CLIENT_SECRET,
            tokenEndpointAuthMethod: 'client_secret_basic',
            grantTypes: ['client_credentials'],
          },
        ],
      }),
    ]);
    moto = motoServer;
    oauth = oauthServer;
    for (const [name, text] of Object.entries(FILES)) await writeFile(join(dir, name), text);
    const provider = (name: string) => ({ name, grant: 'client_credentials', tokenUrl: oauth.tokenUrl });
    await writeFile(
      join(dir, 'local.json'),
      JSON.stringify({ secretPrefix: PREFIX, providers: [provider('cc'), provider('idle')] }),
    );
    await writeFile(
      join(dir, 'ddb.json'),
      JSON.stringify({
        secretPrefix: DDB_PREFIX,
        providers: [{ ...provider('ddb'), tokenStore: 'dynamodb' }],
      }),
    );
    const packageDir = join(dir, 'node_modules', '@token-refresher', 'cdk');
    console.log(
      `PACKAGE cdk install into an empty directory: node_modules ${await diskUsage(join(dir, 'node_modules'))} ` +
        `(peers included), @token-refresher/cdk ${await diskUsage(packageDir)}`,
    );
  });

  afterAll(async () => {
    // Nothing the CLI printed holds a secret or a token.
    const all = printed.join('\n');
    for (const secret of [CLIENT_SECRET, ...(oauth?.issuedTokens.map((token) => token.value) ?? [])]) {
      expect(all).not.toContain(secret);
    }
    await Promise.all([moto?.stop(), oauth?.stop()]);
  });

  it('is installed with its peers only: no tsx, esbuild, TypeScript or AWS SDK', async () => {
    // Act
    const installed = await topLevelPackages(join(dir, 'node_modules'));
    const tsx = await execFileAsync(process.execPath, ['-e', "require.resolve('tsx')"], { cwd: dir }).then(
      () => 'resolved',
      (error: { stderr: string }) => error.stderr,
    );

    // Assess
    expect(tsx).toContain("Cannot find module 'tsx'");
    expect(installed).toEqual(
      expect.arrayContaining(['@token-refresher/cdk', 'aws-cdk-lib', 'constructs', 'zod']),
    );
    expect(
      installed.filter((name) =>
        /^(tsx|esbuild|typescript|@aws-sdk\/.*|@aws-lambda-powertools\/.*)$/.test(name),
      ),
    ).toEqual([]);
  });

  it.each(Object.keys(FILES))(
    'validate-config %s prints what the sources print, with the same exit code',
    async (file) => {
      // Prepare: the repository's CLI, in this process, on the same file from the same directory.
      let stdout = '';
      let stderr = '';
      const code = await runFromSources(['validate-config', file], {
        cwd: dir,
        stdout: { write: (text: string) => (stdout += text) },
        stderr: { write: (text: string) => (stderr += text) },
      });

      // Act
      const compiled = await npx(['validate-config', file]);

      // Assess
      expect(compiled).toEqual({ code, stdout, stderr });
      expect(code).toBe(
        { 'valid.json': 0, 'schema-problem.json': 1, 'broken.json': 2, 'short-tokens.json': 3 }[file],
      );
    },
  );

  it('shows the status, refreshes a provider and shows it ok, against moto with --endpoint', async () => {
    // Prepare
    await provision({
      clientConfig: moto.clientConfig,
      tableName: TABLE,
      secretPrefix: PREFIX,
      credentials: { cc: { clientId: 'svc', clientSecret: CLIENT_SECRET }, idle: undefined },
    });
    const target = ['--endpoint', moto.endpoint, '--table', TABLE, '--config', 'local.json'];

    // Act
    const before = await npx(['status', ...target]);
    const refreshed = await npx(['refresh', 'cc', ...target]);
    const after = await npx(['status', '--json', ...target]);

    // Assess
    expect(before.code).toBe(0);
    expect(before.stderr).toBe(`target: local emulator at ${moto.endpoint} (--endpoint; table ${TABLE})\n`);
    expect(
      before.stdout
        .split('\n')
        .slice(1, 3)
        .map((line) => line.split(/\s{2,}/).slice(0, 2)),
    ).toEqual([
      ['cc', 'never refreshed'],
      ['idle', 'never refreshed'],
    ]);
    expect(refreshed.code).toBe(0);
    expect(refreshed.stdout).toMatch(/^refreshed cc: generation 1, expires \S+ \(in .+\)\n$/);
    expect(after.code).toBe(0);
    const shown = JSON.parse(after.stdout) as { target: string; providers: Record<string, unknown>[] };
    expect(shown.target).toBe('local');
    expect(shown.providers.map((row) => [row.provider, row.state])).toEqual([
      ['cc', 'ok'],
      ['idle', 'never refreshed'],
    ]);
  });

  it('refreshes and revokes a provider whose token is in the DynamoDB token table (SDK clients it loads on first use)', async () => {
    // Prepare: the SDK clients the adapters import on first use are bundled into the CLI; each must
    // load as a module (issue 17), for Secrets Manager, the Scheduler and DynamoDB alike.
    await provision({
      clientConfig: moto.clientConfig,
      tableName: DDB_TABLE,
      secretPrefix: DDB_PREFIX,
      credentials: { ddb: { clientId: 'svc', clientSecret: CLIENT_SECRET } },
      tokenTableName: DDB_TOKEN_TABLE,
      dynamodbProviders: ['ddb'],
    });
    const target = ['--endpoint', moto.endpoint, '--table', DDB_TABLE, '--config', 'ddb.json'];

    // Act
    const refreshed = await npx(['refresh', 'ddb', ...target]);
    const revoked = await npx(['revoke', 'ddb', ...target, '--token-table', DDB_TOKEN_TABLE]);

    // Assess
    expect(refreshed).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^refreshed ddb: generation 1, /),
    });
    expect(revoked.code).toBe(0);
    const item = await new DynamoDBClient(moto.clientConfig).send(
      new GetItemCommand({
        TableName: DDB_TOKEN_TABLE,
        Key: { provider: { S: 'ddb' } },
        ConsistentRead: true,
      }),
    );
    expect(item.Item).toBeUndefined();
  });
});

async function topLevelPackages(nodeModules: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(nodeModules, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    if (!entry.name.startsWith('@')) names.push(entry.name);
    else
      for (const scoped of await readdir(join(nodeModules, entry.name)))
        names.push(`${entry.name}/${scoped}`);
  }
  return names.sort();
}
