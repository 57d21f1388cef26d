/**
 * Small helpers to recognise AWS SDK v3 exceptions without importing every exception class.
 *
 * SDK v3 sets `name` to the service's exception shape (`ConditionalCheckFailedException`,
 * `ResourceNotFoundException`, ...); network failures surface as plain Node errors (`TimeoutError`,
 * `Error` with `code: 'ECONNREFUSED'`) without `$metadata`.
 */

/** The exception name of an SDK error, or the `name` of any other error (`'unknown'` otherwise). */
export function awsErrorName(error: unknown): string {
  if (error instanceof Error) return error.name;
  if (typeof error === 'object' && error !== null && 'name' in error && typeof error.name === 'string') {
    return error.name;
  }
  return 'unknown';
}

/** True when `error` is an SDK exception with one of the given names. */
export function isAwsError(error: unknown, ...names: readonly string[]): boolean {
  return names.includes(awsErrorName(error));
}
