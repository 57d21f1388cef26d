/**
 * Source `read-function`: the consumer asks the read function (Lambda Function URL, `AWS_IAM` auth)
 * with SigV4-signed `fetch` requests. Its role must be one of the provider's `consumers`.
 *
 * - `GET <url>/tokens/<provider>` → 200 `{ provider, accessToken, tokenType, expiresAt, expiresIn }`.
 * - `POST <url>/tokens/<provider>/refresh` with `{"rejectedTokenSha256": "<hex>"}` after a 401: the
 *   function refreshes only if that token is still the current one (many consumers, one refresh) and
 *   answers with the newer token. Only the hash of the refused token is sent, never the token.
 * - Errors: `{ code, message }` with 4xx/5xx; 429 and 503 carry `Retry-After` (seconds).
 *
 * Entry point `@token-refresher/client/read-function`: imports only the SigV4 signer and the default
 * credential chain, no service client.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
// The published package imports this as its own `#smithy/signature-v4`, whose `module` condition gives
// bundlers the ESM build (151 KB less with esbuild's defaults): infra/packaging/client.ts.
import { SignatureV4, type SignatureV4Init } from '@smithy/signature-v4';
import { TokenClientError } from './errors.js';
import { type ReadFunctionEndpoint, resolveReadFunctionEndpoint } from './options.js';
import { parseRetryAfter } from './retry-after.js';
import { NodeSha256, sha256Hex } from './sha256.js';
import { type ClientToken, toClientToken } from './token.js';
import { type Clock, TokenClient, type TokenClientOptions, type TokenSource } from './token-client.js';

// Everything a consumer of this entry point needs, so that it never has to import the index (which
// reaches both sources).
export { TokenClientError, type TokenClientErrorCode } from './errors.js';
export { parseRetryAfter } from './retry-after.js';
export type { ClientToken } from './token.js';
export { type Clock, TokenClient, type TokenClientOptions, type WithTokenOptions } from './token-client.js';

export interface ReadFunctionSourceOptions {
  /** The read function's URL, e.g. `https://<id>.lambda-url.eu-west-1.on.aws/`. */
  readonly url: string;
  /**
   * The signing region.
   * @default the region in a Function URL's host name, else `AWS_REGION`
   */
  readonly region?: string;
  /**
   * Credentials to sign with: static ones or a provider function.
   * @default the SDK's default chain (`@aws-sdk/credential-provider-node`): the Lambda role's
   *   credentials on Lambda
   */
  readonly credentials?: SignatureV4Init['credentials'];
  /** @default `globalThis.fetch` */
  readonly fetch?: typeof fetch;
  /**
   * Bound on one request (ms), on-demand refresh included.
   * @default 25_000 (the read function waits up to 20 s for a refresh)
   */
  readonly timeoutMs?: number;
  /** Also dates the signatures. @default the system clock */
  readonly clock?: Clock;
}

export interface ReadFunctionTokenClientOptions extends ReadFunctionSourceOptions, TokenClientOptions {}

/** {@link TokenSource} over the read function's two routes. */
export class ReadFunctionTokenSource implements TokenSource {
  readonly #endpoint: ReadFunctionEndpoint;
  readonly #signer: SignatureV4;
  readonly #fetch: typeof fetch;
  readonly #clock: Clock;

  /** @throws TokenClientError `invalid_options` */
  constructor(options: ReadFunctionSourceOptions) {
    this.#endpoint = resolveReadFunctionEndpoint(options);
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#signer = new SignatureV4({
      service: 'lambda',
      region: this.#endpoint.region,
      // The default chain memoizes, and refreshes the role's credentials before they expire.
      credentials: options.credentials ?? defaultProvider(),
      sha256: NodeSha256,
    });
  }

  /** @throws TokenClientError (see {@link parseReadFunctionResponse}) */
  read(provider: string): Promise<ClientToken> {
    return this.#request(provider, 'GET', `tokens/${provider}`, undefined);
  }

  /** Report the refused token by its SHA-256 and get the newer one. */
  replaceRejected(provider: string, rejected: ClientToken): Promise<ClientToken> {
    return this.#request(
      provider,
      'POST',
      `tokens/${provider}/refresh`,
      JSON.stringify({ rejectedTokenSha256: sha256Hex(rejected.accessToken) }),
    );
  }

  async #request(
    provider: string,
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
  ): Promise<ClientToken> {
    // `provider` was checked against [a-z0-9-]{1,64} by the client: nothing to escape.
    const url = new URL(path, this.#endpoint.baseUrl);
    const signed = await this.#signer.sign(
      {
        method,
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        path: url.pathname,
        query: {},
        headers: {
          host: url.host,
          accept: 'application/json',
          // Function URLs require the payload hash header for requests with a body; sent on GET too.
          'x-amz-content-sha256': sha256Hex(body ?? ''),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body }),
      },
      { signingDate: new Date(this.#clock.now()) },
    );
    // fetch sets Host itself, from the same URL that was signed.
    const { host: _host, ...headers } = signed.headers;

    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        signal: AbortSignal.timeout(this.#endpoint.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const timedOut = error instanceof Error && error.name === 'TimeoutError';
      throw new TokenClientError(
        `The read function at ${url.origin} did not answer ${method} for provider "${provider}" ` +
          (timedOut
            ? `within ${this.#endpoint.timeoutMs} ms`
            : `(${error instanceof Error ? error.name : 'error'})`),
        'read_failed',
        { cause: error },
      );
    }
    return parseReadFunctionResponse(provider, response.status, response.headers, text, this.#clock.now());
  }
}

/**
 * A client reading tokens through the read function. Build it once per container.
 * @throws TokenClientError `invalid_options` (no URL, no region, a plain-http URL)
 */
export function createReadFunctionTokenClient(options: ReadFunctionTokenClientOptions): TokenClient {
  return new TokenClient(new ReadFunctionTokenSource(options), options);
}

/**
 * The token in the read function's answer, or the error it reports.
 *
 * - 200: the token (`provider`, `accessToken`, `tokenType`, `expiresAt` checked; `expiresIn` is
 *   ignored: the client computes expiry from `expiresAt`).
 * - otherwise: a {@link TokenClientError} with the function's `code` (`http_<status>` if its body is
 *   not `{ code, message }`), the `status`, and `retryAfterSeconds` from `Retry-After`.
 */
export function parseReadFunctionResponse(
  provider: string,
  status: number,
  headers: { get(name: string): string | null },
  body: string,
  now: number,
): ClientToken {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  if (status === 200) {
    if (json === undefined) {
      throw new TokenClientError(
        `The read function's answer for provider "${provider}" is not JSON`,
        'invalid_token_record',
        { status },
      );
    }
    return toClientToken(provider, json, `The read function's answer for provider "${provider}"`);
  }

  const problem = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
  const code =
    typeof problem.code === 'string' && /^[a-z0-9_]{1,64}$/.test(problem.code)
      ? problem.code
      : `http_${status}`;
  // The read function's messages name providers, fields and fixes, never a token.
  const detail = typeof problem.message === 'string' ? `: ${problem.message.slice(0, 500)}` : '';
  const retryAfterSeconds = parseRetryAfter(headers.get('retry-after'), now);
  throw new TokenClientError(
    `The read function answered HTTP ${status} (${code}) for provider "${provider}"${detail}`,
    code,
    { status, ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }) },
  );
}
