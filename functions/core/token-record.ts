/**
 * The provider's answer as the token record the refresh stores (protocol step 5), once its lifetime
 * is known usable.
 */
import * as z from 'zod';
import type { ProviderConfig } from './config.js';
import { ProviderError } from './errors.js';
import { resolveExpiry } from './timing.js';
import type { IssuedToken, TokenRecord } from './types.js';

/**
 * The token secret's JSON as consumers rely on it (README, "Token secret"): what a token store
 * accepts as a stored token. A public contract: changing it is a breaking change.
 */
export const tokenRecordSchema = z.object({
  provider: z.string().min(1),
  accessToken: z.string().min(1),
  tokenType: z.string().min(1),
  expiresAt: z.iso.datetime({ offset: true }),
  issuedAt: z.iso.datetime({ offset: true }),
  scope: z.string().optional(),
  generation: z.number().int().nonnegative(),
});

/** A token record and its times as numbers. */
export interface UsableToken {
  readonly record: TokenRecord;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/**
 * The provider's answer as the record to store; a transient `ProviderError` (`invalid_lifetime`)
 * when its lifetime is unusable.
 */
export function usableToken(
  config: Pick<ProviderConfig, 'name' | 'expectedLifetime'>,
  generation: number,
  issued: IssuedToken,
  issuedAt: number,
): UsableToken {
  const expiry = resolveExpiry(issued, config.expectedLifetime, issuedAt);
  if (!expiry.ok) {
    throw new ProviderError(
      `The token endpoint returned an unusable token: ${expiry.reason}`,
      'invalid_lifetime',
      'transient',
    );
  }
  const record: TokenRecord = {
    provider: config.name,
    accessToken: issued.accessToken,
    tokenType: issued.tokenType,
    expiresAt: new Date(expiry.expiresAt).toISOString(),
    issuedAt: new Date(issuedAt).toISOString(),
    ...(issued.scope === undefined ? {} : { scope: issued.scope }),
    generation,
  };
  return { record, issuedAt, expiresAt: expiry.expiresAt };
}
