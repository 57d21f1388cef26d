/**
 * The read function behind a local HTTP endpoint shaped like its Function URL: each request becomes a
 * payload-format-2.0 event. Binds 127.0.0.1 only, and answers only requests whose `Host` is
 * `127.0.0.1:<port>` or `localhost:<port>`, so a web page that rebinds its own name to 127.0.0.1
 * (DNS rebinding) is refused. There is no SigV4 locally and the event carries no IAM identity: the
 * caller proves its role with a caller proof, as on AWS, checked against the emulator's STS
 * (local-caller.ts makes the local caller's).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReadHandler, UrlResponse } from '../read/app.js';

/** The role every local provider lists as a consumer; the local caller (local-caller.ts) assumes it. */
export const LOCAL_CALLER_ROLE = 'arn:aws:iam::000000000000:role/token-refresher-local-caller';
/** The local read function's name: local caller proofs must be made for it. */
export const LOCAL_READ_FUNCTION_NAME = 'token-refresher-local-read';
/** Like the Function URL's payload limit, generously above the handler's own 16 KB check. */
const MAX_REQUEST_BYTES = 1024 * 1024;

export interface ReadServer {
  /** e.g. `http://127.0.0.1:8787/` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Whether a request's `Host` names this server by its loopback address or `localhost`. */
export function isLocalHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

function answerJson(response: ServerResponse, status: number, code: string, message: string): void {
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  response.end(JSON.stringify({ code, message }));
}

/** The Function URL event of a local request (no `authorizer`: identity comes from the caller proof). */
function urlEvent(request: IncomingMessage, body: Buffer): Record<string, unknown> {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const headers = Object.fromEntries(
    Object.entries(request.headers).flatMap(([name, value]) =>
      typeof value === 'string' ? [[name, value]] : Array.isArray(value) ? [[name, value.join(',')]] : [],
    ),
  );
  return {
    version: '2.0',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    isBase64Encoded: body.length > 0,
    ...(body.length > 0 ? { body: body.toString('base64') } : {}),
    requestContext: {
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        sourceIp: request.socket.remoteAddress,
      },
    },
  };
}

export async function startReadServer(
  handler: ReadHandler,
  options: { readonly port?: number } = {},
): Promise<ReadServer> {
  let port = 0;
  const server: Server = createServer((request, response) => {
    void (async () => {
      if (!isLocalHost(request.headers.host, port)) {
        answerJson(
          response,
          403,
          'invalid_host',
          `The local read endpoint answers only Host 127.0.0.1:${port} or localhost:${port}`,
        );
        return;
      }
      const body = await readBody(request);
      if (body === undefined) {
        answerJson(response, 413, 'body_too_large', 'The request body is over 1 MB');
        return;
      }
      const answer = (await handler(urlEvent(request, body))) as UrlResponse;
      response.writeHead(answer.statusCode, answer.headers);
      response.end(answer.body);
    })().catch(() => {
      if (!response.headersSent) response.writeHead(500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ code: 'internal_error', message: 'The local read endpoint failed' }));
    });
  });
  const wanted = options.port ?? 8787;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`Port ${wanted} on 127.0.0.1 is in use; start with --port <n> (0 picks a free port)`)
          : error,
      ),
    );
    server.listen(wanted, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
