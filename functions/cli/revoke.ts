/**
 * `token-refresher revoke <provider>`: make the current token unusable and let the next refresh write
 * a new one (seed idea: destroy a token).
 *
 * 1. Read the token secret's `AWSCURRENT` (the token store; nothing to do when it holds no token).
 * 2. Write `{"status":"revoked","revokedAt":"<iso>"}` as a new `AWSCURRENT` version with the same
 *    compare-and-swap the engine uses (`RemoveFromVersionId` = the version read in 1): if a refresh
 *    wrote a newer token meanwhile, the write fails instead of hiding it (exit 1, run again).
 * 3. Mark the state item: no token expiry, due now, so the next scheduled run refreshes.
 *
 * Readers then find no token: the token store reads a non-token JSON as "no token"; the Secrets
 * Manager client answers `token_not_ready`, the read function refreshes on demand (503 if that
 * fails). The token value is never read into the output.
 */
import { randomUUID } from 'node:crypto';
import { createSecretsManagerClient, JsonSecrets } from '../aws/secrets.js';
import { createDynamoDbClient, DynamoDbStateTable } from '../aws/state-table.js';
import { SecretsManagerTokenStore } from '../aws/token-store.js';
import { WriteConflictError } from '../core/errors.js';
import { tokenSecretName } from '../core/names.js';
import type { Clock } from '../core/ports.js';
import type { ProviderState } from '../core/types.js';
import { CliError } from './errors.js';
import { checkProvider, type Target } from './target.js';

/** How long consumers' caches keep a token before its expiry (the client's and read function's margin). */
const CACHE_MARGIN_SECONDS = 30;

export type RevokeOutcome =
  | {
      readonly status: 'revoked';
      readonly provider: string;
      readonly secretId: string;
      readonly revokedAt: string;
      /** The version that now holds `AWSCURRENT` (the revoked placeholder). */
      readonly versionId: string;
      /** The revoked token's version: now `AWSPREVIOUS`. */
      readonly previousVersionId: string;
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
      readonly provider: string;
      readonly secretId: string;
      readonly versionId: string;
    };

export async function revokeToken(target: Target, provider: string, clock: Clock): Promise<RevokeOutcome> {
  checkProvider(provider, await target.providerNames());
  const [secretPrefix, tableName] = await Promise.all([target.secretPrefix(), target.tableName()]);
  const secretId = tokenSecretName(secretPrefix, provider);
  const secretsClient = createSecretsManagerClient(target.clientConfig);
  const dynamoDbClient = createDynamoDbClient(target.clientConfig);
  try {
    const current = await new SecretsManagerTokenStore({ client: secretsClient, secretPrefix }).readCurrent(
      provider,
    );
    if (current.token === undefined) {
      return { status: 'no-token', provider, secretId, versionId: current.versionId };
    }
    const revokedAt = new Date(clock.now()).toISOString();
    let versionId: string;
    try {
      versionId = await new JsonSecrets({ client: secretsClient }).compareAndSwap({
        secretId,
        value: { status: 'revoked', revokedAt },
        // A random version id: every revoke is its own write (the engine's ids derive from its fence).
        clientRequestToken: randomUUID(),
        expectedVersionId: current.versionId,
      });
    } catch (error) {
      if (error instanceof WriteConflictError) {
        throw new CliError(
          `a refresh wrote a new token to ${secretId} while revoking (AWSCURRENT moved); nothing was ` +
            `revoked. Run token-refresher revoke ${provider} again to revoke the new token`,
          1,
          { cause: error },
        );
      }
      throw error;
    }
    const table = new DynamoDbStateTable({ client: dynamoDbClient, tableName });
    const stateUpdated = await table.markTokenRemoved({ provider, now: clock.now() });
    const state = await table.read(provider);
    return {
      status: 'revoked',
      provider,
      secretId,
      revokedAt,
      versionId,
      previousVersionId: current.versionId,
      revokedGeneration: current.token.generation,
      revokedExpiresAt: current.token.expiresAt,
      stateUpdated,
      state,
    };
  } finally {
    secretsClient.destroy();
    dynamoDbClient.destroy();
  }
}

/** Human lines for a revoke outcome. */
export function describeRevoke(outcome: RevokeOutcome): string[] {
  if (outcome.status === 'no-token') {
    return [
      `nothing to revoke: ${outcome.secretId} holds no token (a placeholder, or revoked already; ` +
        `version ${outcome.versionId})`,
    ];
  }
  const lines = [
    `revoked the token of ${outcome.provider} (generation ${outcome.revokedGeneration}, expiring ${outcome.revokedExpiresAt})`,
    `  ${outcome.secretId}: AWSCURRENT is now version ${outcome.versionId} {"status":"revoked","revokedAt":"${outcome.revokedAt}"}`,
    '  readers: Secrets Manager readers get no token (token_not_ready) until a refresh writes a new one; the read',
    '    function refreshes on demand (503 if that refresh fails).',
  ];
  if (outcome.state?.lastErrorPermanent) {
    lines.push(
      `  WARNING: ${outcome.provider} is blocked by a permanent failure (${outcome.state.lastErrorCode ?? 'unknown'}): ` +
        `no scheduled run refreshes it; fix the cause, then run token-refresher refresh ${outcome.provider}`,
    );
  } else {
    lines.push(
      `  next token: at the next scheduled run (the provider is due now), or at once with token-refresher refresh ${outcome.provider}`,
    );
  }
  lines.push(
    `  still around: the old version ${outcome.previousVersionId} stays in the secret's history as AWSPREVIOUS, and`,
    `    caches (read-function containers, consumer clients) may serve the old token until ${CACHE_MARGIN_SECONDS} s before`,
    `    its expiry (${outcome.revokedExpiresAt}). If the token leaked, revoke it at the provider too.`,
  );
  return lines;
}
