import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { resolveReadFunctionEndpoint } from '../../../functions/client/options.js';
import {
  createReadFunctionTokenClient,
  parseReadFunctionResponse,
  parseRetryAfter,
  TokenClientError,
} from '../../../functions/client/read-function.js';
import { NodeSha256, sha256Hex } from '../../../functions/client/sha256.js';
import { FakeClock, HOUR, T0 } from './fakes.js';

const URL_BASE = 'https://abcdefghij0123456789.lambda-url.eu-west-1.on.aws/';
const FUNCTION_NAME = 'stack-ReadFunction-AbC123';
const ACCESS_TOKEN = 'served-access-token-6c0f';
const NEW_TOKEN = 'served-access-token-new-88d1';
const CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
};

function served(accessToken = ACCESS_TOKEN, expiresAtMs = T0 + HOUR): string {
  return JSON.stringify({
    provider: 'github',
    accessToken,
    tokenType: 'Bearer',
    expiresAt: new Date(expiresAtMs).toISOString(),
    expiresIn: Math.floor((expiresAtMs - T0) / 1000),
  });
}

function json(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** The requests the fake fetch received, as fetch would send them. */
interface Sent {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: string | undefined;
}

describe('Function: createReadFunctionTokenClient', () => {
  let clock: FakeClock;
  let sent: Sent[];
  let answers: Response[];
  const fakeFetch = vi.fn(async (input: string | URL | Request, init?: RequestInit) => {
    sent.push({
      url: String(input),
      method: init?.method ?? 'GET',
      headers: new Headers(init?.headers),
      body: typeof init?.body === 'string' ? init.body : undefined,
    });
    const answer = answers.shift();
    if (answer === undefined) throw new Error('no scripted answer');
    return answer;
  });

  beforeEach(() => {
    clock = new FakeClock();
    sent = [];
    answers = [];
    fakeFetch.mockClear();
  });

  const build = (options: { credentials?: typeof CREDENTIALS & { sessionToken?: string } } = {}) =>
    createReadFunctionTokenClient({
      url: URL_BASE,
      functionName: FUNCTION_NAME,
      credentials: options.credentials ?? CREDENTIALS,
      fetch: fakeFetch as typeof fetch,
      clock,
    });

  it('GETs <url>/tokens/<provider> signed with SigV4 for service lambda, and caches the answer', async () => {
    // Prepare
    answers.push(json(served()));
    const client = build();

    // Act
    const token = await client.getToken('github');
    await client.getToken('github');

    // Assess
    expect(token).toStrictEqual({
      provider: 'github',
      accessToken: ACCESS_TOKEN,
      tokenType: 'Bearer',
      expiresAt: '2030-01-01T01:00:00.000Z',
    });
    expect(sent).toHaveLength(1);
    const [request] = sent;
    expect(request?.method).toBe('GET');
    expect(request?.url).toBe(`${URL_BASE}tokens/github`);
    expect(request?.body).toBeUndefined();
    expect(request?.headers.get('x-amz-date')).toBe('20300101T000000Z');
    expect(request?.headers.get('x-amz-content-sha256')).toBe(sha256Hex(''));
    expect(request?.headers.get('authorization')).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20300101\/eu-west-1\/lambda\/aws4_request, SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date;x-token-refresher-proof, Signature=[0-9a-f]{64}$/,
    );
    // fetch derives Host from the URL that was signed.
    expect(request?.headers.has('host')).toBe(false);
  });

  it('signs the session token of temporary credentials (a Lambda role)', async () => {
    // Prepare
    answers.push(json(served()));

    // Act
    await build({ credentials: { ...CREDENTIALS, sessionToken: 'session-token-value' } }).getToken('github');

    // Assess
    expect(sent[0]?.headers.get('x-amz-security-token')).toBe('session-token-value');
    expect(sent[0]?.headers.get('authorization')).toContain(
      'SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-token-refresher-proof,',
    );
  });

  it('after a 401 POSTs the SHA-256 of the refused token (not the token) and retries with the answer', async () => {
    // Prepare
    answers.push(json(served()), json(served(NEW_TOKEN, T0 + 2 * HOUR)));
    const client = build();

    // Act
    const result = await client.withToken('github', async (t) => ({
      status: t.accessToken === NEW_TOKEN ? 200 : 401,
    }));

    // Assess
    expect(result).toStrictEqual({ status: 200 });
    const refresh = sent[1];
    const expectedBody = JSON.stringify({ rejectedTokenSha256: sha256Hex(ACCESS_TOKEN) });
    expect(refresh?.method).toBe('POST');
    expect(refresh?.url).toBe(`${URL_BASE}tokens/github/refresh`);
    expect(refresh?.body).toBe(expectedBody);
    expect(refresh?.body).not.toContain(ACCESS_TOKEN);
    expect(refresh?.headers.get('content-type')).toBe('application/json');
    expect(refresh?.headers.get('x-amz-content-sha256')).toBe(
      createHash('sha256').update(expectedBody).digest('hex'),
    );
    expect(refresh?.headers.get('authorization')).toContain(
      'SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date;x-token-refresher-proof,',
    );
  });

  it('answers a 503 with the function code, the status and retryAfterSeconds', async () => {
    // Prepare
    answers.push(
      json('{"code":"token_unavailable","message":"No valid token yet"}', 503, { 'retry-after': '7' }),
    );

    // Act
    const error = await build()
      .getToken('github')
      .catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(TokenClientError);
    expect(error).toMatchObject({ code: 'token_unavailable', status: 503, retryAfterSeconds: 7 });
  });

  it('answers read_failed, naming the origin, when fetch fails', async () => {
    // Prepare
    fakeFetch.mockRejectedValueOnce(Object.assign(new Error('aborted'), { name: 'TimeoutError' }));

    // Act
    const error = await build()
      .getToken('github')
      .catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({
      code: 'read_failed',
      message: expect.stringMatching(/lambda-url\.eu-west-1\.on\.aws did not answer GET .* within 25000 ms/),
    });
  });

  it("signs with the Lambda environment's credentials when none are passed", async () => {
    // Prepare
    answers.push(json(served()));
    vi.stubEnv('AWS_PROFILE', undefined);
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'ASIAFROMLAMBDAENV');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'lambda-env-secret-key');
    vi.stubEnv('AWS_SESSION_TOKEN', 'lambda-env-session-token');
    try {
      const client = createReadFunctionTokenClient({
        url: URL_BASE,
        functionName: FUNCTION_NAME,
        fetch: fakeFetch as typeof fetch,
        clock,
      });

      // Act
      await client.getToken('github');
    } finally {
      vi.unstubAllEnvs();
    }

    // Assess
    expect(sent[0]?.headers.get('authorization')).toMatch(
      /^AWS4-HMAC-SHA256 Credential=ASIAFROMLAMBDAENV\/20300101\/eu-west-1\/lambda\/aws4_request, /,
    );
    expect(sent[0]?.headers.get('x-amz-security-token')).toBe('lambda-env-session-token');
  });

  it.each([
    ['no url', { url: '' }],
    ['a plain-http url', { url: 'http://abc.lambda-url.eu-west-1.on.aws/' }],
  ])('refuses %s with invalid_options', (_case, options) => {
    // Act
    const creating = () =>
      createReadFunctionTokenClient({ ...options, functionName: FUNCTION_NAME, credentials: CREDENTIALS });

    // Assess
    expect(creating).toThrow(expect.objectContaining({ code: 'invalid_options' }));
  });
});

