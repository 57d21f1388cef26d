/**
 * The credentials checks every grant shares. Which fields a grant needs is declared once, in
 * `GRANT_CAPABILITIES` (functions/core/grants.ts); the providers read it here instead of naming the
 * fields themselves.
 */
import type { ProviderConfig } from '../core/config.js';
import { CredentialsError } from '../core/errors.js';
import { type Grant, type RequiredCredential, requiredCredentialsOf } from '../core/grants.js';
import type { Credentials } from '../core/types.js';

/**
 * A credential the grant cannot work without. Names the field, never a value.
 * @throws CredentialsError `credentials_invalid`
 */
export function requireCredential(
  credentials: Credentials,
  field: string,
  config: Pick<ProviderConfig, 'name' | 'grant'>,
): string {
  const value = Object.hasOwn(credentials, field) ? credentials[field] : undefined;
  if (typeof value !== 'string' || value === '') {
    throw new CredentialsError(
      `Credentials of provider "${config.name}" lack "${field}" (a non-empty string), which the ${config.grant} grant needs`,
    );
  }
  return value;
}

/**
 * Every credential the provider needs (`requiredCredentialsOf`: the grant's, its preset's and its
 * client authentication's), by field name, checked in that order. The result is typed with the
 * grant's own fields; the others are read with {@link requireCredential}.
 * @throws CredentialsError `credentials_invalid` naming the first missing field
 */
export function requireGrantCredentials<G extends Grant>(
  credentials: Credentials,
  config: ProviderConfig & { readonly grant: G },
): Record<RequiredCredential<G>, string> {
  const required = requiredCredentialsOf(config);
  const values: Record<string, string> = {};
  for (const field of required) values[field] = requireCredential(credentials, field, config);
  return values as Record<RequiredCredential<G>, string>;
}

/** Every string value of the credentials: none of them may appear in a message. */
export function credentialValues(credentials: Credentials): string[] {
  return Object.values(credentials).filter((value): value is string => typeof value === 'string');
}
