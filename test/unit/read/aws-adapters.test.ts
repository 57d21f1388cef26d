import { describe, expect, it } from 'vitest';
import { FetchRefreshTrigger } from '../../../functions/aws/fetch-refresh-trigger.js';
import { LambdaRefreshTrigger } from '../../../functions/aws/refresh-invoker.js';
import type { HttpFetch } from '../../../functions/client/http.js';
import { StoreError } from '../../../functions/core/errors.js';
import type { CurrentToken } from '../../../functions/core/types.js';
import { perProviderReader, readAdapters } from '../../../functions/read/aws-adapters.js';

const LAMBDA_ENVIRONMENT = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret-of-the-role',
};
const PROVIDERS = [
  { name: 'acme', tokenStore: 'secrets-manager' },
  { name: 'short', tokenStore: 'dynamodb' },
] as const;

/** A fetch that records the operations it was asked for and answers `{}` (no item, no secret value). */
function recordingFetch() {
  const targets: string[] = [];
  const fetch: HttpFetch = async (url, init) => {
    targets.push(`${url.host} ${init.headers['x-amz-target'] ?? url.pathname}`);
    return { status: 200, headers: { get: () => null }, text: async () => '{"VersionId":"v1"}' };
  };
  return { fetch, targets };
}

const options = (transport: 'fetch' | 'sdk' | undefined, fetch?: HttpFetch) => ({
  providers: PROVIDERS,
  secretPrefix: 'tr',
  tokenTableName: 'tokens',
  refreshFunctionName: 'refresh-fn',
  clientConfig: {},
  transport,
  environment: LAMBDA_ENVIRONMENT,
  clock: { now: () => Date.parse('2030-01-01T00:00:00.000Z') },
  ...(fetch === undefined ? {} : { fetch }),
});

describe('Function: readAdapters', () => {
  it("by default reads each provider's store with signed requests and invokes through fetch", async () => {
    // Prepare
    const { fetch, targets } = recordingFetch();

    // Act
    const adapters = readAdapters(options(undefined, fetch));
    const read = [await adapters.tokens.readCurrent('acme'), await adapters.tokens.readCurrent('short')];

    // Assess
    expect(adapters.plan.kind).toBe('fetch');
    expect(adapters.trigger).toBeInstanceOf(FetchRefreshTrigger);
    expect(targets).toEqual([
      'secretsmanager.eu-west-1.amazonaws.com secretsmanager.GetSecretValue',
      'dynamodb.eu-west-1.amazonaws.com DynamoDB_20120810.GetItem',
    ]);
    expect(read).toEqual<CurrentToken[]>([
      { versionId: 'v1', token: undefined },
      { versionId: 'none', token: undefined },
    ]);
  });

  it('uses the SDK clients with transport sdk, sending nothing through fetch', () => {
    // Prepare
    const { fetch, targets } = recordingFetch();

    // Act
    const adapters = readAdapters(options('sdk', fetch));

    // Assess
    expect(adapters.plan).toEqual({ kind: 'sdk', reason: 'TOKEN_REFRESHER_AWS_TRANSPORT=sdk' });
    expect(adapters.trigger).toBeInstanceOf(LambdaRefreshTrigger);
    expect(targets).toEqual([]);
  });
});

describe('Function: perProviderReader', () => {
  const reader = (name: string) => ({
    readCurrent: async (provider: string): Promise<CurrentToken> => ({
      versionId: `${name}:${provider}`,
      token: undefined,
    }),
  });

  it("routes each provider to its store's reader, an unnamed one to the token secret", async () => {
    const routed = perProviderReader(PROVIDERS, { 'secrets-manager': reader('sm'), dynamodb: reader('ddb') });
    expect((await routed.readCurrent('acme')).versionId).toBe('sm:acme');
    expect((await routed.readCurrent('short')).versionId).toBe('ddb:short');
    expect((await routed.readCurrent('other')).versionId).toBe('sm:other');
  });

  it('refuses at cold start a configuration whose store has no reader', () => {
    expect(() => perProviderReader(PROVIDERS, { 'secrets-manager': reader('sm') })).toThrow(
      new StoreError(
        'No token store was composed for tokenStore dynamodb',
        'token_store_missing',
        'permanent',
      ),
    );
  });
});
