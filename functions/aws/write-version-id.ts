/**
 * The version id of one logical write: an RFC 9562 UUIDv8 from a SHA-256 of what identifies it. Both
 * token stores name a write by it (the Secrets Manager `ClientRequestToken`, the DynamoDB item's
 * `versionId`), so that a repeated write is recognised as the same one. No SDK import: the DynamoDB
 * adapter uses it without loading the Secrets Manager client.
 */
import { createHash } from 'node:crypto';

/** A well-formed UUID (version nibble 8, variant bits 10xx) derived from `parts` alone. */
export function writeVersionIdOf(parts: readonly unknown[]): string {
  const hex = createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  // Version nibble 8 (custom, RFC 9562 §5.8) and variant bits 10xx, so that it is a well-formed UUID.
  const variant = ((Number.parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    `8${hex.slice(13, 16)}`,
    `${variant}${hex.slice(17, 20)}`,
    hex.slice(20, 32),
  ].join('-');
}
