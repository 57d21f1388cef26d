/**
 * The emulator answers as AWS does where consumers and operators meet it (issue 11), with real parts:
 * moto through the project's launcher, oidc-provider with rotating refresh tokens, and the refresh
 * handler. Generic consumers read a token secret without `VersionStage` (boto3, Powertools, the AWS
 * CLI), operators re-seed a credentials secret with a plain `put-secret-value`, and `npm start` keeps
 * its emulated state across restarts.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SecretsManagerCredentialsStore } from '../../functions/aws/credentials-store.js';
import { DynamoDbStateTable } from '../../functions/aws/state-table.js';
import { SecretsManagerTokenStore } from '../../functions/aws/token-store.js';
import { deployedConfigJson } from '../../functions/core/config-schema.js';
import type { RefreshResult } from '../../functions/core/types.js';
import { LOCAL_STATE_FILE } from '../../functions/local/persistence.js';
import { LOCAL_AWS_CREDENTIALS, type LocalSession } from '../../functions/local/session.js';
import { type LocalService, startLocal } from '../../functions/local/start.js';
import { type RefreshHandler, refreshHandlerFromEnvironment } from '../../functions/refresh/app.js';
import { type AwsClientConfig, type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { provision } from '../support/resources.js';

const run = promisify(execFile);
const TABLE = 'parity-state';
const PREFIX = 'parity';
const CLIENT = { clientId: 'parity-rotating', clientSecret: 'parity-secret-3f9a' };
const TOKEN_SECRET = `${PREFIX}/rotating/token`;
const CREDENTIALS_SECRET = `${PREFIX}/rotating/credentials`;

/** What a plain `get_secret_value` (no VersionId, no VersionStage) answers through boto3. */
async function boto3PlainRead(
  env: Readonly<Record<string, string>>,
  secretId: string,
): Promise<{ versionId: string; secretString: string; stages: string[] }> {
  const script = [
    'import boto3, json, sys',
    "answer = boto3.client('secretsmanager').get_secret_value(SecretId=sys.argv[1])",
    "print(json.dumps({'versionId': answer['VersionId'], 'secretString': answer['SecretString'],",
    "                  'stages': answer['VersionStages']}))",
  ].join('\n');
  const { stdout } = await run('python3', ['-c', script, secretId], { env: { ...process.env, ...env } });
  return JSON.parse(stdout);
}

/** Version id → labels, for every version of a secret. */
async function labelsOf(secrets: SecretsManagerClient, secretId: string): Promise<Record<string, string[]>> {
  const { Versions = [] } = await secrets.send(new ListSecretVersionIdsCommand({ SecretId: secretId }));
  return Object.fromEntries(Versions.map((version) => [version.VersionId, version.VersionStages ?? []]));
}

function holdersOf(labels: Record<string, string[]>, label: string): string[] {
  return Object.entries(labels)
    .filter(([, stages]) => stages.includes(label))
    .map(([versionId]) => versionId);
}

/** One refresh_token request straight to the token endpoint: the grant's answer, nothing stored. */
async function presentRefreshToken(tokenUrl: string, refreshToken: string): Promise<number> {
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
  });
  await response.arrayBuffer();
  return response.status;
}

function refreshWith(handler: RefreshHandler, provider: string): Promise<RefreshResult> {
  return handler(
    { provider, force: true },
    { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 30_000 },
  ) as Promise<RefreshResult>;
}

async function startParityOAuthServer(): Promise<OAuthServer> {
  return startOAuthServer({
    clients: [{ ...CLIENT, tokenEndpointAuthMethod: 'client_secret_basic', grantTypes: ['refresh_token'] }],
  });
}

