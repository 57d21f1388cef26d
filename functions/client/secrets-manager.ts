/**
 * Source `secrets-manager`: the consumer reads the token secret `<secretPrefix>/<provider>/token`
 * itself (it needs `grantRead` on it). One `GetSecretValue` per token generation per container.
 *
 * This source cannot trigger a refresh: after a 401, `withToken` reads the secret again (bypassing
 * the cache) and retries only if the refresher has already written another token. For on-demand
 * refresh use the read function (`./read-function.js`).
 *
 * Entry point `@token-refresher/client/secrets-manager`: imports only the Secrets Manager client.
 */
import {
  GetSecretValueCommand,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { TokenClientError } from './errors.js';
import { checkSecretPrefix } from './options.js';
import { type ClientToken, toClientToken } from './token.js';
import { TokenClient, type TokenClientOptions, type TokenSource } from './token-client.js';

/**
 * Defaults of the client built when none is injected: a few quick retries, and timeouts so that a
 * hung connection does not hold a consumer's request until its Lambda times out.
 */
export const DEFAULT_SECRETS_MANAGER_CLIENT_CONFIG = {
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 3_000, requestTimeout: 5_000 },
} as const;

// Everything a consumer of this entry point needs, so that it never has to import the index (which
// reaches both sources).
export { TokenClientError, type TokenClientErrorCode } from './errors.js';
export type { ClientToken } from './token.js';
export { type Clock, TokenClient, type TokenClientOptions, type WithTokenOptions } from './token-client.js';

export interface SecretsManagerSourceOptions {
  /**
   * The refresher's `secretPrefix`: the token secret is `<secretPrefix>/<provider>/token`.
   * @default 'token-refresher'
   */
  readonly secretPrefix?: string;
  /** A client to use (share one per container; tests pass a mocked one). Wins over `clientConfig`. */
  readonly client?: SecretsManagerClient;
  /**
   * Config of the client built when `client` is absent; region and endpoint come from the
   * environment (`AWS_REGION`, `AWS_ENDPOINT_URL_SECRETS_MANAGER`) unless set here.
   * @default {@link DEFAULT_SECRETS_MANAGER_CLIENT_CONFIG}
   */
  readonly clientConfig?: SecretsManagerClientConfig;
}

export interface SecretsManagerTokenClientOptions extends SecretsManagerSourceOptions, TokenClientOptions {}

/** The name of a provider's token secret (as `tokenSecretName` in `functions/aws/token-store.ts`). */
export function tokenSecretName(secretPrefix: string, provider: string): string {
  return `${secretPrefix}/${provider}/token`;
}

/** {@link TokenSource} over `GetSecretValue` of the token secret's `AWSCURRENT` version. */
export class SecretsManagerTokenSource implements TokenSource {
  readonly #client: SecretsManagerClient;
  readonly #secretPrefix: string;

  constructor(options: SecretsManagerSourceOptions = {}) {
    this.#secretPrefix = checkSecretPrefix(options.secretPrefix);
    this.#client =
      options.client ??
      new SecretsManagerClient({ ...DEFAULT_SECRETS_MANAGER_CLIENT_CONFIG, ...options.clientConfig });
  }

  /** @throws TokenClientError (see {@link parseTokenSecret} and {@link translateSecretsManagerError}) */
  async read(provider: string): Promise<ClientToken> {
    const secretId = tokenSecretName(this.#secretPrefix, provider);
    let secretString: string | undefined;
    try {
      // The stage is explicit: it is what we mean, and without it moto may answer another version.
      const output = await this.#client.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }),
      );
      secretString = output.SecretString;
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
 *   refresh has succeeded yet), `invalid_token_record`, `provider_mismatch`
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
  if (isPlaceholder(value)) {
    throw new TokenClientError(
      `${what} holds no token yet (status "pending"): the first refresh of provider "${provider}" has not ` +
        'succeeded; check that its credentials secret is filled and the refresher has run',
      'token_not_ready',
    );
  }
  return toClientToken(provider, value, what);
}

/**
 * Translate an SDK exception of `GetSecretValue` into a {@link TokenClientError}.
 *
 * | SDK exception | code |
 * |---|---|
 * | `ResourceNotFoundException` | `secret_not_found` |
 * | `AccessDeniedException`, `DecryptionFailure` | `access_denied` |
 * | anything else (throttling, 5xx, network, timeout) | `read_failed` |
 */
export function translateSecretsManagerError(error: unknown, secretId: string): TokenClientError {
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

function isPlaceholder(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { status?: unknown }).status === 'pending' &&
    !('accessToken' in value)
  );
}
