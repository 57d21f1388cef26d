/**
 * `revoke` of a provider whose token lives in the token secret (the default `tokenStore`):
 *
 * 1. Read the token secret's `AWSCURRENT` (the token store; nothing to do when it holds no token).
 * 2. Write `{"status":"revoked","revokedAt":"<iso>"}` as a new `AWSCURRENT` version with the same
 *    compare-and-swap the engine uses (`RemoveFromVersionId` = the version read in 1): if a refresh
 *    wrote a newer token meanwhile, the write fails instead of hiding it (exit 1, run again).
 * 3. Mark the state item: no token expiry, due now, so the next scheduled run refreshes.
 * 4. Take the staging labels off the revoked token's version: Secrets Manager gave it `AWSPREVIOUS`
 *    when `AWSCURRENT` left it, and `GetSecretValue` with `VersionStage: AWSPREVIOUS` would still
 *    return the token (issue 15, finding 11). The refresh protocol never reads `AWSPREVIOUS` and its
 *    compare-and-swap only needs `AWSCURRENT`, which stays on the placeholder; the next write moves
 *    `AWSPREVIOUS` to the placeholder. The version itself stays until Secrets Manager deletes it
 *    (there is no call that deletes one version): a caller that knows its version id and may read the
 *    secret can still read it by id (docs/runbook.md, "Revoking a token").
 *
 * A revoke that finds no token (already revoked, maybe by a version of this CLI that left
 * `AWSPREVIOUS` on the token) still does step 4 for a token left as `AWSPREVIOUS`.
 *
 * Readers then find no token: the token store reads a non-token JSON as "no token"; the Secrets
 * Manager client answers `token_not_ready`, the read function refreshes on demand (503 if that
 * fails). The token value is never read into the output.
 */
import { randomUUID } from 'node:crypto';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AWSPREVIOUS, JsonSecrets } from '../aws/secrets.js';
import { tokenRecordSchema } from '../aws/token-store.js';
import { WriteConflictError } from '../core/errors.js';
import type { CurrentToken, ProviderState } from '../core/types.js';
import { CliError } from './errors.js';

/** What a revoke did to the token secret (`store` absent: the shape from before the token table). */
export type SecretRevokeOutcome =
  | {
      readonly status: 'revoked';
      readonly store?: undefined;
      readonly provider: string;
      readonly secretId: string;
      readonly revokedAt: string;
      /** The version that now holds `AWSCURRENT` (the revoked placeholder). */
      readonly versionId: string;
      /** The revoked token's version: no staging label left (see `previousVersionStages`). */
      readonly previousVersionId: string;
      /** The labels the revoked token's version still holds: none after a successful revoke. */
      readonly previousVersionStages: readonly string[];
      readonly revokedGeneration: number;
      readonly revokedExpiresAt: string;
      /** False when the provider had no state item (it never ran). */
      readonly stateUpdated: boolean;
      /** The state after the update (to warn about a permanent failure that blocks the next run). */
      readonly state: ProviderState | undefined;
    }
  | {
      /** The secret held no token (its placeholder, or already revoked): nothing was written. */
      readonly status: 'no-token';
      readonly store?: undefined;
      readonly provider: string;
      readonly secretId: string;
      readonly versionId: string;
      /** A token version still labelled `AWSPREVIOUS` whose labels this run removed. */
      readonly retiredVersionId?: string;
    };

type Revoked = Extract<SecretRevokeOutcome, { status: 'revoked' }>;

/** Steps 2-4 for the token secret. */
export async function revokeSecretToken(input: {
  readonly provider: string;
  readonly secretId: string;
  readonly client: SecretsManagerClient;
  /** Step 1's read. */
  readonly current: CurrentToken;
  readonly now: number;
  /** Step 3. */
  readonly markDue: () => Promise<Pick<Revoked, 'stateUpdated' | 'state'>>;
}): Promise<SecretRevokeOutcome> {
  const { provider, secretId, current } = input;
  const secrets = new JsonSecrets({ client: input.client });
  if (current.token === undefined) {
    const retiredVersionId = await retirePreviousToken(secrets, secretId, provider);
    return {
      status: 'no-token',
      provider,
      secretId,
      versionId: current.versionId,
      ...(retiredVersionId === undefined ? {} : { retiredVersionId }),
    };
  }
  const revokedAt = new Date(input.now).toISOString();
  const versionId = await writeRevoked(secrets, {
    secretId,
    provider,
    revokedAt,
    expected: current.versionId,
  });
  const { stateUpdated, state } = await input.markDue();
  const previousVersionStages = await removeLabels(secrets, {
    secretId,
    provider,
    versionId: current.versionId,
  });
  return {
    status: 'revoked',
    provider,
    secretId,
    revokedAt,
    versionId,
    previousVersionId: current.versionId,
    previousVersionStages,
    revokedGeneration: current.token.generation,
    revokedExpiresAt: current.token.expiresAt,
    stateUpdated,
    state,
  };
}