describe('Emulator parity with AWS (moto through the launcher)', () => {
  let moto: MotoServer;
  let oauth: OAuthServer;
  let secrets: SecretsManagerClient;
  let handler: RefreshHandler;

  const credentialsStore = () =>
    new SecretsManagerCredentialsStore({ clientConfig: moto.clientConfig, secretPrefix: PREFIX });
  const tokenStore = () =>
    new SecretsManagerTokenStore({ clientConfig: moto.clientConfig, secretPrefix: PREFIX });

  beforeAll(async () => {
    [moto, oauth] = await Promise.all([startMoto(), startParityOAuthServer()]);
    secrets = new SecretsManagerClient({ ...moto.clientConfig, maxAttempts: 1 });
  });

  afterAll(async () => {
    secrets?.destroy();
    await Promise.all([moto?.stop(), oauth?.stop()]);
  });

  beforeEach(async () => {
    await moto.reset();
    await provision({
      clientConfig: moto.clientConfig,
      tableName: TABLE,
      secretPrefix: PREFIX,
      credentials: {
        rotating: { ...CLIENT, refreshToken: await oauth.seedRefreshToken({ clientId: CLIENT.clientId }) },
      },
    });
    handler = refreshHandlerFromEnvironment(
      {
        TABLE_NAME: TABLE,
        PROVIDERS_CONFIG: deployedConfigJson({
          secretPrefix: PREFIX,
          providers: [
            { name: 'rotating', grant: 'refresh_token', tokenUrl: oauth.tokenUrl, requestTimeout: 5 },
          ],
        }),
      },
      { clientConfig: { ...moto.clientConfig, maxAttempts: 1 } },
    );
    oauth.resetCounters();
  });

  it('runs behind the serialising launcher', () => {
    // Assess: the parity below is the launcher's; plain moto_server answers differently.
    expect(moto.launcher).toBe('serialised');
  });

  it('answers a plain GetSecretValue (SDK v3, Powertools, boto3) with the current token after 10 refreshes', async () => {
    // Act
    const results: RefreshResult[] = [];
    for (let round = 0; round < 10; round += 1) results.push(await refreshWith(handler, 'rotating'));
    const current = await tokenStore().readCurrent('rotating');
    const atCurrent = await secrets.send(
      new GetSecretValueCommand({ SecretId: TOKEN_SECRET, VersionStage: 'AWSCURRENT' }),
    );
    const viaSdk = await secrets.send(new GetSecretValueCommand({ SecretId: TOKEN_SECRET }));
    const viaPowertools = await new SecretsProvider({ clientConfig: moto.clientConfig }).get(TOKEN_SECRET, {
      forceFetch: true,
    });
    const viaBoto3 = await boto3PlainRead(moto.env, TOKEN_SECRET);
    const labels = await labelsOf(secrets, TOKEN_SECRET);

    // Assess
    expect(results.map((result) => result.status)).toEqual(Array(10).fill('refreshed'));
    expect(current.token?.accessToken).toBeDefined();
    expect(JSON.parse(atCurrent.SecretString ?? '{}').accessToken).toBe(current.token?.accessToken);
    expect(viaSdk.VersionId).toBe(atCurrent.VersionId);
    expect(viaSdk.SecretString).toBe(atCurrent.SecretString);
    expect(viaSdk.VersionStages).toContain('AWSCURRENT');
    expect(viaPowertools).toBe(atCurrent.SecretString);
    expect(viaBoto3).toEqual({
      versionId: atCurrent.VersionId,
      secretString: atCurrent.SecretString,
      stages: expect.arrayContaining(['AWSCURRENT']),
    });
    // One version per label, AWSPREVIOUS on the token before the current one (11 versions in all).
    expect(Object.keys(labels)).toHaveLength(11);
    expect(holdersOf(labels, 'AWSCURRENT')).toEqual([atCurrent.VersionId]);
    expect(holdersOf(labels, 'AWSPREVIOUS')).toHaveLength(1);
    expect(holdersOf(labels, 'AWSPREVIOUS')).not.toContain(atCurrent.VersionId);
  });

  it('uses the refresh token of a plain put-secret-value re-seed made after several rotations', async () => {
    // Prepare: three rotations, then an operator re-seeds the credentials (no VersionStages, as the
    // console and the CLI do) with a refresh token of a new grant.
    for (let round = 0; round < 3; round += 1) await refreshWith(handler, 'rotating');
    const rotated = (await credentialsStore().read('rotating')).credentials.refreshToken ?? '';
    const reseeded = await oauth.seedRefreshToken({ clientId: CLIENT.clientId, accountId: 're-seeded' });
    const before = await labelsOf(secrets, CREDENTIALS_SECRET);
    const put = await secrets.send(
      new PutSecretValueCommand({
        SecretId: CREDENTIALS_SECRET,
        SecretString: JSON.stringify({ ...CLIENT, refreshToken: reseeded }),
      }),
    );
    const afterReseed = await labelsOf(secrets, CREDENTIALS_SECRET);
    const plainAfterReseed = await secrets.send(new GetSecretValueCommand({ SecretId: CREDENTIALS_SECRET }));

    // Act
    const result = await refreshWith(handler, 'rotating');

    // Assess: the re-seed took AWSCURRENT alone and AWSPREVIOUS went to the version it left.
    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    expect(holdersOf(afterReseed, 'AWSCURRENT')).toEqual([put.VersionId]);
    expect(holdersOf(afterReseed, 'AWSPREVIOUS')).toEqual(holdersOf(before, 'AWSCURRENT'));
    expect(plainAfterReseed.VersionId).toBe(put.VersionId);
    expect(result).toMatchObject({ status: 'refreshed', refreshTokenRotated: true });
    // The refresh presented the re-seeded token (spent now) and never the old family's last one.
    expect(await presentRefreshToken(oauth.tokenUrl, reseeded)).toBe(400);
    expect(await presentRefreshToken(oauth.tokenUrl, rotated)).toBe(200);
  });

  it('ignores a repeated PutSecretValue of a finished write, as AWS does (same token, same value)', async () => {
    // Prepare
    await refreshWith(handler, 'rotating');
    const current = await secrets.send(
      new GetSecretValueCommand({ SecretId: TOKEN_SECRET, VersionStage: 'AWSCURRENT' }),
    );
    const before = await labelsOf(secrets, TOKEN_SECRET);

    // Act
    const repeated = await secrets.send(
      new PutSecretValueCommand({
        SecretId: TOKEN_SECRET,
        SecretString: current.SecretString,
        VersionStages: ['AWSPENDING'],
        ClientRequestToken: current.VersionId,
      }),
    );
    const differing = secrets.send(
      new PutSecretValueCommand({
        SecretId: TOKEN_SECRET,
        SecretString: '{"other":true}',
        VersionStages: ['AWSPENDING'],
        ClientRequestToken: current.VersionId,
      }),
    );

    // Assess
    expect(repeated.VersionStages).toEqual(expect.arrayContaining(['AWSCURRENT', 'AWSPENDING']));
    await expect(differing).rejects.toMatchObject({ name: 'ResourceExistsException' });
    expect(await labelsOf(secrets, TOKEN_SECRET)).toEqual(before);
  });
});

