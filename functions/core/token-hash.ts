/**
 * Consumers report a refused token by its SHA-256, so the token itself never travels back or gets
 * logged; the engine compares hashes in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** `[0-9a-f]{64}`: the form of a reported hash. */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

/** Lower-case hex SHA-256 of a token's UTF-8 bytes. */
export function sha256Hex(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** True when `token` hashes to `expectedSha256Hex` (a lower-case hex string). */
export function tokenMatchesHash(token: string, expectedSha256Hex: string): boolean {
  if (!SHA256_HEX_PATTERN.test(expectedSha256Hex)) return false;
  const actual = createHash('sha256').update(token, 'utf8').digest();
  return timingSafeEqual(actual, Buffer.from(expectedSha256Hex, 'hex'));
}
