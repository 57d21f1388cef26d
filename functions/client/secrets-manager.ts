/**
 * Source `secrets-manager`: the consumer reads the token secret `<secretPrefix>/<provider>/token`
 * itself (it needs `grantRead` on it). One `GetSecretValue` per token generation per container.
 *
 * `GetSecretValue` goes out as one SigV4-signed HTTPS request by default (transport `fetch`: no AWS
 * SDK code is loaded, credentials come from the Lambda environment), or through the AWS SDK's
 * `SecretsManagerClient` (transport `sdk`, imported on first read); both give the same error codes
 * (secrets-manager-transport.ts).
 *
 * This source cannot trigger a refresh: after a 401, `withToken` reads the secret again (bypassing
 * the cache) and retries only if the refresher has already written another token. For on-demand
 * refresh use the read function (`./read-function.js`).
 *
 * Entry point `@token-refresher/client/secrets-manager`: nothing of the read function source.
 */
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { SECRETS_MANAGER_SERVICE } from './aws-endpoint.js';
import { TokenClientError } from './errors.js';
import type { HttpFetch } from './http.js';
import { checkSecretPrefix } from './options.js';
import {
  DEFAULT_SECRETS_MANAGER_CLIENT_CONFIG,
  planSecretsManagerTransport,
  type SecretsManagerTransport,
  type SecretsManagerTransportOptions,
  type TransportPlan,
} from './secrets-manager-transport.js';
import { type AwsRequestError, awsJsonClientFor } from './signed-fetch.js';
import { type ClientToken, toClientToken } from './token.js';
import { type Clock, TokenClient, type TokenClientOptions, type TokenSource } from './token-client.js';

// Everything a consumer of this entry point needs, so that it never has to import the index (which
// reaches both sources).
export { TokenClientError, type TokenClientErrorCode } from './errors.js';
export type { HttpFetch, HttpRequestInit, HttpResponse } from './http.js';
export {
  DEFAULT_SECRETS_MANAGER_CLIENT_CONFIG,
  type SecretsManagerTransport,
} from './secrets-manager-transport.js';
export type { ClientToken } from './token.js';
export { type Clock, TokenClient, type TokenClientOptions, type WithTokenOptions } from './token-client.js';

export interface SecretsManagerSourceOptions {
  /**
   * The refresher's `secretPrefix`: the token secret is `<secretPrefix>/<provider>/token`.
   * @default 'token-refresher'
   */
  readonly secretPrefix?: string;
  /**
   * How `GetSecretValue` is sent:
   * - `'fetch'`: one SigV4-signed HTTPS request, no AWS SDK code loaded. Credentials: `clientConfig`'s,
   *   else the environment's (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`: the
   *   function's role on Lambda), else the SDK's default chain (`@aws-sdk/credential-provider-node`,
   *   imported then). Region: `clientConfig.region`, else `AWS_REGION`. Endpoint: `clientConfig.endpoint`,
   *   else `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL`, else the regional one.
   * - `'sdk'`: the AWS SDK's `SecretsManagerClient` (`client`, or one built from `clientConfig`),
   *   imported on the first read.
   *
   * @default `'fetch'`, unless `client` is given, `clientConfig` sets anything but a string `region`
   *   and `endpoint`, `credentials` and `maxAttempts`, no region is set, or `AWS_USE_FIPS_ENDPOINT` /
   *   `AWS_USE_DUALSTACK_ENDPOINT` is: then `'sdk'`, which resolves those as the SDK always does
   */
  readonly transport?: SecretsManagerTransport;
  /** An SDK client to use (share one per container; tests pass a mocked one): transport `sdk`. */
  readonly client?: SecretsManagerClient;
  /**
   * Client config: `region`, `endpoint`, `credentials` and `maxAttempts` apply to both transports;
   * anything else selects transport `sdk` (or is refused with `transport: 'fetch'`).
   * @default {@link DEFAULT_SECRETS_MANAGER_CLIENT_CONFIG}
   */
  readonly clientConfig?: SecretsManagerClientConfig;
  /** Transport `fetch`: the HTTP function (`globalThis.fetch` will do). @default over `node:https` */
  readonly fetch?: HttpFetch;
  /** Transport `fetch`: dates the signatures. @default the system clock */
  readonly clock?: Clock;
}

