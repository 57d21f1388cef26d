import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ProviderConfigInput } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { CredentialsError, ProviderError } from '../../../functions/core/errors.js';
import type { Credentials } from '../../../functions/core/types.js';
import { createProvider, type FetchFunction } from '../../../functions/providers/index.js';
import { caught, hangingFetch, jsonResponse, recordingFetch, stallingBodyResponse } from './fake-fetch.js';

const TOKEN_URL = 'https://auth.example.com/oauth/token';
const CREDENTIALS: Credentials = { clientId: 'my client', clientSecret: 'a:b+c/d%' };
const TOKEN = { access_token: 'at-1', token_type: 'Bearer', expires_in: 3600 };

function provider(overrides: Partial<ProviderConfigInput> = {}, fetch?: FetchFunction, now = Date.now()) {
  const config = providerConfigSchema.parse({
    name: 'acme',
    grant: 'client_credentials',
    tokenUrl: TOKEN_URL,
    ...overrides,
  });
  return createProvider(config, { clock: { now: () => now }, ...(fetch ? { fetch } : {}) });
}

function signal(): AbortSignal {
  return new AbortController().signal;
}

describe('Class: ClientCredentialsProvider', () => {
  describe('Method: requestToken', () => {
    it('sends client_secret_basic with id and secret form-urlencoded before base64 (RFC 6749 §2.3.1)', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse(TOKEN));

      // Act
      const token = await provider({}, server.fetch).requestToken({
        credentials: CREDENTIALS,
        signal: signal(),
      });

      // Assess
      expect(token).toEqual({ accessToken: 'at-1', tokenType: 'Bearer', expiresInSeconds: 3600 });
      expect(server.requests).toHaveLength(1);
      const [request] = server.requests as [Request];
      expect(request.method).toBe('POST');
      expect(request.url).toBe(TOKEN_URL);
      // 'my client' → 'my+client'; 'a:b+c/d%' → 'a%3Ab%2Bc%2Fd%25'
      expect(request.headers.get('authorization')).toBe(
        `Basic ${Buffer.from('my+client:a%3Ab%2Bc%2Fd%25').toString('base64')}`,
      );
      expect(request.headers.get('content-type')).toBe('application/x-www-form-urlencoded;charset=UTF-8');
      expect(request.headers.get('accept')).toBe('application/json');
      const body = new URLSearchParams(await request.text());
      expect(Object.fromEntries(body)).toEqual({ grant_type: 'client_credentials' });
    });

    it('sends client_secret_post with client_id and client_secret in the body and no Authorization', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse(TOKEN));

      // Act
      await provider({ clientAuth: 'client_secret_post' }, server.fetch).requestToken({
        credentials: CREDENTIALS,
        signal: signal(),
      });

      // Assess
      const [request] = server.requests as [Request];
      expect(request.headers.has('authorization')).toBe(false);
      const bodyText = await request.text();
      expect(Object.fromEntries(new URLSearchParams(bodyText))).toEqual({
        grant_type: 'client_credentials',
        client_id: 'my client',
        client_secret: 'a:b+c/d%',
      });
      expect(bodyText).toContain('client_secret=a%3Ab%2Bc%2Fd%25');
    });

    it('sends scope, audience and resource when configured', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse(TOKEN));
      const overrides = {
        scope: 'read:orders write:orders',
        audience: 'https://api.example.com',
        resource: 'https://api.example.com/orders',
      };

      // Act
      await provider(overrides, server.fetch).requestToken({ credentials: CREDENTIALS, signal: signal() });

      // Assess
      const body = new URLSearchParams(await (server.requests[0] as Request).text());
      expect(body.get('scope')).toBe('read:orders write:orders');
      expect(body.get('audience')).toBe('https://api.example.com');
      expect(body.get('resource')).toBe('https://api.example.com/orders');
    });

    it('does not follow redirects and passes the signal to fetch', async () => {
      // Prepare
      const server = recordingFetch(
        new Response(null, { status: 302, headers: { location: 'https://evil.test' } }),
      );
      const controller = new AbortController();

      // Act
      const error = await caught(() =>
        provider({}, server.fetch).requestToken({ credentials: CREDENTIALS, signal: controller.signal }),
      );

      // Assess
      expect(server.inits[0]?.redirect).toBe('manual');
      expect(server.inits[0]?.signal).toBe(controller.signal);
      expect(error).toMatchObject({ code: 'http_302', kind: 'permanent' });
    });

    it('drops a refresh_token the server should not have issued (RFC 6749 §4.4.3)', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse({ ...TOKEN, refresh_token: 'rt-unwanted' }));

      // Act
      const token = await provider({}, server.fetch).requestToken({
        credentials: CREDENTIALS,
        signal: signal(),
      });

      // Assess
      expect(token).not.toHaveProperty('refreshToken');
    });

    it.each(['clientId', 'clientSecret'])(
      'throws credentials_invalid naming %s when it is missing',
      async (field) => {
        // Prepare
        const server = recordingFetch(jsonResponse(TOKEN));
        const credentials = { ...CREDENTIALS, [field]: undefined };

        // Act
        const error = await caught(() =>
          provider({}, server.fetch).requestToken({ credentials, signal: signal() }),
        );

        // Assess
        expect(error).toBeInstanceOf(CredentialsError);
        expect(error).toMatchObject({ code: 'credentials_invalid', kind: 'permanent' });
        expect(error.message).toContain(`"${field}"`);
        expect(server.requests).toHaveLength(0);
      },
    );

    it('throws rate_limited with Retry-After relative to the injected clock', async () => {
      // Prepare
      const now = Date.parse('2025-06-01T12:00:00Z');
      const server = recordingFetch(
        new Response('', { status: 429, headers: { 'retry-after': 'Sun, 01 Jun 2025 12:05:00 GMT' } }),
      );

      // Act
      const error = await caught(() =>
        provider({}, server.fetch, now).requestToken({ credentials: CREDENTIALS, signal: signal() }),
      );

      // Assess
      expect(error).toMatchObject({
        code: 'rate_limited',
        kind: 'transient',
        details: { retryAfterSeconds: 300 },
      });
    });
  });

  describe('network failures', () => {
    it('throws transient network_error when fetch rejects with a TypeError', async () => {
      // Prepare
      const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });
      const fetch: FetchFunction = async () => {
        throw new TypeError('fetch failed', { cause: refused });
      };

      // Act
      const error = await caught(() =>
        provider({}, fetch).requestToken({ credentials: CREDENTIALS, signal: signal() }),
      );

      // Assess
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ code: 'network_error', kind: 'transient' });
      expect(error.message).toBe('Token endpoint request failed: network error (ECONNREFUSED)');
    });

    it('throws network_error for a refused connection with the real global fetch', async () => {
      // Prepare: a loopback port that was free a moment ago and has no listener now
      const port = await new Promise<number>((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => {
          const address = server.address();
          server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
        });
      });

      // Act
      const error = await caught(() =>
        provider({ tokenUrl: `http://127.0.0.1:${port}/token` }).requestToken({
          credentials: CREDENTIALS,
          signal: AbortSignal.timeout(5000),
        }),
      );

      // Assess
      expect(error).toMatchObject({ code: 'network_error', kind: 'transient' });
      expect(error.message).toContain('ECONNREFUSED');
    });

    it('throws transient timeout when the signal fires before the response', async () => {
      // Prepare
      const controller = new AbortController();
      const pending = provider({}, hangingFetch).requestToken({
        credentials: CREDENTIALS,
        signal: controller.signal,
      });

      // Act
      controller.abort(new DOMException('The operation timed out.', 'TimeoutError'));
      const error = await caught(() => pending);

      // Assess
      expect(error).toMatchObject({ code: 'timeout', kind: 'transient' });
    });

    it('throws transient timeout when the signal fires while the body is being read', async () => {
      // Prepare
      const controller = new AbortController();
      const server = recordingFetch(() => {
        // The headers have arrived; the body stalls; the timeout fires a moment later.
        setTimeout(() => controller.abort(new DOMException('The operation timed out.', 'TimeoutError')), 10);
        return stallingBodyResponse();
      });

      // Act
      const error = await caught(() =>
        provider({}, server.fetch).requestToken({ credentials: CREDENTIALS, signal: controller.signal }),
      );

      // Assess
      expect(error).toMatchObject({ code: 'timeout', kind: 'transient' });
    });

    it('throws timeout without calling the server when the signal has already fired', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse(TOKEN));
      const fetch: FetchFunction = async (input, init) => {
        init?.signal?.throwIfAborted();
        return server.fetch(input, init);
      };

      // Act
      const error = await caught(() =>
        provider({}, fetch).requestToken({ credentials: CREDENTIALS, signal: AbortSignal.abort() }),
      );

      // Assess
      expect(error).toMatchObject({ code: 'timeout', kind: 'transient' });
      expect(server.requests).toHaveLength(0);
    });
  });
});
