/**
 * The github_app grant: the app JWT (RS256, iat backdated, exp within 10 minutes, iss = app id), the
 * installation-token request (URL, headers, optional narrowing) and the answer's validation.
 */
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import type { ProviderConfigInput } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { CredentialsError, ProviderError } from '../../../functions/core/errors.js';
import {
  APP_JWT_BACKDATE_SECONDS,
  APP_JWT_LIFETIME_SECONDS,
  createProvider,
  type FetchFunction,
  parseInstallationTokenResponse,
} from '../../../functions/providers/index.js';
import { testKeys } from '../../support/keys.js';
import { caught, jsonResponse, recordingFetch } from './fake-fetch.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const EXPIRES_AT = '2026-03-01T13:00:00Z';
const ENTRY: ProviderConfigInput = { name: 'gh', grant: 'github_app', appId: 123456, installationId: 7890 };

function provider(entry: ProviderConfigInput, fetch: FetchFunction) {
  return createProvider(providerConfigSchema.parse(entry), { fetch, clock: { now: () => NOW } });
}

const signal = () => new AbortController().signal;
const credentials = () => ({ privateKey: testKeys().rsa.pkcs1Pem });
const created = () =>
  recordingFetch(
    jsonResponse({ token: 'ghs_abc', expires_at: EXPIRES_AT, permissions: { contents: 'read' } }, 201),
  );

describe('Class: GitHubAppProvider', () => {
  it('POSTs to /app/installations/{id}/access_tokens with an RS256 app JWT and takes expires_at', async () => {
    // Prepare
    const server = created();

    // Act
    const token = await provider(ENTRY, server.fetch).requestToken({
      credentials: credentials(),
      signal: signal(),
    });

    // Assess
    expect(token).toEqual({ accessToken: 'ghs_abc', tokenType: 'Bearer', expiresAt: Date.parse(EXPIRES_AT) });
    const request = server.requests[0];
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('https://api.github.com/app/installations/7890/access_tokens');
    expect(request?.headers.get('accept')).toBe('application/vnd.github+json');
    expect(request?.headers.get('x-github-api-version')).toBe('2022-11-28');
    expect(request?.headers.get('user-agent')).toBe('token-refresher');
    expect(await request?.text()).toBe('');
    const jwt = request?.headers.get('authorization')?.replace(/^Bearer /, '') ?? '';
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'RS256', typ: 'JWT' });
    const { payload } = await jwtVerify(jwt, await importJWK(testKeys().rsa.publicJwk, 'RS256'), {
      currentDate: new Date(NOW),
      issuer: '123456',
    });
    expect(payload).toEqual({
      iss: '123456',
      iat: NOW / 1000 - APP_JWT_BACKDATE_SECONDS,
      exp: NOW / 1000 + APP_JWT_LIFETIME_SECONDS,
    });
    expect(APP_JWT_LIFETIME_SECONDS).toBeLessThanOrEqual(600);
  });

  it('sends repositories and permissions when configured, to a GitHub Enterprise base URL', async () => {
    // Prepare
    const server = created();
    const entry: ProviderConfigInput = {
      name: 'gh',
      grant: 'github_app',
      installationId: 7890,
      appId: 'Iv23liAbCdEf',
      apiBaseUrl: 'https://github.example.com/api/v3/',
      repositories: ['api', 'web'],
      permissions: { contents: 'read', pull_requests: 'write' },
    };

    // Act
    await provider(entry, server.fetch).requestToken({ credentials: credentials(), signal: signal() });

    // Assess
    const request = server.requests[0];
    expect(request?.url).toBe('https://github.example.com/api/v3/app/installations/7890/access_tokens');
    expect(request?.headers.get('content-type')).toBe('application/json');
    expect(JSON.parse((await request?.text()) ?? '')).toEqual({
      repositories: ['api', 'web'],
      permissions: { contents: 'read', pull_requests: 'write' },
    });
  });

  it('refuses a key that is not RSA, and credentials without privateKey, before any request', async () => {
    // Prepare
    const server = created();

    // Act
    const ec = await caught(() =>
      provider(ENTRY, server.fetch).requestToken({
        credentials: { privateKey: testKeys().ec.privatePem },
        signal: signal(),
      }),
    );
    const none = await caught(() =>
      provider(ENTRY, server.fetch).requestToken({ credentials: {}, signal: signal() }),
    );

    // Assess
    expect(ec).toBeInstanceOf(CredentialsError);
    expect(ec.message).toContain('not an RSA key');
    expect(none).toBeInstanceOf(CredentialsError);
    expect(none.message).toContain('"privateKey"');
    expect(server.requests).toHaveLength(0);
  });

  it('redacts the app JWT and the token when GitHub echoes them', async () => {
    // Prepare
    let jwt = '';
    const fetch: FetchFunction = async (_input, init) => {
      jwt = new Headers(init?.headers).get('authorization')?.slice('Bearer '.length) ?? '';
      return jsonResponse({ message: `A JSON web token could not be decoded: ${jwt}` }, 401);
    };

    // Act
    const error = await caught(() =>
      provider(ENTRY, fetch).requestToken({ credentials: credentials(), signal: signal() }),
    );

    // Assess
    expect(error).toMatchObject({ code: 'invalid_client', kind: 'permanent' });
    expect(jwt.length).toBeGreaterThan(100);
    expect(error.message).not.toContain(jwt);
    expect(error.message).toContain('could not be decoded: [redacted]');
    expect(error.message).toContain('Fix: check appId');
  });
});

