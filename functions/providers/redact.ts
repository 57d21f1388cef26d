/**
 * Keeping secrets out of error messages. A token endpoint may echo what it was sent (a client secret in
 * an `error_description`, the `Authorization` header in a debug field, the request body inside a JSON
 * string), so every piece of server text is redacted before it reaches a message, and then cleaned
 * and truncated.
 *
 * What a sent credential can come back as, and how each is caught:
 *
 * | how it comes back | caught by |
 * |---|---|
 * | as sent; percent- or form-encoded (`%2F`, `%2f`, `+` for a space, encoded twice) | the value's pattern |
 * | JSON-escaped (`\"`, `\\`, `\/`, `\n`, `\u00e9`, `\uD83D\uDE00`), escaped up to three times | the value's pattern |
 * | as HTML character references (`&#x2F;`, `&#47;`, `&quot;`) | the value's pattern |
 * | in base64 or base64url (an echoed `Authorization: Basic` value: base64 of the form-encoded `id:secret`, RFC 6749 §2.3.1), also with `\/` or `%2F` inside | decoding every base64-looking run |
 * | in other letter case | every pattern ignores case |
 *
 * The value's pattern accepts each character in any of its encodings, so mixed forms (a JSON string
 * that was percent-encoded) are caught too. A value longer than 200 characters (a JWT, a PEM key) is
 * looked for in its whole-value encodings only (as sent, JSON-escaped, percent- and form-encoded, and
 * in base64), and a multi-line value line by line as well. The API stays `createRedactor(values)`:
 * any grant passes every value it sends or holds (client secrets, refresh tokens, signed assertions,
 * private keys; a JWK's private members as values of their own).
 */

/** What a redacted value is replaced with. */
export const REDACTED = '[redacted]';

/** Longest server-provided text (e.g. `error_description`) that a message may quote. */
export const MAX_QUOTED_TEXT_LENGTH = 200;

/** Replaces every known sensitive value in a text. */
export type Redactor = (text: string) => string;

/** JSON and JavaScript escapes may be escaped again: `\"` inside a JSON string is `\\\"`. */
const BACKSLASHES = '\\\\{0,7}';
/** `%2F`, or `%252F` when percent-encoded again (and once more). */
const PERCENT = '%(?:25){0,2}';
/** The one-letter JSON escapes (RFC 8259 §7). */
const JSON_SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\b': 'b',
  '\f': 'f',
  '\n': 'n',
  '\r': 'r',
  '\t': 't',
};
/** HTML's named references for the characters HTML escapers always replace. */
const HTML_NAMED: Readonly<Record<string, string>> = {
  '"': 'quot',
  '&': 'amp',
  "'": '(?:apos|#39)',
  '<': 'lt',
  '>': 'gt',
};
/**
 * Shortest run of base64 characters worth decoding: 12 characters carry 9 bytes, shorter than any
 * credential pair `id:secret` worth the name. A run is at least one base64 character, or a `/` written
 * `\/` or `%2F`, or `+` and `=` percent-encoded.
 */
const BASE64_RUN = /(?:[A-Za-z0-9_-]|\\*\/|\+|=|%(?:25)?(?:2[BbFf]|3[Dd])){12,}/g;
/** A value shorter than this is not looked for inside decoded base64 on its own (false matches). */
const MIN_DECODED_NEEDLE_LENGTH = 4;
/** Lines of a multi-line value (a PEM key) this long are redacted on their own as well. */
const MIN_LINE_LENGTH = 16;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0');
}

/** Every way one character (a code point) may be written in echoed text, as a regular expression. */
function characterPattern(character: string): string {
  const codePoint = character.codePointAt(0) ?? 0;
  const alternatives = [`${BACKSLASHES}${escapeRegExp(character)}`];
  if (character === ' ') alternatives.push('\\+');
  const short = JSON_SHORT_ESCAPES[character];
  if (short !== undefined) alternatives.push(`${BACKSLASHES}\\\\${short}`);
  // \uXXXX, one per UTF-16 code unit (a surrogate pair outside the BMP).
  const units: string[] = [];
  for (let index = 0; index < character.length; index++) units.push(hex(character.charCodeAt(index), 4));
  alternatives.push(units.map((unit) => `${BACKSLASHES}\\\\u${unit}`).join(''));
  // %XX per UTF-8 byte.
  const bytes = [...new TextEncoder().encode(character)];
  alternatives.push(bytes.map((byte) => `${PERCENT}${hex(byte, 2)}`).join(''));
  alternatives.push(`&#(?:x0*${hex(codePoint, 1)}|0*${codePoint});`);
  const named = HTML_NAMED[character];
  if (named !== undefined) alternatives.push(`&${named};`);
  return `(?:${alternatives.join('|')})`;
}

