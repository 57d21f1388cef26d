/**
 * The read function's reader of token secrets: `GetSecretValue` of `<prefix>/<provider>/token` at
 * `AWSCURRENT`, sent either way (`aws-transport.ts`): as one SigV4-signed request
 * ({@link fetchGetSecretValue}, no SDK code loaded) or through the SDK's `SecretsManagerClient`
 * ({@link sdkGetSecretValue}, imported on the first read). Both answer what `SecretsManagerTokenStore`
 * reads (token-store.ts) and throw the same `StoreError`s: the SDK's exceptions and the `fetch`
 * transport's errors carry the same names, translated by one function (`secrets-errors.ts`).
 *
 * Read side only: the read function never writes a token.
 */
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import type { AwsJsonClient } from '../client/signed-fetch.js';
import { tokenSecretName } from '../core/names.js';
import type { TokenStore } from '../core/ports.js';
import type { CurrentToken } from '../core/types.js';
import { DEFAULT_CLIENT_CONFIG } from './clients.js';
import { answeredVersionId, translateSecretsManagerError } from './secrets-errors.js';
import { parseSecretJson, tokenOfSecretValue } from './token-secret-value.js';

/** What a `GetSecretValue` answers that the reader uses. */
export interface SecretValue {
  readonly VersionId?: string;
  readonly SecretString?: string;
}

/** `GetSecretValue` of a secret's `AWSCURRENT` version; throws the transport's error, untranslated. */
export type GetSecretValue = (secretId: string) => Promise<SecretValue>;

/** The read of {@link TokenStore}, over the token secret. */
export class TokenSecretReader implements Pick<TokenStore, 'readCurrent'> {
  readonly #getSecretValue: GetSecretValue;
  readonly #secretPrefix: string;

  constructor(options: { readonly getSecretValue: GetSecretValue; readonly secretPrefix: string }) {
    this.#getSecretValue = options.getSecretValue;
    this.#secretPrefix = options.secretPrefix;
  }

  /**
   * Read `AWSCURRENT`, as `SecretsManagerTokenStore.readCurrent` does: anything that is not a valid
   * token record of this provider reads as `token: undefined`.
   * @throws StoreError `secret_not_found` (permanent), `secrets_manager_unavailable` (transient), …
   *   (see `translateSecretsManagerError`)
   */
  async readCurrent(provider: string): Promise<CurrentToken> {
    const secretId = tokenSecretName(this.#secretPrefix, provider);
    let output: SecretValue;
    try {
      output = await this.#getSecretValue(secretId);
    } catch (error) {
      throw translateSecretsManagerError(error, 'GetSecretValue', secretId);
    }
    return {
      versionId: answeredVersionId(output.VersionId, secretId),
      token: tokenOfSecretValue(parseSecretJson(output.SecretString), provider),
    };
  }
}

/**
 * `GetSecretValue` as one signed request. The stage is explicit: it is what we mean, and without it
 * moto may answer another version.
 */
export function fetchGetSecretValue(client: AwsJsonClient): GetSecretValue {
  return async (secretId) => {
    const output = (await client.request('GetSecretValue', {
      SecretId: secretId,
      VersionStage: 'AWSCURRENT',
    })) as Record<string, unknown> | null;
    const versionId = output?.VersionId;
    const secretString = output?.SecretString;
    return {
      ...(typeof versionId === 'string' ? { VersionId: versionId } : {}),
      ...(typeof secretString === 'string' ? { SecretString: secretString } : {}),
    };
  };
}

/**
 * `GetSecretValue` through the SDK (`client`, or one built from `clientConfig` with the defaults of
 * `clients.ts`). The SDK is imported with `import()` on the first read, never statically: a bundler
 * hoists a static import of an external package to the top of the bundle, where it would load at cold
 * start even when this transport is not chosen. A failed import is tried again on the next read.
 */
export function sdkGetSecretValue(
  options: {
    readonly client?: SecretsManagerClient;
    readonly clientConfig?: SecretsManagerClientConfig;
  } = {},
): GetSecretValue {
  let loading:
    | Promise<{
        client: SecretsManagerClient;
        Command: typeof import('@aws-sdk/client-secrets-manager').GetSecretValueCommand;
      }>
    | undefined;
  return async (secretId) => {
    loading ??= import('@aws-sdk/client-secrets-manager').then(
      (sdk) => ({
        client:
          options.client ??
          new sdk.SecretsManagerClient({ ...DEFAULT_CLIENT_CONFIG, ...options.clientConfig }),
        Command: sdk.GetSecretValueCommand,
      }),
      (error: unknown) => {
        loading = undefined;
        throw error;
      },
    );
    const { client, Command } = await loading;
    return client.send(new Command({ SecretId: secretId, VersionStage: 'AWSCURRENT' }));
  };
}
