/**
 * {@link RefreshTrigger} on AWS: the read function invokes the refresh function synchronously, so an
 * on-demand refresh runs the same engine under the same lease as the scheduled ones, and the read
 * function never holds credentials, the table or write access to a secret.
 */
// Types only: the SDK module is imported on the first on-demand refresh, which most read containers
// never make, so it costs nothing at cold start (measured by bench/: about 118 ms when loaded eagerly).
import type { InvokeCommandOutput, LambdaClient, LambdaClientConfig } from '@aws-sdk/client-lambda';
import { RefresherError, StoreError } from '../core/errors.js';
import type { RefreshTrigger } from '../core/ports.js';
import { isRefreshStatus, type RefreshResult } from '../core/types.js';
import { awsErrorName } from './sdk-errors.js';

export interface LambdaRefreshTriggerOptions {
  /** Default: built with {@link createLambdaClient} from `clientConfig` on first use. */
  readonly client?: LambdaClient;
  readonly clientConfig?: LambdaClientConfig;
  /** The refresh function's name or ARN. */
  readonly functionName: string;
}

export class LambdaRefreshTrigger implements RefreshTrigger {
  readonly #options: LambdaRefreshTriggerOptions;
  #client: Promise<LambdaClient> | undefined;

  constructor(options: LambdaRefreshTriggerOptions) {
    this.#options = options;
  }

  /**
   * @throws StoreError `refresh_unavailable` (transient) when the Invoke failed or timed out, and
   *   RefresherError `refresh_function_error` / `refresh_rejected` when the function crashed or
   *   refused the event (a deployment mismatch).
   */
  async refresh(input: Parameters<RefreshTrigger['refresh']>[0]): Promise<RefreshResult> {
    const { provider, onDemand, signal } = input;
    let response: InvokeCommandOutput;
    try {
      const { InvokeCommand } = await import('@aws-sdk/client-lambda');
      this.#client ??=
        this.#options.client === undefined
          ? createLambdaClient(this.#options.clientConfig)
          : Promise.resolve(this.#options.client);
      const client = await this.#client;
      response = await client.send(
        new InvokeCommand({
          FunctionName: this.#options.functionName,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify({ provider, onDemand })),
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      throw invokeFailed(error);
    }
    return refreshResultOf(
      response.FunctionError,
      response.Payload === undefined ? '' : new TextDecoder().decode(response.Payload),
    );
  }
}

/**
 * The error of an Invoke that got no answer from the refresh function (refused, throttled, timed out,
 * aborted by the read path's bound), whichever transport sent it.
 */
export function invokeFailed(error: unknown): StoreError {
  return new StoreError(
    `Could not invoke the refresh function (${awsErrorName(error)})`,
    'refresh_unavailable',
    'transient',
    { cause: error },
  );
}

/**
 * The refresh function's answer to a synchronous Invoke (its `X-Amz-Function-Error` and payload), as
 * the refresh trigger returns it, whichever transport sent the Invoke.
 * @throws RefresherError `refresh_function_error` (crashed, no JSON, an unknown result) or
 *   `refresh_rejected` (it refused the event: a deployment mismatch)
 */
export function refreshResultOf(functionError: string | undefined, text: string): RefreshResult {
  if (functionError !== undefined) {
    throw new RefresherError(
      `The refresh function failed (${functionError})`,
      'refresh_function_error',
      'transient',
    );
  }
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    throw new RefresherError(
      'The refresh function answered with no JSON',
      'refresh_function_error',
      'transient',
    );
  }
  const status =
    typeof payload === 'object' && payload !== null ? (payload as { status?: unknown }).status : undefined;
  if (status === 'rejected') {
    const code = (payload as { code?: unknown }).code;
    throw new RefresherError(
      `The refresh function refused the on-demand event (${typeof code === 'string' ? code : 'unknown'}); ` +
        'the read and refresh functions must be deployed from the same configuration',
      'refresh_rejected',
      'permanent',
    );
  }
  if (!isRefreshStatus(status)) {
    throw new RefresherError(
      'The refresh function answered with an unknown result',
      'refresh_function_error',
      'transient',
    );
  }
  return payload as RefreshResult;
}

/**
 * A Lambda client for the read function's on-demand refresh (a synchronous Invoke of the refresh
 * function). One attempt: a retried Invoke would queue a second refresh behind the first, and the
 * read path polls the token secret instead; the read-path bound is set per call by an abort signal.
 */
export async function createLambdaClient(config: LambdaClientConfig = {}): Promise<LambdaClient> {
  const { LambdaClient } = await import('@aws-sdk/client-lambda');
  return new LambdaClient({
    maxAttempts: 1,
    requestHandler: { connectionTimeout: INVOKE_CONNECTION_TIMEOUT_MS },
    ...config,
  });
}

/** The Invoke's bound on opening a connection (ms); the read path bounds the rest by its signal. */
export const INVOKE_CONNECTION_TIMEOUT_MS = 3_000;
