/**
 * The one place that builds AWS SDK clients for the handlers (once per container, at cold start).
 *
 * Region and endpoint are not set here on purpose: SDK v3 reads `AWS_REGION` (always set in Lambda)
 * and `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_SECRETS_MANAGER`) by
 * itself (`@smithy/core` `getEndpointUrlConfig`, checked with the installed SDK 3.116x), so the local
 * runner and the integration tests point the same code at an emulator through the environment alone.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { LambdaClient, type LambdaClientConfig } from '@aws-sdk/client-lambda';
import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';

/**
 * Defaults shared by every client.
 *
 * - `maxAttempts: 3` (the SDK's standard mode: exponential backoff with jitter, throttling-aware):
 *   every call runs inside a lease that is shorter than the Lambda timeout, so a few quick retries
 *   beat many slow ones; what still fails becomes a transient `StoreError` and the next scheduled run
 *   tries again.
 * - Connection and socket timeouts: without them a hung socket would hold the call until the Lambda
 *   times out, far past the lease.
 */
export const DEFAULT_CLIENT_CONFIG = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 },
} as const;

/** A Secrets Manager client with {@link DEFAULT_CLIENT_CONFIG}; `config` wins over the defaults. */
export function createSecretsManagerClient(config: SecretsManagerClientConfig = {}): SecretsManagerClient {
  return new SecretsManagerClient({ ...DEFAULT_CLIENT_CONFIG, ...config });
}

/** A DynamoDB client with {@link DEFAULT_CLIENT_CONFIG}; `config` wins over the defaults. */
export function createDynamoDbClient(config: DynamoDBClientConfig = {}): DynamoDBClient {
  return new DynamoDBClient({ ...DEFAULT_CLIENT_CONFIG, ...config });
}

/**
 * A Lambda client for the read function's on-demand refresh (a synchronous Invoke of the refresh
 * function). One attempt: a retried Invoke would queue a second refresh behind the first, and the
 * read path polls the token secret instead; the read-path bound is set per call by an abort signal.
 */
export function createLambdaClient(config: LambdaClientConfig = {}): LambdaClient {
  return new LambdaClient({ maxAttempts: 1, requestHandler: { connectionTimeout: 3_000 }, ...config });
}
