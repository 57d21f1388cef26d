/**
 * `npm start` with shortened timings (10-second demo tokens): the demo tokens are refreshed without
 * any action, the local read endpoint serves them to the local caller (its caller proof checked
 * against the emulator's STS; also to the consumer client over HTTP) and to nobody else, the
 * session file is there while it runs, and a stop (in-process, and Ctrl-C on a real process) leaves
 * nothing running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoDbTokenStore } from '../../functions/aws/dynamodb-token-store.js';
import { DynamoDbStateTable } from '../../functions/aws/state-table.js';
import { SecretsManagerTokenStore } from '../../functions/aws/token-store.js';
import { createReadFunctionTokenClient } from '../../functions/client/read-function.js';
import { LOCAL_CALLER_FILE, LOCAL_PROOF_HEADER_FILE } from '../../functions/local/local-caller.js';
import { LOCAL_DIRECTORY } from '../../functions/local/persistence.js';
import {
  LOCAL_AWS_CREDENTIALS,
  LOCAL_SESSION_FILE,
  type LocalSession,
} from '../../functions/local/session.js';
import {
  DEMO_PROVIDERS,
  LOCAL_TOKEN_TABLE_NAME,
  type LocalService,
  SHORT_LIVED_DEMO_PROVIDER,
  startLocal,
} from '../../functions/local/start.js';

/** Resolves when nothing accepts connections on the URL's port any more. */
async function refuses(url: string): Promise<boolean> {
  const { port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
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

describe('npm start (local mode)', () => {
  let service: LocalService | undefined;
  let child: ChildProcess | undefined;

  afterEach(async () => {
    await service?.stop();
    child?.kill('SIGKILL');
  });

  it('refreshes both demo tokens without any action and serves them on the local endpoint', async () => {
    // Prepare
    const cwd = mkdtempSync(join(tmpdir(), 'local-run-'));
    const output: string[] = [];
    const out = Object.assign(
      new (await import('node:stream')).Writable({
        write(chunk, _encoding, callback) {
          output.push(String(chunk));
          callback();
        },
      }),
      { isTTY: false },
    );

    // Act
    service = await startLocal({ cwd, port: 0, demoTokenTtlSeconds: 10, out, tty: false });
    const { session } = service;
    const clientConfig = {
      endpoint: session.awsEndpoint,
      region: session.region,
      credentials: LOCAL_AWS_CREDENTIALS,
    };
    const table = new DynamoDbStateTable({ clientConfig, tableName: session.tableName });
    const generations = await until('a second generation of both demo tokens', async () => {
      const states = await Promise.all(DEMO_PROVIDERS.map((provider) => table.read(provider)));
      return states.every((state) => state?.lastSuccessAt !== undefined && state.fence >= 2)
        ? states.map((state) => state?.fence)
        : undefined;
    });
    const store = new SecretsManagerTokenStore({ clientConfig, secretPrefix: session.secretPrefix });
    // The short-lived demo (issue 16): twice the demo lifetime, in the DynamoDB token table, no secret.
    const shortLived = (
      await new DynamoDbTokenStore({ clientConfig, tableName: LOCAL_TOKEN_TABLE_NAME }).readCurrent(
        SHORT_LIVED_DEMO_PROVIDER,
      )
    ).token;
    const shortLivedSecret = await store
      .readCurrent(SHORT_LIVED_DEMO_PROVIDER)
      .catch((error: unknown) => error);
    const storedBefore = (await store.readCurrent('demo-client-credentials')).token?.accessToken;
    // As `curl -H @.token-refresher/caller-proof.header <url>` does.
    const [name, value] = readFileSync(join(cwd, LOCAL_DIRECTORY, LOCAL_PROOF_HEADER_FILE), 'utf8')
      .trim()
      .split(': ');
    const response = await fetch(`${session.readUrl}tokens/demo-client-credentials`, {
      headers: { [name ?? '']: value ?? '' },
    });
    const served = (await response.json()) as { accessToken: string; expiresIn: number };
    // Tokens live 10 s here, so a refresh may land between the reads: the served one is either.
    const storedAfter = (await store.readCurrent('demo-client-credentials')).token?.accessToken;
    const refused = await fetch(`${session.readUrl}tokens/demo-rotating`, {
      headers: { 'x-token-refresher-caller': 'arn:aws:iam::000000000000:role/token-refresher-local-caller' },
    });
    const callerFile = JSON.parse(readFileSync(join(cwd, LOCAL_DIRECTORY, LOCAL_CALLER_FILE), 'utf8'));
    const client = createReadFunctionTokenClient(callerFile);
    const viaClient = await client.getToken('demo-rotating');

    // Assess
    expect(generations.every((fence) => (fence ?? 0) >= 2)).toBe(true);
    expect(Date.parse(shortLived?.expiresAt ?? '') - Date.parse(shortLived?.issuedAt ?? '')).toBe(20_000);
    expect(shortLivedSecret).toMatchObject({ code: 'secret_not_found' });
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect([storedBefore, storedAfter]).toContain(served.accessToken);
    expect(served.expiresIn).toBeGreaterThan(0);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 'missing_caller_proof' });
    expect(callerFile).toStrictEqual(service.caller);
    expect(viaClient.provider).toBe('demo-rotating');
    expect(JSON.parse(readFileSync(join(cwd, LOCAL_SESSION_FILE), 'utf8'))).toMatchObject({
      pid: process.pid,
    });
    const text = output.join('');
    expect(text).toContain('read endpoint:');
    expect(text).toMatch(/demo-rotating: refreshed \(generation 2/);
    expect(text).not.toContain(served.accessToken);

    // Act: stop.
    await service.stop();
    service = undefined;

    // Assess: nothing left listening, no session file, no caller files.
    expect(existsSync(join(cwd, LOCAL_SESSION_FILE))).toBe(false);
    expect(existsSync(join(cwd, LOCAL_DIRECTORY, LOCAL_CALLER_FILE))).toBe(false);
    expect(existsSync(join(cwd, LOCAL_DIRECTORY, LOCAL_PROOF_HEADER_FILE))).toBe(false);
    expect(await refuses(session.readUrl)).toBe(true);
    expect(await refuses(session.awsEndpoint)).toBe(true);
    expect(await refuses(session.oauthIssuer ?? '')).toBe(true);
  });

  it('stops cleanly on Ctrl-C (SIGINT) as a real process and leaves no server behind', async () => {
    // Prepare
    const cwd = mkdtempSync(join(tmpdir(), 'local-run-'));
    const start = fileURLToPath(new URL('../../functions/local/start.ts', import.meta.url));
    const tsx = import.meta.resolve('tsx/esm');
    child = spawn(process.execPath, ['--import', tsx, start, '--port', '0', '--demo-token-ttl', '10'], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout?.on('data', (chunk) => {
      stdout += String(chunk);
    });
    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));

    // Act
    const session = await until('the session file', async () => {
      try {
        return JSON.parse(readFileSync(join(cwd, LOCAL_SESSION_FILE), 'utf8')) as LocalSession;
      } catch {
        return undefined;
      }
    });
    await until('a first refresh of both demo providers', async () =>
      DEMO_PROVIDERS.every((provider) => stdout.includes(`${provider}: refreshed`)) ? true : undefined,
    );
    const proof = readFileSync(join(cwd, LOCAL_DIRECTORY, LOCAL_PROOF_HEADER_FILE), 'utf8').trim();
    const response = await fetch(`${session.readUrl}tokens/demo-client-credentials`, {
      headers: { 'x-token-refresher-proof': proof.slice(proof.indexOf(': ') + 2) },
    });
    child.kill('SIGINT');
    const code = await exited;

    // Assess
    expect(response.status).toBe(200);
    expect(code).toBe(0);
    expect(stdout).toContain('stopped; nothing left running.');
    expect(existsSync(join(cwd, LOCAL_SESSION_FILE))).toBe(false);
    expect(await refuses(session.readUrl)).toBe(true);
    expect(await refuses(session.awsEndpoint)).toBe(true);
  });

  it('says how to install moto when moto_server is not on PATH, and exits 1', async () => {
    // Prepare: a PATH with node and sh only.
    const cwd = mkdtempSync(join(tmpdir(), 'local-run-'));
    const start = fileURLToPath(new URL('../../functions/local/start.ts', import.meta.url));
    const nodeOnly = mkdtempSync(join(tmpdir(), 'path-'));
    const { symlinkSync } = await import('node:fs');
    symlinkSync(process.execPath, join(nodeOnly, 'node'));
    symlinkSync('/bin/sh', join(nodeOnly, 'sh'));
    child = spawn(process.execPath, ['--import', import.meta.resolve('tsx/esm'), start, '--port', '0'], {
      cwd,
      env: { ...process.env, PATH: nodeOnly },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });

    // Act
    const code = await new Promise<number | null>((resolve) =>
      child?.once('exit', (exitCode) => resolve(exitCode)),
    );

    // Assess
    expect(code).toBe(1);
    expect(stderr).toContain('pip install "moto[server]"');
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(cwd, LOCAL_SESSION_FILE))).toBe(false);
  });
});