describe('Function: parseInstallationTokenResponse', () => {
  const raw = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    status,
    headers,
    bodyText: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const parse = (status: number, body: unknown, headers?: Record<string, string>) => {
    try {
      return parseInstallationTokenResponse(raw(status, body, headers), { now: NOW });
    } catch (error) {
      return error as ProviderError;
    }
  };

  it.each([
    [401, { message: 'Bad credentials' }, {}, 'invalid_client', 'permanent', undefined],
    [404, { message: 'Not Found' }, {}, 'http_404', 'permanent', undefined],
    [
      422,
      { message: 'The permissions requested are not granted to this installation.' },
      {},
      'http_422',
      'permanent',
      undefined,
    ],
    [403, { message: 'Resource not accessible by integration' }, {}, 'http_403', 'permanent', undefined],
    [
      403,
      { message: 'API rate limit exceeded' },
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(NOW / 1000 + 120) },
      'rate_limited',
      'transient',
      120,
    ],
    [403, { message: 'secondary rate limit' }, { 'retry-after': '30' }, 'rate_limited', 'transient', 30],
    [429, {}, { 'retry-after': '5' }, 'rate_limited', 'transient', 5],
    [502, 'Bad Gateway', {}, 'http_502', 'transient', undefined],
  ])('classifies HTTP %s %j as %s', (status, body, headers, code, kind, retryAfterSeconds) => {
    // Act
    const error = parse(status, body, headers);

    // Assess
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code, kind, details: { status } });
    expect((error as ProviderError).details.retryAfterSeconds).toBe(retryAfterSeconds);
    if (typeof body === 'object' && 'message' in body)
      expect((error as ProviderError).message).toContain(body.message);
  });

  it.each([
    [{ expires_at: EXPIRES_AT }, 'malformed_response'],
    [{ token: 'ghs_1' }, 'malformed_response'],
    [{ token: 'ghs_1', expires_at: '2026-03-01T11:00:00Z' }, 'invalid_lifetime'],
    ['<html>', 'malformed_response'],
  ])('refuses the 201 answer %j with %s', (body, code) => {
    // Act
    const error = parse(201, body);

    // Assess
    expect(error).toMatchObject({ code, kind: 'transient' });
    expect((error as Error).message).not.toContain('ghs_1');
  });
});