describe('Function: parseReadFunctionResponse', () => {
  const headers = (values: Record<string, string> = {}) => new Headers(values);

  it('returns the token of a 200 answer, ignoring expiresIn', () => {
    // Act
    const token = parseReadFunctionResponse('github', 200, headers(), served(), T0);

    // Assess
    expect(token).toStrictEqual({
      provider: 'github',
      accessToken: ACCESS_TOKEN,
      tokenType: 'Bearer',
      expiresAt: '2030-01-01T01:00:00.000Z',
    });
  });

  it.each([
    ['a 200 that is not JSON', 200, '<html>', {}, { code: 'invalid_token_record', status: 200 }],
    [
      'a 200 without accessToken',
      200,
      '{"provider":"github","tokenType":"Bearer","expiresAt":"2030-01-01T01:00:00Z"}',
      {},
      { code: 'invalid_token_record' },
    ],
    [
      'a 200 of another provider',
      200,
      served().replace('"github"', '"gitlab"'),
      {},
      { code: 'provider_mismatch' },
    ],
    [
      'a 429 with Retry-After',
      429,
      '{"code":"refresh_rate_limited","message":"refreshed moments ago"}',
      { 'retry-after': '42' },
      { code: 'refresh_rate_limited', status: 429, retryAfterSeconds: 42 },
    ],
    [
      'a 403',
      403,
      '{"code":"forbidden","message":"The caller may not read provider \\"github\\""}',
      {},
      { code: 'forbidden', status: 403, retryAfterSeconds: undefined },
    ],
    ['a 502 with an HTML body', 502, '<html>Bad Gateway</html>', {}, { code: 'http_502', status: 502 }],
    [
      'a code that is not snake_case',
      500,
      '{"code":"Internal Error!","message":"x"}',
      {},
      { code: 'http_500', status: 500 },
    ],
  ])('refuses %s', (_case, status, body, headerValues, expected) => {
    // Act
    const parsing = () => parseReadFunctionResponse('github', status, headers(headerValues), body, T0);

    // Assess
    expect(parsing).toThrow(TokenClientError);
    expect(parsing).toThrow(expect.objectContaining(expected));
    expect(parsing).not.toThrow(expect.objectContaining({ message: expect.stringContaining(ACCESS_TOKEN) }));
  });
});

