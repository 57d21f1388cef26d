import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { ProviderConfigInput } from '../../../functions/core/config.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import type { Credentials } from '../../../functions/core/types.js';
import {
  createProvider,
  createRedactor,
  type FetchFunction,
  REDACTED,
} from '../../../functions/providers/index.js';
import { base64, type EchoForm, echoesCredential, echoForms } from '../../support/credential-echoes.js';
import { caught, jsonResponse, recordingFetch } from './fake-fetch.js';

const CLIENT_ID = 'cid-7f3a9e';
const CLIENT_SECRET = 's3cr3t:+/%Zq';
const REFRESH_TOKEN = 'rt-0a1b2c3d4e';
const ACCESS_TOKEN = 'at-9z8y7x6w5v';
const API_KEY = 'ak-live-5566';
const SECRETS = [CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN, API_KEY];
const CREDENTIALS: Credentials = {
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  refreshToken: REFRESH_TOKEN,
  apiKey: API_KEY,
};

const OAUTH: Partial<ProviderConfigInput> = {
  grant: 'refresh_token',
  tokenUrl: 'https://auth.example.com/token',
};
const HTTP: Partial<ProviderConfigInput> = {
  grant: 'http',
  request: {
    url: 'https://api.example.com/token',
    headers: { 'x-api-key': '{{credentials.apiKey}}' },
    body: { id: '{{credentials.clientId}}' },
  },
  response: { tokenPath: 'token', expiresInPath: 'ttl' },
};

const echo = `client=${CLIENT_ID} secret=${CLIENT_SECRET} encoded=${encodeURIComponent(CLIENT_SECRET)} rt=${REFRESH_TOKEN} key=${API_KEY}`;

/** [label, config, response or fetch, credentials] — each ends in an error. */
const SCENARIOS: [string, Partial<ProviderConfigInput>, Response | FetchFunction, Credentials][] = [
  [
    'error_description echoing credentials',
    OAUTH,
    jsonResponse({ error: 'invalid_client', error_description: echo }, 401),
    CREDENTIALS,
  ],
  [
    'an unknown error equal to the refresh token',
    OAUTH,
    jsonResponse({ error: REFRESH_TOKEN }, 400),
    CREDENTIALS,
  ],
  [
    'an unknown error containing the secret',
    OAUTH,
    jsonResponse({ error: `bad_${CLIENT_SECRET}` }, 503),
    CREDENTIALS,
  ],
  [
    'token_type equal to the access token',
    OAUTH,
    jsonResponse({ access_token: ACCESS_TOKEN, token_type: ACCESS_TOKEN }),
    CREDENTIALS,
  ],
  [
    'an invalid lifetime next to tokens',
    OAUTH,
    jsonResponse({ access_token: ACCESS_TOKEN, refresh_token: 'rt-new-1', expires_in: 0 }),
    CREDENTIALS,
  ],
  [
    'a malformed refresh_token',
    OAUTH,
    jsonResponse({ access_token: ACCESS_TOKEN, refresh_token: 5 }),
    CREDENTIALS,
  ],
  [
    'an HTML page quoting the secret',
    OAUTH,
    new Response(`<html>${echo}</html>`, { status: 502 }),
    CREDENTIALS,
  ],
  [
    'a 200 HTML page quoting the secret',
    OAUTH,
    new Response(`<html>${echo} ${ACCESS_TOKEN}</html>`, { status: 200 }),
    CREDENTIALS,
  ],
  [
    'a network error whose message holds the secret',
    OAUTH,
    async () => {
      throw new TypeError(`fetch failed for ${CLIENT_SECRET}`);
    },
    CREDENTIALS,
  ],
  [
    'missing credentials',
    OAUTH,
    jsonResponse({ access_token: ACCESS_TOKEN }),
    { clientId: CLIENT_ID, apiKey: API_KEY },
  ],
  [
    'http: an error body echoing the api key',
    HTTP,
    jsonResponse({ error: 'denied', error_description: echo }, 403),
    CREDENTIALS,
  ],
  [
    'http: a lifetime that is a string',
    HTTP,
    jsonResponse({ token: ACCESS_TOKEN, ttl: ACCESS_TOKEN }),
    CREDENTIALS,
  ],
  ['http: a missing placeholder field', HTTP, jsonResponse({ token: ACCESS_TOKEN }), { clientId: CLIENT_ID }],
];

