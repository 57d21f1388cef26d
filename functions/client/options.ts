/**
 * Option checks shared by `createTokenClient` and the per-source factories, so that a bad option
 * fails when the client is built (at cold start), not on the first request. No SDK imports here.
 */
import { regionalStsEndpoint } from './caller-proof.js';
import { TokenClientError } from './errors.js';

/** The refresher's default `secretPrefix`. */
export const DEFAULT_SECRET_PREFIX = 'token-refresher';

/**
 * Default bound on one request to the read function. The read function itself waits up to 20 s for
 * an on-demand refresh before it answers 503, so the client waits a little longer than that.
 */
export const DEFAULT_READ_FUNCTION_TIMEOUT_MS = 25_000;

/** `https://<url-id>.lambda-url.<region>.on.aws/`: the region a Function URL lives in. */
const FUNCTION_URL_HOST_PATTERN = /^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/;

/** @throws TokenClientError `invalid_options` */
export function checkSecretPrefix(secretPrefix: unknown): string {
  if (secretPrefix === undefined) return DEFAULT_SECRET_PREFIX;
  if (typeof secretPrefix !== 'string' || secretPrefix === '' || secretPrefix.endsWith('/')) {
    throw new TokenClientError(
      `secretPrefix must be the refresher's secretPrefix, non-empty and without a trailing "/" ` +
        `(default "${DEFAULT_SECRET_PREFIX}")`,
      'invalid_options',
    );
  }
  return secretPrefix;
}

/** A DynamoDB table name, or a table's ARN (GetItem takes either). */
const TOKEN_TABLE_PATTERN =
  /^([\w.-]{3,255}|arn:aws[a-z-]*:dynamodb:[a-z0-9-]+:\d{12}:table\/[\w.-]{3,255})$/;

/**
 * The `tableName` of the `dynamodb` source.
 * @throws TokenClientError `invalid_options`
 */
export function checkTokenTableName(tableName: unknown): string {
  if (typeof tableName !== 'string' || !TOKEN_TABLE_PATTERN.test(tableName)) {
    throw new TokenClientError(
      "tableName must be the token table's name (the stack output TokenTableName) or its ARN",
      'invalid_options',
    );
  }
  return tableName;
}

/** Where and how to reach the read function. */
export interface ReadFunctionEndpoint {
  /** The Function URL, ending with `/`; request paths are resolved against it. */
  readonly baseUrl: URL;
  /** The SigV4 signing region. */
  readonly region: string;
  readonly timeoutMs: number;
  /** The read function's name: caller proofs are bound to it. */
  readonly functionName: string;
  /** Where the caller proof's `sts:GetCallerIdentity` request is addressed (the read function sends it). */
  readonly stsEndpoint: URL;
}

/** A Lambda function name (the `ReadFunctionName` stack output). */
const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Check the read function's URL and pick the signing region: the `region` option, else the region in
 * a Function URL's host name (`<id>.lambda-url.<region>.on.aws`, right even when the consumer runs in
 * another region), else `AWS_REGION`. The caller proof goes to the `stsEndpoint` option, else
 * `AWS_ENDPOINT_URL_STS` / `AWS_ENDPOINT_URL` (as the AWS SDK reads them), else STS in that region.
 * @throws TokenClientError `invalid_options`, naming the option and the fix
 */
export function resolveReadFunctionEndpoint(
  options: {
    readonly url?: unknown;
    readonly region?: unknown;
    readonly timeoutMs?: unknown;
    readonly functionName?: unknown;
    readonly stsEndpoint?: unknown;
  },
  environment: Readonly<Record<string, string | undefined>> = process.env,
): ReadFunctionEndpoint {
  const baseUrl = readFunctionUrl(options.url);
  const region = signingRegion(options.region, baseUrl, environment);
  const timeoutMs = options.timeoutMs ?? DEFAULT_READ_FUNCTION_TIMEOUT_MS;
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw invalidOptions(
      `timeoutMs must be a positive number of milliseconds (default ${DEFAULT_READ_FUNCTION_TIMEOUT_MS})`,
    );
  }
  const { functionName } = options;
  if (typeof functionName !== 'string' || !FUNCTION_NAME_PATTERN.test(functionName)) {
    throw invalidOptions(
      "functionName must be the read function's name (the stack output ReadFunctionName): " +
        'the proof of the caller identity is bound to it',
    );
  }
  const stsEndpoint = stsEndpointOf(
    options.stsEndpoint ??
      environment.AWS_ENDPOINT_URL_STS ??
      environment.AWS_ENDPOINT_URL ??
      regionalStsEndpoint(region),
  );
  return { baseUrl, region, timeoutMs, functionName, stsEndpoint };
}

/** https, or http on loopback (the emulator); nothing but an origin and `/`. */
function stsEndpointOf(value: unknown): URL {
  const endpoint = typeof value === 'string' && URL.canParse(value) ? new URL(value) : null;
  const fix =
    'stsEndpoint must be an https origin such as https://sts.eu-west-1.amazonaws.com (http only on 127.0.0.1/localhost)';
  if (endpoint === null || !isSecureOrLoopback(endpoint)) throw invalidOptions(fix);
  if (
    endpoint.pathname !== '/' ||
    endpoint.search !== '' ||
    endpoint.hash !== '' ||
    endpoint.username !== ''
  ) {
    throw invalidOptions(fix);
  }
  return endpoint;
}

function isSecureOrLoopback(url: URL): boolean {
  const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost';
  return url.protocol === 'https:' || (url.protocol === 'http:' && loopback);
}

/** The `url` option as a base URL ending with `/`: https (http on loopback), nothing but a path. */
function readFunctionUrl(url: unknown): URL {
  if (typeof url !== 'string' || url === '') {
    throw invalidOptions('url must be the read function URL, e.g. https://<id>.lambda-url.<region>.on.aws/');
  }
  let baseUrl: URL;
  try {
    baseUrl = new URL(url);
  } catch {
    throw invalidOptions('url is not a valid URL; pass the read function URL');
  }
  if (!isSecureOrLoopback(baseUrl)) {
    throw invalidOptions('url must use https (plain http is allowed only for 127.0.0.1/localhost)');
  }
  if (baseUrl.search !== '' || baseUrl.hash !== '' || baseUrl.username !== '' || baseUrl.password !== '') {
    throw invalidOptions('url must not carry a query, fragment or user info');
  }
  if (!baseUrl.pathname.endsWith('/')) baseUrl.pathname = `${baseUrl.pathname}/`;
  return baseUrl;
}

/** The `region` option, else a Function URL host's region, else `AWS_REGION`. */
function signingRegion(
  option: unknown,
  baseUrl: URL,
  environment: Readonly<Record<string, string | undefined>>,
): string {
  const region = option ?? FUNCTION_URL_HOST_PATTERN.exec(baseUrl.hostname)?.[1] ?? environment.AWS_REGION;
  if (typeof region !== 'string' || !/^[a-z0-9-]{1,64}$/.test(region)) {
    throw invalidOptions(
      'region is needed to sign requests: pass the read function\'s region (e.g. "eu-west-1") or set AWS_REGION',
    );
  }
  return region;
}

function invalidOptions(message: string): TokenClientError {
  return new TokenClientError(message, 'invalid_options');
}
