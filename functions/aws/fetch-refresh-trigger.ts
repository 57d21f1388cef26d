/**
 * {@link RefreshTrigger} without the AWS SDK: the synchronous Invoke of the refresh function as one
 * SigV4-signed `POST /2015-03-31/functions/<name>/invocations` (Lambda's REST-JSON API), sent as the
 * SDK's `LambdaClient` sends it from `LambdaRefreshTrigger` (refresh-invoker.ts): `RequestResponse`,
 * the same payload, one attempt (a retried Invoke would queue a second refresh behind the first), a
 * bound on opening the connection, the rest bounded by the read path's signal. Its answers and errors
 * are read by the same functions (`refreshResultOf`, `invokeFailed`), so both transports give the
 * same codes.
 */
import type { CredentialsOption } from '../client/credentials.js';
import type { HttpFetch, HttpResponse } from '../client/http.js';
import { awsJsonError, signRequest, sigV4Signer } from '../client/signed-fetch.js';
import type { RefreshTrigger } from '../core/ports.js';
import type { RefreshResult } from '../core/types.js';
import { LAMBDA_SERVICE } from './aws-transport.js';
import { INVOKE_CONNECTION_TIMEOUT_MS, invokeFailed, refreshResultOf } from './refresh-invoker.js';

export interface FetchRefreshTriggerOptions {
  /** The refresh function's name or ARN. */
  readonly functionName: string;
  readonly region: string;
  /** Lambda's endpoint (`aws-transport.ts` resolves it as the SDK does). */
  readonly endpoint: URL;
  readonly credentials: CredentialsOption;
  readonly fetch: HttpFetch;
  /** Dates the signatures. */
  readonly now: () => number;
}

export class FetchRefreshTrigger implements RefreshTrigger {
  readonly #options: FetchRefreshTriggerOptions;
  readonly #url: URL;
  readonly #signer: ReturnType<typeof sigV4Signer>;

  constructor(options: FetchRefreshTriggerOptions) {
    this.#options = options;
    // The SDK's path: the name (or ARN, colons and all) as one URI-encoded label.
    this.#url = new URL(
      `${options.endpoint.pathname.replace(/\/$/, '')}/2015-03-31/functions/${encodeURIComponent(options.functionName)}/invocations`,
      options.endpoint,
    );
    this.#signer = sigV4Signer(LAMBDA_SERVICE.signingName, options.region, options.credentials);
  }

  /**
   * @throws StoreError `refresh_unavailable` (transient) when the Invoke failed or timed out, and
   *   RefresherError `refresh_function_error` / `refresh_rejected` when the function crashed or
   *   refused the event (a deployment mismatch), as `LambdaRefreshTrigger`.
   */
  async refresh(input: Parameters<RefreshTrigger['refresh']>[0]): Promise<RefreshResult> {
    const { provider, onDemand, signal } = input;
    const body = JSON.stringify({ provider, onDemand });
    let response: HttpResponse;
    let text: string;
    try {
      const headers = await signRequest(
        this.#signer,
        {
          url: this.#url,
          method: 'POST',
          headers: {
            'content-type': 'application/octet-stream',
            'x-amz-invocation-type': 'RequestResponse',
          },
          body,
        },
        new Date(this.#options.now()),
      );
      response = await this.#options.fetch(this.#url, {
        method: 'POST',
        headers,
        body,
        signal,
        connectTimeoutMs: INVOKE_CONNECTION_TIMEOUT_MS,
      });
      text = await response.text();
    } catch (error) {
      // The request's own error: over node:http it is the one the SDK's handler gets (ECONNREFUSED, …).
      throw invokeFailed(error);
    }
    if (response.status < 200 || response.status > 299) {
      // Lambda's errors are named as the SDK names its exceptions (x-amzn-errortype, else the body).
      throw invokeFailed(awsJsonError(response.status, response.headers, text));
    }
    return refreshResultOf(response.headers.get('x-amz-function-error') ?? undefined, text);
  }
}
