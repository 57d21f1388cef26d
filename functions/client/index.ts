/**
 * The consumer client library (entry point `@token-refresher/client`).
 *
 * ```ts
 * const tokens = createTokenClient({ source: 'secrets-manager' }); // once per container
 * const response = await tokens.withToken('github', (token) =>
 *   fetch(url, { headers: { authorization: `${token.tokenType} ${token.accessToken}` } }),
 * );
 * ```
 *
 * The chosen source's module is imported lazily, on the first read. A bundler still includes every
 * source reachable from here; import `@token-refresher/client/secrets-manager`,
 * `@token-refresher/client/read-function` or `@token-refresher/client/dynamodb` instead to bundle
 * only the one you use.
 */
import type { DynamoDbTokenClientOptions } from './dynamodb.js';
import { checkDynamoDbSourceOptions } from './dynamodb-transport.js';
import { TokenClientError } from './errors.js';
import { resolveReadFunctionEndpoint } from './options.js';
import type { ReadFunctionTokenClientOptions } from './read-function.js';
import type { SecretsManagerTokenClientOptions } from './secrets-manager.js';
import { checkSecretsManagerSourceOptions } from './secrets-manager-transport.js';
import type { ClientToken } from './token.js';
import { TokenClient, type TokenSource } from './token-client.js';

export type { DynamoDbTokenClientOptions } from './dynamodb.js';
export { TokenClientError, type TokenClientErrorCode } from './errors.js';
export type { ReadFunctionTokenClientOptions } from './read-function.js';
export type { SecretsManagerTokenClientOptions } from './secrets-manager.js';
export type { ClientToken } from './token.js';
export {
  type Clock,
  DEFAULT_MARGIN_MS,
  TokenClient,
  type TokenClientOptions,
  type TokenSource,
  type WithTokenOptions,
} from './token-client.js';

/** The options of {@link createTokenClient}: the source, and that source's options. */
export type CreateTokenClientOptions =
  | ({ readonly source: 'secrets-manager' } & SecretsManagerTokenClientOptions)
  | ({ readonly source: 'read-function' } & ReadFunctionTokenClientOptions)
  | ({ readonly source: 'dynamodb' } & DynamoDbTokenClientOptions);

/**
 * A token client over the chosen source. Build it once per container (outside the handler). Options
 * are checked here, so a bad one fails at cold start; the source's module (and its AWS SDK code) is
 * loaded on the first read.
 * @throws TokenClientError `invalid_options`
 */
export function createTokenClient(options: CreateTokenClientOptions): TokenClient {
  const chosen: unknown = (options as { source?: unknown } | undefined)?.source;
  let load: () => Promise<TokenSource>;
  if (chosen === 'secrets-manager') {
    const smOptions = options as SecretsManagerTokenClientOptions;
    checkSecretsManagerSourceOptions(smOptions);
    load = async () => new (await import('./secrets-manager.js')).SecretsManagerTokenSource(smOptions);
  } else if (chosen === 'read-function') {
    const rfOptions = options as ReadFunctionTokenClientOptions;
    resolveReadFunctionEndpoint(rfOptions);
    load = async () => new (await import('./read-function.js')).ReadFunctionTokenSource(rfOptions);
  } else if (chosen === 'dynamodb') {
    const ddbOptions = options as DynamoDbTokenClientOptions;
    checkDynamoDbSourceOptions(ddbOptions);
    load = async () => new (await import('./dynamodb.js')).DynamoDbTokenSource(ddbOptions);
  } else {
    throw new TokenClientError(
      `source must be "secrets-manager", "read-function" or "dynamodb", not ${JSON.stringify(chosen)}`,
      'invalid_options',
    );
  }
  return new TokenClient(new LazySource(load), options);
}

/** A source whose module is imported on first use; a failed import is tried again next time. */
class LazySource implements TokenSource {
  readonly #load: () => Promise<TokenSource>;
  #loading: Promise<TokenSource> | undefined;

  constructor(load: () => Promise<TokenSource>) {
    this.#load = load;
  }

  async read(provider: string): Promise<ClientToken> {
    return (await this.#source()).read(provider);
  }

  async replaceRejected(provider: string, rejected: ClientToken): Promise<ClientToken> {
    return (await this.#source()).replaceRejected(provider, rejected);
  }

  #source(): Promise<TokenSource> {
    this.#loading ??= this.#load().catch((error: unknown) => {
      this.#loading = undefined;
      throw error;
    });
    return this.#loading;
  }
}
