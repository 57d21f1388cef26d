import { describe, expect, it, vi } from 'vitest';
import {
  defaultCredentials,
  environmentCredentials,
  loadSdkCredentialChain,
} from '../../../functions/client/credentials.js';

/** What Lambda sets for a function's role. */
const LAMBDA_ENVIRONMENT = {
  AWS_ACCESS_KEY_ID: 'ASIALAMBDAROLEKEY',
  AWS_SECRET_ACCESS_KEY: 'lambda-role-secret-access-key',
  AWS_SESSION_TOKEN: 'lambda-role-session-token',
};
const CHAIN_CREDENTIALS = { accessKeyId: 'AKIDFROMCHAIN', secretAccessKey: 'chain-secret' };

describe('Function: environmentCredentials', () => {
  it("reads the Lambda role's credentials as the SDK's fromEnv does", () => {
    // Act
    const credentials = environmentCredentials({
      ...LAMBDA_ENVIRONMENT,
      AWS_CREDENTIAL_EXPIRATION: '2030-01-01T01:00:00Z',
    });

    // Assess
    expect(credentials).toStrictEqual({
      accessKeyId: 'ASIALAMBDAROLEKEY',
      secretAccessKey: 'lambda-role-secret-access-key',
      sessionToken: 'lambda-role-session-token',
      expiration: new Date('2030-01-01T01:00:00Z'),
    });
  });

  it('reads static keys without a session token', () => {
    // Act
    const credentials = environmentCredentials({ AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 's' });

    // Assess
    expect(credentials).toStrictEqual({ accessKeyId: 'AKID', secretAccessKey: 's' });
  });

  it.each([
    ['no secret key', { AWS_ACCESS_KEY_ID: 'AKID' }],
    ['an empty key id', { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: 's' }],
    [
      'AWS_PROFILE set (the SDK chain then skips the environment)',
      { ...LAMBDA_ENVIRONMENT, AWS_PROFILE: 'dev' },
    ],
  ])('answers nothing with %s', (_case, environment) => {
    // Act
    const credentials = environmentCredentials(environment);

    // Assess
    expect(credentials).toBeUndefined();
  });
});

describe('Function: defaultCredentials', () => {
  it("takes the environment's credentials and never loads the SDK chain", async () => {
    // Prepare
    const loadChain = vi.fn(async () => async () => CHAIN_CREDENTIALS);
    const credentials = defaultCredentials(LAMBDA_ENVIRONMENT, loadChain);

    // Act
    const first = await credentials();
    const second = await credentials();

    // Assess
    expect(first).toMatchObject({
      accessKeyId: 'ASIALAMBDAROLEKEY',
      sessionToken: 'lambda-role-session-token',
    });
    expect(second).toBe(first);
    expect(loadChain).not.toHaveBeenCalled();
  });

  it('loads the SDK chain once when the environment has no credentials, and asks it every time', async () => {
    // Prepare
    const chain = vi.fn(async () => CHAIN_CREDENTIALS);
    const loadChain = vi.fn(async () => chain);
    const credentials = defaultCredentials({ AWS_REGION: 'eu-west-1' }, loadChain);

    // Act
    const answers = await Promise.all([credentials(), credentials(), credentials()]);

    // Assess: the chain memoizes and renews itself; it is asked, not cached here.
    expect(answers).toStrictEqual([CHAIN_CREDENTIALS, CHAIN_CREDENTIALS, CHAIN_CREDENTIALS]);
    expect(loadChain).toHaveBeenCalledOnce();
    expect(chain).toHaveBeenCalledTimes(3);
  });

  it('tries to load the chain again after a failed load', async () => {
    // Prepare
    const loadChain = vi
      .fn<() => Promise<() => Promise<typeof CHAIN_CREDENTIALS>>>()
      .mockRejectedValueOnce(Object.assign(new Error('not installed'), { name: 'CredentialsProviderError' }))
      .mockResolvedValueOnce(async () => CHAIN_CREDENTIALS);
    const credentials = defaultCredentials({}, loadChain);

    // Act
    const failure = await credentials().catch((e: unknown) => e);
    const success = await credentials();

    // Assess
    expect(failure).toMatchObject({ name: 'CredentialsProviderError' });
    expect(success).toBe(CHAIN_CREDENTIALS);
  });
});

describe('Function: loadSdkCredentialChain', () => {
  it("answers the SDK's default chain, which reads the same environment", async () => {
    // Prepare
    vi.stubEnv('AWS_PROFILE', undefined);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDSDKCHAIN');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'sdk-chain-secret');
    vi.stubEnv('AWS_SESSION_TOKEN', undefined);

    try {
      // Act
      const credentials = await (await loadSdkCredentialChain())();

      // Assess
      expect(credentials).toMatchObject({ accessKeyId: 'AKIDSDKCHAIN', secretAccessKey: 'sdk-chain-secret' });
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
