/**
 * The client with source `read-function` against a real HTTP server on 127.0.0.1 that plays the read
 * function's Function URL: it verifies each request's SigV4 signature with its own implementation of
 * the algorithm (node:crypto, not the SDK's signer) and the body hash in `x-amz-content-sha256`, and
 * the caller proof in `x-token-refresher-proof` the same way (an STS GetCallerIdentity request, signed
 * for service `sts`, naming this read function), and serves the documented contract. A second route
 * plays the third-party API, which refuses the old token with 401 and accepts the new one.
 *
 * Every test runs on both HTTP paths (issue 17): the client's default over `node:http` and
 * `globalThis.fetch`; and the server verifies signatures made with the Lambda environment's
 * credentials and with the AWS SDK's credential chain alike.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTokenClient, TokenClientError } from '../../functions/client/index.js';
import { createReadFunctionTokenClient, type HttpFetch } from '../../functions/client/read-function.js';

const REGION = 'eu-west-1';
const CREDENTIALS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-of-the-consumer-role',
};
const PROVIDER = 'github';
const HOUR = 3_600_000;
const FUNCTION_NAME = 'prod-TokensReadFunction-Q1w2E3';
const STS_ENDPOINT = `https://sts.${REGION}.amazonaws.com/`;

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/**
 * SigV4 verification as AWS documents it (canonical request → string to sign → derived key), written
 * independently of `@smithy/signature-v4`. Returns why the request is refused, or undefined.
 */
function sigV4Problem(
  request: IncomingMessage,
  body: Buffer,
  now: number,
  service = 'lambda',
): string | undefined {
  const auth = parseAuthorization(request.headers.authorization ?? '');
  if (auth === undefined) return 'authorization header shape';
  const amzDate = String(request.headers['x-amz-date'] ?? '');
  const problem = scopeProblem(auth, amzDate, now, service) ?? signedContentProblem(auth, request, body);
  if (problem !== undefined) return problem;
  const expected = hmac(signingKey(auth), stringToSign(auth, request, amzDate));
  return timingSafeEqual(expected, Buffer.from(auth.signature, 'hex')) ? undefined : 'signature mismatch';
}

/** The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header. */
interface SigV4Authorization {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly signedHeaders: string;
  readonly signature: string;
}

function parseAuthorization(header: string): SigV4Authorization | undefined {
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(
      header,
    );
  if (match === null) return undefined;
  const [, accessKeyId = '', date = '', region = '', service = '', signedHeaders = '', signature = ''] =
    match;
  return { accessKeyId, date, region, service, signedHeaders, signature };
}

/** The key, the credential scope and the signing time. */
function scopeProblem(
  auth: SigV4Authorization,
  amzDate: string,
  now: number,
  service: string,
): string | undefined {
  if (auth.accessKeyId !== CREDENTIALS.accessKeyId) return 'unknown access key';
  if (auth.region !== REGION || auth.service !== service) return `scope ${auth.region}/${auth.service}`;
  if (!amzDate.startsWith(auth.date || '-')) return 'x-amz-date does not match the credential scope';
  const signedAt = Date.parse(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
  );
  if (!(Math.abs(now - signedAt) < 5 * 60_000)) return 'signature date is more than 5 minutes off';
  return undefined;
}

/** The payload hash, and the headers that must be signed. */
function signedContentProblem(
  auth: SigV4Authorization,
  request: IncomingMessage,
  body: Buffer,
): string | undefined {
  const payloadHash = String(request.headers['x-amz-content-sha256'] ?? '');
  if (payloadHash !== sha256(body)) return 'x-amz-content-sha256 is not the SHA-256 of the body';
  const names = auth.signedHeaders.split(';');
  for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token']) {
    if (!names.includes(required)) return `${required} is not signed`;
  }
  return undefined;
}

