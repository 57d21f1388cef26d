/**
 * The caller proof's STS request over node:http, against a local HTTP server playing STS: the same
 * request and the same answers as the fetch sender (sts-proof.test.ts), without loading fetch.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_STS_ANSWER_BYTES } from '../../../functions/aws/sts-proof.js';
import { nodeStsProofSender } from '../../../functions/aws/sts-proof-http.js';

const ARN = 'arn:aws:sts::123456789012:assumed-role/consumer-a/session';
const OK = `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult><Arn>${ARN}</Arn><Account>123456789012</Account></GetCallerIdentityResult>
</GetCallerIdentityResponse>`;
const BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
const HEADERS = {
  authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20300101/eu-west-1/sts/aws4_request, ...',
  'x-amz-date': '20300101T000000Z',
  'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
};

describe('Function: nodeStsProofSender', () => {
  let base: string;
  const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  const routes: Record<string, (response: ServerResponse) => void> = {
    '/ok': (response) => response.writeHead(200, { 'content-type': 'text/xml' }).end(OK),
    '/denied': (response) =>
      response
        .writeHead(403)
        .end(
          '<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>',
        ),
    '/redirect': (response) => response.writeHead(307, { location: '/ok' }).end(),
    '/huge': (response) => {
      response.writeHead(200);
      response.write('x'.repeat(MAX_STS_ANSWER_BYTES));
      response.end('more than the bound');
    },
    '/declared-huge': (response) =>
      response.writeHead(200, { 'content-length': String(MAX_STS_ANSWER_BYTES + 1) }).end(),
    '/slow': () => {},
  };
  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    seen.push({
      method: request.method,
      url: request.url,
      headers: request.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    });
    routes[request.url ?? '']?.(response);
  });
  const send = (path: string, timeoutMs = 2_000) =>
    nodeStsProofSender()(
      { url: `${base}${path}`, body: BODY, headers: HEADERS },
      AbortSignal.timeout(timeoutMs),
    );

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('POSTs exactly the checked request and believes the one Arn of the answer', async () => {
    // Act
    const answer = await send('/ok');

    // Assess
    expect(answer).toStrictEqual({ kind: 'identity', arn: ARN });
    const request = seen.find((entry) => entry.url === '/ok');
    expect(request).toMatchObject({ method: 'POST', body: BODY, headers: HEADERS });
  });

  it("answers STS's refusal as refused, with its code", async () => {
    expect(await send('/denied')).toStrictEqual({ kind: 'refused', stsCode: 'SignatureDoesNotMatch' });
  });

  it('follows no redirect, and reads no answer over the bound', async () => {
    // Act
    const answers = await Promise.all([send('/redirect'), send('/huge'), send('/declared-huge')]);

    // Assess
    expect(answers).toStrictEqual([
      { kind: 'unavailable', reason: 'http_307' },
      { kind: 'unavailable', reason: 'answer_unreadable' },
      { kind: 'unavailable', reason: 'answer_unreadable' },
    ]);
    expect(seen.filter((entry) => entry.url === '/ok')).toHaveLength(1);
  });

  it('answers unavailable when STS does not answer in time or cannot be reached', async () => {
    // Act
    const late = await send('/slow', 200);
    const unreachable = await nodeStsProofSender()(
      { url: 'http://127.0.0.1:9/', body: BODY, headers: HEADERS },
      AbortSignal.timeout(2_000),
    );

    // Assess
    expect(late).toStrictEqual({ kind: 'unavailable', reason: 'TimeoutError' });
    expect(unreachable).toStrictEqual({ kind: 'unavailable', reason: 'ECONNREFUSED' });
  });
});