describe('Function: parseRetryAfter', () => {
  it.each([
    ['delay-seconds', '7', 7],
    ['delay-seconds with spaces', ' 30 ', 30],
    ['an HTTP-date 90 s ahead', new Date(T0 + 90_000).toUTCString(), 90],
    ['an HTTP-date in the past', new Date(T0 - 90_000).toUTCString(), 0],
    ['an HTTP-date a day ahead (capped at 1 h)', new Date(T0 + 86_400_000).toUTCString(), 3_600],
    ['garbage', 'soon', undefined],
    ['a negative number', '-5', undefined],
  ])('reads %s', (_case, value, expected) => {
    // Act
    const seconds = parseRetryAfter(value, T0);

    // Assess
    expect(seconds).toBe(expected);
  });

  it('returns undefined without the header', () => {
    expect(parseRetryAfter(null, T0)).toBeUndefined();
  });
});

describe('Function: resolveReadFunctionEndpoint', () => {
  it.each([
    [
      'the region option first',
      { url: URL_BASE, region: 'us-west-2', functionName: FUNCTION_NAME },
      { AWS_REGION: 'ap-south-1' },
      'us-west-2',
    ],
    [
      'the Function URL host name next',
      { url: URL_BASE, functionName: FUNCTION_NAME },
      { AWS_REGION: 'ap-south-1' },
      'eu-west-1',
    ],
    [
      'AWS_REGION last',
      { url: 'http://127.0.0.1:8080/', functionName: FUNCTION_NAME },
      { AWS_REGION: 'ap-south-1' },
      'ap-south-1',
    ],
  ])('takes %s as the signing region', (_case, options, environment, region) => {
    // Act
    const endpoint = resolveReadFunctionEndpoint(options, environment);

    // Assess
    expect(endpoint.region).toBe(region);
  });

  it('adds the missing "/" to a base path so request paths resolve under it', () => {
    // Act
    const endpoint = resolveReadFunctionEndpoint(
      { url: 'https://api.example.com/reader', functionName: FUNCTION_NAME },
      { AWS_REGION: 'eu-west-1' },
    );

    // Assess
    expect(new URL('tokens/github', endpoint.baseUrl).href).toBe(
      'https://api.example.com/reader/tokens/github',
    );
    expect(endpoint.timeoutMs).toBe(25_000);
  });

  it.each([
    [
      'no region anywhere',
      { url: 'https://api.example.com/', functionName: FUNCTION_NAME },
      'region is needed',
    ],
    [
      'plain http to a remote host',
      { url: 'http://api.example.com/', functionName: FUNCTION_NAME },
      'url must use https',
    ],
    ['a query string', { url: `${URL_BASE}?x=1`, functionName: FUNCTION_NAME }, 'url must not carry a query'],
    ['a non-URL', { url: 'not a url', functionName: FUNCTION_NAME }, 'url is not a valid URL'],
    [
      'a zero timeout',
      { url: URL_BASE, timeoutMs: 0, functionName: FUNCTION_NAME },
      'timeoutMs must be a positive number',
    ],
  ])('refuses %s with invalid_options naming the option', (_case, options, fragment) => {
    // Act
    const resolving = () => resolveReadFunctionEndpoint(options, {});

    // Assess
    expect(resolving).toThrow(
      expect.objectContaining({ code: 'invalid_options', message: expect.stringContaining(fragment) }),
    );
  });
});

describe('Class: NodeSha256', () => {
  it('hashes like SHA-256 (FIPS 180-2 "abc")', async () => {
    // Prepare
    const hash = new NodeSha256();
    hash.update('abc');

    // Act
    const digest = Buffer.from(await hash.digest()).toString('hex');

    // Assess
    expect(digest).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('computes HMAC-SHA-256 when given a secret (RFC 4231 test case 2), from bytes as well as strings', async () => {
    // Prepare
    const hmac = new NodeSha256(new TextEncoder().encode('Jefe'));
    hmac.update('what do ya ');
    hmac.update(new TextEncoder().encode('want for nothing?'));

    // Act
    const digest = Buffer.from(await hmac.digest()).toString('hex');

    // Assess
    expect(digest).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('starts over after reset', async () => {
    // Prepare
    const hash = new NodeSha256();
    hash.update('something else');
    hash.reset();
    hash.update('abc');

    // Act
    const digest = Buffer.from(await hash.digest()).toString('hex');

    // Assess
    expect(digest).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