/** Canonical request → string to sign. */
function stringToSign(auth: SigV4Authorization, request: IncomingMessage, amzDate: string): string {
  const canonicalHeaders = auth.signedHeaders
    .split(';')
    .map(
      (name) =>
        `${name}:${String(request.headers[name] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const path = new URL(request.url ?? '/', 'http://x').pathname;
  const payloadHash = String(request.headers['x-amz-content-sha256'] ?? '');
  const canonicalRequest = [request.method, path, '', canonicalHeaders, auth.signedHeaders, payloadHash].join(
    '\n',
  );
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  return ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
}

/** The derived signing key: date, region, service, `aws4_request`. */
function signingKey(auth: SigV4Authorization): Buffer {
  return hmac(
    hmac(hmac(hmac(`AWS4${CREDENTIALS.secretAccessKey}`, auth.date), auth.region), auth.service),
    'aws4_request',
  );
}

/**
 * The caller proof: base64 of `{ method, url, body, headers }`, a GetCallerIdentity request to STS in
 * the region, naming this read function in a signed header, with a valid SigV4 signature for `sts`.
 */
function proofProblem(request: IncomingMessage, now: number): string | undefined {
  const encoded = request.headers['x-token-refresher-proof'];
  if (typeof encoded !== 'string') return 'no caller proof';
  const proof = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as {
    method: string;
    url: string;
    body: string;
    headers: Record<string, string>;
  };
  if (proof.method !== 'POST' || proof.url !== STS_ENDPOINT) return `proof for ${proof.method} ${proof.url}`;
  if (proof.body !== 'Action=GetCallerIdentity&Version=2011-06-15') return 'proof body';
  if (proof.headers['x-token-refresher-server-id'] !== FUNCTION_NAME)
    return 'proof for another read function';
  if (!/SignedHeaders=[^,]*x-token-refresher-server-id/.test(proof.headers.authorization ?? '')) {
    return 'server id not signed';
  }
  const asRequest = { method: 'POST', url: '/', headers: proof.headers } as unknown as IncomingMessage;
  const problem = sigV4Problem(asRequest, Buffer.from(proof.body), now, 'sts');
  return problem === undefined ? undefined : `proof: ${problem}`;
}

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/** The fake read function plus the fake API, on one 127.0.0.1 port. */
interface Fixture {
  readonly url: string;
  readonly apiUrl: string;
  /** The current token; `POST .../refresh` with its hash moves to `next`. */
  current: { accessToken: string; expiresAtMs: number };
  next: { accessToken: string; expiresAtMs: number };
  /** Tokens the API accepts. */
  readonly accepted: Set<string>;
  /** When set, the read function answers this instead of a token. */
  failure: { status: number; code: string; retryAfter?: string } | undefined;
  /** When true, the next request's proof is refused as expired (once). */
  refuseNextProof: boolean;
  readonly requests: Recorded[];
  /** The caller proof of each request. */
  readonly proofs: string[];
  readonly apiSeen: string[];
  close(): Promise<void>;
}

function send(response: ServerResponse, status: number, body: unknown, headers = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function serveToken(response: ServerResponse, token: Fixture['current']): void {
  send(response, 200, {
    provider: PROVIDER,
    accessToken: token.accessToken,
    tokenType: 'Bearer',
    expiresAt: new Date(token.expiresAtMs).toISOString(),
    expiresIn: Math.floor((token.expiresAtMs - Date.now()) / 1000),
  });
}

type FixtureState = Omit<Fixture, 'url' | 'apiUrl' | 'close'>;

async function startFixture(): Promise<Fixture> {
  const fixture: FixtureState = {
    current: { accessToken: 'old-token', expiresAtMs: Date.now() + HOUR },
    next: { accessToken: 'new-token', expiresAtMs: Date.now() + 2 * HOUR },
    accepted: new Set(),
    failure: undefined,
    refuseNextProof: false,
    requests: [],
    proofs: [],
    apiSeen: [],
  };

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = new URL(request.url ?? '/', 'http://x').pathname;
      if (path === '/api/resource') answerApi(fixture, request, response);
      else answerReadFunction(fixture, { request, path, body }, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fixture, {
    url: `http://127.0.0.1:${port}/`,
    apiUrl: `http://127.0.0.1:${port}/api/resource`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/** The fake API: 200 for an accepted bearer token, else 401. */
function answerApi(fixture: FixtureState, request: IncomingMessage, response: ServerResponse): void {
  const presented = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1] ?? '';
  fixture.apiSeen.push(presented);
  const ok = fixture.accepted.has(presented);
  send(response, ok ? 200 : 401, ok ? { data: 'ok' } : { error: 'invalid_token' });
}

/** The fake read function: verifies the signature, then serves (or refreshes) the token, or the failure set. */
function answerReadFunction(
  fixture: FixtureState,
  received: { readonly request: IncomingMessage; readonly path: string; readonly body: Buffer },
  response: ServerResponse,
): void {
  const { request, path, body } = received;
  fixture.requests.push({ method: request.method ?? '', path, body: body.toString('utf8') });
  const problem = sigV4Problem(request, body, Date.now()) ?? proofProblem(request, Date.now());
  if (problem !== undefined) {
    send(response, 403, { code: 'invalid_signature', message: `Signature refused: ${problem}` });
    return;
  }
  fixture.proofs.push(String(request.headers['x-token-refresher-proof']));
  if (fixture.refuseNextProof) {
    fixture.refuseNextProof = false;
    send(response, 401, {
      code: 'caller_proof_expired',
      message: 'The caller proof was signed too long ago',
    });
    return;
  }
  if (fixture.failure !== undefined) {
    const { status, code, retryAfter } = fixture.failure;
    send(
      response,
      status,
      { code, message: 'No valid token for provider "github" yet' },
      retryAfter === undefined ? {} : { 'retry-after': retryAfter },
    );
    return;
  }
  if (request.method === 'GET' && path === `/tokens/${PROVIDER}`) {
    serveToken(response, fixture.current);
    return;
  }
  if (request.method === 'POST' && path === `/tokens/${PROVIDER}/refresh`) {
    const { rejectedTokenSha256 } = JSON.parse(body.toString('utf8')) as { rejectedTokenSha256: string };
    // The refused token is still current: refresh. Otherwise it was already replaced.
    if (rejectedTokenSha256 === sha256(fixture.current.accessToken)) fixture.current = fixture.next;
    serveToken(response, fixture.current);
    return;
  }
  send(response, 404, { code: 'not_found', message: 'No route' });
}

/** The HTTP paths: the client's default (`node:http`), and `globalThis.fetch` passed as `fetch`. */
const HTTP_PATHS: readonly (readonly [string, { readonly fetch?: HttpFetch }])[] = [
  ['node:http, the default', {}],
  ['globalThis.fetch', { fetch: globalThis.fetch }],
];

describe.each(HTTP_PATHS)(
  'Client (source read-function, %s) against a SigV4-verifying HTTP server',
  (_path, http) => {
    let fixture: Fixture;

    const newClient = (options: { marginMs?: number; secretAccessKey?: string } = {}) =>
      createTokenClient({
        source: 'read-function',
        url: fixture.url,
        functionName: FUNCTION_NAME,
        stsEndpoint: STS_ENDPOINT,
        region: REGION,
        credentials: {
          ...CREDENTIALS,
          secretAccessKey: options.secretAccessKey ?? CREDENTIALS.secretAccessKey,
        },
        ...http,
        ...(options.marginMs === undefined ? {} : { marginMs: options.marginMs }),
      });
    const callApi = (token: { tokenType: string; accessToken: string }) =>
      fetch(fixture.apiUrl, { headers: { authorization: `${token.tokenType} ${token.accessToken}` } });

    beforeAll(async () => {
      fixture = await startFixture();
    });

    afterAll(async () => {
      await fixture?.close();
    });

    beforeEach(() => {
      fixture.current = { accessToken: 'old-token', expiresAtMs: Date.now() + HOUR };
      fixture.next = { accessToken: 'new-token', expiresAtMs: Date.now() + 2 * HOUR };
      fixture.accepted.clear();
      fixture.failure = undefined;
      fixture.refuseNextProof = false;
      fixture.requests.length = 0;
      fixture.proofs.length = 0;
      fixture.apiSeen.length = 0;
    });

    it('GETs the token with a valid signature, once for 1,000 concurrent callers', async () => {
      // Prepare
      const client = newClient();

      // Act
      const tokens = await Promise.all(Array.from({ length: 1_000 }, () => client.getToken(PROVIDER)));

      // Assess
      expect(new Set(tokens.map((t) => t.accessToken))).toStrictEqual(new Set(['old-token']));
      expect(fixture.requests).toStrictEqual([{ method: 'GET', path: '/tokens/github', body: '' }]);
    });

    it('is refused by the server when the signature is wrong (the verification is real)', async () => {
      // Prepare
      const client = newClient({ secretAccessKey: 'not-the-right-secret-key' });

      // Act
      const error = await client.getToken(PROVIDER).catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(TokenClientError);
      expect(error).toMatchObject({
        code: 'invalid_signature',
        status: 403,
        message: expect.stringContaining('signature mismatch'),
      });
    });

    it('withToken: 401 for the old token → one refresh POST carrying its hash → 200 with the new token', async () => {
      // Prepare
      fixture.accepted.add('new-token');
      const client = newClient();

      // Act
      const response = await client.withToken(PROVIDER, callApi);

      // Assess
      expect(response.status).toBe(200);
      expect(await response.json()).toStrictEqual({ data: 'ok' });
      expect(fixture.apiSeen).toStrictEqual(['old-token', 'new-token']);
      expect(fixture.requests).toStrictEqual([
        { method: 'GET', path: '/tokens/github', body: '' },
        {
          method: 'POST',
          path: '/tokens/github/refresh',
          body: JSON.stringify({ rejectedTokenSha256: sha256('old-token') }),
        },
      ]);
      expect(fixture.requests.map((r) => r.body).join()).not.toContain('old-token');
    });

    it('withToken: a second 401 is returned to the caller, not retried', async () => {
      // Prepare: the API refuses every token
      const client = newClient();

      // Act
      const response = await client.withToken(PROVIDER, callApi);

      // Assess
      expect(response.status).toBe(401);
      expect(fixture.apiSeen).toStrictEqual(['old-token', 'new-token']);
      expect(fixture.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    });

    it('withToken: many consumers refused at once make one refresh POST', async () => {
      // Prepare
      fixture.accepted.add('new-token');
      const client = newClient();
      await client.getToken(PROVIDER);

      // Act
      const responses = await Promise.all(
        Array.from({ length: 25 }, () => client.withToken(PROVIDER, callApi)),
      );

      // Assess
      expect(responses.every((r) => r.status === 200)).toBe(true);
      expect(fixture.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    });

    it('answers a 503 with Retry-After as a TokenClientError with retryAfterSeconds', async () => {
      // Prepare
      fixture.failure = { status: 503, code: 'token_unavailable', retryAfter: '3' };

      // Act
      const error = await newClient()
        .getToken(PROVIDER)
        .catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(TokenClientError);
      expect(error).toMatchObject({ code: 'token_unavailable', status: 503, retryAfterSeconds: 3 });
    });

    it('withToken: a rate-limited refresh (429) is thrown with retryAfterSeconds after one call', async () => {
      // Prepare
      const client = newClient();
      await client.getToken(PROVIDER);
      fixture.failure = { status: 429, code: 'refresh_rate_limited', retryAfter: '42' };

      // Act
      const error = await client.withToken(PROVIDER, callApi).catch((e: unknown) => e);

      // Assess
      expect(error).toMatchObject({ code: 'refresh_rate_limited', status: 429, retryAfterSeconds: 42 });
      expect(fixture.apiSeen).toStrictEqual(['old-token']);
    });

    it('serves the cached token while it is valid when the read function fails', async () => {
      // Prepare: a margin that makes the cached token due for a re-read 100 ms after it was read
      const client = newClient({ marginMs: HOUR - 100 });
      await client.getToken(PROVIDER);
      fixture.failure = { status: 503, code: 'store_unavailable', retryAfter: '5' };
      await new Promise((resolve) => setTimeout(resolve, 150));

      // Act
      const token = await client.getToken(PROVIDER);

      // Assess
      expect(token.accessToken).toBe('old-token');
      expect(fixture.requests.map((r) => r.method)).toStrictEqual(['GET', 'GET']);
    });

    it('works through the per-source factory with the same contract', async () => {
      // Prepare
      const client = createReadFunctionTokenClient({
        url: fixture.url,
        functionName: FUNCTION_NAME,
        stsEndpoint: STS_ENDPOINT,
        region: REGION,
        credentials: CREDENTIALS,
        ...http,
      });

      // Act
      const token = await client.getToken(PROVIDER);

      // Assess
      expect(token).toMatchObject({ provider: PROVIDER, accessToken: 'old-token', tokenType: 'Bearer' });
    });

    it.each([
      ['the environment (a Lambda function, the default)', undefined],
      ["the AWS SDK's credential chain", () => defaultProvider()],
    ])(
      'signs requests and proofs the server accepts with credentials from %s',
      async (_case, credentials) => {
        // Prepare
        for (const [name, value] of Object.entries({
          AWS_PROFILE: undefined,
          AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
          AWS_SESSION_TOKEN: CREDENTIALS.sessionToken,
          AWS_CONFIG_FILE: '/nonexistent/aws-config',
          AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
        })) {
          vi.stubEnv(name, value);
        }
        try {
          const client = createReadFunctionTokenClient({
            url: fixture.url,
            functionName: FUNCTION_NAME,
            stsEndpoint: STS_ENDPOINT,
            region: REGION,
            ...(credentials === undefined ? {} : { credentials: credentials() }),
            ...http,
          });

          // Act
          const token = await client.getToken(PROVIDER);

          // Assess
          expect(token.accessToken).toBe('old-token');
          expect(fixture.proofs).toHaveLength(1);
        } finally {
          vi.unstubAllEnvs();
        }
      },
    );

    it('sends one caller proof for many requests, and signs a new one when a reused proof is refused as expired', async () => {
      // Prepare: a token inside its margin is read again after 5 s; the client's clock steps 6 s per read.
      let offsetMs = 0;
      const client = createReadFunctionTokenClient({
        url: fixture.url,
        functionName: FUNCTION_NAME,
        stsEndpoint: STS_ENDPOINT,
        region: REGION,
        credentials: CREDENTIALS,
        ...http,
        marginMs: HOUR,
        clock: { now: () => Date.now() + offsetMs },
      });
      const read = async () => {
        offsetMs += 6_000;
        return client.getToken(PROVIDER);
      };
      await read();
      await read();
      fixture.refuseNextProof = true;

      // Act
      const token = await read();
      await read();

      // Assess: 5 requests, 2 proofs: the first reused twice, refused, then a new one from then on.
      expect(token.accessToken).toBe('old-token');
      expect(fixture.proofs).toHaveLength(5);
      const [first, second, refused, retried, after] = fixture.proofs;
      expect([second, refused]).toStrictEqual([first, first]);
      expect(retried).not.toBe(first);
      expect(after).toBe(retried);
    });
  },
);
