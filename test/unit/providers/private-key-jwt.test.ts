/**
 * `clientAuth: "private_key_jwt"` (RFC 7523 §2.2, §3) for the client_credentials and refresh_token
 * grants: the client assertion's claims and signature, as the token endpoint would verify them, and
 * the secrets (key, assertion) kept out of every message.
 */
import { decodeJwt, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import type { ProviderConfigInput } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { CredentialsError, ProviderError } from '../../../functions/core/errors.js';
import type { Credentials } from '../../../functions/core/types.js';
import {
  CLIENT_ASSERTION_LIFETIME_SECONDS,
  createProvider,
  type FetchFunction,
} from '../../../functions/providers/index.js';
import { testKeys } from '../../support/keys.js';
import { caught, jsonResponse, recordingFetch } from './fake-fetch.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const TOKEN_URL = 'https://auth.example.com/oauth2/token';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const ENTRIES = {
  client_credentials: {
    name: 'cc-jwt',
    grant: 'client_credentials',
    tokenUrl: TOKEN_URL,
    clientAuth: 'private_key_jwt',
    scope: 'api:read',
  },
  refresh_token: {
    name: 'rt-jwt',
    grant: 'refresh_token',
    tokenUrl: TOKEN_URL,
    clientAuth: 'private_key_jwt',
  },
} as const satisfies Record<string, ProviderConfigInput>;

function provider(entry: ProviderConfigInput, fetch: FetchFunction) {
  return createProvider(providerConfigSchema.parse(entry), { fetch, clock: { now: () => NOW } });
}

function credentials(extra: Credentials = {}): Credentials {
  return { clientId: 'svc-1', privateKey: testKeys().rsa.privatePem, refreshToken: 'rt-1', ...extra };
}

async function formOf(request: Request | undefined): Promise<URLSearchParams> {
  return new URLSearchParams(await request?.text());
}

const signal = () => new AbortController().signal;

