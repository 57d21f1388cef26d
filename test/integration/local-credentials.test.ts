/**
 * Issue 16, item 5, in local mode: `aws secretsmanager put-secret-value` on the emulator lifts a
 * permanent failure without `token-refresher refresh`, as the credentials-change rule does on AWS.
 *
 * Real parts: `startLocal` (moto server, the demo oidc-provider, the local scheduler and the
 * credentials watcher driving the refresh handler); the operator's writes are plain PutSecretValue
 * calls to the emulator, as the AWS CLI sends them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { DynamoDbStateTable } from '../../functions/aws/state-table.js';
import type { ProviderState } from '../../functions/core/types.js';
import { LOCAL_AWS_CREDENTIALS } from '../../functions/local/session.js';
import { type LocalService, startLocal } from '../../functions/local/start.js';
import { putCredentials } from '../support/resources.js';

const PROVIDER = 'demo-client-credentials';

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('npm start takes new credentials without a refresh command', () => {
  let service: LocalService | undefined;

  afterEach(async () => {
    await service?.stop();
    service = undefined;
  });

  it('blocks a provider on a wrong client secret and lifts the block when the right one is put back', async () => {
    // Prepare: the service with 1-minute demo tokens (no refresh is due while the test runs).
    const cwd = mkdtempSync(join(tmpdir(), 'local-credentials-'));
    const events: string[] = [];
    const out = Object.assign(
      new Writable({
        write(chunk, _encoding, callback) {
          events.push(String(chunk));
          callback();
        },
      }),
      { isTTY: false },
    );
    service = await startLocal({ cwd, port: 0, demoTokenTtlSeconds: 60, out, tty: false });
    const clientConfig = {
      endpoint: service.session.awsEndpoint,
      region: service.session.region,
      credentials: LOCAL_AWS_CREDENTIALS,
    };
    const table = new DynamoDbStateTable({ clientConfig, tableName: service.session.tableName });
    const secretId = `${service.session.secretPrefix}/${PROVIDER}/credentials`;
    const first = await until('the first token', async () => {
      const state = await table.read(PROVIDER);
      return state?.lastSuccessAt === undefined ? undefined : state;
    });
    const secrets = new SecretsManagerClient(clientConfig);
    const right = JSON.parse(
      (await secrets.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' })))
        .SecretString ?? '{}',
    ) as Record<string, string>;
    secrets.destroy();

    // Act: the operator puts a wrong client secret, then the right one again; no refresh command.
    await putCredentials(clientConfig, secretId, { ...right, clientSecret: 'a-wrong-client-secret' });
    const blocked = await until('the permanent failure', async () => {
      const state = await table.read(PROVIDER);
      return state?.lastErrorPermanent === true ? state : undefined;
    });
    await putCredentials(clientConfig, secretId, right);
    const recovered = await until('the recovery', async () => {
      const state = await table.read(PROVIDER);
      return state !== undefined && state.lastErrorPermanent === undefined && state.fence > blocked.fence
        ? state
        : undefined;
    });

    // Assess
    expect(blocked).toMatchObject<Partial<ProviderState>>({
      lastErrorCode: 'invalid_client',
      consecutiveFailures: 1,
    });
    expect(recovered.consecutiveFailures).toBe(0);
    expect(recovered.lastSuccessAt).toBeGreaterThan(first.lastSuccessAt ?? 0);
    // Each write reached the refresh function as a credentials change (not by the 1-minute schedule).
    const text = events.join('');
    expect(text).toContain(`${PROVIDER}: FAILED invalid_client (permanent`);
    expect(text).toMatch(new RegExp(`${PROVIDER}: refreshed .*\\[credentials-changed\\]`));
    expect(text).not.toContain('a-wrong-client-secret');
  });
});
