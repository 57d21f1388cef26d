/**
 * Test helpers for the AWS adapters.
 */

/**
 * An SDK-shaped error for exceptions a client does not model as a class (throttling and 5xx errors
 * come from the protocol layer): `name`, `$fault` and `$metadata` as SDK v3 sets them.
 */
export function awsError(name: string, message: string, httpStatusCode: number): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
  });
}
