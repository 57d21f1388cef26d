/**
 * Keeping secrets out of error messages. A token endpoint may echo what it was sent (a client secret in
 * an `error_description`, a refresh token in a debug field), so every piece of server text is redacted
 * before it reaches a message, and then cleaned and truncated.
 */

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/** Longest server-provided text (e.g. `error_description`) that a message may quote. */
export const MAX_QUOTED_TEXT_LENGTH = 200;

/** Replaces every known sensitive value in a text. */
export type Redactor = (text: string) => string;

/**
 * A redactor for the given values and their common wire encodings (percent-encoding, form encoding), so
 * that a server echoing the raw request body leaks nothing either. Empty and non-string values are
 * ignored.
 */
export function createRedactor(values: Iterable<unknown>): Redactor {
  const needles = new Set<string>();
  for (const value of values) {
    if (typeof value !== 'string' || value.length === 0) continue;
    needles.add(value);
    needles.add(encodeURIComponent(value));
    needles.add(new URLSearchParams({ v: value }).toString().slice('v='.length));
  }
  // Longest first, so that a value containing another one is replaced whole.
  const ordered = [...needles].sort((a, b) => b.length - a.length);
  return (text) => ordered.reduce((result, needle) => result.split(needle).join(REDACTED), text);
}

/**
 * Server text made fit for a message: redacted first (so truncation cannot leave half a secret), then
 * control characters removed, whitespace collapsed and cut to `maxLength` characters.
 */
export function quoteServerText(text: string, redact: Redactor, maxLength = MAX_QUOTED_TEXT_LENGTH): string {
  const clean = redact(text)
    .replace(/[\p{Cc}\p{Cf}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const characters = Array.from(clean);
  return characters.length <= maxLength ? clean : `${characters.slice(0, maxLength - 1).join('')}…`;
}
