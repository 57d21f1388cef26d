/**
 * SDK-free AWS requests for the client's hot reads: SigV4-signed with `@smithy/signature-v4` (SHA-256
 * over `node:crypto`) and sent with a `fetch`-shaped function (http.ts). {@link AwsJsonClient} speaks
 * the AWS JSON protocols (1.0: DynamoDB; 1.1: Secrets Manager) as the SDK does: the same endpoint,
 * the same error names (so a source translates both paths' errors with one function), and retries
 * of throttling, 5xx and network failures with the SDK's standard backoff.
 *
 * What it does not do, and the SDK does: FIPS or dual-stack endpoints, endpoints and regions from the
 * shared config files, clock-skew correction, adaptive retry. A source falls back to the SDK where
 * the first two are asked for (`resolveAwsEndpoint` in aws-endpoint.ts).
 *
 * This is the client's only import of `@smithy/signature-v4`: the published package rewrites it to
 * its bundler-friendly ESM build (infra/packaging/client.ts).
 */
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsJsonService } from './aws-endpoint.js';
import { type CredentialsOption, defaultCredentials } from './credentials.js';
import { type HttpFetch, type HttpResponse, nodeHttpFetch } from './http.js';
import type { TransportPlan } from './secrets-manager-transport.js';
import { NodeSha256 } from './sha256.js';

/** A signer for one service and region, hashing with `node:crypto`. */
export function sigV4Signer(service: string, region: string, credentials: CredentialsOption): SignatureV4 {
  return new SignatureV4({ service, region, credentials, sha256: NodeSha256 });
}

/**
 * Sign a request to `url` and return the headers to send. `host` is signed but not returned: fetch
 * derives it from the same URL.
 */
export async function signRequest(
  signer: SignatureV4,
  request: {
    readonly url: URL;
    readonly method: string;
    readonly headers: Readonly<Record<string, string>>;
    readonly body?: string;
  },
  signingDate: Date,
): Promise<Record<string, string>> {
  const { url, method, body } = request;
  const signed = await signer.sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port === '' ? {} : { port: Number(url.port) }),
      path: url.pathname,
      query: {},
      headers: { host: url.host, ...request.headers },
      ...(body === undefined ? {} : { body }),
    },
    { signingDate },
  );
  const { host: _host, ...headers } = signed.headers;
  return headers;
}

/**
 * An AWS error answer, or a request that got none, named as the SDK names its exception (the
 * service's error code, e.g. `ResourceNotFoundException`; `TimeoutError`; a network error's code such
 * as `ECONNREFUSED`). The message is AWS's own (it names resources, never a secret value); a raw
 * response body is never kept.
 */
export class AwsRequestError extends Error {
  /** As the SDK's exceptions carry it. */
  readonly $metadata: { readonly httpStatusCode?: number };

  constructor(name: string, message: string, status: number | undefined, cause?: unknown) {
    super(message, cause === undefined ? {} : { cause });
    this.name = name;
    this.$metadata = status === undefined ? {} : { httpStatusCode: status };
  }
}

/**
 * The error an AWS JSON protocol answer carries, read as the SDK reads it: the `x-amzn-errortype`
 * header, else the body's `code` or `__type`, reduced to the bare name (`aws.protocols#Foo:http://…`
 * → `Foo`).
 */
export function awsJsonError(
  status: number,
  headers: HttpResponse['headers'],
  body: string,
): AwsRequestError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const fields = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const raw = [headers.get('x-amzn-errortype'), fields.code, fields.__type].find(
    (value): value is string => typeof value === 'string' && value !== '',
  );
  const bare = raw?.split(',')[0]?.split(':')[0] ?? '';
  const name = bare.includes('#') ? (bare.split('#')[1] ?? '') : bare;
  const message = [fields.message, fields.Message].find((value) => typeof value === 'string');
  return new AwsRequestError(
    /^[A-Za-z][A-Za-z0-9_.]{0,99}$/.test(name) ? name : `Http${status}Error`,
    typeof message === 'string' ? message.slice(0, 500) : `HTTP ${status}`,
    status,
  );
}

/** The SDK's throttling error codes (`@smithy/service-error-classification`): retried after 500 ms × 2^n. */
const THROTTLING_ERROR_NAMES: ReadonlySet<string> = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);

/** Its transient error codes: retried after 100 ms × 2^n, as are 5xx answers and network failures. */
const TRANSIENT_ERROR_NAMES: ReadonlySet<string> = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

