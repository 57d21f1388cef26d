/**
 * The config schema of the signed-assertion kinds (issue #16): `clientAuth: "private_key_jwt"`,
 * `grant: "jwt_bearer"` (with the Google service-account preset) and `grant: "github_app"`. Each
 * problem names the provider, the field and the fix.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../functions/core/config.js';
import { parseRefresherConfig } from '../../../functions/core/config-schema.js';
import { requiredCredentialsOf } from '../../../functions/core/grants.js';

function problemsOf(provider: Record<string, unknown>): readonly string[] {
  try {
    parseRefresherConfig({ providers: [provider] });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

function parsed(provider: Record<string, unknown>) {
  const [first] = parseRefresherConfig({ providers: [provider] }).providers;
  if (first === undefined) throw new Error('no provider');
  return first;
}

describe('Config: signed-assertion kinds', () => {
  it('accepts clientAuth private_key_jwt for client_credentials and refresh_token, which then need privateKey', () => {
    // Act
    const cc = parsed({
      name: 'cc',
      grant: 'client_credentials',
      tokenUrl: 'https://a.example.com/t',
      clientAuth: 'private_key_jwt',
    });
    const rt = parsed({
      name: 'rt',
      grant: 'refresh_token',
      tokenUrl: 'https://a.example.com/t',
      clientAuth: 'private_key_jwt',
    });
    const secret = parsed({ name: 'cs', grant: 'client_credentials', tokenUrl: 'https://a.example.com/t' });
    const publicClient = parsed({ name: 'pc', grant: 'refresh_token', tokenUrl: 'https://a.example.com/t' });

    // Assess
    expect(requiredCredentialsOf(cc)).toEqual(['clientId', 'privateKey']);
    expect(requiredCredentialsOf(rt)).toEqual(['clientId', 'refreshToken', 'privateKey']);
    expect(requiredCredentialsOf(secret)).toEqual(['clientId', 'clientSecret']);
    expect(requiredCredentialsOf(publicClient)).toEqual(['clientId', 'refreshToken']);
  });

  it('refuses an unknown clientAuth, listing the methods', () => {
    // Act
    const problems = problemsOf({
      name: 'cc',
      grant: 'client_credentials',
      tokenUrl: 'https://a.example.com/t',
      clientAuth: 'client_secret_jwt',
    });

    // Assess
    expect(problems).toEqual([
      expect.stringMatching(/^providers\[0\] \(cc\)\.clientAuth: .*"private_key_jwt"/),
    ]);
  });

  describe('grant jwt_bearer', () => {
    const base = { name: 'crm', grant: 'jwt_bearer', tokenUrl: 'https://login.example.com/token' };

    it('applies the assertion defaults and needs privateKey', () => {
      // Act
      const provider = parsed({ ...base, assertion: { issuer: 'client-1' } });

      // Assess
      expect(provider).toMatchObject({
        assertion: { issuer: 'client-1', lifetime: 300 },
        requestTimeout: 10,
      });
      expect(requiredCredentialsOf(provider)).toEqual(['privateKey']);
    });

    it('requires assertion.issuer without a preset, naming the field and the preset', () => {
      // Act
      const problems = problemsOf(base);

      // Assess
      expect(problems).toEqual([
        expect.stringMatching(
          /^providers\[0\] \(crm\)\.assertion\.issuer: is required .*"google_service_account"/,
        ),
      ]);
    });

    it('with preset google_service_account reads the key file fields and refuses an issuer of its own', () => {
      // Act
      const google = parsed({ ...base, preset: 'google_service_account' });
      const problems = problemsOf({ ...base, preset: 'google_service_account', assertion: { issuer: 'me' } });

      // Assess
      expect(requiredCredentialsOf(google)).toEqual(['client_email', 'private_key']);
      expect(problems).toEqual([
        expect.stringMatching(
          /^providers\[0\] \(crm\)\.assertion\.issuer: must not be set .*client_email.*remove it/,
        ),
      ]);
    });

    it.each([
      ['5s', 'is 5 s'],
      ['2h', 'is 7200 s'],
    ])('bounds assertion.lifetime to 10 s – 1 h (%s)', (lifetime, message) => {
      // Act
      const problems = problemsOf({ ...base, assertion: { issuer: 'c', lifetime } });

      // Assess
      expect(problems).toEqual([
        `providers[0] (crm).assertion.lifetime: ${message}; it must be between 10 s and 3600 s (1 h)`,
      ]);
    });
  });

  describe('grant github_app', () => {
    it('takes ids as numbers or strings and defaults the API base URL to api.github.com', () => {
      // Act
      const provider = parsed({ name: 'gh', grant: 'github_app', appId: 123, installationId: '456' });

      // Assess
      expect(provider).toMatchObject({
        appId: '123',
        installationId: '456',
        apiBaseUrl: 'https://api.github.com',
      });
      expect(requiredCredentialsOf(provider)).toEqual(['privateKey']);
    });

    it('names each bad field: ids, base URL, repositories, permissions', () => {
      // Act
      const problems = problemsOf({
        name: 'gh',
        grant: 'github_app',
        appId: 'my-app',
        installationId: -1,
        apiBaseUrl: 'http://github.example.com/api/v3',
        repositories: ['owner/repo'],
        permissions: { contents: 'everything' },
      });

      // Assess
      expect(problems.map((problem) => problem.split(':')[0])).toEqual([
        'providers[0] (gh).appId',
        'providers[0] (gh).installationId',
        'providers[0] (gh).apiBaseUrl',
        'providers[0] (gh).repositories[0]',
        'providers[0] (gh).permissions.contents',
      ]);
      expect(problems.join('\n')).toContain('must be a repository name without its owner');
    });

    it('requires appId and installationId', () => {
      // Act
      const problems = problemsOf({ name: 'gh', grant: 'github_app' });

      // Assess
      expect(problems.map((problem) => problem.split(':')[0])).toEqual([
        'providers[0] (gh).appId',
        'providers[0] (gh).installationId',
      ]);
    });
  });
});
