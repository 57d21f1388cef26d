/**
 * The read function behind a local HTTP endpoint shaped like its Function URL: each request becomes a
 * payload-format-2.0 event. There is no SigV4 locally, so the caller's identity comes from the
 * `x-token-refresher-caller` header (an IAM role or assumed-role ARN); without it the request runs as
 * the local caller, which the runner lists as a consumer of every provider. Binds 127.0.0.1 only.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReadHandler, UrlResponse } from '../read/app.js';

export const CALLER_HEADER = 'x-token-refresher-caller';
/** The role every local provider lists, and the identity of a request without the header. */
export const LOCAL_CALLER_ROLE = 'arn:aws:iam::000000000000:role/token-refresher-local-caller';
const LOCAL_CALLER = 'arn:aws:sts::000000000000:assumed-role/token-refresher-local-caller/local';
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

export async function startReadServer(
  handler: ReadHandler,
  options: { readonly port?: number } = {},
): Promise<ReadServer> {
  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      if (body === undefined) {
        response.writeHead(413, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ code: 'body_too_large', message: 'The request body is over 1 MB' }));
        return;
      }
      const url = new URL(request.url ?? '/', 'http://127.0.0.1');
      const caller = request.headers[CALLER_HEADER];
      const headers = Object.fromEntries(
        Object.entries(request.headers).flatMap(([name, value]) =>
          typeof value === 'string' ? [[name, value]] : Array.isArray(value) ? [[name, value.join(',')]] : [],
        ),
      );
      const event = {
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
          authorizer: { iam: { userArn: typeof caller === 'string' ? caller : LOCAL_CALLER } },
        },
      };
      const answer = (await handler(event)) as UrlResponse;
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
  const { port } = server.address() as AddressInfo;
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
