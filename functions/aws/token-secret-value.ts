/**
 * The token record in a token secret's value: what both ways of reading the token secret (the SDK
 * adapter `token-store.ts`, the read function's SDK-free reader `fetch-token-readers.ts`) make of it.
 * No SDK import.
 */
import { tokenRecordSchema } from '../core/token-record.js';
import type { TokenRecord } from '../core/types.js';

/**
 * The secret's parsed JSON as a token record of `provider`. Anything else — the stack's placeholder
 * `{"status":"pending"}`, a value that was not JSON (`undefined`), a record of another provider — is
 * no usable token yet (`undefined`), so the engine refreshes and overwrites it. A record of another
 * provider means a misconfigured secret name: no token, rather than provider A's token for B's consumers.
 */
export function tokenOfSecretValue(value: unknown, provider: string): TokenRecord | undefined {
  const parsed = tokenRecordSchema.safeParse(value);
  return parsed.success && parsed.data.provider === provider ? parsed.data : undefined;
}

/** A `SecretString` as JSON; `undefined` when absent or not JSON (the raw string is never kept or reported). */
export function parseSecretJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
