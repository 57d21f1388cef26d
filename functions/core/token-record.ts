/**
 * The provider's answer as the token record the refresh stores (protocol step 5), once its lifetime
 * is known usable.
 */
import type { ProviderConfig } from './config.js';
import { ProviderError } from './errors.js';
import { type JsonShape, type ShapeParser, shapeParser } from './json-shape.js';
import { resolveExpiry } from './timing.js';
import type { IssuedToken, TokenRecord } from './types.js';

/**
 * The token secret's JSON as consumers rely on it (README, "Token secret"): what a token store
 * accepts as a stored token. A public contract: changing it is a breaking change. The one source of
 * the shape: stores check it with {@link tokenRecordSchema}, and {@link TokenRecord} mirrors it.
 */
export const TOKEN_RECORD_SCHEMA = {
  type: 'object',
  properties: {
    provider: { type: 'string', minLength: 1 },
    accessToken: { type: 'string', minLength: 1 },
    tokenType: { type: 'string', minLength: 1 },
    expiresAt: { type: 'string', format: 'date-time' },
    issuedAt: { type: 'string', format: 'date-time' },
    scope: { type: 'string' },
    generation: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  },
  required: ['provider', 'accessToken', 'tokenType', 'expiresAt', 'issuedAt', 'generation'],
} as const satisfies JsonShape;

const TOKEN_FIELDS = Object.keys(TOKEN_RECORD_SCHEMA.properties) as readonly (keyof TokenRecord)[];
const tokenRecordShape = shapeParser<TokenRecord>(TOKEN_RECORD_SCHEMA, 'token');

/**
 * Checks a stored value against {@link TOKEN_RECORD_SCHEMA}; a valid one comes back with only the
 * record's fields (anything else stored beside them is left out). Problems name fields, never values.
 */
export const tokenRecordSchema: ShapeParser<TokenRecord> = {
  schema: TOKEN_RECORD_SCHEMA,
  safeParse(value) {
    const result = tokenRecordShape.safeParse(value);
    if (!result.success) return result;
    const stored = result.data as unknown as Readonly<Record<string, unknown>>;
    const record = Object.fromEntries(
      TOKEN_FIELDS.filter((field) => field in stored).map((field) => [field, stored[field]]),
    );
    return { success: true, data: record as unknown as TokenRecord };
  },
};

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
