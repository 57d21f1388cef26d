/**
 * The refresh function's Secrets Manager client, built on the first Secrets Manager call rather than
 * at cold start: most scheduled ticks find the token not due after one DynamoDB `GetItem` and never
 * call Secrets Manager, so they never load `@aws-sdk/client-secrets-manager` (tens of milliseconds of
 * a cold start: bench "What loading the SDK clients from node_modules costs"). One instance per
 * container is shared by the token store and the credentials store, as one client was before.
 *
 * This module imports the SDK's types only; `secrets.ts` keeps `createSecretsManagerClient`, which
 * builds a client at once (the CLI, tests), and is not part of the refresh bundle.
 */
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { StoreError } from '../core/errors.js';
import { DEFAULT_CLIENT_CONFIG } from './clients.js';
import { awsErrorName } from './sdk-errors.js';

/** The SDK module, imported on first use. */
export type SecretsManagerSdk = typeof import('@aws-sdk/client-secrets-manager');

/** The SDK module (for its command classes) and the client that sends them. */
export interface LoadedSecretsManager {
  readonly sdk: SecretsManagerSdk;
  readonly client: SecretsManagerClient;
}

export interface LazySecretsManagerClientOptions {
  /** A client to use as it is (tests pass a mocked one); otherwise one is built from `clientConfig`. */
  readonly client?: SecretsManagerClient;
  /** Config for the client built on first use; wins over `DEFAULT_CLIENT_CONFIG` (`clients.ts`). */
  readonly clientConfig?: SecretsManagerClientConfig;
  /** How the SDK module is imported; default `import('@aws-sdk/client-secrets-manager')` (tests count calls). */
  readonly importSdk?: () => Promise<SecretsManagerSdk>;
}

/** A Secrets Manager client whose SDK module is imported, and the client built, on the first {@link load}. */
export class LazySecretsManagerClient {
  readonly #options: LazySecretsManagerClientOptions;
  #loaded: Promise<LoadedSecretsManager> | undefined;

  constructor(options: LazySecretsManagerClientOptions = {}) {
    this.#options = options;
  }

  /**
   * The SDK module and the client: imported and built once, on the first call; a failed attempt is
   * tried again on the next call.
   * @throws StoreError `secrets_manager_unavailable` (transient) when the SDK module cannot be loaded
   */
  load(): Promise<LoadedSecretsManager> {
    this.#loaded ??= this.#build().catch((error: unknown) => {
      this.#loaded = undefined;
      throw error;
    });
    return this.#loaded;
  }

  async #build(): Promise<LoadedSecretsManager> {
    let sdk: SecretsManagerSdk;
    try {
      sdk = await (this.#options.importSdk ?? importSecretsManagerSdk)();
    } catch (error) {
      throw new StoreError(
        `The AWS SDK module @aws-sdk/client-secrets-manager could not be loaded (${awsErrorName(error)}); ` +
          'retry later, or check that the runtime provides the AWS SDK v3',
        'secrets_manager_unavailable',
        'transient',
        { cause: error },
      );
    }
    const client =
      this.#options.client ??
      new sdk.SecretsManagerClient({ ...DEFAULT_CLIENT_CONFIG, ...this.#options.clientConfig });
    return { sdk, client };
  }
}

/** `import()` of the SDK (the package's CLI bundles the SDK's ES module builds, where it works alike). */
function importSecretsManagerSdk(): Promise<SecretsManagerSdk> {
  return import('@aws-sdk/client-secrets-manager');
}