describe.each(Object.entries(ENTRIES))('Grant %s with clientAuth private_key_jwt', (grant, entry) => {
  it('sends a client assertion the public key verifies: iss = sub = client id, aud = token endpoint, 60 s', async () => {
    // Prepare
    const server = recordingFetch(jsonResponse({ access_token: 'at-1', expires_in: 3600 }));

    // Act
    const token = await provider(entry, server.fetch).requestToken({
      credentials: credentials(),
      signal: signal(),
    });

    // Assess
    expect(token.accessToken).toBe('at-1');
    const request = server.requests[0];
    expect(request?.headers.get('authorization')).toBeNull();
    const form = await formOf(request);
    expect(form.get('grant_type')).toBe(grant);
    expect(form.get('client_id')).toBe('svc-1');
    expect(form.get('client_secret')).toBeNull();
    expect(form.get('client_assertion_type')).toBe(ASSERTION_TYPE);
    const { payload, protectedHeader } = await jwtVerify(
      form.get('client_assertion') ?? '',
      await importJWK(testKeys().rsa.publicJwk, 'RS256'),
      { currentDate: new Date(NOW), audience: TOKEN_URL, issuer: 'svc-1', subject: 'svc-1' },
    );
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.iat).toBe(NOW / 1000);
    expect(payload.exp).toBe(NOW / 1000 + CLIENT_ASSERTION_LIFETIME_SECONDS);
    expect(payload.jti).toEqual(expect.any(String));
  });

  it('signs a new assertion with a new jti for every request, with the kid of the credentials', async () => {
    // Prepare
    const server = recordingFetch(jsonResponse({ access_token: 'at-1', expires_in: 3600 }));
    const refresher = provider(entry, server.fetch);

    // Act
    for (let i = 0; i < 3; i++) {
      await refresher.requestToken({ credentials: credentials({ kid: 'key-2026' }), signal: signal() });
    }

    // Assess
    const assertions = await Promise.all(
      server.requests.map(async (request) => (await formOf(request)).get('client_assertion') ?? ''),
    );
    expect(new Set(assertions.map((jwt) => decodeJwt(jwt).jti)).size).toBe(3);
    const header = JSON.parse(Buffer.from(assertions[0]?.split('.')[0] ?? '', 'base64url').toString());
    expect(header).toMatchObject({ alg: 'RS256', kid: 'key-2026' });
  });

  it('signs ES256 with an EC key given as a JWK', async () => {
    // Prepare
    const server = recordingFetch(jsonResponse({ access_token: 'at-1', expires_in: 3600 }));

    // Act
    await provider(entry, server.fetch).requestToken({
      credentials: credentials({ privateKey: testKeys().ec.privateJwkText }),
      signal: signal(),
    });

    // Assess
    const assertion = (await formOf(server.requests[0])).get('client_assertion') ?? '';
    await expect(
      jwtVerify(assertion, await importJWK(testKeys().ec.publicJwk, 'ES256'), { currentDate: new Date(NOW) }),
    ).resolves.toMatchObject({ protectedHeader: { alg: 'ES256' } });
  });

  it('needs privateKey, not clientSecret: refuses credentials lacking it before any request', async () => {
    // Prepare
    const server = recordingFetch(jsonResponse({ access_token: 'at-1', expires_in: 3600 }));
    const { privateKey: _dropped, ...withoutKey } = credentials({ clientSecret: 'a-secret' });

    // Act
    const error = await caught(() =>
      provider(entry, server.fetch).requestToken({ credentials: withoutKey, signal: signal() }),
    );

    // Assess
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error.message).toContain('"privateKey"');
    expect(server.requests).toHaveLength(0);
  });

  it('refuses an unusable key with credentials_invalid, before any request and without quoting it', async () => {
    // Prepare
    const server = recordingFetch(jsonResponse({ access_token: 'at-1', expires_in: 3600 }));
    const encrypted = testKeys().rsa.encryptedPem;

    // Act
    const error = await caught(() =>
      provider(entry, server.fetch).requestToken({
        credentials: credentials({ privateKey: encrypted }),
        signal: signal(),
      }),
    );

    // Assess
    expect(error).toMatchObject({ code: 'credentials_invalid', kind: 'permanent' });
    expect(error.message).toContain('encrypted');
    expect(error.message).not.toContain(encrypted.split('\n')[3] ?? 'none');
    expect(server.requests).toHaveLength(0);
  });

  it('redacts the private key if a server ever echoed it, and quotes the rest', async () => {
    // Prepare: the key never leaves the refresher, but no stored credential may reach a message.
    const pem = testKeys().rsa.privatePem;
    const server = recordingFetch(
      jsonResponse({ error: 'invalid_client', error_description: `key ${pem} refused` }, 401),
    );

    // Act
    const error = await caught(() =>
      provider(entry, server.fetch).requestToken({ credentials: credentials(), signal: signal() }),
    );

    // Assess
    expect(error).toMatchObject({ code: 'invalid_client' });
    for (const line of pem.split('\n').filter((text) => text.length > 20)) {
      expect(error.message).not.toContain(line);
    }
    expect(error.message).toContain('[redacted]');
  });

  it('redacts the assertion when the server echoes it in its error', async () => {
    // Prepare: a server that quotes the client assertion it refused in error_description.
    let echoed = '';
    const server = recordingFetch(() =>
      jsonResponse({ error: 'invalid_client', error_description: echoed }, 401),
    );
    const fetch: FetchFunction = async (input, init) => {
      echoed = `assertion ${new URLSearchParams(String(init?.body ?? '')).get('client_assertion')} expired`;
      return server.fetch(input, init);
    };

    // Act
    const error = await caught(() =>
      provider(entry, fetch).requestToken({ credentials: credentials(), signal: signal() }),
    );

    // Assess
    expect(error).toBeInstanceOf(ProviderError);
    expect((error as ProviderError).code).toBe('invalid_client');
    const assertion = (await formOf(server.requests[0])).get('client_assertion') ?? '';
    expect(assertion.length).toBeGreaterThan(100);
    for (const part of [assertion, ...assertion.split('.')]) expect(error.message).not.toContain(part);
    expect(error.message).toContain('[redacted]');
  });
});
