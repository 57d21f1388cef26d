import { describe, expect, it } from 'vitest';
import type { ProviderConfigInput } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { CredentialsError } from '../../../functions/core/errors.js';
import type { Credentials } from '../../../functions/core/types.js';
import {
  createProvider,
  type FetchFunction,
  type HttpResponseConfig,
  parseHttpTokenResponse,
  type RawResponse,
} from '../../../functions/providers/index.js';
import { caught, jsonResponse, recordingFetch } from './fake-fetch.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const URL_ = 'https://api.example.com/v1/session';
const CREDENTIALS: Credentials = { clientId: 'id-1', apiKey: 'key-1', password: 'p@ss"word' };

type HttpRequestInput = Extract<ProviderConfigInput, { grant: 'http' }>['request'];
type HttpResponseInput = Extract<ProviderConfigInput, { grant: 'http' }>['response'];

function provider(request: Partial<HttpRequestInput>, response: HttpResponseInput, fetch: FetchFunction) {
  const config = providerConfigSchema.parse({
    name: 'custom',
    grant: 'http',
    request: { url: URL_, ...request },
    response,
  });
  return createProvider(config, { fetch, clock: { now: () => NOW } });
}

function raw(body: unknown, status = 200): RawResponse {
  return { status, headers: { 'content-type': 'application/json' }, bodyText: JSON.stringify(body) };
}

const PATHS: HttpResponseConfig = {
  tokenPath: 'data.token',
  expiresInPath: 'data.ttl',
  tokenTypePath: 'data.kind',
};

describe('Function: parseHttpTokenResponse', () => {
  it('extracts token, type and lifetime from dot paths', () => {
    // Act
    const token = parseHttpTokenResponse(raw({ data: { token: 'tok-1', ttl: 900, kind: 'Token' } }), PATHS, {
      now: NOW,
    });

    // Assess
    expect(token).toEqual({ accessToken: 'tok-1', tokenType: 'Token', expiresInSeconds: 900 });
  });

  it('defaults the token type to Bearer and follows array indexes', () => {
    // Act
    const token = parseHttpTokenResponse(raw({ tokens: [{ value: 'tok-1' }] }), {
      tokenPath: 'tokens.0.value',
    });

    // Assess
    expect(token).toEqual({ accessToken: 'tok-1', tokenType: 'Bearer' });
  });

  it.each([
    ['an ISO-8601 string', '2025-06-01T13:00:00Z'],
    ['epoch seconds', NOW / 1000 + 3600],
  ])('reads an absolute expiry given as %s', (_label, expiresAt) => {
    // Act
    const token = parseHttpTokenResponse(
      raw({ token: 'tok-1', expires_at: expiresAt }),
      { tokenPath: 'token', expiresAtPath: 'expires_at' },
      { now: NOW },
    );

    // Assess
    expect(token.expiresAt).toBe(NOW + 3_600_000);
  });

  it.each([
    ['in the past', '2025-06-01T11:00:00Z'],
    ['more than 1 year ahead', '2027-01-01T00:00:00Z'],
    ['without a time zone', '2025-06-01T13:00:00'],
  ])('throws invalid_lifetime when expires_at is %s', (_label, expiresAt) => {
    // Act
    const act = () =>
      parseHttpTokenResponse(
        raw({ token: 'tok-1', expires_at: expiresAt }),
        { tokenPath: 'token', expiresAtPath: 'expires_at' },
        { now: NOW },
      );

    // Assess
    expect(act).toThrow(expect.objectContaining({ code: 'invalid_lifetime', kind: 'transient' }));
  });

  it('throws invalid_lifetime naming the path when the lifetime is a string that is not whole seconds', () => {
    // Act
    const act = () =>
      parseHttpTokenResponse(raw({ data: { token: 'tok-1', ttl: '15 min' } }), PATHS, { now: NOW });

    // Assess
    expect(act).toThrow('"data.ttl" must be a positive number of seconds, at most 1 year');
  });

  it('reads a lifetime written as a string of digits, and an expiry as a string of epoch seconds', () => {
    // Act
    const fromLifetime = parseHttpTokenResponse(raw({ data: { token: 'tok-1', ttl: '900' } }), PATHS, {
      now: NOW,
    });
    const fromExpiry = parseHttpTokenResponse(
      raw({ token: 'tok-1', expires_on: String(NOW / 1000 + 600) }),
      { tokenPath: 'token', expiresAtPath: 'expires_on' },
      { now: NOW },
    );

    // Assess
    expect(fromLifetime).toMatchObject({ accessToken: 'tok-1', expiresInSeconds: 900 });
    expect(fromExpiry).toMatchObject({ accessToken: 'tok-1', expiresAt: NOW + 600_000 });
  });

  it.each([
    ['no token at the path', raw({ data: {} })],
    ['an empty token', raw({ data: { token: '' } })],
    ['an HTML page', { status: 200, headers: {}, bodyText: '<html>login</html>' }],
  ])('throws malformed_response for %s', (_label, response) => {
    // Act
    const act = () => parseHttpTokenResponse(response, PATHS, { now: NOW });

    // Assess
    expect(act).toThrow(expect.objectContaining({ code: 'malformed_response', kind: 'transient' }));
  });

  it.each([
    ['an error string field', raw({ error: 'invalid_client' }, 401), 'invalid_client', 'permanent'],
    ['no error field', raw({ message: 'down' }, 503), 'http_503', 'transient'],
    ['a non-string error field', raw({ error: { code: 7 } }, 400), 'http_400', 'permanent'],
  ])('classifies an error status with %s', (_label, response, code, kind) => {
    // Act
    const act = () => parseHttpTokenResponse(response, PATHS, { now: NOW });

    // Assess
    expect(act).toThrow(expect.objectContaining({ code, kind }));
  });
});

