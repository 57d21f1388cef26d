/**
 * The domain errors of a Secrets Manager call, from the SDK's exception or the SDK-free transport's
 * error of the same name (`AwsRequestError` of `functions/client/signed-fetch.ts`). No SDK import: the
 * read function's `fetch` path (token-secret-reader.ts) translates with it without loading the SDK.
 */
import { StoreError } from '../core/errors.js';
import { awsErrorName } from './sdk-errors.js';

/**
 * Translate an SDK exception of a Secrets Manager call into a domain error.
 *
 * | SDK exception | domain error |
 * |---|---|
 * | `ResourceNotFoundException` | `StoreError` `secret_not_found`, permanent |
 * | `AccessDeniedException` | `StoreError` `secrets_manager_access_denied`, permanent |
 * | `DecryptionFailure` | `StoreError` `secret_decryption_failed`, permanent |
 * | `InvalidRequestException`, `InvalidParameterException`, `ValidationException` | `StoreError` `secrets_manager_invalid_request`, permanent |
 * | anything else: throttling, 5xx, network, timeouts | `StoreError` `secrets_manager_unavailable`, transient |
 */
export function translateSecretsManagerError(
  error: unknown,
  operation: string,
  secretId: string,
): StoreError {
  const name = awsErrorName(error);
  switch (name) {
    case 'ResourceNotFoundException':
      return new StoreError(
        `Secret "${secretId}" was not found, or has no AWSCURRENT version (${operation}: ${name}); ` +
          'deploy the stack that creates it, or fix the configured secret name/ARN',
        'secret_not_found',
        'permanent',
        { cause: error },
      );
    case 'AccessDeniedException':
      return new StoreError(
        `Access denied to secret "${secretId}" (${operation}); grant the function ${operation} on it`,
        'secrets_manager_access_denied',
        'permanent',
        { cause: error },
      );
    case 'DecryptionFailure':
      return new StoreError(
        `Secret "${secretId}" could not be decrypted (${operation}: ${name}); check the KMS key policy`,
        'secret_decryption_failed',
        'permanent',
        { cause: error },
      );
    case 'InvalidRequestException':
    case 'InvalidParameterException':
    case 'ValidationException':
      return new StoreError(
        // Secrets Manager's messages name parameters and states (e.g. "marked for deletion"), never values.
        `Secrets Manager rejected ${operation} on "${secretId}" (${name}: ${error instanceof Error ? error.message : ''})`,
        'secrets_manager_invalid_request',
        'permanent',
        { cause: error },
      );
    default:
      return new StoreError(
        `Secrets Manager ${operation} on "${secretId}" failed (${name}); retry later`,
        'secrets_manager_unavailable',
        'transient',
        { cause: error },
      );
  }
}

/**
 * The `VersionId` of a `GetSecretValue` answer.
 * @throws StoreError `secrets_manager_unavailable` (transient) when the answer has none
 */
export function answeredVersionId(versionId: string | undefined, secretId: string): string {
  if (versionId !== undefined) return versionId;
  throw new StoreError(
    `GetSecretValue on "${secretId}" returned no VersionId`,
    'secrets_manager_unavailable',
    'transient',
  );
}
