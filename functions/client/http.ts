/**
 * The HTTP the client's SDK-free requests go through: the small part of `fetch` they use
 * ({@link HttpFetch}), so a test passes a fake `fetch` and a consumer may pass `globalThis.fetch`,
 * and a default over `node:http`/`node:https` ({@link nodeHttpFetch}).
 *
 * Why not `globalThis.fetch` by default: Node.js loads its fetch (undici) on the first call, and that
 * load is most of a cold start's first request: benchmark 6 (bench/consumer-cold-start.ts) measures
 * an empty process plus one loopback `fetch` at 2–3× an empty process. `node:http` is part of Node's
 * startup snapshot, and the AWS SDK itself sends its requests through it.
 */
import { type ClientRequest, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** What a request needs: `RequestInit` narrowed to what the client sends. */
export interface HttpRequestInit {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly signal?: AbortSignal;
  /**
   * Bound on opening the connection (ms), as the SDK's `connectionTimeout`: a connection that is not
   * up in time fails with a `TimeoutError`. `globalThis.fetch` ignores it. @default none
   */
  readonly connectTimeoutMs?: number;
}

/** What the client reads of a response: a subset of `Response`. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/**
 * A `fetch`-shaped function: `globalThis.fetch` is one. It rejects on a network failure, and with
 * the signal's reason (a `TimeoutError` for `AbortSignal.timeout`) when aborted, as `fetch` does.
 */
export type HttpFetch = (url: URL, init: HttpRequestInit) => Promise<HttpResponse>;

/** {@link HttpFetch} over `node:http` and `node:https` (the default agents: keep-alive, pooled). */
export const nodeHttpFetch: HttpFetch = (url, init) =>
  new Promise<HttpResponse>((resolve, reject) => {
    const { signal } = init;
    // Aborted: reject as fetch does, with the signal's reason, not Node's generic AbortError.
    const fail = (error: unknown) => reject(signal?.aborted === true ? signal.reason : error);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { ...init.headers };
    if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
    const request = send(url, { method: init.method, headers, ...(signal ? { signal } : {}) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', fail);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: response.statusCode ?? 0,
          headers: { get: (name) => headerValue(response.headers, name) },
          text: () => Promise.resolve(text),
        });
      });
    });
    request.on('error', fail);
    if (init.connectTimeoutMs !== undefined) boundConnection(request, init.connectTimeoutMs);
    request.end(init.body);
  });

/** Destroy `request` with a `TimeoutError` when its new socket is not connected within `timeoutMs`. */
function boundConnection(request: ClientRequest, timeoutMs: number): void {
  request.once('socket', (socket) => {
    if (!socket.connecting) return; // a kept-alive socket, already connected
    const timer = setTimeout(() => {
      const error = new Error(`The connection was not established within ${timeoutMs} ms`);
      error.name = 'TimeoutError';
      request.destroy(error);
    }, timeoutMs);
    const clear = () => clearTimeout(timer);
    socket.once('connect', clear);
    socket.once('close', clear);
  });
}

/** As `Headers#get`: case-insensitive, repeated values joined with `, `. */
function headerValue(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}
