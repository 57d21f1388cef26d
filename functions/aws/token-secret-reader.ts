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
import type { AwsJsonClient } from '../client/signed-fetch.js';
import { tokenSecretName } from '../core/names.js';
import type { TokenStore } from '../core/ports.js';
import type { CurrentToken } from '../core/types.js';
import { answeredVersionId, translateSecretsManagerError } from './secrets-errors.js';
import { LazySecretsManagerClient, type LazySecretsManagerClientOptions } from './secrets-manager-client.js';
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
 * `clients.ts`), its module imported on the first read by {@link LazySecretsManagerClient}, as the
 * refresh function's stores do: a static import would load it at cold start even when this transport
 * is not chosen.
 */
export function sdkGetSecretValue(options: LazySecretsManagerClientOptions = {}): GetSecretValue {
  const secrets = new LazySecretsManagerClient(options);
  return async (secretId) => {
    const { sdk, client } = await secrets.load();
    return client.send(new sdk.GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }));
  };
}