export interface AwsJsonClientOptions {
  readonly region: string;
  readonly endpoint: URL;
  readonly credentials: CredentialsOption;
  readonly fetch: HttpFetch;
  /** Bound on one attempt (ms). */
  readonly timeoutMs: number;
  /** Attempts in all, first one included (the SDK's `maxAttempts`). */
  readonly maxAttempts: number;
  /** Dates the signatures. */
  readonly now: () => number;
  /** Waits between attempts. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * The client of a source's planned `fetch` transport: the plan's region, endpoint, attempts and
 * bound on one attempt; its credentials, else the environment's (the SDK's chain as fallback).
 */
export function awsJsonClientFor(
  service: AwsJsonService,
  plan: Extract<TransportPlan, { readonly kind: 'fetch' }>,
  options: { readonly fetch?: HttpFetch | undefined; readonly clock?: { now(): number } | undefined },
): AwsJsonClient {
  const { clock } = options;
  return new AwsJsonClient(service, {
    region: plan.region,
    endpoint: plan.endpoint,
    credentials: plan.credentials ?? defaultCredentials(),
    fetch: options.fetch ?? nodeHttpFetch,
    timeoutMs: plan.attemptTimeoutMs,
    maxAttempts: plan.maxAttempts,
    now: () => clock?.now() ?? Date.now(),
  });
}

/** Requests to one service in one region; build it once per container. */
export class AwsJsonClient {
  readonly #service: AwsJsonService;
  readonly #options: AwsJsonClientOptions;
  readonly #signer: SignatureV4;

  constructor(service: AwsJsonService, options: AwsJsonClientOptions) {
    this.#service = service;
    this.#options = options;
    this.#signer = sigV4Signer(service.signingName, options.region, options.credentials);
  }

  /**
   * `operation` with `input`; resolves to the output (parsed JSON).
   * @throws AwsRequestError, or the credentials provider's error
   */
  async request(operation: string, input: unknown): Promise<unknown> {
    const body = JSON.stringify(input);
    const { maxAttempts, sleep = delay } = this.#options;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#attempt(operation, body);
      if (!(outcome instanceof AwsRequestError)) return outcome.output;
      const throttled = isThrottling(outcome);
      if (attempt >= maxAttempts || !(throttled || isTransient(outcome))) throw outcome;
      // The SDK's standard strategy: full jitter over 100 ms (500 ms when throttled) × 2^n, at most 20 s.
      const base = throttled ? 500 : 100;
      await sleep(Math.floor(Math.random() * Math.min(20_000, base * 2 ** (attempt - 1))));
    }
  }

  /** One signed request: the output, or the error to throw or retry. Credential failures are thrown. */
  async #attempt(operation: string, body: string): Promise<{ readonly output: unknown } | AwsRequestError> {
    const { endpoint, fetch, timeoutMs, now } = this.#options;
    const headers = await signRequest(
      this.#signer,
      {
        url: endpoint,
        method: 'POST',
        headers: {
          'content-type': `application/x-amz-json-${this.#service.jsonVersion}`,
          'x-amz-target': `${this.#service.targetPrefix}.${operation}`,
        },
        body,
      },
      new Date(now()),
    );
    let response: HttpResponse;
    let text: string;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      return networkError(error, endpoint, timeoutMs);
    }
    if (response.status < 200 || response.status > 299)
      return awsJsonError(response.status, response.headers, text);
    try {
      return { output: JSON.parse(text) };
    } catch {
      return new AwsRequestError(
        'SerializationError',
        `${operation} answered a body that is not JSON`,
        response.status,
      );
    }
  }
}

function isThrottling(error: AwsRequestError): boolean {
  return error.$metadata.httpStatusCode === 429 || THROTTLING_ERROR_NAMES.has(error.name);
}

/** No answer at all (network, timeout), a 5xx, or a transient error code. */
function isTransient(error: AwsRequestError): boolean {
  const status = error.$metadata.httpStatusCode;
  return status === undefined || status >= 500 || TRANSIENT_ERROR_NAMES.has(error.name);
}

/** No answer: named `TimeoutError`, or after the system error's code (`fetch` nests it in `cause`). */
function networkError(error: unknown, endpoint: URL, timeoutMs: number): AwsRequestError {
  const name = error instanceof Error ? error.name : 'Error';
  if (name === 'TimeoutError') {
    return new AwsRequestError(
      name,
      `${endpoint.origin} did not answer within ${timeoutMs} ms`,
      undefined,
      error,
    );
  }
  const code = systemErrorCode(error) ?? systemErrorCode((error as { cause?: unknown } | null)?.cause);
  return new AwsRequestError(
    code ?? name,
    `The request to ${endpoint.origin} failed (${code ?? name})`,
    undefined,
    error,
  );
}

function systemErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code) ? code : undefined;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
