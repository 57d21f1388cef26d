/**
 * Lambda's Invoke API (`POST /2015-03-31/functions/<name>/invocations`) on 127.0.0.1, in front of
 * in-process handlers: moto stores functions but runs them only in Docker (or answers a canned payload
 * with its "simple" backend), so an on-demand refresh that must really refresh goes through this
 * front to the real refresh handler. It answers as Lambda does (200 with the function's result,
 * `X-Amz-Function-Error: Unhandled` when it throws, 404 `ResourceNotFoundException` for an unknown
 * function), checks each request's SigV4 signature against the credentials it is given (403
 * `InvalidSignatureException` otherwise), and records what each request carried so that two
 * transports can be compared request for request.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256 } from '../../functions/client/sha256.js';

/** One Invoke as received (what a caller controls; the signature's date and value left out). */
export interface RecordedInvoke {
  readonly method: string;
  readonly path: string;
  /** The request's headers, lower case, without `authorization`, `x-amz-date`, `host`, `user-agent` and SDK bookkeeping. */
  readonly headers: Readonly<Record<string, string>>;
  readonly signedHeaders: readonly string[];
  readonly payload: unknown;
}

export interface LambdaFront {
  readonly url: string;
  readonly invokes: RecordedInvoke[];
  stop(): Promise<void>;
}

/** What a function does with the Invoke's payload; a throw is the function's error. */
export type InProcessFunction = (payload: unknown) => Promise<unknown>;

/** Headers that differ by client version or by request, not by what the caller asks for. */
const UNCOMPARED = new Set([
  'authorization',
  'x-amz-date',
  'host',
  'user-agent',
  'x-amz-user-agent',
  'amz-sdk-invocation-id',
  'amz-sdk-request',
  'connection',
  'content-length',
  'x-amz-content-sha256',
  'x-amz-security-token',
]);

export async function startLambdaFront(options: {
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly functions: Readonly<Record<string, InProcessFunction>>;
}): Promise<LambdaFront> {
  const invokes: RecordedInvoke[] = [];
  const signer = new SignatureV4({
    service: 'lambda',
    region: options.region,
    credentials: options.credentials,
    sha256: NodeSha256,
  });
  const server = createServer(async (request, response) => {
    const body = await readBody(request);
    const answer = (status: number, headers: Record<string, string>, text: string) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(text);
    };
    if (!(await signatureMatches(signer, request, body))) {
      answer(
        403,
        { 'x-amzn-errortype': 'InvalidSignatureException' },
        '{"message":"The request signature does not match"}',
      );
      return;
    }
    const path = request.url ?? '';
    const name = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(path)?.[1];
    const headers = Object.fromEntries(
      Object.entries(request.headers)
        .filter(([key]) => !UNCOMPARED.has(key))
        .map(([key, value]) => [key, String(value)]),
    );
    invokes.push({
      method: request.method ?? '',
      path,
      headers,
      signedHeaders: signedHeadersOf(request),
      payload: parse(body),
    });
    const run = name === undefined ? undefined : options.functions[decodeURIComponent(name)];
    if (run === undefined) {
      answer(
        404,
        { 'x-amzn-errortype': 'ResourceNotFoundException' },
        JSON.stringify({ Type: 'User', message: `Function not found: ${name ?? path}` }),
      );
      return;
    }
    try {
      answer(200, {}, JSON.stringify(await run(parse(body))));
    } catch (error) {
      const errorType = error instanceof Error ? error.name : 'Error';
      answer(
        200,
        { 'x-amz-function-error': 'Unhandled' },
        JSON.stringify({ errorType, errorMessage: 'failed' }),
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    invokes,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function signedHeadersOf(request: IncomingMessage): string[] {
  return /SignedHeaders=([^,]+)/.exec(request.headers.authorization ?? '')?.[1]?.split(';') ?? [];
}

/** Sign the same request again (same headers, same date) and compare the signatures. */
async function signatureMatches(
  signer: SignatureV4,
  request: IncomingMessage,
  body: string,
): Promise<boolean> {
  const authorization = request.headers.authorization ?? '';
  const signature = /Signature=([0-9a-f]{64})/.exec(authorization)?.[1];
  const date = request.headers['x-amz-date'];
  if (signature === undefined || (typeof date === 'string') === false) return false;
  const headers = Object.fromEntries(
    signedHeadersOf(request).map((name) => [name, String(request.headers[name] ?? '')]),
  );
  const [path, query = ''] = (request.url ?? '/').split('?');
  const signed = await signer.sign(
    {
      method: request.method ?? 'POST',
      protocol: 'http:',
      hostname: String(request.headers.host ?? '').split(':')[0] ?? '',
      path: path ?? '/',
      query: Object.fromEntries(new URLSearchParams(query)),
      headers,
      body,
    },
    { signingDate: parseAmzDate(date as string) },
  );
  return String(signed.headers.authorization ?? '').endsWith(`Signature=${signature}`);
}

/** `20260101T120000Z` as a Date. */
function parseAmzDate(value: string): Date {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (match === null) return new Date(Number.NaN);
  const [, year, month, day, hour, minute, second] = match;
  return new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}Z`);
}
