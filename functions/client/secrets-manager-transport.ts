/**
 * Which way the Secrets Manager source sends `GetSecretValue`: without the AWS SDK (transport
 * `fetch`, one signed request) or through the SDK's `SecretsManagerClient` (transport `sdk`). Decided
 * from the options and the environment when the client is built, so a contradictory option fails at
 * cold start; nothing here loads the signer or the SDK (the index imports this module at once).
 * {@link planTransport} holds the rules for any AWS JSON service: the DynamoDB source plans with it
 * too (dynamodb-transport.ts).
 */
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { type AwsJsonService, resolveAwsEndpoint, SECRETS_MANAGER_SERVICE } from './aws-endpoint.js';
import type { CredentialsOption } from './credentials.js';
import { TokenClientError } from './errors.js';
import type { HttpFetch } from './http.js';
import { checkSecretPrefix } from './options.js';

/** `'fetch'`: signed requests, no SDK code loaded. `'sdk'`: the AWS SDK's `SecretsManagerClient`. */
export type SecretsManagerTransport = 'fetch' | 'sdk';

/**
 * Defaults of the client built when none is injected: a few quick retries, and timeouts so that a
 * hung connection does not hold a consumer's request until its Lambda times out. The `fetch`
 * transport makes the same number of attempts, each bounded by the sum of the two timeouts.
 */
export const DEFAULT_SECRETS_MANAGER_CLIENT_CONFIG = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 },
} as const;

/** A source's SDK client defaults, which the `fetch` transport follows: attempts, and the two timeouts. */
export interface TransportDefaults {
  readonly maxAttempts: number;
  readonly requestHandler: { readonly connectionTimeout: number; readonly requestTimeout: number };
}

/** The options that choose and configure a source's transport, whatever its SDK client. */
export interface TransportOptions {
  readonly transport?: SecretsManagerTransport;
  readonly client?: unknown;
  readonly clientConfig?: object;
  readonly fetch?: HttpFetch;
  readonly clock?: { now(): number };
}

/** The options that choose and configure the transport (see `SecretsManagerSourceOptions`). */
export interface SecretsManagerTransportOptions extends TransportOptions {
  readonly client?: SecretsManagerClient;
  readonly clientConfig?: SecretsManagerClientConfig;
}

/**
 * Check the Secrets Manager source's options as its constructor does, building nothing: the index
 * checks them at cold start and loads the source on the first read.
 * @throws TokenClientError `invalid_options`
 */
export function checkSecretsManagerSourceOptions(
  options: SecretsManagerTransportOptions & { readonly secretPrefix?: unknown },
): void {
  checkSecretPrefix(options.secretPrefix);
  planSecretsManagerTransport(options);
}

/** `clientConfig` settings the `fetch` transport applies itself; any other one needs the SDK. */
const FETCH_CONFIG_CHECKS: Readonly<Record<string, (value: unknown) => boolean>> = {
  region: (value) => typeof value === 'string',
  endpoint: (value) => typeof value === 'string',
  credentials: (value) => typeof value === 'function' || (typeof value === 'object' && value !== null),
  maxAttempts: (value) => typeof value === 'number' && Number.isInteger(value) && value >= 1,
};

/** Which transport, and what it needs; `sdk` also where `fetch` cannot do what the SDK would. */
export type TransportPlan =
  | {
      readonly kind: 'fetch';
      readonly region: string;
      readonly endpoint: URL;
      readonly credentials: CredentialsOption | undefined;
      readonly maxAttempts: number;
      /** Bound on one attempt (ms). */
      readonly attemptTimeoutMs: number;
    }
  | { readonly kind: 'sdk'; readonly reason: string };

/**
 * Choose the Secrets Manager source's transport ({@link planTransport} for Secrets Manager).
 * @throws TokenClientError `invalid_options`
 */
export function planSecretsManagerTransport(
  options: SecretsManagerTransportOptions,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): TransportPlan {
  return planTransport(
    { service: SECRETS_MANAGER_SERVICE, defaults: DEFAULT_SECRETS_MANAGER_CLIENT_CONFIG },
    options,
    environment,
  );
}

/** The service a transport is planned for, and its source's SDK client defaults. */
export interface TransportTarget {
  readonly service: AwsJsonService;
  readonly defaults: TransportDefaults;
  /** Why this service's SDK client would reach another endpoint than `fetch` would, if it would. */
  readonly sdkOnlyReason?: (environment: Readonly<Record<string, string | undefined>>) => string | undefined;
}

/**
 * Choose the transport. Without `transport`: `fetch`, unless a `client` is given, or `clientConfig`
 * holds a setting other than a string `region` and `endpoint`, `credentials` and `maxAttempts`, or no
 * region is set in code or `AWS_REGION` (the SDK also reads the shared config file), or FIPS or
 * dual-stack endpoints are asked for (or what `target.sdkOnlyReason` names). With `transport: 'fetch'` each
 * of those is an error instead.
 * @throws TokenClientError `invalid_options`
 */
export function planTransport(
  target: TransportTarget,
  options: TransportOptions,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): TransportPlan {
  const { transport } = options;
  if (transport !== undefined && transport !== 'fetch' && transport !== 'sdk') {
    throw invalidOptions(`transport must be "fetch" or "sdk", not ${JSON.stringify(transport)}`);
  }
  if (transport === 'sdk') return { kind: 'sdk', reason: 'transport "sdk"' };
  const needsSdk = (reason: string): TransportPlan => {
    if (transport === 'fetch') {
      throw invalidOptions(`transport "fetch" cannot be used: ${reason}; use transport "sdk"`);
    }
    return { kind: 'sdk', reason };
  };
  if (options.client !== undefined) return needsSdk('a client is given');
  const config = (options.clientConfig ?? {}) as Readonly<Record<string, unknown>>;
  const sdkOnly = Object.keys(config).filter(
    (key) => config[key] !== undefined && !FETCH_CONFIG_CHECKS[key]?.(config[key]),
  );
  if (sdkOnly.length > 0) return needsSdk(`clientConfig sets ${sdkOnly.join(', ')}`);
  const region = (config.region as string | undefined) || environment.AWS_REGION;
  if (!region) return needsSdk('no region is set (clientConfig.region or AWS_REGION)');
  const resolved = resolveAwsEndpoint(
    target.service,
    region,
    config.endpoint as string | undefined,
    environment,
  );
  if ('unsupported' in resolved) return needsSdk(resolved.unsupported);
  const serviceReason = target.sdkOnlyReason?.(environment);
  if (serviceReason !== undefined) return needsSdk(serviceReason);
  const { maxAttempts, requestHandler } = target.defaults;
  return {
    kind: 'fetch',
    region,
    endpoint: resolved.endpoint,
    credentials: config.credentials as CredentialsOption | undefined,
    maxAttempts: (config.maxAttempts as number | undefined) ?? maxAttempts,
    attemptTimeoutMs: requestHandler.connectionTimeout + requestHandler.requestTimeout,
  };
}

function invalidOptions(message: string): TokenClientError {
  return new TokenClientError(message, 'invalid_options');
}
