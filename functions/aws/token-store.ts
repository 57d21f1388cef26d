/**
 * The token secret `<prefix>/<provider>/token` in Secrets Manager: what consumers read. The SDK is
 * loaded on the first call (`secrets-manager-client.ts`), not when the store is built.
 */
import { tokenSecretName } from '../core/names.js';
import type { TokenStore } from '../core/ports.js';
import { tokenRecordSchema } from '../core/token-record.js';
import type { CurrentToken, TokenRecord } from '../core/types.js';
import { clientRequestTokenFor, JsonSecrets, type SecretsManagerAdapterOptions } from './json-secrets.js';
import { tokenOfSecretValue } from './token-secret-value.js';

/** Re-exported for existing importers; the token secret's JSON has its home in `core/token-record.ts`. */
export { tokenRecordSchema };

export interface SecretsManagerTokenStoreOptions extends SecretsManagerAdapterOptions {
  /** Prefix of the secret names: `<secretPrefix>/<provider>/token`. */
  readonly secretPrefix: string;
}

/** Re-exported for existing importers; its home is `core/names.ts`. */
export { tokenSecretName };

/** {@link TokenStore} on Secrets Manager, with compare-and-swap writes (see `json-secrets.ts`). */
export class SecretsManagerTokenStore implements TokenStore {
  readonly #secrets: JsonSecrets;
  readonly #secretPrefix: string;

  constructor(options: SecretsManagerTokenStoreOptions) {
    this.#secrets = new JsonSecrets(options);
    this.#secretPrefix = options.secretPrefix;
  }

  /**
   * Read `AWSCURRENT`. Anything that is not a valid token record of this provider — the stack's
   * placeholder `{"status":"pending"}`, a non-JSON string, a record of another provider — reads as
   * `token: undefined` (no usable token yet), so the engine refreshes and overwrites it.
   * @throws StoreError `secret_not_found` (permanent) or `secrets_manager_unavailable` (transient)
   */
  async readCurrent(provider: string): Promise<CurrentToken> {
    const { versionId, value } = await this.#secrets.readCurrent(
      tokenSecretName(this.#secretPrefix, provider),
    );
    return { versionId, token: tokenOfSecretValue(value, provider) };
  }

  /**
   * Write a new version and move `AWSCURRENT` to it from `expectedVersionId`. Idempotent per
   * `(provider, fence, expectedVersionId)`.
   * @throws WriteConflictError when the label moved meanwhile (a newer token stays)
   */
  async write(input: {
    readonly provider: string;
    readonly fence: number;
    readonly token: TokenRecord;
    readonly expectedVersionId: string | undefined;
  }): Promise<string> {
    return this.#secrets.compareAndSwap({
      secretId: tokenSecretName(this.#secretPrefix, input.provider),
      value: input.token,
      clientRequestToken: clientRequestTokenFor({
        purpose: 'token',
        provider: input.provider,
        fence: input.fence,
        expectedVersionId: input.expectedVersionId,
      }),
      expectedVersionId: input.expectedVersionId,
    });
  }
}
