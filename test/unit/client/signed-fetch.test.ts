import { describe, expect, it, vi } from 'vitest';
import { DYNAMODB_SERVICE, SECRETS_MANAGER_SERVICE } from '../../../functions/client/aws-endpoint.js';
import type { HttpFetch, HttpRequestInit } from '../../../functions/client/http.js';
import { AwsJsonClient, AwsRequestError, awsJsonError } from '../../../functions/client/signed-fetch.js';
import { T0 } from './fakes.js';

const CREDENTIALS = {
  accessKeyId: 'AKIDSIGNEDFETCH',
  secretAccessKey: 'secret-access-key-never-shown-5e1f',
  sessionToken: 'session-token-never-shown-77c2',
};
const ENDPOINT = new URL('https://secretsmanager.eu-west-1.amazonaws.com');

interface Sent {
  readonly url: string;
  readonly init: HttpRequestInit;
}

/** A fake fetch answering the scripted responses (or throwing the scripted errors) in order. */
function fakeFetch(...answers: (Response | Error)[]) {
  const sent: Sent[] = [];
  const fetch = vi.fn<HttpFetch>(async (url, init) => {
    sent.push({ url: String(url), init });
    const answer = answers.shift();
    if (answer === undefined) throw new Error('no scripted answer');
    if (answer instanceof Error) throw answer;
    return answer;
  });
  return { fetch, sent };
}

function awsAnswer(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/x-amz-json-1.1', ...headers },
  });
}

function client(fetch: HttpFetch, service = SECRETS_MANAGER_SERVICE, endpoint = ENDPOINT) {
  return new AwsJsonClient(service, {
    region: 'eu-west-1',
    endpoint,
    credentials: CREDENTIALS,
    fetch,
    timeoutMs: 8_000,
    maxAttempts: 3,
    now: () => T0,
    sleep: async () => {},
  });
}

