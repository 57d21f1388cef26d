/**
 * How the read function reaches AWS for its hot reads (`GetSecretValue`, `GetItem`) and the on-demand
 * refresh (`Invoke`): SDK-free signed requests (transport `fetch`, the default: no AWS SDK module is
 * loaded at cold start) or the AWS SDK's clients (transport `sdk`, each imported on first use). Both
 * give the same answers and error codes (test/integration/read-transports.test.ts).
 *
 * The `fetch` transport resolves what the SDK resolves from code and environment, as the consumer
 * client's Secrets Manager source does (`functions/client/secrets-manager-transport.ts`), with the same
 * modules: region from `clientConfig.region`, else `AWS_REGION`; endpoint from `clientConfig.endpoint`,
 * else `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`, else the regional one; credentials from
 * `clientConfig.credentials`, else the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 * `AWS_SESSION_TOKEN`: the function's role on Lambda), else the SDK's default chain (imported then).
 * Nothing here imports the SDK or the signer.
 */
import {
  type AwsJsonService,
  DYNAMODB_SERVICE,
  resolveAwsEndpoint,
  SECRETS_MANAGER_SERVICE,
} from '../client/aws-endpoint.js';
import { type CredentialsOption, defaultCredentials } from '../client/credentials.js';
import type { AwsClientConfig } from './client-config.js';
import { DEFAULT_CLIENT_CONFIG } from './clients.js';

/** The variable that selects the read function's transport; its values are the client's `transport` option's. */
export const AWS_TRANSPORT_VARIABLE = 'TOKEN_REFRESHER_AWS_TRANSPORT';

/** `'fetch'`: signed requests, no SDK code loaded. `'sdk'`: the AWS SDK's clients, imported on first use. */
export type AwsTransport = 'fetch' | 'sdk';

/** Lambda, as far as an endpoint goes (its API is REST-JSON: no target header, no JSON version). */
export const LAMBDA_SERVICE: Pick<AwsJsonService, 'signingName' | 'endpointPrefix' | 'endpointVariable'> = {
  signingName: 'lambda',
  endpointPrefix: 'lambda',
  endpointVariable: 'LAMBDA',
};

/** One attempt of a `fetch` request is bounded by the SDK clients' two timeouts together. */
export const FETCH_ATTEMPT_TIMEOUT_MS =
  DEFAULT_CLIENT_CONFIG.requestHandler.connectionTimeout +
  DEFAULT_CLIENT_CONFIG.requestHandler.requestTimeout;

type Environment = Readonly<Record<string, string | undefined>>;

/** What the `fetch` transport needs: one region and credentials, an endpoint per service. */
export interface FetchTransportSettings {
  readonly region: string;
  readonly credentials: CredentialsOption;
  readonly maxAttempts: number;
  readonly endpoints: {
    readonly secretsManager: URL;
    readonly dynamodb: URL;
    readonly lambda: URL;
  };
}

/** The chosen transport; `sdk` says why when it was not asked for. */
export type AwsTransportPlan =
  | ({ readonly kind: 'fetch' } & FetchTransportSettings)
  | { readonly kind: 'sdk'; readonly reason: string };

/**
 * The transport the variable names: `fetch`, `sdk`, or `undefined` when unset (then `fetch` where it
 * can be used).
 * @throws Error naming the variable and its values (caught at cold start)
 */
export function awsTransportFromEnvironment(environment: Environment): AwsTransport | undefined {
  const value = environment[AWS_TRANSPORT_VARIABLE]?.trim();
  if (value === undefined || value === '') return undefined;
  if (value === 'fetch' || value === 'sdk') return value;
  throw new Error(
    `${AWS_TRANSPORT_VARIABLE} must be "fetch" (SDK-free signed requests, the default) or "sdk" (the AWS SDK's ` +
      `clients), not ${JSON.stringify(value.slice(0, 40))}; unset it for the default`,
  );
}

/**
 * Choose the transport. Without `transport`: `fetch`, unless no region is set (the SDK would also read
 * the shared config file) or FIPS / dual-stack endpoints are asked for (`AWS_USE_FIPS_ENDPOINT`,
 * `AWS_USE_DUALSTACK_ENDPOINT`): then `sdk`, which resolves those as it always does. With
 * `transport: 'fetch'` each of those is an error instead.
 * @throws Error naming what is missing, when `fetch` is asked for and cannot be used
 */
export function planAwsTransport(input: {
  readonly transport: AwsTransport | undefined;
  readonly clientConfig: AwsClientConfig;
  readonly environment: Environment;
}): AwsTransportPlan {
  const { transport, clientConfig, environment } = input;
  if (transport === 'sdk') return { kind: 'sdk', reason: `${AWS_TRANSPORT_VARIABLE}=sdk` };
  const needsSdk = (reason: string): AwsTransportPlan => {
    if (transport === 'fetch') {
      throw new Error(
        `${AWS_TRANSPORT_VARIABLE}=fetch cannot be used: ${reason}; set it to "sdk" or unset it`,
      );
    }
    return { kind: 'sdk', reason };
  };
  const region = clientConfig.region || environment.AWS_REGION;
  if (!region) return needsSdk('no region is set (AWS_REGION)');
  const endpoints: Partial<Record<keyof FetchTransportSettings['endpoints'], URL>> = {};
  for (const [key, service] of [
    ['secretsManager', SECRETS_MANAGER_SERVICE],
    ['dynamodb', DYNAMODB_SERVICE],
    ['lambda', LAMBDA_SERVICE],
  ] as const) {
    const resolved = resolveAwsEndpoint(service, region, clientConfig.endpoint, environment);
    if ('unsupported' in resolved) return needsSdk(resolved.unsupported);
    endpoints[key] = resolved.endpoint;
  }
  const { secretsManager, dynamodb, lambda } = endpoints;
  if (secretsManager === undefined || dynamodb === undefined || lambda === undefined) {
    return needsSdk('an endpoint could not be resolved');
  }
  return {
    kind: 'fetch',
    region,
    credentials: clientConfig.credentials ?? defaultCredentials(environment),
    maxAttempts: clientConfig.maxAttempts ?? DEFAULT_CLIENT_CONFIG.maxAttempts,
    endpoints: { secretsManager, dynamodb, lambda },
  };
}
