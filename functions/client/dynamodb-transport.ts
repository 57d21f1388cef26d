/**
 * Which way the DynamoDB source sends `GetItem`: without the AWS SDK (transport `fetch`, one signed
 * `DynamoDB_20120810.GetItem` request) or through the SDK's `DynamoDBClient` (transport `sdk`). The
 * rules are the Secrets Manager source's ({@link planTransport}); nothing here loads the signer or the
 * SDK (the index checks these options at cold start).
 *
 * One difference from the SDK is accepted: when the credentials carry an account id (e.g. from
 * `AWS_ACCOUNT_ID`, or SSO), the SDK's `DynamoDBClient` sends to the account-based endpoint
 * `https://<account>.ddb.<region>.amazonaws.com`, the `fetch` transport to the regional one; both are
 * the same table and give the same answers. Only `AWS_ACCOUNT_ID_ENDPOINT_MODE=required` (and
 * `clientConfig.accountIdEndpointMode`, like every SDK-only setting) selects the SDK.
 */
import type { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DYNAMODB_SERVICE } from './aws-endpoint.js';
import { checkTokenTableName } from './options.js';
import {
  planTransport,
  type SecretsManagerTransport,
  type TransportOptions,
  type TransportPlan,
} from './secrets-manager-transport.js';

/** `'fetch'`: one signed request, no SDK code loaded. `'sdk'`: the AWS SDK's `DynamoDBClient`. */
export type DynamoDbTransport = SecretsManagerTransport;

/**
 * Defaults of the client built when none is injected: a few quick retries, and timeouts. The `fetch`
 * transport makes the same number of attempts, each bounded by the sum of the two timeouts.
 */
export const DEFAULT_DYNAMODB_CLIENT_CONFIG = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 },
} as const;

/** The options that choose and configure the transport (see `DynamoDbSourceOptions`). */
export interface DynamoDbTransportOptions extends TransportOptions {
  readonly client?: DynamoDBClient;
  readonly clientConfig?: DynamoDBClientConfig;
}

/**
 * Choose the DynamoDB source's transport: {@link planTransport}'s rules, with DynamoDB's endpoint
 * variable (`AWS_ENDPOINT_URL_DYNAMODB`), and the SDK where account-based endpoints are required.
 * @throws TokenClientError `invalid_options`
 */
export function planDynamoDbTransport(
  options: DynamoDbTransportOptions,
  environment: Readonly<Record<string, string | undefined>> = process.env,
): TransportPlan {
  return planTransport(
    {
      service: DYNAMODB_SERVICE,
      defaults: DEFAULT_DYNAMODB_CLIENT_CONFIG,
      sdkOnlyReason: accountEndpointsRequired,
    },
    options,
    environment,
  );
}

/**
 * Check the DynamoDB source's options as its constructor does, building nothing: the index checks
 * them at cold start and loads the source on the first read.
 * @throws TokenClientError `invalid_options`
 */
export function checkDynamoDbSourceOptions(
  options: DynamoDbTransportOptions & { readonly tableName?: unknown },
): void {
  checkTokenTableName(options?.tableName);
  planDynamoDbTransport(options);
}

function accountEndpointsRequired(
  environment: Readonly<Record<string, string | undefined>>,
): string | undefined {
  return environment.AWS_ACCOUNT_ID_ENDPOINT_MODE?.toLowerCase() === 'required'
    ? 'AWS_ACCOUNT_ID_ENDPOINT_MODE is "required" (account-based endpoints)'
    : undefined;
}
