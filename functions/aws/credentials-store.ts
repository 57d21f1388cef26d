/**
 * The credentials secret of a provider (`<prefix>/<provider>/credentials`, or an existing secret):
 * `{ clientId, clientSecret?, refreshToken? }` plus free string fields, read by the refresh function
 * only. A rotated refresh token is written back with compare-and-swap.
 */
import { CredentialsError } from '../core/errors.js';
import type { CredentialsStore } from '../core/ports.js';
import type { Credentials, CurrentCredentials } from '../core/types.js';
import { clientRequestTokenFor, JsonSecrets, type SecretsManagerAdapterOptions } from './secrets.js';

export interface SecretsManagerCredentialsStoreOptions extends SecretsManagerAdapterOptions {
  /** Prefix of the default secret names: `<secretPrefix>/<provider>/credentials`. */
  readonly secretPrefix: string;
  /**
   * The secret (name or ARN) of a provider; default `<secretPrefix>/<provider>/credentials`. Lets a
   * provider use an existing secret (`credentialsSecretArn` in the config).
   */
  readonly secretIdFor?: (provider: string) => string;
}

/** The name of a provider's credentials secret when the stack creates it. */
export function credentialsSecretName(secretPrefix: string, provider: string): string {
  return `${secretPrefix}/${provider}/credentials`;
}

/** What an operator puts in the secret; shown in errors (never actual values). */
const EXPECTED_SHAPE =
  '{"clientId":"...","clientSecret":"..."} (add "refreshToken" for the refresh_token grant)';

/** {@link CredentialsStore} on Secrets Manager. */
export class SecretsManagerCredentialsStore implements CredentialsStore {
  readonly #secrets: JsonSecrets;
  readonly #secretIdFor: (provider: string) => string;

  constructor(options: SecretsManagerCredentialsStoreOptions) {
    this.#secrets = new JsonSecrets(options);
    const { secretPrefix } = options;
    this.#secretIdFor = options.secretIdFor ?? ((provider) => credentialsSecretName(secretPrefix, provider));
  }

  /**
   * Read the `AWSCURRENT` credentials: a JSON object whose values are all strings.
   * @throws CredentialsError `credentials_not_set` when the secret holds its placeholder, no JSON, or
   *   JSON of another shape; the message names the secret and the expected shape, never a value.
   * @throws StoreError when the secret does not exist or Secrets Manager fails
   */
  async read(provider: string): Promise<CurrentCredentials> {
    const secretId = this.#secretIdFor(provider);
    const { versionId, value } = await this.#secrets.readCurrent(secretId);
    const problem = credentialsProblem(value);
    if (problem !== undefined) {
      throw new CredentialsError(
        `The credentials secret "${secretId}" of provider "${provider}" ${problem}; put a JSON object ` +
          `with string values in it, such as ${EXPECTED_SHAPE}`,
        'credentials_not_set',
      );
    }
    return { versionId, credentials: value as Credentials };
  }

  /**
   * Replace the credentials (a rotated refresh token) with compare-and-swap from `expectedVersionId`.
   * @throws WriteConflictError when the secret changed meanwhile (an operator re-seeded it)
   */
  async write(input: {
    readonly provider: string;
    readonly fence: number;
    readonly credentials: Credentials;
    readonly expectedVersionId: string;
  }): Promise<string> {
    return this.#secrets.compareAndSwap({
      secretId: this.#secretIdFor(input.provider),
      value: input.credentials,
      clientRequestToken: clientRequestTokenFor({
        purpose: 'credentials',
        provider: input.provider,
        fence: input.fence,
        expectedVersionId: input.expectedVersionId,
      }),
      expectedVersionId: input.expectedVersionId,
    });
  }
}

/**
 * Why a parsed secret value is not usable credentials, or `undefined` when it is. Names fields, never
 * values.
 */
function credentialsProblem(value: unknown): string | undefined {
  if (value === undefined) return 'does not hold JSON';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'holds JSON that is not an object';
  }
  const fields = Object.keys(value);
  // The stack's placeholder is {"status":"pending"}; an empty object is not set either.
  if (fields.every((field) => field === 'status')) return 'still holds its placeholder';
  const nonString = fields.filter((field) => typeof (value as Record<string, unknown>)[field] !== 'string');
  if (nonString.length > 0) {
    return `has fields that are not strings (${nonString.map((field) => JSON.stringify(field)).join(', ')})`;
  }
  return undefined;
}