describe('Providers: secrets in errors', () => {
  it.each(SCENARIOS)(
    'keeps credentials and tokens out of the error for %s',
    async (_label, overrides, answer, credentials) => {
      // Prepare
      const fetch = typeof answer === 'function' ? answer : recordingFetch(answer).fetch;
      const config = providerConfigSchema.parse({ name: 'acme', ...overrides });
      const provider = createProvider(config, { fetch });

      // Act
      const error = await caught(() =>
        provider.requestToken({ credentials, signal: new AbortController().signal }),
      );

      // Assess
      const exposed = [
        error.message,
        String(error),
        JSON.stringify(error),
        (error as { code?: string }).code ?? '',
      ];
      for (const secret of [...SECRETS, 'rt-new-1', encodeURIComponent(CLIENT_SECRET)]) {
        for (const text of exposed) expect(text).not.toContain(secret);
      }
    },
  );

  it('still says what the server said, with the secrets redacted', async () => {
    // Prepare
    const server = recordingFetch(
      jsonResponse({ error: 'invalid_client', error_description: `bad secret ${CLIENT_SECRET}` }, 401),
    );
    const provider = createProvider(providerConfigSchema.parse({ name: 'acme', ...OAUTH }), {
      fetch: server.fetch,
    });

    // Act
    const error = await caught(() =>
      provider.requestToken({ credentials: CREDENTIALS, signal: new AbortController().signal }),
    );

    // Assess
    expect(error.message).toBe(
      'Token endpoint answered HTTP 401 with OAuth error "invalid_client": bad secret [redacted]',
    );
  });
});

/**
 * Finding 5 of issue 15: every encoding in which a sent credential can come back. The fake endpoint
 * echoes what it received (the real request oauth4webapi built: its `Authorization: Basic` header and
 * its form body), re-encoded the ways servers, proxies and frameworks re-encode text.
 */
