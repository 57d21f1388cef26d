/**
 * One {@link TokenStore} over the stores a configuration uses: each provider's calls go to the store
 * its `tokenStore` names (the token secret, or the DynamoDB token table). The composition roots build
 * it; the engine and the read path see one store, as before.
 */
import type { ProviderConfig, TokenStoreKind } from './config.js';
import { StoreError } from './errors.js';
import type { TokenStore } from './ports.js';

/** The stores by kind; only those the configuration uses need to exist. */
export type TokenStoresByKind = Partial<Readonly<Record<TokenStoreKind, TokenStore>>>;

/** Routes each provider to the store of its `tokenStore`. */
export class PerProviderTokenStore implements TokenStore {
  readonly #kinds: ReadonlyMap<string, TokenStoreKind>;
  readonly #stores: TokenStoresByKind;

  /**
   * @throws StoreError `token_store_missing` when a provider names a store that is not given (a
   *   composition mistake, found at cold start rather than at the first refresh).
   */
  constructor(providers: readonly Pick<ProviderConfig, 'name' | 'tokenStore'>[], stores: TokenStoresByKind) {
    this.#kinds = new Map(providers.map((provider) => [provider.name, provider.tokenStore]));
    this.#stores = stores;
    const missing = [...new Set(this.#kinds.values())].filter((kind) => stores[kind] === undefined);
    if (missing.length > 0) throw missingStore(`tokenStore ${missing.join(', ')}`);
  }

  readCurrent(provider: string): ReturnType<TokenStore['readCurrent']> {
    return this.#storeOf(provider).readCurrent(provider);
  }

  write(input: Parameters<TokenStore['write']>[0]): ReturnType<TokenStore['write']> {
    return this.#storeOf(input.provider).write(input);
  }

  /** A provider the configuration does not name goes to the token secret, as before stores were chosen. */
  #storeOf(provider: string): TokenStore {
    const store = this.#stores[this.#kinds.get(provider) ?? 'secrets-manager'];
    if (store === undefined) throw missingStore(`provider "${provider}"`);
    return store;
  }
}

function missingStore(what: string): StoreError {
  return new StoreError(`No token store was composed for ${what}`, 'token_store_missing', 'permanent');
}
