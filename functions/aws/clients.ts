/**
 * The one place that builds AWS SDK clients for the handlers (once per container, at cold start).
 *
 * Region and endpoint are not set here on purpose: SDK v3 reads `AWS_REGION` (always set in Lambda)
 * and `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_SECRETS_MANAGER`) by
 * itself (`@smithy/core` `getEndpointUrlConfig`, checked with the installed SDK 3.116x), so the local
 * runner and the integration tests point the same code at an emulator through the environment alone.
 *
 * Each client's factory lives next to its adapter, and this module imports no SDK client: a bundle
 * loads only the clients it uses (the read function never loads DynamoDB or Scheduler).
 */
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
