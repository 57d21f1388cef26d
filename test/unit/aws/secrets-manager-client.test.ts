/**
 * The refresh function's Secrets Manager client is built on the first Secrets Manager call (issue
 * 17): building the stores imports nothing, a not-due tick imports nothing, and the first call
 * imports the SDK once for both stores.
 */
import 'aws-sdk-client-mock-vitest/extend';
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { SecretsManagerCredentialsStore } from '../../../functions/aws/credentials-store.js';
import {
  LazySecretsManagerClient,
  type SecretsManagerSdk,
} from '../../../functions/aws/secrets-manager-client.js';
import { SecretsManagerTokenStore } from '../../../functions/aws/token-store.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { RefreshEngine } from '../../../functions/core/engine.js';
import { StoreError } from '../../../functions/core/errors.js';
import {
  FakeClock,
  FakeCredentialsStore,
  FakeSecrets,
  FakeStateTable,
  FakeTokenStore,
  RecordingLogger,
  RecordingMetrics,
  ScriptedProvider,
} from '../core/fakes.js';

const VERSION = '11111111-1111-4111-8111-111111111111';
const MINUTE = 60_000;

/** An SDK loader that counts its imports and the clients built from the module it returns. */
function countingSdk() {
  const built: SecretsManagerClientConfig[] = [];
  const importSdk = vi.fn(async (): Promise<SecretsManagerSdk> => {
    const sdk = await import('@aws-sdk/client-secrets-manager');
    class CountedClient extends sdk.SecretsManagerClient {
      constructor(config: SecretsManagerClientConfig) {
        super(config);
        built.push(config);
      }
    }
    return { ...sdk, SecretsManagerClient: CountedClient };
  });
  return { importSdk, built };
}

describe('Class: LazySecretsManagerClient', () => {
  const secretsManager = mockClient(SecretsManagerClient);

  beforeEach(() => {
    secretsManager.reset();
    secretsManager
      .on(GetSecretValueCommand)
      .resolves({ VersionId: VERSION, SecretString: '{"status":"pending"}', VersionStages: ['AWSCURRENT'] });
    secretsManager.on(DescribeSecretCommand).resolves({ VersionIdsToStages: { [VERSION]: ['AWSCURRENT'] } });
  });

  it('imports nothing when the stores are built; the first call imports the SDK once, for both stores', async () => {
    // Prepare
    const { importSdk, built } = countingSdk();
    const client = new LazySecretsManagerClient({ clientConfig: { region: 'eu-west-1' }, importSdk });
    const tokens = new SecretsManagerTokenStore({ client, secretPrefix: 'p' });
    const credentials = new SecretsManagerCredentialsStore({ client, secretPrefix: 'p' });
    const importsBeforeCalls = importSdk.mock.calls.length;

    // Act
    await tokens.readCurrent('acme');
    const versionId = await credentials.currentVersionId('acme');
    await tokens.readCurrent('acme');

    // Assess
    expect(importsBeforeCalls).toBe(0);
    expect(importSdk).toHaveBeenCalledTimes(1);
    expect(built).toEqual([
      {
        maxAttempts: 3,
        requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 },
        region: 'eu-west-1',
      },
    ]);
    expect(versionId).toBe(VERSION);
    expect(secretsManager).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    expect(secretsManager).toHaveReceivedCommandTimes(DescribeSecretCommand, 1);
  });

  it('builds its client with the defaults, the given config winning', async () => {
    // Act
    const defaults = (await new LazySecretsManagerClient({ clientConfig: { region: 'us-east-1' } }).load())
      .client;
    const configured = (
      await new LazySecretsManagerClient({ clientConfig: { region: 'us-east-1', maxAttempts: 5 } }).load()
    ).client;

    // Assess
    expect(await defaults.config.maxAttempts()).toBe(3);
    expect(await configured.config.maxAttempts()).toBe(5);
    defaults.destroy();
    configured.destroy();
  });

  it('uses an injected client as it is', async () => {
    // Prepare
    const injected = new SecretsManagerClient({ region: 'us-east-1' });
    const { importSdk, built } = countingSdk();

    // Act
    const { client } = await new LazySecretsManagerClient({ client: injected, importSdk }).load();

    // Assess
    expect(client).toBe(injected);
    expect(built).toEqual([]);
  });

  it('turns a failed SDK import into a transient StoreError and imports again on the next call', async () => {
    // Prepare
    const { importSdk } = countingSdk();
    const failing = vi.fn<() => Promise<SecretsManagerSdk>>();
    failing.mockRejectedValueOnce(
      Object.assign(new Error("Cannot find package '@aws-sdk/client-secrets-manager'"), {
        code: 'ERR_MODULE_NOT_FOUND',
      }),
    );
    failing.mockImplementation(importSdk);
    const tokens = new SecretsManagerTokenStore({
      client: new LazySecretsManagerClient({ clientConfig: { region: 'us-east-1' }, importSdk: failing }),
      secretPrefix: 'p',
    });

    // Act
    const first = await tokens.readCurrent('acme').then(
      () => undefined,
      (error: unknown) => error,
    );
    const second = await tokens.readCurrent('acme');

    // Assess
    expect(first).toBeInstanceOf(StoreError);
    expect(first).toMatchObject({ code: 'secrets_manager_unavailable', kind: 'transient' });
    expect(second).toEqual({ versionId: VERSION, token: undefined });
    expect(failing).toHaveBeenCalledTimes(2);
  });
});

describe('A not-due tick of the refresh engine on the Secrets Manager stores', () => {
  it('never imports the Secrets Manager SDK nor builds its client', async () => {
    // Prepare: a first refresh (on fake stores) leaves the state item saying the token is fresh.
    const clock = new FakeClock();
    const state = new FakeStateTable();
    const secrets = new FakeSecrets();
    secrets.seed(FakeCredentialsStore.secretId('acme'), {
      clientId: 'client-1',
      clientSecret: 'client-secret-value-9f8e7d',
      refreshToken: 'refresh-token-value-1a2b3c',
    });
    secrets.seed(FakeTokenStore.secretId('acme'), { status: 'pending' });
    const config = providerConfigSchema.parse({
      name: 'acme',
      grant: 'refresh_token',
      tokenUrl: 'https://auth.example.com/token',
    });
    const parts = {
      state,
      providerFor: () => new ScriptedProvider(),
      clock,
      metrics: new RecordingMetrics(),
      logger: new RecordingLogger(),
    };
    const first = await new RefreshEngine({
      ...parts,
      tokens: new FakeTokenStore(secrets),
      credentials: new FakeCredentialsStore(secrets),
    }).refresh({ config, remainingTimeMs: 60_000 });
    const { importSdk, built } = countingSdk();
    const client = new LazySecretsManagerClient({ clientConfig: { region: 'us-east-1' }, importSdk });
    const engine = new RefreshEngine({
      ...parts,
      tokens: new SecretsManagerTokenStore({ client, secretPrefix: 'p' }),
      credentials: new SecretsManagerCredentialsStore({ client, secretPrefix: 'p' }),
    });
    clock.advance(10 * MINUTE);

    // Act
    const tick = await engine.refresh({ config, remainingTimeMs: 60_000 });

    // Assess
    expect(first).toMatchObject({ status: 'refreshed' });
    expect(tick).toMatchObject({ status: 'fresh', reason: 'not-due' });
    expect(importSdk).not.toHaveBeenCalled();
    expect(built).toEqual([]);
  });
});