describe("The launcher's state file", () => {
  it('keeps every secret version and table item written before a SIGKILL', async () => {
    // Prepare
    const stateFile = join(mkdtempSync(join(tmpdir(), 'moto-state-')), 'nested', 'state.json');
    const first = await startMoto({ stateFile });
    const secrets = new SecretsManagerClient({ ...first.clientConfig, maxAttempts: 1 });
    await provision({
      clientConfig: first.clientConfig,
      tableName: TABLE,
      secretPrefix: PREFIX,
      credentials: { rotating: { ...CLIENT, refreshToken: 'first' } },
    });
    await secrets.send(
      new PutSecretValueCommand({
        SecretId: CREDENTIALS_SECRET,
        SecretString: JSON.stringify({ ...CLIENT, refreshToken: 'second' }),
      }),
    );
    const labels = await labelsOf(secrets, CREDENTIALS_SECRET);
    secrets.destroy();
    const dynamodb = new DynamoDBClient({ ...first.clientConfig, maxAttempts: 1 });
    const item = {
      provider: { S: 'rotating' },
      fence: { N: '7' },
      note: { M: { binary: { B: Uint8Array.of(0, 1) } } },
    };
    await dynamodb.send(new PutItemCommand({ TableName: TABLE, Item: item }));
    dynamodb.destroy();

    // Act: stop() kills the emulator with SIGKILL; nothing is written on the way out.
    await first.stop();
    const second = await startMoto({ stateFile });
    const restored = new SecretsManagerClient({ ...second.clientConfig, maxAttempts: 1 });
    const plain = await restored.send(new GetSecretValueCommand({ SecretId: CREDENTIALS_SECRET }));
    const restoredLabels = await labelsOf(restored, CREDENTIALS_SECRET);
    const dynamodbAfter = new DynamoDBClient({ ...second.clientConfig, maxAttempts: 1 });
    const restoredItem = await dynamodbAfter.send(
      new GetItemCommand({ TableName: TABLE, Key: { provider: { S: 'rotating' } } }),
    );
    dynamodbAfter.destroy();
    restored.destroy();
    await second.stop();

    // Assess
    expect(first.restoredState).toBe(false);
    expect(second.restoredState).toBe(true);
    expect(JSON.parse(plain.SecretString ?? '{}')).toMatchObject({ refreshToken: 'second' });
    expect(restoredLabels).toEqual(labels);
    expect(restoredItem.Item).toEqual(item);
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    expect(statSync(join(stateFile, '..')).mode & 0o777).toBe(0o700);
  });

  it('refuses to start on a state file it cannot read back, and leaves the file as it was', async () => {
    // Prepare
    const stateFile = join(mkdtempSync(join(tmpdir(), 'moto-state-')), 'state.json');
    writeFileSync(stateFile, '{"format": 1, "secretsmanager": [', { mode: 0o600 });

    // Act
    const started = startMoto({ stateFile });

    // Assess
    await expect(started).rejects.toThrow(/cannot restore the emulator state from .*state\.json/);
    expect(readFileSync(stateFile, 'utf8')).toBe('{"format": 1, "secretsmanager": [');
  });
});