/**
 * Values up to this length get the per-character pattern (client ids and secrets, most refresh
 * tokens). Longer ones (JWTs, PEM keys) get {@link literalForms}: a per-character pattern of a
 * 2,000-character value costs about a second to compile, on every token request.
 */
const MAX_PER_CHARACTER_LENGTH = 200;

/**
 * The whole-value encodings of a long value: as sent, JSON-escaped (plain, with `\/`, twice), percent-
 * and form-encoded.
 */
function literalForms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  return [
    value,
    json,
    json.replaceAll('/', '\\/'),
    JSON.stringify(json).slice(1, -1),
    encodeURIComponent(value),
    new URLSearchParams({ v: value }).toString().slice('v='.length),
  ];
}

/** A value to look for, and whether only its {@link literalForms} are looked for. */
interface Needle {
  readonly text: string;
  readonly literal: boolean;
}

/**
 * A pattern matching a needle: written in any mix of the encodings of {@link characterPattern}, or,
 * for a long or multi-line value and the lines of one, in one of its {@link literalForms}.
 */
function needlePattern(needle: Needle): string {
  if (!needle.literal) return Array.from(needle.text, characterPattern).join('');
  return [...new Set(literalForms(needle.text))].map(escapeRegExp).join('|');
}

/** The values to look for: each value, and each long line of a multi-line one (a PEM key). */
function needlesOf(values: Iterable<unknown>): Needle[] {
  const needles = new Map<string, Needle>();
  for (const value of values) {
    if (typeof value !== 'string' || value.length === 0) continue;
    const multiLine = /[\r\n]/.test(value);
    needles.set(value, { text: value, literal: multiLine || value.length > MAX_PER_CHARACTER_LENGTH });
    if (!multiLine) continue;
    for (const line of value.split(/\r?\n|\r/).map((part) => part.trim())) {
      if (line.length >= MIN_LINE_LENGTH && !needles.has(line))
        needles.set(line, { text: line, literal: true });
    }
  }
  // Longest first, so that a value containing another one is replaced whole.
  return [...needles.values()].sort((a, b) => b.text.length - a.text.length);
}

/** One case-insensitive alternation of the values' patterns, or `undefined` when there is no value. */
function matcherOf(needles: readonly Needle[]): RegExp | undefined {
  return needles.length === 0 ? undefined : new RegExp(needles.map(needlePattern).join('|'), 'gi');
}

/** A base64 run as the decoder wants it: `\/` and percent-encoded `/`, `+`, `=` written plainly. */
function plainBase64(run: string): string {
  return run
    .replace(/\\+\//g, '/')
    .replace(/%(?:25)?(2[Bb]|2[Ff]|3[Dd])/g, (_match, code: string) =>
      String.fromCharCode(Number.parseInt(code, 16)),
    );
}

/**
 * Whether a base64 or base64url run decodes to text holding a value. The run may start inside other
 * base64 characters (`Basic%20` leaves `20` in front of the credentials), so each of the four
 * alignments is decoded.
 */
function base64Hides(run: string, matcher: RegExp): boolean {
  const plain = plainBase64(run).replace(/=+$/, '');
  for (let offset = 0; offset < 4 && plain.length - offset >= 8; offset++) {
    // Node's base64 decoder accepts both alphabets (`+/` and `-_`).
    const bytes = Buffer.from(plain.slice(offset), 'base64');
    for (const decoded of [bytes.toString('utf8'), bytes.toString('latin1')]) {
      matcher.lastIndex = 0;
      if (matcher.test(decoded)) return true;
    }
  }
  return false;
}

/**
 * A redactor for the given values in every encoding listed in this file's header, so that a server
 * echoing the raw request (body, headers) leaks nothing either. Empty and non-string values are
 * ignored.
 */
export function createRedactor(values: Iterable<unknown>): Redactor {
  const needles = needlesOf(values);
  const matcher = matcherOf(needles);
  if (matcher === undefined) return (text) => text;
  const decodedMatcher = matcherOf(
    needles.filter((needle) => needle.text.length >= MIN_DECODED_NEEDLE_LENGTH),
  );
  return (text) => {
    const direct = text.replace(matcher, REDACTED);
    if (decodedMatcher === undefined) return direct;
    return direct.replace(BASE64_RUN, (run) => (base64Hides(run, decodedMatcher) ? REDACTED : run));
  };
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
