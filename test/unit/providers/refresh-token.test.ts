import { describe, expect, it } from 'vitest';
import type { ProviderConfigInput } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { CredentialsError } from '../../../functions/core/errors.js';
import type { Credentials } from '../../../functions/core/types.js';
import {
  createProvider,
  type FetchFunction,
  parseRefreshTokenResponse,
  type RawResponse,
} from '../../../functions/providers/index.js';
import { caught, jsonResponse, recordingFetch } from './fake-fetch.js';

const TOKEN_URL = 'https://auth.example.com/oauth/token';
const CREDENTIALS: Credentials = { clientId: 'client-1', clientSecret: 'secret-1', refreshToken: 'rt-old' };

function provider(overrides: Partial<ProviderConfigInput>, fetch: FetchFunction) {
  const config = providerConfigSchema.parse({
    name: 'acme',
    grant: 'refresh_token',
    tokenUrl: TOKEN_URL,
    ...overrides,
  });
  return createProvider(config, { fetch });
}

function raw(body: unknown): RawResponse {
  return { status: 200, headers: { 'content-type': 'application/json' }, bodyText: JSON.stringify(body) };
}

describe('Function: parseRefreshTokenResponse', () => {
  it('returns the new refresh token when the server rotated it', () => {
    // Act
    const token = parseRefreshTokenResponse(raw({ access_token: 'at-2', refresh_token: 'rt-new' }), {
      sentRefreshToken: 'rt-old',
    });

    // Assess
    expect(token.refreshToken).toBe('rt-new');
  });

  it('leaves refreshToken undefined when the server returned none', () => {
    // Act
    const token = parseRefreshTokenResponse(raw({ access_token: 'at-2', expires_in: 600 }), {
      sentRefreshToken: 'rt-old',
    });

    // Assess
    expect(token).toEqual({ accessToken: 'at-2', tokenType: 'Bearer', expiresInSeconds: 600 });
  });

  it('leaves refreshToken undefined when the server returned the same one it was sent', () => {
    // Act
    const token = parseRefreshTokenResponse(raw({ access_token: 'at-2', refresh_token: 'rt-old' }), {
      sentRefreshToken: 'rt-old',
    });

    // Assess
    expect(token).not.toHaveProperty('refreshToken');
  });
});

describe('Class: RefreshTokenProvider', () => {
  describe('Method: requestToken', () => {
    it('sends grant_type, refresh_token and scope with client_secret_basic', async () => {
      // Prepare
      const server = recordingFetch(
        jsonResponse({ access_token: 'at-2', token_type: 'Bearer', expires_in: 3600 }),
      );

      // Act
      await provider({ scope: 'offline_access read' }, server.fetch).requestToken({
        credentials: CREDENTIALS,
        signal: new AbortController().signal,
      });

      // Assess
      const [request] = server.requests as [Request];
      // RFC 6749 Appendix B (HTML 4.01 form encoding): every non-alphanumeric character is %HH, '-' too.
      expect(request.headers.get('authorization')).toBe(
        `Basic ${Buffer.from('client%2D1:secret%2D1').toString('base64')}`,
      );
      expect(Object.fromEntries(new URLSearchParams(await request.text()))).toEqual({
        grant_type: 'refresh_token',
        refresh_token: 'rt-old',
        scope: 'offline_access read',
      });
    });

    it('sends client credentials in the body with client_secret_post', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse({ access_token: 'at-2' }));

      // Act
      await provider({ clientAuth: 'client_secret_post' }, server.fetch).requestToken({
        credentials: CREDENTIALS,
        signal: new AbortController().signal,
      });

      // Assess
      const [request] = server.requests as [Request];
      expect(request.headers.has('authorization')).toBe(false);
      expect(Object.fromEntries(new URLSearchParams(await request.text()))).toEqual({
        grant_type: 'refresh_token',
        refresh_token: 'rt-old',
        client_id: 'client-1',
        client_secret: 'secret-1',
      });
    });

    it('sends only client_id in the body for a public client (no clientSecret)', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse({ access_token: 'at-2' }));
      const credentials = { clientId: 'client-1', refreshToken: 'rt-old' };

      // Act
      await provider({}, server.fetch).requestToken({ credentials, signal: new AbortController().signal });

      // Assess
      const [request] = server.requests as [Request];
      expect(request.headers.has('authorization')).toBe(false);
      expect(Object.fromEntries(new URLSearchParams(await request.text()))).toEqual({
        grant_type: 'refresh_token',
        refresh_token: 'rt-old',
        client_id: 'client-1',
      });
    });

    it.each([
      ['rotated', { refresh_token: 'rt-new' }, 'rt-new'],
      ['absent', {}, undefined],
      ['same as sent', { refresh_token: 'rt-old' }, undefined],
    ])('reports the refresh token only when rotated (%s)', async (_label, extra, expected) => {
      // Prepare
      const server = recordingFetch(jsonResponse({ access_token: 'at-2', ...extra }));

      // Act
      const token = await provider({}, server.fetch).requestToken({
        credentials: CREDENTIALS,
        signal: new AbortController().signal,
      });

      // Assess
      expect(token.refreshToken).toBe(expected);
    });

    it('throws credentials_invalid naming refreshToken when it is missing, without calling the server', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse({ access_token: 'at-2' }));
      const credentials = { clientId: 'client-1', clientSecret: 'secret-1' };

      // Act
      const error = await caught(() =>
        provider({}, server.fetch).requestToken({ credentials, signal: new AbortController().signal }),
      );

      // Assess
      expect(error).toBeInstanceOf(CredentialsError);
      expect(error.message).toContain('"refreshToken"');
      expect(server.requests).toHaveLength(0);
    });

    it('throws permanent invalid_grant when the refresh token was revoked', async () => {
      // Prepare
      const server = recordingFetch(
        jsonResponse({ error: 'invalid_grant', error_description: 'grant request is invalid' }, 400),
      );

      // Act
      const error = await caught(() =>
        provider({}, server.fetch).requestToken({
          credentials: CREDENTIALS,
          signal: new AbortController().signal,
        }),
      );

      // Assess
      expect(error).toMatchObject({ code: 'invalid_grant', kind: 'permanent', details: { status: 400 } });
    });
  });
});