export interface SecretsManagerTokenClientOptions extends SecretsManagerSourceOptions, TokenClientOptions {}

/** The name of a provider's token secret (as `tokenSecretName` in `functions/aws/token-store.ts`). */
export function tokenSecretName(secretPrefix: string, provider: string): string {
  return `${secretPrefix}/${provider}/token`;
}

/** {@link TokenSource} over `GetSecretValue` of the token secret's `AWSCURRENT` version. */
export class SecretsManagerTokenSource implements TokenSource {
  readonly #secretPrefix: string;
  readonly #getSecretString: GetSecretString;

  /** @throws TokenClientError `invalid_options` */
  constructor(options: SecretsManagerSourceOptions = {}) {
    this.#secretPrefix = checkSecretPrefix(options.secretPrefix);
    this.#getSecretString = secretsManagerTransport(planSecretsManagerTransport(options), options);
  }

  /** @throws TokenClientError (see {@link parseTokenSecret} and {@link translateSecretsManagerError}) */
  async read(provider: string): Promise<ClientToken> {
    const secretId = tokenSecretName(this.#secretPrefix, provider);
    let secretString: string | undefined;
    try {
      secretString = await this.#getSecretString(secretId);
    } catch (error) {
      throw translateSecretsManagerError(error, secretId);
    }
    return parseTokenSecret(provider, secretString, secretId);
  }

  /** Secrets Manager cannot refresh: read again, and let the client compare. */
  replaceRejected(provider: string): Promise<ClientToken> {
    return this.read(provider);
  }
}

/**
 * A client reading tokens straight from Secrets Manager. Build it once per container.
 * @throws TokenClientError `invalid_options`
 */
export function createSecretsManagerTokenClient(options: SecretsManagerTokenClientOptions = {}): TokenClient {
  return new TokenClient(new SecretsManagerTokenSource(options), options);
}

/**
 * The token in a token secret's `SecretString`.
 * @throws TokenClientError `token_not_ready` (the stack's placeholder `{"status":"pending"}`: no
 *   refresh has succeeded yet; or `token-refresher revoke`'s `{"status":"revoked"}` until the next
 *   refresh), `invalid_token_record`, `provider_mismatch`
 */
export function parseTokenSecret(
  provider: string,
  secretString: string | undefined,
  secretId: string,
): ClientToken {
  const what = `Token secret "${secretId}"`;
  if (secretString === undefined) {
    throw new TokenClientError(`${what} has no SecretString`, 'invalid_token_record');
  }
  let value: unknown;
  try {
    value = JSON.parse(secretString);
  } catch {
    // The raw string is never quoted: it could be a token.
    throw new TokenClientError(`${what} does not hold JSON`, 'invalid_token_record');
  }
  const placeholder = placeholderStatus(value);
  if (placeholder !== undefined) {
    throw new TokenClientError(
      placeholder === 'revoked'
        ? `${what} holds no token (status "revoked"): the token was revoked; the next refresh of provider "${provider}" writes a new one`
        : `${what} holds no token yet (status "pending"): the first refresh of provider "${provider}" has not ` +
            'succeeded; check that its credentials secret is filled and the refresher has run',
      'token_not_ready',
    );
  }
  return toClientToken(provider, value, what);
}

/**
 * Translate an exception of `GetSecretValue` (the SDK's, or the `fetch` transport's, which is named
 * the same) into a {@link TokenClientError}. A `TokenClientError` is returned as it is.
 *
 * | exception | code |
 * |---|---|
 * | `ResourceNotFoundException` | `secret_not_found` |
 * | `AccessDeniedException`, `DecryptionFailure` | `access_denied` |
 * | anything else (throttling, 5xx, network, timeout, no credentials) | `read_failed` |
 */
export function translateSecretsManagerError(error: unknown, secretId: string): TokenClientError {
  if (error instanceof TokenClientError) return error;
  const name = error instanceof Error ? error.name : 'UnknownError';
  switch (name) {
    case 'ResourceNotFoundException':
      return new TokenClientError(
        `Token secret "${secretId}" was not found (${name}); check secretPrefix and the provider name`,
        'secret_not_found',
        { cause: error },
      );
    case 'AccessDeniedException':
    case 'DecryptionFailure':
      return new TokenClientError(
        `Reading token secret "${secretId}" was denied (${name}); grant the consumer read access ` +
          '(TokenRefresher.grantRead: GetSecretValue on the secret and kms:Decrypt on its key)',
        'access_denied',
        { cause: error },
      );
    default:
      return new TokenClientError(`Reading token secret "${secretId}" failed (${name})`, 'read_failed', {
        cause: error,
      });
  }
}

/** `GetSecretValue` of a secret's `AWSCURRENT` version: its `SecretString`. */
type GetSecretString = (secretId: string) => Promise<string | undefined>;

/**
 * The planned transport's `GetSecretValue`. Both answer the output's `SecretString` or throw what
 * {@link translateSecretsManagerError} turns into the same codes: the SDK's exceptions, or the `fetch`
 * transport's {@link AwsRequestError}s, named as the SDK names them.
 */
function secretsManagerTransport(
  plan: TransportPlan,
  options: SecretsManagerTransportOptions,
): GetSecretString {
  return plan.kind === 'fetch' ? fetchTransport(plan, options) : sdkTransport(options);
}

function fetchTransport(
  plan: Extract<TransportPlan, { kind: 'fetch' }>,
  options: SecretsManagerTransportOptions,
): GetSecretString {
  const client = awsJsonClientFor(SECRETS_MANAGER_SERVICE, plan, options);
  return async (secretId) => {
    // The stage is explicit: it is what we mean, and without it moto may answer another version.
    const output = await client.request('GetSecretValue', { SecretId: secretId, VersionStage: 'AWSCURRENT' });
    const secretString = (output as { SecretString?: unknown } | null)?.SecretString;
    return typeof secretString === 'string' ? secretString : undefined;
  };
}

function sdkTransport(options: SecretsManagerTransportOptions): GetSecretString {
  let loading: ReturnType<typeof loadSdk> | undefined;
  return async (secretId) => {
    loading ??= loadSdk(options).catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    const { client, GetSecretValueCommand } = await loading;
    const output = await client.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }),
    );
    return output.SecretString;
  };
}