describe('Class: HttpProvider', () => {
  describe('Method: requestToken', () => {
    it('substitutes credential placeholders in headers and, recursively, in body strings', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse({ data: { token: 'tok-1' } }));
      const request = {
        method: 'POST' as const,
        headers: { 'x-api-key': '{{credentials.apiKey}}', 'x-client': 'id={{ credentials.clientId }}' },
        body: {
          login: { user: '{{credentials.clientId}}', password: '{{credentials.password}}' },
          tags: ['static', '{{credentials.apiKey}}'],
          attempts: 1,
          '{{credentials.apiKey}}': 'keys are left alone',
        },
      };

      // Act
      await provider(request, { tokenPath: 'data.token' }, server.fetch).requestToken({
        credentials: CREDENTIALS,
        signal: new AbortController().signal,
      });

      // Assess
      const [sent] = server.requests as [Request];
      expect(sent.method).toBe('POST');
      expect(sent.url).toBe(URL_);
      expect(sent.headers.get('x-api-key')).toBe('key-1');
      expect(sent.headers.get('x-client')).toBe('id=id-1');
      expect(sent.headers.get('content-type')).toBe('application/json');
      expect(await sent.json()).toEqual({
        login: { user: 'id-1', password: 'p@ss"word' },
        tags: ['static', 'key-1'],
        attempts: 1,
        '{{credentials.apiKey}}': 'keys are left alone',
      });
      expect(server.inits[0]?.redirect).toBe('manual');
    });

    it('sends no body with GET', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse({ data: { token: 'tok-1' } }));

      // Act
      await provider(
        {
          method: 'GET',
          headers: { authorization: 'ApiKey {{credentials.apiKey}}' },
          body: { ignored: true },
        },
        { tokenPath: 'data.token' },
        server.fetch,
      ).requestToken({ credentials: CREDENTIALS, signal: new AbortController().signal });

      // Assess
      const [sent] = server.requests as [Request];
      expect(sent.method).toBe('GET');
      expect(sent.body).toBeNull();
      expect(server.inits[0]?.body).toBeUndefined();
      expect(sent.headers.get('authorization')).toBe('ApiKey key-1');
    });

    it('throws credentials_invalid naming the missing field and where it is used, without calling the server', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse({ data: { token: 'tok-1' } }));

      // Act
      const error = await caught(() =>
        provider(
          { body: { auth: { otp: '{{credentials.otpSeed}}' } } },
          { tokenPath: 'data.token' },
          server.fetch,
        ).requestToken({ credentials: CREDENTIALS, signal: new AbortController().signal }),
      );

      // Assess
      expect(error).toBeInstanceOf(CredentialsError);
      expect(error).toMatchObject({ code: 'credentials_invalid', kind: 'permanent' });
      expect(error.message).toContain('"otpSeed"');
      expect(error.message).toContain('request.body.auth.otp');
      expect(server.requests).toHaveLength(0);
    });

    it('throws request_invalid without the value when a substituted header is not a valid header value', async () => {
      // Prepare
      const server = recordingFetch(jsonResponse({ data: { token: 'tok-1' } }));
      const credentials = { apiKey: 'line1\nline2-secret' };

      // Act
      const error = await caught(() =>
        provider(
          { headers: { 'x-api-key': '{{credentials.apiKey}}' } },
          { tokenPath: 'data.token' },
          server.fetch,
        ).requestToken({ credentials, signal: new AbortController().signal }),
      );

      // Assess
      expect(error).toMatchObject({ code: 'request_invalid', kind: 'permanent' });
      expect(error.message).toContain('request.headers.x-api-key');
      expect(error.message).not.toContain('secret');
      expect(error.cause).toBeUndefined();
    });
  });
});
