/**
 * A JSON secret in Secrets Manager, read at `AWSCURRENT` and written with compare-and-swap.
 *
 * Shared by the token store and the credentials store. The write is two calls (docs/architecture.md,
 * "The refresh protocol", step 5):
 *
 * 1. `PutSecretValue` with `VersionStages: ['AWSPENDING']` creates a new version *without* moving
 *    `AWSCURRENT` (a `PutSecretValue` without stages would move it unconditionally), and with a
 *    deterministic `ClientRequestToken`, which becomes the version id, so a retried write is a no-op.
 * 2. `UpdateSecretVersionStage` moves `AWSCURRENT` to the new version *from* the version read before
 *    (`RemoveFromVersionId`). Secrets Manager refuses the move with `InvalidParameterException` when
 *    the label is no longer on that version, so a stale writer fails instead of overwriting a newer
 *    value: the storage itself fences it.
 *
 * `AWSPENDING` stays on the new version after the move (it also holds `AWSCURRENT`), as it does after
 * a rotation Lambda's `finishSecret`; the next write moves it on. A write that lost the swap leaves an
 * orphan version labelled `AWSPENDING` that consumers never read (they read `AWSCURRENT`).
 *
 * Emulator difference (moto 5.2.1): repeating a *completed* write (same token, same value) while its
 * version still holds `AWSPENDING` makes moto re-create the version with `AWSPENDING` only, which
 * drops `AWSCURRENT` from the secret; AWS ignores such a request. Retries *within* one write (the SDK
 * retrying `PutSecretValue` before the move, or the move itself) behave the same on both. A caller
 * that repeats a whole write after a failure passes `resume`, which first looks the version up and
 * skips what is already done, so it never repeats a completed write.
 */
