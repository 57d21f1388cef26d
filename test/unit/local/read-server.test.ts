/**
 * Issue 15, finding 14 (local mode): the local read endpoint answers only requests addressed to it by
 * 127.0.0.1 or localhost (a DNS-rebinding page sends its own host name), and gives the handler no
 * identity of its own making: without a caller proof a request reads nothing.
 */
import { request as httpRequest } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { isLocalHost, type ReadServer, startReadServer } from '../../../functions/local/read-server.js';
import type { ReadHandler } from '../../../functions/read/app.js';

/** A GET with the given Host header (fetch cannot set Host). */
function get(
  port: number,
  host: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(
      { host: '127.0.0.1', port, path: '/tokens/alpha', method: 'GET', headers: { host, ...headers } },
      (response) => {
        let body = '';
        response.on('data', (chunk) => {
          body += String(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('Function: startReadServer (local mode)', () => {
  let server: ReadServer | undefined;
  const events: Record<string, unknown>[] = [];
  const handler: ReadHandler = async (event) => {
    events.push(event as Record<string, unknown>);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' };
  };

  afterEach(async () => {
    await server?.close();
    server = undefined;
    events.length = 0;
  });

  it('refuses a request whose Host is not 127.0.0.1:<port> or localhost:<port> (DNS rebinding), before the handler', async () => {
    // Prepare
    server = await startReadServer(handler, { port: 0 });
    const { port } = server;

    // Act
    const answers = await Promise.all(
      [
        `attacker.example:${port}`,
        'attacker.example',
        `127.0.0.1.nip.io:${port}`,
        `localhost.attacker.example:${port}`,
        `127.0.0.1:${port + 1}`,
        '127.0.0.1',
        `[::1]:${port}`,
      ].map((host) => get(port, host)),
    );

    // Assess
    for (const answer of answers) {
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'invalid_host' });
    }
    expect(events).toHaveLength(0);
  });

  it('passes requests addressed by 127.0.0.1 or localhost on, with no identity but the proof header sent', async () => {
    // Prepare
    server = await startReadServer(handler, { port: 0 });
    const { port } = server;

    // Act
    const answers = [
      await get(port, `127.0.0.1:${port}`),
      await get(port, `localhost:${port}`, {
        'x-token-refresher-caller': 'arn:aws:iam::000000000000:role/token-refresher-local-caller',
        'x-token-refresher-proof': 'the-proof',
      }),
    ];

    // Assess: the event has no authorizer: the caller header proves nothing, the proof travels as sent.
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(events).toHaveLength(2);
    for (const event of events) {
      expect(event.requestContext).not.toHaveProperty('authorizer');
    }
    expect(events[1]?.headers).toMatchObject({ 'x-token-refresher-proof': 'the-proof' });
  });

  it('knows its own names', () => {
    expect(isLocalHost('127.0.0.1:8787', 8787)).toBe(true);
    expect(isLocalHost('localhost:8787', 8787)).toBe(true);
    expect(isLocalHost('LOCALHOST:8787', 8787)).toBe(false);
    expect(isLocalHost(undefined, 8787)).toBe(false);
  });
});
