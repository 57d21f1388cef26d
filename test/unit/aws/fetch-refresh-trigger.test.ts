import { describe, expect, it } from 'vitest';
import { FetchRefreshTrigger } from '../../../functions/aws/fetch-refresh-trigger.js';
import type { HttpFetch, HttpRequestInit } from '../../../functions/client/http.js';

const HASH = 'a'.repeat(64);
const NOW = Date.parse('2030-01-01T00:00:00.000Z');

/** A fetch that records the request and answers `status`, `headers`, `body`. */
function answering(status: number, body: string, headers: Record<string, string> = {}) {
  const requests: { url: URL; init: HttpRequestInit }[] = [];
  const fetch: HttpFetch = async (url, init) => {
    requests.push({ url, init });
    return {
      status,
      headers: { get: (name) => headers[name.toLowerCase()] ?? null },
      text: async () => body,
    };
  };
  return { fetch, requests };
}

function trigger(fetch: HttpFetch, functionName = 'refresh-fn') {
  return new FetchRefreshTrigger({
    functionName,
    region: 'eu-west-1',
    endpoint: new URL('https://lambda.eu-west-1.amazonaws.com'),
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session' },
    fetch,
    now: () => NOW,
  });
}

const run = (target: FetchRefreshTrigger) =>
  target.refresh({
    provider: 'acme',
    onDemand: { rejectedTokenSha256: HASH },
    signal: AbortSignal.timeout(1000),
  });

describe('Class: FetchRefreshTrigger', () => {
  describe('Method: refresh', () => {
    it('sends one signed synchronous Invoke with the on-demand event and returns the result', async () => {
      // Prepare
      const result = {
        status: 'refreshed',
        provider: 'acme',
        expiresAt: '2030-01-01T01:00:00.000Z',
        generation: 3,
        refreshTokenRotated: false,
      };
      const { fetch, requests } = answering(200, JSON.stringify(result));

      // Act
      const answer = await run(trigger(fetch, 'arn:aws:lambda:eu-west-1:123456789012:function:refresh-fn'));

      // Assess
      expect(answer).toEqual(result);
      expect(requests).toHaveLength(1);
      const [{ url, init }] = requests as [{ url: URL; init: HttpRequestInit }];
      expect(url.href).toBe(
        'https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aeu-west-1%3A123456789012%3Afunction%3Arefresh-fn/invocations',
      );
      expect(init.method).toBe('POST');
      expect(JSON.parse(init.body ?? '')).toEqual({
        provider: 'acme',
        onDemand: { rejectedTokenSha256: HASH },
      });
      expect(init.headers).toMatchObject({
        'x-amz-invocation-type': 'RequestResponse',
        'x-amz-date': '20300101T000000Z',
        'x-amz-security-token': 'session',
      });
      expect(init.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20300101\/eu-west-1\/lambda\/aws4_request, SignedHeaders=[a-z0-9;-]*x-amz-invocation-type[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
      );
      expect(init.connectTimeoutMs).toBe(3_000);
    });

    it.each([
      [
        'a throttled Invoke',
        429,
        '{"message":"Rate exceeded"}',
        { 'x-amzn-errortype': 'TooManyRequestsException' },
      ],
      ['an unknown function', 404, '{"Type":"User","message":"Function not found"}', {}],
      ["moto's XML refusal", 403, '<?xml version="1.0"?><ErrorResponse/>', {}],
    ])('turns %s into a transient refresh_unavailable error', async (_case, status, body, headers) => {
      const { fetch } = answering(status, body, headers);
      await expect(run(trigger(fetch))).rejects.toMatchObject({
        code: 'refresh_unavailable',
        kind: 'transient',
      });
    });

    it('turns a request that got no answer into refresh_unavailable, naming the error', async () => {
      const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      const fetch: HttpFetch = async () => {
        throw refused;
      };
      await expect(run(trigger(fetch))).rejects.toMatchObject({
        code: 'refresh_unavailable',
        message: 'Could not invoke the refresh function (Error)',
        cause: refused,
      });
    });

    it('turns a crashed refresh function into refresh_function_error', async () => {
      const { fetch } = answering(200, '{"errorMessage":"x"}', { 'x-amz-function-error': 'Unhandled' });
      await expect(run(trigger(fetch))).rejects.toMatchObject({ code: 'refresh_function_error' });
    });

    it('turns a refused event (configs out of step) into refresh_rejected, and junk into refresh_function_error', async () => {
      await expect(
        run(trigger(answering(200, '{"status":"rejected","code":"unknown_provider"}').fetch)),
      ).rejects.toMatchObject({ code: 'refresh_rejected', kind: 'permanent' });
      await expect(run(trigger(answering(200, '{"status":"maybe"}').fetch))).rejects.toMatchObject({
        code: 'refresh_function_error',
      });
      await expect(run(trigger(answering(200, 'not json').fetch))).rejects.toMatchObject({
        code: 'refresh_function_error',
      });
    });
  });
});
