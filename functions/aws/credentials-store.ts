/**
 * The credentials secret of a provider (`<prefix>/<provider>/credentials`, or an existing secret):
 * `{ clientId, clientSecret?, refreshToken? }` plus free string fields, read by the refresh function
 * only. A rotated refresh token is written back with compare-and-swap, and recovered when a refresh
 * died between its `PutSecretValue` and its stage move (see {@link SecretsManagerCredentialsStore.read}).
 * Its current version id is looked up without reading the value (`DescribeSecret`), for a blocked
 * provider waiting for new credentials (`core/credentials-change.ts`). The SDK is loaded on the first
 * call (`secrets-manager-client.ts`), not when the store is built.
 */
import { credentialsProblem } from '../core/credentials-value.js';
import { CredentialsError, StoreError } from '../core/errors.js';
import { credentialsSecretName } from '../core/names.js';
import type { CredentialsRecovery, CredentialsStore } from '../core/ports.js';
import type { Credentials, CurrentCredentials } from '../core/types.js';
import {
  AWSCURRENT,
  AWSPENDING,
  clientRequestTokenFor,
  JsonSecrets,
  type JsonSecretVersion,
  lazySecretsManagerClientOf,
  type SecretsManagerAdapterOptions,
  translateSecretsManagerError,
} from './json-secrets.js';
import type { LazySecretsManagerClient } from './secrets-manager-client.js';

/**
 * How many lease generations back an unfinished write is looked for. Every acquisition takes one
 * generation, and holders that fail before reading the credentials (an outage) take them too; 1,000
 * is three days of failing 5-minute runs. The search hashes up to 1,000 candidate ids (5 ms measured
 * on a busy 2-core machine), and only when `AWSPENDING` is found away from `AWSCURRENT`.
 */
export const RECOVERY_LOOKBACK_GENERATIONS = 1_000;

export interface SecretsManagerCredentialsStoreOptions extends SecretsManagerAdapterOptions {
  /** Prefix of the default secret names: `<secretPrefix>/<provider>/credentials`. */
  readonly secretPrefix: string;
  /**
   * The secret (name or ARN) of a provider; default `<secretPrefix>/<provider>/credentials`. Lets a
   * provider use an existing secret (`credentialsSecretArn` in the config).
   */
  readonly secretIdFor?: (provider: string) => string;
}

/** Re-exported for existing importers; its home is `core/names.ts`. */
export { credentialsSecretName };

/** What an operator puts in the secret; shown in errors (never actual values). */
const EXPECTED_SHAPE =
  '{"clientId":"...","clientSecret":"..."} (add "refreshToken" for the refresh_token grant)';

/** {@link CredentialsStore} on Secrets Manager. */
export class SecretsManagerCredentialsStore implements CredentialsStore {
  readonly #secretsManager: LazySecretsManagerClient;
  readonly #secrets: JsonSecrets;
  readonly #secretIdFor: (provider: string) => string;

  constructor(options: SecretsManagerCredentialsStoreOptions) {
    // One client (built on the first call) for the reads, writes and DescribeSecret.
    this.#secretsManager = lazySecretsManagerClientOf(options);
    this.#secrets = new JsonSecrets({ client: this.#secretsManager });
    const { secretPrefix } = options;
    this.#secretIdFor = options.secretIdFor ?? ((provider) => credentialsSecretName(secretPrefix, provider));
  }

