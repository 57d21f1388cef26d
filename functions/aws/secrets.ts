/**
 * `createSecretsManagerClient`: a Secrets Manager client built at once, for the CLI and tests, and
 * the home of JSON secrets' exports for existing importers.
 *
 * The adapters (`json-secrets.ts`: reads and compare-and-swap writes; the token and credentials
 * stores) import the SDK only on their first call, through `secrets-manager-client.ts`; this module
 * imports it at load, so the refresh function does not import this module (a not-due tick never calls
 * Secrets Manager).
 */
import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { DEFAULT_CLIENT_CONFIG } from './clients.js';

/** Re-exported for existing importers; their home is `json-secrets.ts`. */
export {
  AWSCURRENT,
  AWSPENDING,
  AWSPREVIOUS,
  type CompareAndSwapInput,
  clientRequestTokenFor,
  JsonSecrets,
  type JsonSecretVersion,
  type LabelledJsonSecretVersion,
  PLACEHOLDER_SECRET_STRING,
  type SecretsManagerAdapterOptions,
  translateSecretsManagerError,
} from './json-secrets.js';

/** A Secrets Manager client with {@link DEFAULT_CLIENT_CONFIG}; `config` wins over the defaults. */
export function createSecretsManagerClient(config: SecretsManagerClientConfig = {}): SecretsManagerClient {
  return new SecretsManagerClient({ ...DEFAULT_CLIENT_CONFIG, ...config });
}