// Types only: the SDK module is imported on the first Secrets Manager call (secrets-manager-client.ts).
import type { SecretsManagerClient, SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { StoreError, WriteConflictError } from '../core/errors.js';
import { isAwsError } from './sdk-errors.js';
import { answeredVersionId, translateSecretsManagerError } from './secrets-errors.js';
import { LazySecretsManagerClient } from './secrets-manager-client.js';
import { writeVersionIdOf } from './write-version-id.js';

/** The label consumers read. */
export const AWSCURRENT = 'AWSCURRENT';
/** The label of a version written but not yet made current. */
export const AWSPENDING = 'AWSPENDING';
/** The label Secrets Manager moves to the version `AWSCURRENT` left. */
export const AWSPREVIOUS = 'AWSPREVIOUS';

/** Re-exported for existing importers; its home is `core/names.ts`. */
export { PLACEHOLDER_SECRET_STRING } from '../core/names.js';

/** Client injection, Powertools style: an existing client wins over `clientConfig`. */
export interface SecretsManagerAdapterOptions {
  /**
   * A client to use: an SDK client (tests pass a mocked one), or a {@link LazySecretsManagerClient}
   * (the refresh function shares one per container, built on its first Secrets Manager call).
   */
  readonly client?: SecretsManagerClient | LazySecretsManagerClient;
  /** Config for the client built on first use when `client` is absent (defaults from `clients.ts`). */
  readonly clientConfig?: SecretsManagerClientConfig;
}

/**
 * The adapter's client: the given {@link LazySecretsManagerClient}, or a new one around the given SDK
 * client or `clientConfig` (either way nothing is loaded before the first call).
 */
export function lazySecretsManagerClientOf(options: SecretsManagerAdapterOptions): LazySecretsManagerClient {
  const { client, clientConfig } = options;
  if (client instanceof LazySecretsManagerClient) return client;
  return new LazySecretsManagerClient({
    ...(client === undefined ? {} : { client }),
    ...(clientConfig === undefined ? {} : { clientConfig }),
  });
}

/** A secret's `AWSCURRENT` version. */
export interface JsonSecretVersion {
  /** The version that holds `AWSCURRENT`: the `expectedVersionId` of the next compare-and-swap. */
  readonly versionId: string;
  /**
   * The parsed `SecretString`; `undefined` when the secret has no `SecretString` (a binary secret) or
   * its string is not JSON. The raw string is never kept or reported.
   */
  readonly value: unknown;
}

/** A version read by staging label or id, with all the labels it holds. */
export interface LabelledJsonSecretVersion extends JsonSecretVersion {
  /** The staging labels on this version (`AWSCURRENT`, `AWSPENDING`, …). */
  readonly stages: readonly string[];
}

export interface CompareAndSwapInput {
  /** Name or ARN. */
  readonly secretId: string;
  /** Serialised with `JSON.stringify`. */
  readonly value: unknown;
  /** 32–64 characters; becomes the new version id. See {@link clientRequestTokenFor}. */
  readonly clientRequestToken: string;
  /**
   * The version read before (holding `AWSCURRENT`); `undefined` only for the first write to a secret
   * that has no version at all.
   */
  readonly expectedVersionId: string | undefined;
  /**
   * An earlier attempt of this same write (same token, same value) failed and may have been applied
   * in part: look the version up first (one `GetSecretValue`) and skip the steps already done.
   */
  readonly resume?: boolean;
}

/**
 * A `ClientRequestToken` derived deterministically from what identifies one logical write, shaped as
 * an RFC 9562 UUIDv8 (36 characters; Secrets Manager wants 32–64) built from a SHA-256.
 *
 * - Same inputs, same token: a retry of the same write (same lease generation, same starting version)
 *   is idempotent — Secrets Manager ignores a `PutSecretValue` whose token and value match an
 *   existing version.
 * - Different fences never collide, and neither do the purposes (`token` / `credentials`) or
 *   providers.
 * - `expectedVersionId` is part of it so that a fence that starts again at 1 (the state item was
 *   lost or deleted by TTL while the secret lived on) does not reuse the id of a version written
 *   long ago: same token with another value is `ResourceExistsException`, which would otherwise fail
 *   every write until the fence passed its old maximum.
 */
export function clientRequestTokenFor(input: {
  readonly purpose: string;
  readonly provider: string;
  readonly fence: number;
  readonly expectedVersionId: string | undefined;
}): string {
  return writeVersionIdOf([
    'token-refresher',
    input.purpose,
    input.provider,
    input.fence,
    input.expectedVersionId ?? null,
  ]);
}

/** Re-exported for existing importers; its home is `secrets-errors.ts` (no SDK import, so the read function's
 * SDK-free path shares it). */
export { translateSecretsManagerError };

/** Reads and compare-and-swap-writes JSON secrets. */
export class JsonSecrets {
  readonly #secretsManager: LazySecretsManagerClient;

  constructor(options: SecretsManagerAdapterOptions = {}) {
    this.#secretsManager = lazySecretsManagerClientOf(options);
  }

  /**
   * Read the `AWSCURRENT` version. `VersionStage` is always explicit: without it moto may return
   * another version (docs/local-development.md, "Known emulator differences"), and it says what we
   * mean.
   * @throws StoreError (see {@link translateSecretsManagerError})
   */
  async readCurrent(secretId: string): Promise<JsonSecretVersion> {
    const { versionId, value } = await this.#read(secretId, { VersionStage: AWSCURRENT });
    return { versionId, value };
  }

  /**
   * Read the version holding `stage`, with its labels; `undefined` when no version holds it (or the
   * secret does not exist: {@link readCurrent} says which, with the right error).
   * @throws StoreError (see {@link translateSecretsManagerError})
   */
  async readStage(secretId: string, stage: string): Promise<LabelledJsonSecretVersion | undefined> {
    return this.#readIfExists(secretId, { VersionStage: stage });
  }

  /**
   * {@link #read}, with `undefined` for `ResourceNotFoundException`: no version has that label or id
   * (or the secret does not exist).
   */
  async #readIfExists(
    secretId: string,
    version: { readonly VersionStage: string } | { readonly VersionId: string },
  ): Promise<LabelledJsonSecretVersion | undefined> {
    try {
      return await this.#read(secretId, version);
    } catch (error) {
      if (error instanceof StoreError && error.code === 'secret_not_found') return undefined;
      throw error;
    }
  }

  async #read(
    secretId: string,
    version: { readonly VersionStage: string } | { readonly VersionId: string },
  ): Promise<LabelledJsonSecretVersion> {
    const { sdk, client } = await this.#secretsManager.load();
    let output: { VersionId?: string; SecretString?: string; VersionStages?: string[] };
    try {
      output = await client.send(new sdk.GetSecretValueCommand({ SecretId: secretId, ...version }));
    } catch (error) {
      throw translateSecretsManagerError(error, 'GetSecretValue', secretId);
    }
    return {
      versionId: answeredVersionId(output.VersionId, secretId),
      value: parseJson(output.SecretString),
      stages: output.VersionStages ?? [],
    };
  }

  /** The labels of version `versionId`, or `undefined` when there is no such version. */
  async #stagesOf(secretId: string, versionId: string): Promise<readonly string[] | undefined> {
    return (await this.#readIfExists(secretId, { VersionId: versionId }))?.stages;
  }

  /**
   * Write `value` as a new version and move `AWSCURRENT` to it from `expectedVersionId`.
   * @returns the new version id (equal to `clientRequestToken`).
   * @throws WriteConflictError when `AWSCURRENT` is no longer on `expectedVersionId` (a newer writer
   *   won; its value stays), or when the token was already used for a different value.
   * @throws StoreError (see {@link translateSecretsManagerError})
   */
  async compareAndSwap(input: CompareAndSwapInput): Promise<string> {
    const { secretId, clientRequestToken, expectedVersionId } = input;
    if (input.resume) {
      // A version id is never reused with another value (ResourceExistsException), so an existing
      // version with this id holds this write's value.
      const stages = await this.#stagesOf(secretId, clientRequestToken);
      if (stages?.includes(AWSCURRENT)) return clientRequestToken;
      if (stages !== undefined) {
        await this.moveCurrent(secretId, clientRequestToken, expectedVersionId);
        return clientRequestToken;
      }
    }
    const { sdk, client } = await this.#secretsManager.load();
    let put: { VersionId?: string; VersionStages?: string[] };
    try {
      put = await client.send(
        new sdk.PutSecretValueCommand({
          SecretId: secretId,
          SecretString: JSON.stringify(input.value),
          // Not AWSCURRENT: the label moves only in the conditional step below.
          VersionStages: [AWSPENDING],
          ClientRequestToken: clientRequestToken,
        }),
      );
    } catch (error) {
      if (isAwsError(error, 'ResourceExistsException')) {
        // Same ClientRequestToken, different value: this logical write already produced another value
        // (an earlier attempt under the same lease generation). Never overwrite a version.
        throw new WriteConflictError(
          `Secret "${secretId}" already has version ${clientRequestToken} with a different value ` +
            '(an earlier attempt of this write); not overwriting it',
          { cause: error },
        );
      }
      throw translateSecretsManagerError(error, 'PutSecretValue', secretId);
    }
    const versionId = put.VersionId ?? clientRequestToken;

    // Already current: the first version of a secret created without a value (Secrets Manager attaches
    // AWSCURRENT to it by itself), or the retry of a write whose move already happened.
    if (put.VersionStages?.includes(AWSCURRENT)) return versionId;

    await this.moveCurrent(secretId, versionId, expectedVersionId);
    return versionId;
  }

  /**
   * Move `AWSCURRENT` to `versionId`, only from `expectedVersionId` (the compare of compare-and-swap).
   * @throws WriteConflictError when `AWSCURRENT` is no longer on `expectedVersionId`
   * @throws StoreError (see {@link translateSecretsManagerError})
   */
  async moveCurrent(
    secretId: string,
    versionId: string,
    expectedVersionId: string | undefined,
  ): Promise<void> {
    const { sdk, client } = await this.#secretsManager.load();
    try {
      await client.send(
        new sdk.UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: AWSCURRENT,
          MoveToVersionId: versionId,
          // The compare of compare-and-swap: the move fails unless AWSCURRENT is still on this version.
          ...(expectedVersionId === undefined ? {} : { RemoveFromVersionId: expectedVersionId }),
        }),
      );
    } catch (error) {
      if (!isAwsError(error, 'InvalidParameterException')) {
        throw translateSecretsManagerError(error, 'UpdateSecretVersionStage', secretId);
      }
      // AWS: "...if you specify RemoveFromVersionId, it must be set to the version that currently has the
      // staging label AWSCURRENT"; moto: "Version stage AWSCURRENT not found in version <id>". Find out
      // where the label is rather than trusting a message.
      const current = await this.#currentVersionId(secretId);
      if (current === versionId) return; // a retried move that had already succeeded
      if (current !== expectedVersionId) {
        throw new WriteConflictError(
          `${AWSCURRENT} of secret "${secretId}" moved from version ${expectedVersionId ?? '(none)'} to ` +
            `${current ?? '(none)'} meanwhile; the newer value stays`,
          { cause: error },
        );
      }
      // The label is where we expected it, so the rejection was about something else.
      throw translateSecretsManagerError(error, 'UpdateSecretVersionStage', secretId);
    }
  }

  /**
   * Take every staging label except `AWSCURRENT` off version `versionId` (`AWSPREVIOUS`, `AWSPENDING`,
   * custom ones), so that no reader by label gets its value any more (a revoked token). The version
   * itself stays: Secrets Manager has no call that deletes one version, and deletes unlabelled
   * versions itself. `AWSCURRENT` is never touched: only a compare-and-swap moves it. A label that
   * moved on meanwhile (a refresh moved `AWSCURRENT`, and `AWSPREVIOUS` with it) is no longer there
   * to remove.
   * @returns the labels the version still holds afterwards: none, unless it holds `AWSCURRENT`;
   *   `undefined` when there is no such version.
   * @throws StoreError (see {@link translateSecretsManagerError})
   */
  async removeStages(secretId: string, versionId: string): Promise<readonly string[] | undefined> {
    const stages = await this.#stagesOf(secretId, versionId);
    if (stages === undefined) return undefined;
    const { sdk, client } = await this.#secretsManager.load();
    for (const stage of stages.filter((label) => label !== AWSCURRENT)) {
      try {
        await client.send(
          new sdk.UpdateSecretVersionStageCommand({
            SecretId: secretId,
            VersionStage: stage,
            // Without MoveToVersionId: the label is only removed.
            RemoveFromVersionId: versionId,
          }),
        );
      } catch (error) {
        // InvalidParameterException: the label is no longer on this version (checked just below).
        if (!isAwsError(error, 'InvalidParameterException')) {
          throw translateSecretsManagerError(error, 'UpdateSecretVersionStage', secretId);
        }
      }
    }
    return this.#stagesOf(secretId, versionId);
  }

  /** Where `AWSCURRENT` is; `undefined` when nobody holds the label. */
  async #currentVersionId(secretId: string): Promise<string | undefined> {
    return (await this.#readIfExists(secretId, { VersionStage: AWSCURRENT }))?.versionId;
  }
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
