/**
 * Issue 15, finding 11, against real parts: `token-refresher revoke` on moto server (with the
 * project's label parity) and oidc-provider. After a revoke no staging label leads to the revoked
 * token — `AWSPREVIOUS` least of all, which Secrets Manager gives the version `AWSCURRENT` leaves —,
 * the refresh protocol's compare-and-swap still works from the revoked placeholder, and a revoke that
 * left the token as `AWSPREVIOUS` (an earlier CLI) is finished by running revoke again.
 *
 * The version itself is not deleted: Secrets Manager has no call that deletes one version of a secret
 * (it deletes unlabelled versions itself), so a reader that knows the old version id can still read
 * it by id, on AWS as on moto. The last assertion of the first test pins that documented limit.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JsonSecrets } from '../../functions/aws/secrets.js';
import { SecretsManagerTokenStore, tokenSecretName } from '../../functions/aws/token-store.js';
import { run } from '../../functions/cli/main.js';
import { writeLocalSession } from '../../functions/local/session.js';
import { type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { provision } from '../support/resources.js';

const TABLE = 'revoke-state';
const PREFIX = 'revoke-it';
const CLIENT_SECRET = 'revoke-client-secret-5d2e';
const SECRET_ID = tokenSecretName(PREFIX, 'cc');

describe('token-refresher revoke against moto server and oidc-provider', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let cwd: string;
  let secrets: SecretsManagerClient;
  const printed: string[] = [];

  async function cli(argv: string[]): Promise<{ code: number; stdout: string }> {
    let stdout = '';
    let stderr = '';
    const code = await run(argv, {
      cwd,
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env: {},
    });
    printed.push(stdout, stderr);
    return { code, stdout };
  }

  /** What `GetSecretValue` answers for a label or a version id: its SecretString, or its error's name. */
  async function read(version: { VersionStage: string } | { VersionId: string }): Promise<string> {
    try {
      return (
        (await secrets.send(new GetSecretValueCommand({ SecretId: SECRET_ID, ...version }))).SecretString ??
        ''
      );
    } catch (error) {
      return (error as Error).name;
    }
  }

  const current = () =>
    new SecretsManagerTokenStore({ clientConfig: moto.clientConfig, secretPrefix: PREFIX }).readCurrent('cc');

  beforeAll(async () => {
    [moto, oauth] = await Promise.all([
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
    secrets = new SecretsManagerClient(moto.clientConfig);
    cwd = mkdtempSync(join(tmpdir(), 'revoke-'));
    const configFile = join(cwd, 'config.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        secretPrefix: PREFIX,
        providers: [{ name: 'cc', grant: 'client_credentials', tokenUrl: oauth.tokenUrl, requestTimeout: 5 }],
      }),
    );
    writeLocalSession(
      {
        pid: process.pid,
        awsEndpoint: moto.endpoint,
        region: moto.clientConfig.region,
        tableName: TABLE,
        secretPrefix: PREFIX,
        configFile,
        readUrl: 'http://127.0.0.1:9/',
        startedAt: new Date().toISOString(),
      },
      cwd,
    );
  });

  afterAll(async () => {
    const all = printed.join('\n');
    for (const secret of [CLIENT_SECRET, ...oauth.issuedTokens.map((token) => token.value)]) {
      expect(all).not.toContain(secret);
    }
    secrets?.destroy();
    await Promise.all([moto?.stop(), oauth?.stop()]);
  });

  beforeEach(async () => {
    await moto.reset();
    await provision({
      clientConfig: moto.clientConfig,
      tableName: TABLE,
      secretPrefix: PREFIX,
      credentials: { cc: { clientId: 'svc', clientSecret: CLIENT_SECRET } },
    });
  });

  it('leaves no label on the revoked token, and the next refresh swaps from the placeholder', async () => {
    // Prepare: two generations, so that AWSPREVIOUS holds a token before the revoke too.
    await cli(['refresh', 'cc']);
    await cli(['refresh', 'cc']);
    const before = await current();
    const previousBefore = await read({ VersionStage: 'AWSPREVIOUS' });
    const tokens = oauth.issuedTokens.map((token) => token.value);

    // Act
    const revoked = await cli(['revoke', 'cc']);
    const afterRevoke = {
      previous: await read({ VersionStage: 'AWSPREVIOUS' }),
      pending: await read({ VersionStage: 'AWSPENDING' }),
      current: await read({ VersionStage: 'AWSCURRENT' }),
      plain: (await secrets.send(new GetSecretValueCommand({ SecretId: SECRET_ID }))).SecretString ?? '',
      described: (await secrets.send(new DescribeSecretCommand({ SecretId: SECRET_ID }))).VersionIdsToStages,
      listed: (await secrets.send(new ListSecretVersionIdsCommand({ SecretId: SECRET_ID }))).Versions,
    };
    const placeholder = await current();
    const refreshed = await cli(['refresh', 'cc']);
    const afterRefresh = { previous: await read({ VersionStage: 'AWSPREVIOUS' }), current: await current() };

    // Assess: before the revoke AWSPREVIOUS led to a token (the finding).
    expect(tokens).toHaveLength(2);
    expect(JSON.parse(previousBefore)).toMatchObject({ provider: 'cc', generation: 1 });
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(
      `old version ${before.versionId}: no staging label left (AWSPREVIOUS removed)`,
    );

    // No label leads to either token any more; AWSPREVIOUS is held by no version at all.
    expect(afterRevoke.previous).toBe('ResourceNotFoundException');
    for (const answer of Object.values(afterRevoke).map((value) => JSON.stringify(value))) {
      for (const token of tokens) expect(answer).not.toContain(token);
    }
    expect(JSON.parse(afterRevoke.current)).toEqual({ status: 'revoked', revokedAt: expect.any(String) });
    // Only the placeholder holds labels (AWS lists only labelled versions here; moto 5.2.1 lists
    // every version, the unlabelled ones with no stages).
    const labelled = (stages: readonly [string, readonly string[] | undefined][]) =>
      stages.filter(([, labels]) => (labels ?? []).length > 0);
    expect(labelled(Object.entries(afterRevoke.described ?? {}))).toEqual([
      [placeholder.versionId, expect.arrayContaining(['AWSCURRENT', 'AWSPENDING'])],
    ]);
    expect(
      labelled((afterRevoke.listed ?? []).map((version) => [version.VersionId ?? '', version.VersionStages])),
    ).toEqual([[placeholder.versionId, expect.arrayContaining(['AWSCURRENT', 'AWSPENDING'])]]);

    // The refresh protocol swaps from the placeholder; AWSPREVIOUS goes to the placeholder, not a token.
    expect(refreshed.code).toBe(0);
    expect(afterRefresh.current.token).toMatchObject({ provider: 'cc', generation: 3 });
    expect(JSON.parse(afterRefresh.previous)).toEqual({ status: 'revoked', revokedAt: expect.any(String) });

    // The documented limit: the unlabelled version is still there, readable by its id.
    expect(await read({ VersionId: before.versionId })).toContain(before.token?.accessToken ?? '?');
  });

  it('finishes a revoke that left the token as AWSPREVIOUS when run again', async () => {
    // Prepare: a revoke as an earlier CLI made it, the compare-and-swap alone.
    await cli(['refresh', 'cc']);
    const before = await current();
    await new JsonSecrets({ clientConfig: moto.clientConfig }).compareAndSwap({
      secretId: SECRET_ID,
      value: { status: 'revoked', revokedAt: new Date().toISOString() },
      clientRequestToken: '0b6f1c2e-6a8d-4c1f-9e2a-7d3b5c4a1f00',
      expectedVersionId: before.versionId,
    });
    const leftOver = await read({ VersionStage: 'AWSPREVIOUS' });

    // Act
    const again = await cli(['revoke', 'cc']);

    // Assess
    expect(JSON.parse(leftOver)).toMatchObject({ provider: 'cc', accessToken: before.token?.accessToken });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^nothing to revoke: revoke-it\/cc\/token holds no token/);
    expect(again.stdout).toContain(
      `removed the staging labels of version ${before.versionId}, which still held a token as AWSPREVIOUS`,
    );
    expect(await read({ VersionStage: 'AWSPREVIOUS' })).toBe('ResourceNotFoundException');
  });
});
