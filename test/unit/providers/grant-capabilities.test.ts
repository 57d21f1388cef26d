/**
 * The grant capabilities declared in functions/core/grants.ts against what the config schema allows
 * and what each grant's provider actually does: a capability that drifts from its provider fails here.
 */
import { describe, expect, it } from 'vitest';
import type { ProviderConfigInput } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { CredentialsError } from '../../../functions/core/errors.js';
import {
  capabilitiesOf,
  GRANT_CAPABILITIES,
  type Grant,
  requiredCredentialsOf,
} from '../../../functions/core/grants.js';
import type { Credentials } from '../../../functions/core/types.js';
import { createProvider, type FetchFunction } from '../../../functions/providers/index.js';
import { testKeys } from '../../support/keys.js';
import { caught, jsonResponse, recordingFetch } from './fake-fetch.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const TOKEN_URL = 'https://auth.example.com/oauth/token';
/** Every field any grant reads from the credentials secret. */
const ALL_CREDENTIALS: Credentials = {
  clientId: 'id-1',
  clientSecret: 'secret-1',
  refreshToken: 'rt-1',
  privateKey: testKeys().rsa.privatePem,
};
/** A token answer every grant reads: OAuth's `access_token`/`expires_in` and GitHub's `token`/`expires_at`. */
const TOKEN_ANSWER = {
  access_token: 'at-1',
  expires_in: 3600,
  token: 'at-1',
  expires_at: '2026-01-01T01:00:00Z',
};

/** The grants the config schema accepts, read from the schema itself. */
const SCHEMA_GRANTS: readonly Grant[] = providerConfigSchema.options.map(
  (option) => option.shape.grant.value,
);

/** A minimal valid entry per grant: the `http` one sends no placeholder, so it needs no field. */
const ENTRIES: Readonly<Record<Grant, ProviderConfigInput>> = {
  client_credentials: { name: 'cc', grant: 'client_credentials', tokenUrl: TOKEN_URL },
  refresh_token: { name: 'rt', grant: 'refresh_token', tokenUrl: TOKEN_URL },
  http: { name: 'custom', grant: 'http', request: { url: TOKEN_URL }, response: {} },
  jwt_bearer: { name: 'jb', grant: 'jwt_bearer', tokenUrl: TOKEN_URL, assertion: { issuer: 'svc-1' } },
  github_app: { name: 'gh', grant: 'github_app', appId: 1, installationId: 2 },
};

function provider(entry: ProviderConfigInput, fetch: FetchFunction) {
  return createProvider(providerConfigSchema.parse(entry), { fetch, clock: { now: () => NOW } });
}

function withoutField(credentials: Credentials, field: string): Credentials {
  const { [field]: _dropped, ...rest } = credentials;
  return rest;
}

function schemaFields(grant: Grant): string[] {
  const option = providerConfigSchema.options.find((candidate) => candidate.shape.grant.value === grant);
  return Object.keys(option?.shape ?? {});
}

describe('Grant capabilities (functions/core/grants.ts)', () => {
  it('declares capabilities for exactly the grants the config schema accepts', () => {
    // Assess
    expect([...SCHEMA_GRANTS].sort()).toEqual(Object.keys(GRANT_CAPABILITIES).sort());
    expect(Object.keys(ENTRIES).sort()).toEqual([...SCHEMA_GRANTS].sort());
  });

  describe.each(SCHEMA_GRANTS)('grant %s', (grant) => {
    const capabilities = GRANT_CAPABILITIES[grant];

    it('is what capabilitiesOf answers for a parsed entry of that grant', () => {
      // Assess
      expect(capabilitiesOf(providerConfigSchema.parse(ENTRIES[grant]))).toBe(capabilities);
    });

    it.each(requiredCredentialsOf(providerConfigSchema.parse(ENTRIES[grant])).map((field) => [field]))(
      'refuses credentials lacking the required "%s" with credentials_invalid naming it, before any request',
      async (field) => {
        // Prepare
        const server = recordingFetch(jsonResponse(TOKEN_ANSWER));

        // Act
        const error = await caught(() =>
          provider(ENTRIES[grant], server.fetch).requestToken({
            credentials: withoutField(ALL_CREDENTIALS, field),
            signal: new AbortController().signal,
          }),
        );

        // Assess
        expect(error).toBeInstanceOf(CredentialsError);
        expect((error as CredentialsError).code).toBe('credentials_invalid');
        expect(error.message).toContain(`"${field}"`);
        expect(server.requests).toHaveLength(0);
      },
    );

    it('requires no credentials field besides the declared ones', async () => {
      // Prepare: only the declared fields, each non-empty.
      const server = recordingFetch(jsonResponse(TOKEN_ANSWER));
      const credentials = Object.fromEntries(
        requiredCredentialsOf(providerConfigSchema.parse(ENTRIES[grant])).map((field) => [
          field,
          ALL_CREDENTIALS[field],
        ]),
      );

      // Act
      const token = await provider(ENTRIES[grant], server.fetch).requestToken({
        credentials,
        signal: new AbortController().signal,
      });

      // Assess
      expect(token.accessToken).toBe('at-1');
      expect(server.requests).toHaveLength(1);
    });

    it(`${capabilities.supportsAudience ? 'accepts and sends' : 'has no'} an audience`, async () => {
      // Prepare
      const server = recordingFetch(jsonResponse(TOKEN_ANSWER));
      const audience = 'https://api.example.com';

      // Act
      const parsed = providerConfigSchema.safeParse({ ...ENTRIES[grant], audience });
      if (parsed.success) {
        await createProvider(parsed.data, { fetch: server.fetch, clock: { now: () => NOW } }).requestToken({
          credentials: ALL_CREDENTIALS,
          signal: new AbortController().signal,
        });
      }

      // Assess: the schema keeps `audience` only for a grant that supports it, and its provider sends it.
      expect(schemaFields(grant).includes('audience')).toBe(capabilities.supportsAudience);
      const sent = parsed.success
        ? new URLSearchParams(await server.requests[0]?.text()).get('audience')
        : null;
      expect(sent === audience).toBe(capabilities.supportsAudience);
    });

    it(`${capabilities.rotatesCredential ? 'hands' : 'never hands'} the engine a rotated refresh token`, async () => {
      // Prepare: the server answers with a refresh token different from the one stored.
      const server = recordingFetch(jsonResponse({ ...TOKEN_ANSWER, refresh_token: 'rt-2' }));

      // Act
      const token = await provider(ENTRIES[grant], server.fetch).requestToken({
        credentials: ALL_CREDENTIALS,
        signal: new AbortController().signal,
      });

      // Assess
      expect(token.refreshToken === 'rt-2').toBe(capabilities.rotatesCredential);
    });
  });
});