/**
 * The SDK, imported with `import()` on first use, never statically: a bundler hoists a static import
 * of an external package to the top of the bundle, where it loads at cold start (even from the index,
 * which loads this module itself lazily), whereas it keeps a dynamic one dynamic.
 */
async function loadSdk(options: SecretsManagerTransportOptions) {
  let sdk: typeof import('@aws-sdk/client-secrets-manager');
  try {
    sdk = await import('@aws-sdk/client-secrets-manager');
  } catch (error) {
    throw new TokenClientError(
      'The AWS SDK (@aws-sdk/client-secrets-manager) could not be loaded: install it, or let the source ' +
        'use transport "fetch" (set AWS_REGION, pass no client)',
      'read_failed',
      { cause: error },
    );
  }
  const client =
    options.client ??
    new sdk.SecretsManagerClient({ ...DEFAULT_SECRETS_MANAGER_CLIENT_CONFIG, ...options.clientConfig });
  return { client, GetSecretValueCommand: sdk.GetSecretValueCommand };
}

/** The status of a value the refresher writes in place of a token: the stack's placeholder, or revoke's. */
function placeholderStatus(value: unknown): 'pending' | 'revoked' | undefined {
  if (typeof value !== 'object' || value === null || 'accessToken' in value) return undefined;
  const { status } = value as { status?: unknown };
  return status === 'pending' || status === 'revoked' ? status : undefined;
}
