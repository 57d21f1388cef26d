import { beforeEach, describe, expect, it } from 'vitest';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { RefreshEngine } from '../../../functions/core/engine.js';
import { sha256Hex } from '../../../functions/core/token-hash.js';
import { createRefreshHandler, type RefreshHandler } from '../../../functions/refresh/app.js';
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

describe('Function: createRefreshHandler', () => {
  let handler: RefreshHandler;
  let provider: ScriptedProvider;
  let clock: FakeClock;
  const context = { getRemainingTimeInMillis: () => 60_000 };

  beforeEach(() => {
    clock = new FakeClock();
    const secrets = new FakeSecrets();
    secrets.seed(FakeTokenStore.secretId('acme'), { status: 'pending' });
    secrets.seed(FakeCredentialsStore.secretId('acme'), { clientId: 'c', clientSecret: 's' });
    provider = new ScriptedProvider();
    const logger = new RecordingLogger();
    handler = createRefreshHandler({
      engine: new RefreshEngine({
        tokens: new FakeTokenStore(secrets),
        credentials: new FakeCredentialsStore(secrets),
        state: new FakeStateTable(),
        providerFor: () => provider,
        clock,
        metrics: new RecordingMetrics(),
        logger,
      }),
      providers: [
        providerConfigSchema.parse({
          name: 'acme',
          grant: 'client_credentials',
          tokenUrl: 'https://a.example.com/t',
        }),
      ],
      logger,
      publishMetrics: () => {},
    });
  });

  it('passes an on-demand event to the engine (refused token still current → refresh)', async () => {
    // Prepare
    await handler({ provider: 'acme' }, context);
    clock.advance(120_000);

    // Act
    const result = await handler(
      { provider: 'acme', onDemand: { rejectedTokenSha256: sha256Hex('access-token-1') } },
      context,
    );

    // Assess
    expect(result).toMatchObject({ status: 'refreshed', generation: 2 });
    expect(provider.requests).toHaveLength(2);
  });

  it.each([
    [{ provider: 'acme', force: true, onDemand: {} }, 'onDemand: "force" and "onDemand" exclude each other'],
    [
      { provider: 'acme', onDemand: { rejectedTokenSha256: 'ABC' } },
      'onDemand.rejectedTokenSha256: must be the lower-case hex SHA-256',
    ],
    [{ provider: 'acme', onDemand: { rejectedToken: 'raw' } }, 'onDemand.rejectedToken: is not a field'],
  ])('rejects the malformed on-demand event %j without calling the provider', async (event, message) => {
    // Act
    const result = await handler(event, context);

    // Assess
    expect(result).toMatchObject({ status: 'rejected', code: 'invalid_event' });
    expect((result as { message: string }).message).toContain(message);
    expect(provider.requests).toHaveLength(0);
  });
});