describe('Providers: echoed credentials in every encoding', () => {
  // Characters that each encoding treats differently: quote, backslash, slash, space, plus, percent,
  // colon, a non-ASCII letter and a character outside the BMP.
  const ECHOED = {
    clientId: 'svc:id/1+"x',
    clientSecret: 'Zq"s3\\cr/e t+%é😀:k',
    refreshToken: 'rt/"+ 0a\\b',
  };
  const TOKEN_URL = 'https://auth.example.com/token';

  /** A fetch standing for a token endpoint that echoes the request, encoded by `form`, in `where`. */
  function echoingFetch(
    form: EchoForm[1],
    where: 'error_description' | 'text',
    echoed: string[],
  ): FetchFunction {
    return async (input, init) => {
      const request = new Request(input, init);
      const echo = form({
        authorization: request.headers.get('authorization') ?? '',
        body: await request.text(),
      });
      echoed.push(echo);
      return where === 'text'
        ? new Response(`upstream said: ${echo}`, { status: 502, headers: { 'content-type': 'text/plain' } })
        : jsonResponse({ error: 'invalid_client', error_description: `received ${echo}` }, 401);
    };
  }

  const GRANTS: [string, Partial<ProviderConfigInput>][] = [
    ['client_credentials, client_secret_basic', { grant: 'client_credentials', tokenUrl: TOKEN_URL }],
    [
      'client_credentials, client_secret_post',
      { grant: 'client_credentials', tokenUrl: TOKEN_URL, clientAuth: 'client_secret_post' },
    ],
    ['refresh_token, client_secret_basic', { grant: 'refresh_token', tokenUrl: TOKEN_URL }],
  ];
  const forms = echoForms(ECHOED);

  describe.each(GRANTS)('Grant: %s', (_grant, overrides) => {
    it.each(forms)('redacts %s in error_description', async (_label, form) => {
      // Prepare
      const echoed: string[] = [];
      const config = providerConfigSchema.parse({ name: 'acme', ...overrides });
      const provider = createProvider(config, { fetch: echoingFetch(form, 'error_description', echoed) });

      // Act
      const error = await caught(() =>
        provider.requestToken({ credentials: { ...ECHOED }, signal: new AbortController().signal }),
      );

      // Assess: the description is quoted, and no echoed form of a credential survives.
      expect(error.message).toContain('"invalid_client": received');
      const echo = echoed[0] ?? '';
      if (echoesCredential(echo)) expect(error.message).toContain(REDACTED);
      const exposed = [error.message, String(error), JSON.stringify(error)].join('\n');
      const { clientSecret, refreshToken } = ECHOED;
      for (const secret of [
        clientSecret,
        refreshToken,
        base64(clientSecret),
        ...(echoesCredential(echo) ? [echo] : []),
      ]) {
        expect(exposed).not.toContain(secret);
      }
    });
  });

  it.each(forms)('never quotes a non-JSON body echoing %s', async (_label, form) => {
    // Prepare
    const echoed: string[] = [];
    const config = providerConfigSchema.parse({ name: 'acme', ...GRANTS[0]?.[1] });
    const provider = createProvider(config, { fetch: echoingFetch(form, 'text', echoed) });

    // Act
    const error = await caught(() =>
      provider.requestToken({ credentials: { ...ECHOED }, signal: new AbortController().signal }),
    );

    // Assess
    expect(error.message).toBe('Token endpoint answered HTTP 502');
    expect(JSON.stringify(error)).not.toContain(echoed[0]);
  });
});

describe('Function: createRedactor', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const ASSERTION = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('{"iss":"svc","sub":"svc","aud":"https://a/t"}').toString('base64url')}.${'s1g/+'.repeat(60)}`;

  it.each([
    ['a signed assertion as sent', ASSERTION],
    [
      'a signed assertion JSON-escaped with \\/',
      JSON.stringify(ASSERTION).slice(1, -1).replaceAll('/', '\\/'),
    ],
    ['a signed assertion form-encoded', new URLSearchParams({ client_assertion: ASSERTION }).toString()],
    ['a signed assertion in base64', Buffer.from(`assertion=${ASSERTION}`).toString('base64')],
    ['a PEM private key JSON-escaped', JSON.stringify(PEM).slice(1, -1)],
    ['one line of a PEM private key', PEM.split('\n')[7] ?? ''],
    ['a client secret in upper case', 'S3CR3T-VALUE-XYZ'],
  ])('redacts %s', (_label, echo) => {
    // Prepare
    const redact = createRedactor(['svc', 's3cr3t-value-xyz', ASSERTION, PEM]);

    // Act
    const redacted = redact(`server said: ${echo} (end)`);

    // Assess
    expect(echo.length).toBeGreaterThan(15);
    expect(redacted).toContain(REDACTED);
    expect(redacted).not.toContain(echo);
    expect(redacted.startsWith('server said: ')).toBe(true);
    expect(redacted.endsWith(' (end)')).toBe(true);
  });

  it('leaves text without a value alone, base64 runs and escapes included', () => {
    // Prepare
    const redact = createRedactor(['s3cr3t-value-xyz']);
    const text =
      'invalid_client: see https://errors.example.com/a\\/b?x=%2F, trace dGhpcyBpcyBub3QgYSBzZWNyZXQ=';

    // Act & Assess
    expect(redact(text)).toBe(text);
  });
});
