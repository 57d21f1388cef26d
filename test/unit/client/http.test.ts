/**
 * The default HTTP function against a real server on 127.0.0.1: it must behave as `fetch` does
 * where the client relies on it (status, headers, body, timeout, network failure).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeHttpFetch } from '../../../functions/client/http.js';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

describe('Function: nodeHttpFetch', () => {
  let server: Server;
  let base: URL;
  const received: Received[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({
          method: request.method ?? '',
          url: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        if (request.url === '/slow') return; // never answers
        response.setHeader('retry-after', '7');
        response.setHeader('set-cookie', ['a=1', 'b=2']);
        response.writeHead(request.url === '/missing' ? 404 : 200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ ok: true, é: 'ü' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends the method, headers and UTF-8 body, and answers status, headers and text', async () => {
    // Prepare
    const body = JSON.stringify({ SecretId: 'prefix/ünïcode/token' });

    // Act
    const response = await nodeHttpFetch(new URL('/path?x=1', base), {
      method: 'POST',
      headers: {
        'x-amz-target': 'secretsmanager.GetSecretValue',
        'content-type': 'application/x-amz-json-1.1',
      },
      body,
    });

    // Assess
    const request = received.at(-1);
    expect(request).toMatchObject({ method: 'POST', url: '/path?x=1', body });
    expect(request?.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(request?.headers['content-length']).toBe(String(Buffer.byteLength(body)));
    expect(request?.headers.host).toBe(base.host);
    expect(response.status).toBe(200);
    expect(response.headers.get('Retry-After')).toBe('7');
    expect(response.headers.get('set-cookie')).toBe('a=1, b=2');
    expect(response.headers.get('x-absent')).toBeNull();
    expect(JSON.parse(await response.text())).toStrictEqual({ ok: true, é: 'ü' });
  });

  it('answers an error status as a response, as fetch does', async () => {
    // Act
    const response = await nodeHttpFetch(new URL('/missing', base), { method: 'GET', headers: {} });

    // Assess
    expect(response.status).toBe(404);
  });

  it("rejects with the signal's TimeoutError when the answer takes too long", async () => {
    // Act
    const error = await nodeHttpFetch(new URL('/slow', base), {
      method: 'GET',
      headers: {},
      signal: AbortSignal.timeout(50),
    }).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ name: 'TimeoutError' });
  });

  it('rejects with the system error when nothing listens', async () => {
    // Prepare: a port that was just free
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    // Act
    const error = await nodeHttpFetch(new URL(`http://127.0.0.1:${port}/`), {
      method: 'GET',
      headers: {},
    }).catch((e: unknown) => e);

    // Assess
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
  });
});