  /**
   * Read the current credentials: a JSON object whose values are all strings.
   *
   * With `recovery` (grants that rotate a refresh token), an unfinished write of an earlier holder is
   * finished first. The credentials write is `PutSecretValue` (`AWSPENDING`) and then the move of
   * `AWSCURRENT`; a holder killed between the two (or whose move failed for the rest of its lease)
   * leaves the provider's newest refresh token in `AWSPENDING` while `AWSCURRENT` holds the spent one,
   * which the provider would take as reuse and answer by revoking the grant. So the read starts at
   * `AWSPENDING`:
   *
   * - it also holds `AWSCURRENT` (every finished write leaves it so): that is the value; one call.
   * - no version holds it (nothing written by us yet): read `AWSCURRENT`; two calls.
   * - it is elsewhere: read `AWSCURRENT` too, and if the pending version's id is the one an earlier
   *   generation's write *from this current version* gets ({@link clientRequestTokenFor}), move
   *   `AWSCURRENT` to it (compare-and-swap) and use it. Anything else there (an operator re-seeded the
   *   secret after our last write, or a write that lost its compare-and-swap) is ignored.
   *
   * @throws CredentialsError `credentials_not_set` when the secret holds its placeholder, no JSON, or
   *   JSON of another shape; the message names the secret and the expected shape, never a value; the
   *   error carries the version that holds it.
   * @throws StoreError when the secret does not exist or Secrets Manager fails
   * @throws WriteConflictError when `AWSCURRENT` moved while an unfinished write was being finished
   */
  async read(provider: string, recovery?: CredentialsRecovery): Promise<CurrentCredentials> {
    const secretId = this.#secretIdFor(provider);
    const read: JsonSecretVersion & { readonly recoveredGeneration?: number } =
      recovery === undefined
        ? await this.#secrets.readCurrent(secretId)
        : await this.#readFinishingWrite(secretId, provider, recovery.fence);
    const problem = credentialsProblem(read.value);
    if (problem !== undefined) {
      throw new CredentialsError(
        `The credentials secret "${secretId}" of provider "${provider}" ${problem}; put a JSON object ` +
          `with string values in it, such as ${EXPECTED_SHAPE}`,
        'credentials_not_set',
        { credentialsVersionId: read.versionId },
      );
    }
    return {
      versionId: read.versionId,
      credentials: read.value as Credentials,
      ...(read.recoveredGeneration === undefined ? {} : { recoveredGeneration: read.recoveredGeneration }),
    };
  }

  async #readFinishingWrite(
    secretId: string,
    provider: string,
    fence: number,
  ): Promise<JsonSecretVersion & { readonly recoveredGeneration?: number }> {
    const pending = await this.#secrets.readStage(secretId, AWSPENDING);
    if (pending?.stages.includes(AWSCURRENT)) return pending;
    const current = await this.#secrets.readCurrent(secretId);
    if (pending === undefined || pending.versionId === current.versionId) return current;
    const generation = generationOfWrite(provider, current.versionId, pending.versionId, fence);
    if (generation === undefined || credentialsProblem(pending.value) !== undefined) return current;
    await this.#secrets.moveCurrent(secretId, pending.versionId, current.versionId);
    return { versionId: pending.versionId, value: pending.value, recoveredGeneration: generation };
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
    readonly resume?: boolean;
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
      ...(input.resume ? { resume: true } : {}),
    });
  }

  /**
   * The id of the version holding `AWSCURRENT`, from `DescribeSecret`: metadata only, so the value is
   * not decrypted (no `kms:Decrypt`) for a look that usually finds nothing new.
   * @throws StoreError (see `translateSecretsManagerError`), or `secrets_manager_unavailable` when no
   *   version holds `AWSCURRENT`
   */
  async currentVersionId(provider: string): Promise<string> {
    const secretId = this.#secretIdFor(provider);
    const { sdk, client } = await this.#secretsManager.load();
    let versionIdsToStages: Record<string, string[]> | undefined;
    try {
      ({ VersionIdsToStages: versionIdsToStages } = await client.send(
        new sdk.DescribeSecretCommand({ SecretId: secretId }),
      ));
    } catch (error) {
      throw translateSecretsManagerError(error, 'DescribeSecret', secretId);
    }
    const current = currentVersionOf(versionIdsToStages);
    if (current === undefined) {
      throw new StoreError(
        `DescribeSecret on "${secretId}" named no version with ${AWSCURRENT}; put a value in the secret`,
        'secrets_manager_unavailable',
        'transient',
      );
    }
    return current;
  }
}

/**
 * The version holding `AWSCURRENT` in a `DescribeSecret` answer's `VersionIdsToStages`, if any.
 */
function currentVersionOf(versionIdsToStages: Record<string, string[]> | undefined): string | undefined {
  return Object.entries(versionIdsToStages ?? {}).find(([, stages]) => stages.includes(AWSCURRENT))?.[0];
}

/**
 * The generation (lease fence, below `beforeFence`) whose credentials write starting from
 * `fromVersionId` produces version `versionId`, or `undefined` when no recent one does.
 */
function generationOfWrite(
  provider: string,
  fromVersionId: string,
  versionId: string,
  beforeFence: number,
): number | undefined {
  const oldest = Math.max(1, beforeFence - RECOVERY_LOOKBACK_GENERATIONS);
  for (let fence = beforeFence - 1; fence >= oldest; fence -= 1) {
    const token = clientRequestTokenFor({
      purpose: 'credentials',
      provider,
      fence,
      expectedVersionId: fromVersionId,
    });
    if (token === versionId) return fence;
  }
  return undefined;
}