describe('Class: AwsJsonClient', () => {
  describe('Method: request', () => {
    it('POSTs the input as AWS JSON 1.1 with X-Amz-Target, signed with SigV4, and resolves to the output', async () => {
      // Prepare
      const { fetch, sent } = fakeFetch(awsAnswer(200, { Name: 'x', SecretString: '{}' }));

      // Act
      const output = await client(fetch).request('GetSecretValue', { SecretId: 'p/github/token' });

      // Assess
      expect(output).toStrictEqual({ Name: 'x', SecretString: '{}' });
      expect(sent).toHaveLength(1);
      const [request] = sent;
      expect(request?.url).toBe('https://secretsmanager.eu-west-1.amazonaws.com/');
      expect(request?.init).toMatchObject({ method: 'POST', body: '{"SecretId":"p/github/token"}' });
      const headers = new Headers(request?.init.headers);
      expect(headers.get('content-type')).toBe('application/x-amz-json-1.1');
      expect(headers.get('x-amz-target')).toBe('secretsmanager.GetSecretValue');
      expect(headers.get('x-amz-date')).toBe('20300101T000000Z');
      expect(headers.get('x-amz-security-token')).toBe(CREDENTIALS.sessionToken);
      expect(headers.get('authorization')).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDSIGNEDFETCH\/20300101\/eu-west-1\/secretsmanager\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$/,
      );
      // fetch derives Host from the URL that was signed.
      expect(headers.has('host')).toBe(false);
    });

    it('speaks AWS JSON 1.0 to DynamoDB, signed for service dynamodb', async () => {
      // Prepare
      const { fetch, sent } = fakeFetch(awsAnswer(200, { Item: {} }));

      // Act
      await client(fetch, DYNAMODB_SERVICE, new URL('http://127.0.0.1:5000')).request('GetItem', {
        TableName: 't',
      });

      // Assess
      const headers = new Headers(sent[0]?.init.headers);
      expect(sent[0]?.url).toBe('http://127.0.0.1:5000/');
      expect(headers.get('content-type')).toBe('application/x-amz-json-1.0');
      expect(headers.get('x-amz-target')).toBe('DynamoDB_20120810.GetItem');
      expect(headers.get('authorization')).toContain('/eu-west-1/dynamodb/aws4_request');
    });

    it.each([
      ['a 500', awsAnswer(500, { __type: 'InternalServiceError', message: 'oops' })],
      ['a 503 without a JSON body', awsAnswer(503, '<html>Service Unavailable</html>')],
      ['a ThrottlingException', awsAnswer(400, { __type: 'ThrottlingException', message: 'Rate exceeded' })],
      ['a 429', awsAnswer(429, { __type: 'TooManyRequests' })],
      [
        'a network failure',
        Object.assign(new TypeError('fetch failed'), {
          cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }),
        }),
      ],
      ['a timeout', new DOMException('The operation was aborted due to timeout', 'TimeoutError')],
    ])('tries again after %s, as the SDK does', async (_case, first) => {
      // Prepare
      const { fetch, sent } = fakeFetch(first, awsAnswer(200, { SecretString: 'ok' }));

      // Act
      const output = await client(fetch).request('GetSecretValue', {});

      // Assess
      expect(output).toStrictEqual({ SecretString: 'ok' });
      expect(sent).toHaveLength(2);
      // Each attempt is signed afresh.
      expect(sent[1]?.init.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
    });

    it('gives up after maxAttempts and throws the last error', async () => {
      // Prepare
      const throttled = () => awsAnswer(400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
      const { fetch, sent } = fakeFetch(throttled(), throttled(), throttled(), throttled());

      // Act
      const error = await client(fetch)
        .request('GetSecretValue', {})
        .catch((e: unknown) => e);

      // Assess
      expect(sent).toHaveLength(3);
      expect(error).toBeInstanceOf(AwsRequestError);
      expect(error).toMatchObject({
        name: 'ThrottlingException',
        message: 'Rate exceeded',
        $metadata: { httpStatusCode: 400 },
      });
    });

    it.each([
      ['ResourceNotFoundException', 400],
      ['AccessDeniedException', 400],
      ['DecryptionFailure', 400],
      ['InvalidSignatureException', 400],
      ['UnrecognizedClientException', 403],
    ])('does not try again after %s', async (type, status) => {
      // Prepare
      const { fetch, sent } = fakeFetch(awsAnswer(status, { __type: type, message: 'no' }));

      // Act
      const error = await client(fetch)
        .request('GetSecretValue', {})
        .catch((e: unknown) => e);

      // Assess
      expect(sent).toHaveLength(1);
      expect(error).toMatchObject({ name: type, $metadata: { httpStatusCode: status } });
    });

    it('names a network failure after its system error code, and a timeout TimeoutError', async () => {
      // Prepare
      const refused = Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      });
      const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
      const { fetch } = fakeFetch(refused, refused, refused, timeout, timeout, timeout);

      // Act
      const errors = [
        await client(fetch)
          .request('GetSecretValue', {})
          .catch((e: unknown) => e),
        await client(fetch)
          .request('GetSecretValue', {})
          .catch((e: unknown) => e),
      ];

      // Assess
      expect(errors[0]).toMatchObject({
        name: 'ECONNREFUSED',
        message: 'The request to https://secretsmanager.eu-west-1.amazonaws.com failed (ECONNREFUSED)',
        cause: refused,
      });
      expect(errors[1]).toMatchObject({
        name: 'TimeoutError',
        message: 'https://secretsmanager.eu-west-1.amazonaws.com did not answer within 8000 ms',
      });
    });

    it('refuses a 200 whose body is not JSON without quoting it', async () => {
      // Prepare
      const { fetch, sent } = fakeFetch(awsAnswer(200, 'SecretString=token-value-9f9f'));

      // Act
      const error = await client(fetch)
        .request('GetSecretValue', {})
        .catch((e: unknown) => e);

      // Assess
      expect(sent).toHaveLength(1);
      expect(error).toMatchObject({ name: 'SerializationError' });
      expect(String((error as Error).message)).not.toContain('token-value-9f9f');
    });

    it('never puts the credentials in an error, its message or its serialised form', async () => {
      // Prepare
      const { fetch } = fakeFetch(awsAnswer(403, { __type: 'AccessDeniedException', message: 'denied' }));

      // Act
      const error = await client(fetch)
        .request('GetSecretValue', {})
        .catch((e: unknown) => e);

      // Assess
      const shown = `${String(error)} ${JSON.stringify(error)} ${(error as Error).stack}`;
      expect(shown).not.toContain(CREDENTIALS.secretAccessKey);
      expect(shown).not.toContain(CREDENTIALS.sessionToken);
    });

    it('passes a credentials provider failure through, without sending anything', async () => {
      // Prepare
      const { fetch, sent } = fakeFetch();
      const failing = new AwsJsonClient(SECRETS_MANAGER_SERVICE, {
        region: 'eu-west-1',
        endpoint: ENDPOINT,
        credentials: () =>
          Promise.reject(Object.assign(new Error('none'), { name: 'CredentialsProviderError' })),
        fetch,
        timeoutMs: 8_000,
        maxAttempts: 3,
        now: () => T0,
      });

      // Act
      const error = await failing.request('GetSecretValue', {}).catch((e: unknown) => e);

      // Assess
      expect(error).toMatchObject({ name: 'CredentialsProviderError' });
      expect(sent).toHaveLength(0);
    });
  });
});

describe('Function: awsJsonError', () => {
  const headers = (values: Record<string, string> = {}) => new Headers(values);

  it.each([
    [
      'the x-amzn-errortype header',
      headers({
        'x-amzn-errortype':
          'ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.secretsmanager/',
      }),
      '{}',
      'ResourceNotFoundException',
    ],
    [
      'a namespaced __type',
      headers(),
      '{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"}',
      'ConditionalCheckFailedException',
    ],
    ['a body code', headers(), '{"code":"AccessDeniedException"}', 'AccessDeniedException'],
    [
      'the header before the body',
      headers({ 'x-amzn-errortype': 'DecryptionFailure' }),
      '{"__type":"Other"}',
      'DecryptionFailure',
    ],
    ['nothing but a status', headers(), '<html>Bad Gateway</html>', 'Http502Error'],
    ['a name that is not one', headers(), '{"__type":"<script>"}', 'Http502Error'],
  ])('names the error from %s, as the SDK does', (_case, answerHeaders, body, name) => {
    // Act
    const error = awsJsonError(502, answerHeaders, body);

    // Assess
    expect(error).toMatchObject({ name, $metadata: { httpStatusCode: 502 } });
  });

  it("keeps AWS's message (Message or message), cut at 500 characters, and never the body", () => {
    // Act
    const long = awsJsonError(400, headers(), JSON.stringify({ __type: 'X', Message: 'm'.repeat(900) }));
    const none = awsJsonError(400, headers(), '{"__type":"X","other":"body-field-value"}');

    // Assess
    expect(long.message).toBe('m'.repeat(500));
    expect(none.message).toBe('HTTP 400');
  });
});
