/**
 * What the credentials secret must hold to be usable: a JSON object of string fields that is not the
 * stack's placeholder. One rule for the adapter (functions/aws/credentials-store.ts) and the fake
 * that stands for it in unit tests.
 */

/**
 * Why a parsed secret value is not usable credentials, or `undefined` when it is. Names fields, never
 * values.
 */
export function credentialsProblem(value: unknown): string | undefined {
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
