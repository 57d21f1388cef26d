import { beforeEach, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { RefreshEngine } from '../../../functions/core/engine.js';
import { ProviderError } from '../../../functions/core/errors.js';
import { createRefreshHandler, type RefreshHandler } from '../../../functions/refresh/app.js';
import {
  credentialsSecretIds,
  decodeCredentialsChange,
  providerOfSecretId,
} from '../../../functions/refresh/credentials-event.js';
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

const ARN_BASE = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:';
const EXISTING = `${ARN_BASE}legacy/oauth-client-AbC123`;

function provider(name: string, extra: Record<string, unknown> = {}): ProviderConfig {
  return providerConfigSchema.parse({
    name,
    grant: 'client_credentials',
    tokenUrl: 'https://auth.example.com/token',
    ...extra,
  });
}

/** An EventBridge event of a Secrets Manager call recorded by CloudTrail (fields as AWS sends them). */
function cloudTrailEvent(eventName: string, secretId: unknown): Record<string, unknown> {
  return {
    version: '0',
    id: '5b0c4b7e-2a4e-3f5e-9c1d-0d7a1c2b3e4f',
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.secretsmanager',
    account: '123456789012',
    time: '2026-11-27T10:00:00Z',
    region: 'eu-west-1',
    resources: [],
    detail: {
      eventVersion: '1.09',
      userIdentity: {
        type: 'AssumedRole',
        arn: 'arn:aws:sts::123456789012:assumed-role/operator/jane',
        accountId: '123456789012',
      },
      eventTime: '2026-11-27T10:00:00Z',
      eventSource: 'secretsmanager.amazonaws.com',
      eventName,
      awsRegion: 'eu-west-1',
      requestParameters: { secretId, clientRequestToken: '4d383ea9-084a-49c9-8722-cbfb0f25c456' },
      responseElements: { arn: `${ARN_BASE}prod/tokens/acme/credentials-Xy12Zq` },
      readOnly: false,
      eventType: 'AwsApiCall',
      managementEvent: true,
      recipientAccountId: '123456789012',
    },
  };
}

describe('Function: providerOfSecretId', () => {
  const secrets = credentialsSecretIds('prod/tokens', [
    provider('acme'),
    provider('legacy', { credentialsSecretArn: EXISTING }),
    provider('partial', { credentialsSecretArn: `${ARN_BASE}shared/partial-oauth` }),
  ]);

  it.each([
    ['a created secret by name', 'prod/tokens/acme/credentials', 'acme'],
    ['a created secret by complete ARN', `${ARN_BASE}prod/tokens/acme/credentials-Xy12Zq`, 'acme'],
    ['a created secret by partial ARN', `${ARN_BASE}prod/tokens/acme/credentials`, 'acme'],
    ['an existing secret by complete ARN', EXISTING, 'legacy'],
    ['an existing secret by name', 'legacy/oauth-client', 'legacy'],
    ['an existing secret by partial ARN', `${ARN_BASE}legacy/oauth-client`, 'legacy'],
    [
      'a secret configured by partial ARN, by its complete ARN',
      `${ARN_BASE}shared/partial-oauth-Q1w2E3`,
      'partial',
    ],
    ['a secret configured by partial ARN, by name', 'shared/partial-oauth', 'partial'],
  ])('finds the provider of %s', (_case, secretId, expected) => {
    expect(providerOfSecretId(secretId, secrets)).toBe(expected);
  });

  it.each([
    ['a token secret', 'prod/tokens/acme/token'],
    ["another prefix's credentials", 'staging/tokens/acme/credentials'],
    ['an unconfigured provider', 'prod/tokens/globex/credentials'],
    ['a longer name sharing the start', 'prod/tokens/acme/credentials-old'],
    ['a longer existing name', 'legacy/oauth-client-2'],
  ])('names no provider for %s', (_case, secretId) => {
    expect(providerOfSecretId(secretId, secrets)).toBeUndefined();
  });
});

describe('Function: decodeCredentialsChange', () => {
  const secrets = credentialsSecretIds('prod/tokens', [provider('acme')]);

  it.each(['PutSecretValue', 'UpdateSecret'])('decodes %s to a credentials-changed refresh event', (name) => {
    expect(decodeCredentialsChange(cloudTrailEvent(name, 'prod/tokens/acme/credentials'), secrets)).toEqual({
      event: { provider: 'acme', trigger: 'credentials-changed' },
    });
  });

  it.each([
    ['another call', cloudTrailEvent('GetSecretValue', 'prod/tokens/acme/credentials'), 'detail.eventName'],
    ['no secret id', cloudTrailEvent('PutSecretValue', undefined), 'detail.requestParameters.secretId'],
    ['another source', { ...cloudTrailEvent('PutSecretValue', 'x'), source: 'aws.ssm' }, 'source'],
  ])('refuses %s as invalid_event, naming the field', (_case, event, field) => {
    const decoded = decodeCredentialsChange(event, secrets);
    expect(decoded).toMatchObject({ problem: { code: 'invalid_event' } });
    expect('problem' in decoded && decoded.problem.message).toContain(field);
  });

  it('names a secret that is no credentials secret as unknown_secret', () => {
    expect(
      decodeCredentialsChange(cloudTrailEvent('PutSecretValue', 'prod/tokens/acme/token'), secrets),
    ).toEqual({
      problem: {
        code: 'unknown_secret',
        message:
          'Secret "prod/tokens/acme/token" is not the credentials secret of a configured provider; ignored',
      },
    });
  });
});

describe('Function: createRefreshHandler with credentials-change events', () => {
  let handler: RefreshHandler;
  let secrets: FakeSecrets;
  let tokenEndpoint: ScriptedProvider;
  let logger: RecordingLogger;
  const context = { getRemainingTimeInMillis: () => 60_000 };
  const credentialsId = FakeCredentialsStore.secretId('acme');

  beforeEach(() => {
    secrets = new FakeSecrets();
    secrets.seed(FakeTokenStore.secretId('acme'), { status: 'pending' });
    tokenEndpoint = new ScriptedProvider();
    logger = new RecordingLogger();
    handler = createRefreshHandler({
      engine: new RefreshEngine({
        tokens: new FakeTokenStore(secrets),
        credentials: new FakeCredentialsStore(secrets),
        state: new FakeStateTable(),
        providerFor: () => tokenEndpoint,
        clock: new FakeClock(),
        metrics: new RecordingMetrics(),
        logger,
      }),
      providers: [provider('acme')],
      logger,
      publishMetrics: () => {},
      secretPrefix: 'prod/tokens',
    });
  });

  it('refreshes a blocked provider when the rule delivers the put of new credentials', async () => {
    // Prepare: blocked by invalid_client.
    secrets.seed(credentialsId, { clientId: 'c', clientSecret: 'wrong' });
    tokenEndpoint.answerNext(() => {
      throw new ProviderError('invalid_client', 'invalid_client', 'permanent', { status: 401 });
    });
    await handler({ provider: 'acme' }, context);
    const unchanged = await handler(
      cloudTrailEvent('PutSecretValue', 'prod/tokens/acme/credentials'),
      context,
    );
    secrets.seed(credentialsId, { clientId: 'c', clientSecret: 'right' });

    // Act
    const result = await handler(cloudTrailEvent('PutSecretValue', 'prod/tokens/acme/credentials'), context);

    // Assess
    expect(unchanged).toMatchObject({ status: 'failed', code: 'invalid_client', attempted: false });
    expect(result).toMatchObject({ status: 'refreshed', generation: 2 });
    expect(tokenEndpoint.requests.map((used) => used.clientSecret)).toEqual(['wrong', 'right']);
  });

  it('ignores the event of another secret, logged as information, with no state read', async () => {
    // Act
    const result = await handler(cloudTrailEvent('PutSecretValue', 'prod/tokens/acme/token'), context);

    // Assess
    expect(result).toMatchObject({ status: 'rejected', code: 'unknown_secret' });
    expect(logger.lines.map((line) => line.level)).toEqual(['info']);
    expect(secrets.calls).toEqual([]);
  });

  it('takes the trigger as a plain refresh event too, but not with onDemand', async () => {
    // Prepare
    secrets.seed(credentialsId, { clientId: 'c', clientSecret: 'right' });

    // Act
    const plain = await handler({ provider: 'acme', trigger: 'credentials-changed' }, context);
    const mixed = await handler({ provider: 'acme', trigger: 'credentials-changed', onDemand: {} }, context);

    // Assess
    expect(plain).toMatchObject({ status: 'refreshed' });
    expect(mixed).toMatchObject({ status: 'rejected', code: 'invalid_event' });
  });
});
