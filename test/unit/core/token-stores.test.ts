import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../functions/core/errors.js';
import { PerProviderTokenStore } from '../../../functions/core/token-stores.js';
import { FakeSecrets, FakeTokenStore } from './fakes.js';

const PROVIDERS = [
  { name: 'hourly', tokenStore: 'secrets-manager' },
  { name: 'minutely', tokenStore: 'dynamodb' },
] as const;

const record = (provider: string) => ({
  provider,
  accessToken: `access-${provider}`,
  tokenType: 'Bearer',
  expiresAt: '2030-01-01T01:00:00.000Z',
  issuedAt: '2030-01-01T00:00:00.000Z',
  generation: 1,
});

describe('Class: PerProviderTokenStore', () => {
  it("sends each provider's reads and writes to the store its tokenStore names, and nowhere else", async () => {
    // Prepare
    const secrets = new FakeSecrets();
    const table = new FakeSecrets();
    const secretStore = new FakeTokenStore(secrets);
    const tableStore = new FakeTokenStore(table);
    for (const { name } of PROVIDERS) {
      secrets.seed(FakeTokenStore.secretId(name), { status: 'pending' });
      table.seed(FakeTokenStore.secretId(name), { status: 'pending' });
    }
    const store = new PerProviderTokenStore(PROVIDERS, {
      'secrets-manager': secretStore,
      dynamodb: tableStore,
    });

    // Act
    for (const { name } of PROVIDERS) {
      const { versionId } = await store.readCurrent(name);
      await store.write({ provider: name, fence: 1, token: record(name), expectedVersionId: versionId });
    }

    // Assess
    expect(secretStore.token('hourly')).toStrictEqual(record('hourly'));
    expect(secretStore.token('minutely')).toBeUndefined();
    expect(tableStore.token('minutely')).toStrictEqual(record('minutely'));
    expect(tableStore.token('hourly')).toBeUndefined();
    expect((await store.readCurrent('minutely')).token).toStrictEqual(record('minutely'));
  });

  it('refuses at construction a configuration whose store was not composed, naming it', () => {
    // Act
    const build = () =>
      new PerProviderTokenStore(PROVIDERS, { 'secrets-manager': new FakeTokenStore(new FakeSecrets()) });

    // Assess
    expect(build).toThrow(StoreError);
    expect(build).toThrow('No token store was composed for tokenStore dynamodb');
  });
});