/** Step 2: the revoked placeholder as the new `AWSCURRENT`, compare-and-swapped from `expected`. */
async function writeRevoked(
  secrets: JsonSecrets,
  input: {
    readonly secretId: string;
    readonly provider: string;
    readonly revokedAt: string;
    readonly expected: string;
  },
): Promise<string> {
  try {
    return await secrets.compareAndSwap({
      secretId: input.secretId,
      value: { status: 'revoked', revokedAt: input.revokedAt },
      // A random version id: every revoke is its own write (the engine's ids derive from its fence).
      clientRequestToken: randomUUID(),
      expectedVersionId: input.expected,
    });
  } catch (error) {
    if (error instanceof WriteConflictError) {
      throw new CliError(
        `a refresh wrote a new token to ${input.secretId} while revoking (AWSCURRENT moved); nothing was ` +
          `revoked. Run token-refresher revoke ${input.provider} again to revoke the new token`,
        1,
        { cause: error },
      );
    }
    throw error;
  }
}

/**
 * Step 4: no staging label left on the revoked token's version.
 * @throws CliError (exit 1) when Secrets Manager refused: the token is revoked but still readable as
 *   `AWSPREVIOUS`; running revoke again finishes the job.
 */
async function removeLabels(
  secrets: JsonSecrets,
  input: { readonly secretId: string; readonly provider: string; readonly versionId: string },
): Promise<readonly string[]> {
  try {
    return (await secrets.removeStages(input.secretId, input.versionId)) ?? [];
  } catch (error) {
    throw new CliError(
      `revoked: AWSCURRENT of ${input.secretId} holds the revoked placeholder, but the old version ` +
        `${input.versionId} could not lose its staging labels (${error instanceof Error ? error.name : 'error'}), ` +
        `so GetSecretValue with VersionStage AWSPREVIOUS still returns the revoked token. Run ` +
        `token-refresher revoke ${input.provider} again (it removes the label), with ` +
        'secretsmanager:UpdateSecretVersionStage on the secret',
      1,
      { cause: error },
    );
  }
}

/**
 * A revoke that found no token: if `AWSPREVIOUS` still holds a token of this provider (a revoke
 * interrupted before step 4, or made by an earlier version of this CLI), take its labels off.
 * @returns the version whose labels were removed
 */
async function retirePreviousToken(
  secrets: JsonSecrets,
  secretId: string,
  provider: string,
): Promise<string | undefined> {
  const previous = await secrets.readStage(secretId, AWSPREVIOUS);
  if (previous === undefined) return undefined;
  const token = tokenRecordSchema.safeParse(previous.value);
  if (!token.success || token.data.provider !== provider) return undefined;
  await removeLabels(secrets, { secretId, provider, versionId: previous.versionId });
  return previous.versionId;
}

/** The line(s) of a revoke that found no token in the secret. */
export function noSecretTokenLines(outcome: Extract<SecretRevokeOutcome, { status: 'no-token' }>): string[] {
  return [
    `nothing to revoke: ${outcome.secretId} holds no token (a placeholder, or revoked already; ` +
      `version ${outcome.versionId})`,
    ...(outcome.retiredVersionId === undefined
      ? []
      : [
          `  removed the staging labels of version ${outcome.retiredVersionId}, which still held a token ` +
            'as AWSPREVIOUS: no reader by label gets it any more',
        ]),
  ];
}

/** The token secret's lines: what changed, and what remains. */
export function secretRevokeLines(
  outcome: Revoked,
  cacheMarginSeconds: number,
): {
  readonly changed: string[];
  readonly remains: string[];
} {
  const labels = outcome.previousVersionStages;
  return {
    changed: [
      `  ${outcome.secretId}: AWSCURRENT is now version ${outcome.versionId} {"status":"revoked","revokedAt":"${outcome.revokedAt}"}`,
      '  readers: Secrets Manager readers get no token (token_not_ready) until a refresh writes a new one; the read',
      '    function refreshes on demand (503 if that refresh fails).',
    ],
    remains: [
      labels.length === 0
        ? `  old version ${outcome.previousVersionId}: no staging label left (AWSPREVIOUS removed), so no reader by label gets it;`
        : `  WARNING: old version ${outcome.previousVersionId} still holds ${labels.join(', ')};`,
      '    Secrets Manager keeps the unlabelled version until it deletes it, readable by its version id to whoever may',
      `    read the secret. Caches (read-function containers, consumer clients) may serve the old token until ${cacheMarginSeconds} s`,
      `    before its expiry (${outcome.revokedExpiresAt}). If the token leaked, revoke it at the provider too.`,
    ],
  };
}
