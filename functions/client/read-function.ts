/**
 * Source `read-function`: the consumer asks the read function (Lambda Function URL, `AWS_IAM` auth)
 * with SigV4-signed `fetch` requests. Its role must be one of the provider's `consumers`; it proves
 * its role with a caller proof (caller-proof.ts) in the `x-token-refresher-proof` header, bound to the
 * read function by `functionName`.
 *
 * - `GET <url>/tokens/<provider>` → 200 `{ provider, accessToken, tokenType, expiresAt, expiresIn }`.
 * - `POST <url>/tokens/<provider>/refresh` with `{"rejectedTokenSha256": "<hex>"}` after a 401: the
 *   function refreshes only if that token is still the current one (many consumers, one refresh) and
 *   answers with the newer token. Only the hash of the refused token is sent, never the token.
 * - Errors: `{ code, message }` with 4xx/5xx; 429 and 503 carry `Retry-After` (seconds).
 *
 * Entry point `@token-refresher/client/read-function`: the SigV4 signer, no AWS SDK code. Credentials
 * come from the Lambda environment; only elsewhere is the SDK's default chain imported (credentials.ts).
 */
import type { SignatureV4 } from '@smithy/signature-v4';
import { CALLER_PROOF_HEADER, type CallerProof, CallerProofSigner } from './caller-proof.js';
import { type CredentialsOption, defaultCredentials } from './credentials.js';
import { TokenClientError } from './errors.js';
import { type HttpFetch, type HttpResponse, nodeHttpFetch } from './http.js';
import { type ReadFunctionEndpoint, resolveReadFunctionEndpoint } from './options.js';
import { parseRetryAfter } from './retry-after.js';
import { sha256Hex } from './sha256.js';
import { signRequest, sigV4Signer } from './signed-fetch.js';
import { type ClientToken, toClientToken } from './token.js';
import { type Clock, TokenClient, type TokenClientOptions, type TokenSource } from './token-client.js';

// Everything a consumer of this entry point needs, so that it never has to import the index (which
// reaches both sources).
export type { CredentialsOption } from './credentials.js';
export { TokenClientError, type TokenClientErrorCode } from './errors.js';
export type { HttpFetch, HttpRequestInit, HttpResponse } from './http.js';
export { parseRetryAfter } from './retry-after.js';
export type { ClientToken } from './token.js';
export { type Clock, TokenClient, type TokenClientOptions, type WithTokenOptions } from './token-client.js';

export interface ReadFunctionSourceOptions {
  /** The read function's URL, e.g. `https://<id>.lambda-url.eu-west-1.on.aws/`. */
  readonly url: string;
  /**
   * The read function's name (the stack output `ReadFunctionName`). Every request carries a proof of
   * the caller's IAM role, and the read function refuses proofs made for another function.
   */
  readonly functionName: string;
  /**
   * Where the proof's `sts:GetCallerIdentity` request is addressed; the read function accepts only
   * the endpoint it is configured with.
   * @default `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else `https://sts.<region>.amazonaws.com/`
   */
  readonly stsEndpoint?: string;
  /**
   * The signing region.
   * @default the region in a Function URL's host name, else `AWS_REGION`
   */
  readonly region?: string;
  /**
   * Credentials to sign with: static ones or a provider function.
   * @default the environment's (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`:
   *   the function's role on Lambda), else the SDK's default chain (`@aws-sdk/credential-provider-node`,
   *   imported then)
   */
  readonly credentials?: CredentialsOption;
  /** The HTTP function (`globalThis.fetch` will do). @default over `node:https` */
  readonly fetch?: HttpFetch;
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
  readonly #proofs: CallerProofSigner;
  readonly #fetch: HttpFetch;
  readonly #clock: Clock;

  /** @throws TokenClientError `invalid_options` */
  constructor(options: ReadFunctionSourceOptions) {
    this.#endpoint = resolveReadFunctionEndpoint(options);
    this.#fetch = options.fetch ?? nodeHttpFetch;
    const clock = options.clock ?? { now: () => Date.now() };
    this.#clock = clock;
    const credentials = options.credentials ?? defaultCredentials();
    this.#signer = sigV4Signer('lambda', this.#endpoint.region, credentials);
    const stsSigner = sigV4Signer('sts', this.#endpoint.region, credentials);
    this.#proofs = new CallerProofSigner({
      stsEndpoint: this.#endpoint.stsEndpoint,
      serverId: this.#endpoint.functionName,
      sign: (request, signing) => stsSigner.sign(request, signing),
      now: () => clock.now(),
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

  /**
   * One request; when the read function refuses a reused proof (expired meanwhile, or its STS call
   * failed), once more with a new proof.
   */
  async #request(
    provider: string,
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
  ): Promise<ClientToken> {
    const proof = await this.#proof(provider);
    try {
      return await this.#send(provider, method, path, body, proof.proof);
    } catch (error) {
      if (!(error instanceof TokenClientError && REFUSED_PROOF_CODES.has(error.code))) throw error;
      this.#proofs.forget(proof.proof);
      if (!proof.reused) throw error;
      return this.#send(provider, method, path, body, (await this.#proof(provider)).proof);
    }
  }

  async #proof(provider: string): Promise<CallerProof> {
    try {
      return await this.#proofs.proof();
    } catch (error) {
      throw new TokenClientError(
        `Could not sign the proof of this caller's identity for provider "${provider}" ` +
          `(${error instanceof Error ? error.name : 'error'}): are AWS credentials available?`,
        'read_failed',
        { cause: error },
      );
    }
  }

  async #send(
    provider: string,
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    proof: string,
  ): Promise<ClientToken> {
    // `provider` was checked against [a-z0-9-]{1,64} by the client: nothing to escape.
    const url = new URL(path, this.#endpoint.baseUrl);
    const headers = await signRequest(
      this.#signer,
      {
        url,
        method,
        headers: {
          accept: 'application/json',
          // Function URLs require the payload hash header for requests with a body; sent on GET too.
          'x-amz-content-sha256': sha256Hex(body ?? ''),
          [CALLER_PROOF_HEADER]: proof,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body }),
      },
      new Date(this.#clock.now()),
    );

    let response: HttpResponse;
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

/** Refusals of a proof that a new proof may cure (see the read function's codes, docs/read-function.md). */
const REFUSED_PROOF_CODES: ReadonlySet<string> = new Set(['caller_proof_expired', 'caller_proof_rejected']);

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