describe('npm start keeps its emulated state across a restart', () => {
  let oauth: OAuthServer;
  let service: LocalService | undefined;
  const captured = (): { out: Writable & { isTTY: boolean }; text: () => string } => {
    const chunks: string[] = [];
    const out = Object.assign(
      new Writable({
        write(chunk, _encoding, callback) {
          chunks.push(String(chunk));
          callback();
        },
      }),
      { isTTY: false },
    );
    return { out, text: () => chunks.join('') };
  };
  const clientConfigOf = (session: LocalSession): AwsClientConfig => ({
    endpoint: session.awsEndpoint,
    region: session.region,
    credentials: LOCAL_AWS_CREDENTIALS,
  });
  /**
   * What the CLI's `refresh` does: the refresh handler against the running service's emulator, again
   * while the service's own scheduled run holds the lease.
   */
  const refreshOn = async (session: LocalSession): Promise<RefreshResult> => {
    const handler = refreshHandlerFromEnvironment(
      { TABLE_NAME: session.tableName, PROVIDERS_CONFIG_FILE: session.configFile },
      { clientConfig: { ...clientConfigOf(session), maxAttempts: 1 } },
    );
    for (let attempt = 1; ; attempt += 1) {
      const result = await refreshWith(handler, 'rotating');
      if (result.status !== 'in-progress' || attempt === 120) return result;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  const snapshot = async (session: LocalSession) => {
    const clientConfig = clientConfigOf(session);
    const token = await new SecretsManagerTokenStore({
      clientConfig,
      secretPrefix: session.secretPrefix,
    }).readCurrent('rotating');
    const credentials = await new SecretsManagerCredentialsStore({
      clientConfig,
      secretPrefix: session.secretPrefix,
    }).read('rotating');
    const state = await new DynamoDbStateTable({ clientConfig, tableName: session.tableName }).read(
      'rotating',
    );
    return {
      tokenVersionId: token.versionId,
      accessToken: token.token?.accessToken,
      credentialsVersionId: credentials.versionId,
      refreshToken: credentials.credentials.refreshToken,
      fence: state?.fence,
      lastSuccessAt: state?.lastSuccessAt,
    };
  };

  beforeAll(async () => {
    oauth = await startParityOAuthServer();
  });

  afterAll(async () => {
    await oauth?.stop();
  });

  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  it('keeps the token, the rotated refresh token and the state item, in files of mode 0600', async () => {
    // Prepare: a real provider (the test's OAuth server) whose credentials the operator fills in.
    const cwd = mkdtempSync(join(tmpdir(), 'local-persist-'));
    writeFileSync(
      join(cwd, 'providers.json'),
      JSON.stringify({
        secretPrefix: 'persist',
        providers: [
          {
            name: 'rotating',
            grant: 'refresh_token',
            tokenUrl: oauth.tokenUrl,
            schedule: 'rate(1 hour)',
            requestTimeout: 5,
          },
        ],
      }),
    );
    const first = captured();
    service = await startLocal({ cwd, configFile: 'providers.json', port: 0, out: first.out, tty: false });
    const firstSession = service.session;
    const secrets = new SecretsManagerClient(clientConfigOf(firstSession));
    await secrets.send(
      new PutSecretValueCommand({
        SecretId: 'persist/rotating/credentials',
        SecretString: JSON.stringify({
          ...CLIENT,
          refreshToken: await oauth.seedRefreshToken({ clientId: CLIENT.clientId }),
        }),
      }),
    );
    secrets.destroy();
    const refreshed = [await refreshOn(firstSession), await refreshOn(firstSession)];
    const beforeRestart = await snapshot(firstSession);

    // Act: stop (the emulator is killed with SIGKILL) and start again in the same directory.
    await service.stop();
    const second = captured();
    service = await startLocal({ cwd, configFile: 'providers.json', port: 0, out: second.out, tty: false });
    const afterRestart = await snapshot(service.session);
    oauth.resetCounters();
    const next = await refreshOn(service.session);

    // Assess
    expect(refreshed.map((result) => result.status)).toEqual(['refreshed', 'refreshed']);
    expect(first.text()).toContain(`kept in ${LOCAL_STATE_FILE}`);
    expect(second.text()).toContain(`restored from ${LOCAL_STATE_FILE}`);
    expect(service.session.awsEndpoint).not.toBe(firstSession.awsEndpoint);
    expect(beforeRestart.accessToken).toBeDefined();
    expect(beforeRestart.fence).toBeGreaterThanOrEqual(2);
    expect(afterRestart).toEqual(beforeRestart);
    // The rotated refresh token still works after the restart: no reuse, no invalid_grant.
    expect(next).toMatchObject({ status: 'refreshed', refreshTokenRotated: true });
    expect(oauth.tokenResponses.map((response) => [response.status, response.errorDetail])).toEqual([
      [200, undefined],
    ]);
    const dir = join(cwd, '.token-refresher');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const files = readdirSync(dir);
    expect(files).toContain('emulator-state.json');
    expect(Object.fromEntries(files.map((name) => [name, statSync(join(dir, name)).mode & 0o777]))).toEqual(
      Object.fromEntries(files.map((name) => [name, 0o600])),
    );
  });

  it('starts the demo providers from empty state and keeps nothing for them', async () => {
    // Prepare
    const cwd = mkdtempSync(join(tmpdir(), 'local-demo-'));
    const first = captured();

    // Act
    service = await startLocal({ cwd, port: 0, out: first.out, tty: false });
    await service.stop();
    service = undefined;

    // Assess
    expect(first.text()).toContain('not kept');
    expect(readdirSync(join(cwd, '.token-refresher'))).not.toContain('emulator-state.json');
  });
});
