/**
 * The jwt_bearer grant (RFC 7523 §2.1): the request, the assertion's claims as the server would verify
 * them, the Google service-account preset reading the JSON key file as it is, and the errors.
 */
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import type { ProviderConfigInput } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { CredentialsError, ProviderError } from '../../../functions/core/errors.js';
import type { Credentials } from '../../../functions/core/types.js';
import {
  createProvider,
  type FetchFunction,
  JWT_BEARER_GRANT_TYPE,
} from '../../../functions/providers/index.js';
import { testKeys } from '../../support/keys.js';
import { caught, jsonResponse, recordingFetch } from './fake-fetch.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const TOKEN_URL = 'https://login.example.com/services/oauth2/token';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

const GENERIC: ProviderConfigInput = {
  name: 'crm',
  grant: 'jwt_bearer',
  tokenUrl: TOKEN_URL,
  scope: 'api',
  assertion: { issuer: 'consumer-key-1', subject: 'integration@example.com' },
};

const GOOGLE: ProviderConfigInput = {
  name: 'gcp',
  grant: 'jwt_bearer',
  preset: 'google_service_account',
  tokenUrl: GOOGLE_TOKEN_URL,
  scope: 'https://www.googleapis.com/auth/cloud-platform',
};

/** A service account's JSON key file, with the fields Google writes, as it is stored. */
function googleKeyFile(extra: Credentials = {}): Credentials {
  return {
    type: 'service_account',
    project_id: 'demo-project',
    private_key_id: '0123456789abcdef',
    private_key: testKeys().rsa.privatePem,
    client_email: 'refresher@demo-project.iam.gserviceaccount.com',
    client_id: '109876543210',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: GOOGLE_TOKEN_URL,
    auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
    client_x509_cert_url: 'https://www.googleapis.com/robot/v1/metadata/x509/refresher',
    universe_domain: 'googleapis.com',
    ...extra,
  };
}

function provider(entry: ProviderConfigInput, fetch: FetchFunction) {
  return createProvider(providerConfigSchema.parse(entry), { fetch, clock: { now: () => NOW } });
}

const signal = () => new AbortController().signal;
const answer = () =>
  recordingFetch(jsonResponse({ access_token: 'at-1', expires_in: 3600, token_type: 'Bearer' }));

async function sentForm(server: { requests: Request[] }): Promise<URLSearchParams> {
  return new URLSearchParams(await server.requests[0]?.text());
}

async function verified(assertion: string, options: { audience?: string } = {}) {
  return jwtVerify(assertion, await importJWK(testKeys().rsa.publicJwk, 'RS256'), {
    currentDate: new Date(NOW),
    ...options,
  });
}

describe('Class: JwtBearerProvider', () => {
  describe('without a preset', () => {
    it('POSTs the grant type and a signed assertion with the configured claims, aud = token endpoint', async () => {
      // Prepare
      const server = answer();

      // Act
      const token = await provider(GENERIC, server.fetch).requestToken({
        credentials: { privateKey: testKeys().rsa.privatePem },
        signal: signal(),
      });

      // Assess
      expect(token).toEqual({ accessToken: 'at-1', tokenType: 'Bearer', expiresInSeconds: 3600 });
      const request = server.requests[0];
      expect(request?.method).toBe('POST');
      expect(request?.url).toBe(TOKEN_URL);
      expect(request?.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
      expect(request?.headers.get('authorization')).toBeNull();
      const form = await sentForm(server);
      expect([...form.keys()].sort()).toEqual(['assertion', 'grant_type', 'scope']);
      expect(form.get('grant_type')).toBe(JWT_BEARER_GRANT_TYPE);
      expect(form.get('scope')).toBe('api');
      const { payload } = await verified(form.get('assertion') ?? '', { audience: TOKEN_URL });
      expect(payload).toEqual({
        iss: 'consumer-key-1',
        sub: 'integration@example.com',
        aud: TOKEN_URL,
        iat: NOW / 1000,
        exp: NOW / 1000 + 300,
        jti: expect.any(String),
      });
    });

    it('defaults sub to the issuer, and takes aud, lifetime, kid and client_id when given', async () => {
      // Prepare
      const server = answer();
      const entry = {
        ...GENERIC,
        scope: undefined,
        assertion: { issuer: 'iss-1', audience: 'https://login.example.com', lifetime: '2m' },
      };

      // Act
      await provider(entry, server.fetch).requestToken({
        credentials: { privateKey: testKeys().ec.privatePem, kid: 'k-7', clientId: 'client-7' },
        signal: signal(),
      });

      // Assess
      const form = await sentForm(server);
      expect(form.get('client_id')).toBe('client-7');
      expect(form.has('scope')).toBe(false);
      const assertion = form.get('assertion') ?? '';
      expect(decodeProtectedHeader(assertion)).toEqual({ alg: 'ES256', typ: 'JWT', kid: 'k-7' });
      expect(decodeJwt(assertion)).toMatchObject({
        iss: 'iss-1',
        sub: 'iss-1',
        aud: 'https://login.example.com',
        exp: NOW / 1000 + 120,
      });
    });

    it('signs every request with a new jti', async () => {
      // Prepare
      const server = answer();
      const refresher = provider(GENERIC, server.fetch);
      const credentials = { privateKey: testKeys().rsa.privatePem };

      // Act
      await refresher.requestToken({ credentials, signal: signal() });
      await refresher.requestToken({ credentials, signal: signal() });

      // Assess
      const jtis = await Promise.all(
        server.requests.map(
          async (request) => decodeJwt(new URLSearchParams(await request.text()).get('assertion') ?? '').jti,
        ),
      );
      expect(new Set(jtis).size).toBe(2);
    });

    it('refuses credentials lacking privateKey before any request', async () => {
      // Prepare
      const server = answer();

      // Act
      const error = await caught(() =>
        provider(GENERIC, server.fetch).requestToken({ credentials: { clientId: 'x' }, signal: signal() }),
      );

      // Assess
      expect(error).toBeInstanceOf(CredentialsError);
      expect(error.message).toContain('"privateKey"');
      expect(server.requests).toHaveLength(0);
    });

    it('answers invalid_grant (permanent) with the assertion redacted when the server echoes it', async () => {
      // Prepare
      let assertion = '';
      const fetch: FetchFunction = async (_input, init) => {
        assertion = new URLSearchParams(String(init?.body)).get('assertion') ?? '';
        return jsonResponse({ error: 'invalid_grant', error_description: `bad assertion ${assertion}` }, 400);
      };

      // Act
      const error = await caught(() =>
        provider(GENERIC, fetch).requestToken({
          credentials: { privateKey: testKeys().rsa.privatePem },
          signal: signal(),
        }),
      );

      // Assess
      expect(error).toBeInstanceOf(ProviderError);
      expect(error).toMatchObject({ code: 'invalid_grant', kind: 'permanent' });
      expect(assertion.length).toBeGreaterThan(100);
      expect(error.message).not.toContain(assertion);
      expect(error.message).toContain('bad assertion [redacted]');
    });

    it('drops a refresh token in the answer: this grant never uses one', async () => {
      // Prepare
      const server = recordingFetch(
        jsonResponse({ access_token: 'at-1', expires_in: 60, refresh_token: 'rt-9' }),
      );

      // Act
      const token = await provider(GENERIC, server.fetch).requestToken({
        credentials: { privateKey: testKeys().rsa.privatePem },
        signal: signal(),
      });

      // Assess
      expect(token).toEqual({ accessToken: 'at-1', tokenType: 'Bearer', expiresInSeconds: 60 });
    });
  });

  describe('with preset google_service_account', () => {
    it('reads the key file as it is: iss = client_email, kid = private_key_id, scope as a claim', async () => {
      // Prepare
      const server = answer();

      // Act
      const token = await provider(GOOGLE, server.fetch).requestToken({
        credentials: googleKeyFile(),
        signal: signal(),
      });

      // Assess
      expect(token.accessToken).toBe('at-1');
      const form = await sentForm(server);
      expect([...form.keys()].sort()).toEqual(['assertion', 'grant_type']);
      const assertion = form.get('assertion') ?? '';
      expect(decodeProtectedHeader(assertion)).toEqual({ alg: 'RS256', typ: 'JWT', kid: '0123456789abcdef' });
      const { payload } = await verified(assertion, { audience: GOOGLE_TOKEN_URL });
      expect(payload).toEqual({
        iss: 'refresher@demo-project.iam.gserviceaccount.com',
        scope: 'https://www.googleapis.com/auth/cloud-platform',
        aud: GOOGLE_TOKEN_URL,
        iat: NOW / 1000,
        exp: NOW / 1000 + 300,
        jti: expect.any(String),
      });
    });

    it('sets sub only for a user to act as (domain-wide delegation)', async () => {
      // Prepare
      const server = answer();

      // Act
      await provider({ ...GOOGLE, assertion: { subject: 'admin@example.com' } }, server.fetch).requestToken({
        credentials: googleKeyFile(),
        signal: signal(),
      });

      // Assess
      expect(decodeJwt((await sentForm(server)).get('assertion') ?? '').sub).toBe('admin@example.com');
    });

    it.each([
      ['client_email', 'client_email'],
      ['private_key', 'private_key'],
    ])('refuses a key file without %s, naming it, before any request', async (field) => {
      // Prepare
      const server = answer();
      const { [field]: _dropped, ...keyFile } = googleKeyFile();

      // Act
      const error = await caught(() =>
        provider(GOOGLE, server.fetch).requestToken({ credentials: keyFile, signal: signal() }),
      );

      // Assess
      expect(error).toBeInstanceOf(CredentialsError);
      expect(error.message).toContain(`"${field}"`);
      expect(server.requests).toHaveLength(0);
    });

    it('refuses a key file that is not a service account key, or names another token_uri', async () => {
      // Prepare
      const server = answer();

      // Act
      const wrongType = await caught(() =>
        provider(GOOGLE, server.fetch).requestToken({
          credentials: googleKeyFile({ type: 'authorized_user' }),
          signal: signal(),
        }),
      );
      const wrongUri = await caught(() =>
        provider(GOOGLE, server.fetch).requestToken({
          credentials: googleKeyFile({ token_uri: 'https://oauth2.example-sovereign.com/token' }),
          signal: signal(),
        }),
      );

      // Assess
      expect(wrongType).toMatchObject({ code: 'credentials_invalid' });
      expect(wrongType.message).toContain('"type" is not "service_account"');
      expect(wrongUri).toMatchObject({ code: 'credentials_invalid' });
      expect(wrongUri.message).toContain("Fix: set tokenUrl to the key file's token_uri");
      expect(server.requests).toHaveLength(0);
    });
  });
});
