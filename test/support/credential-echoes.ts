/**
 * The ways a token endpoint, a proxy or a framework may echo back the credentials it was sent (issue
 * 15, finding 5): the `Authorization: Basic` value and its base64 alone or re-encoded, the request
 * body, and a credential JSON-escaped, `\uXXXX`-escaped, percent-encoded (in lower case, twice) or as
 * HTML character references. Shared by the unit test (fake fetch) and the integration test (a real
 * HTTP server on 127.0.0.1).
 */

/** What the server received. */
export interface ReceivedRequest {
  /** The `Authorization` header value, `''` when there was none. */
  readonly authorization: string;
  /** The request body as text. */
  readonly body: string;
}

/** The credentials whose forms are echoed. */
export interface EchoedCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
}

/** [label, the echo built from the request] */
export type EchoForm = readonly [string, (request: ReceivedRequest) => string];

export const base64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const base64Url = (text: string): string => Buffer.from(text, 'utf8').toString('base64url');
const jsonEscaped = (text: string): string => JSON.stringify(text).slice(1, -1);

/** Every UTF-16 code unit as `\uXXXX` (a character outside the BMP as its surrogate pair). */
function unicodeEscaped(text: string): string {
  let escaped = '';
  for (let index = 0; index < text.length; index++) {
    escaped += `\\u${text.charCodeAt(index).toString(16).padStart(4, '0')}`;
  }
  return escaped;
}

/** Every UTF-8 byte as `%xx`. */
function percentEncodedLowerCase(text: string): string {
  return [...new TextEncoder().encode(text)].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
}

/** Every character as a hexadecimal HTML character reference. */
function htmlEscaped(text: string): string {
  return Array.from(text, (character) => `&#x${(character.codePointAt(0) ?? 0).toString(16)};`).join('');
}

/** oauth4webapi's client_secret_basic encoding of one part (RFC 6749 §2.3.1: form-urlencoded). */
export function formPart(text: string): string {
  return encodeURIComponent(text)
    .replace(/[-_.!~*'()]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');
}

/** The echo forms for these credentials. */
export function echoForms(credentials: EchoedCredentials): EchoForm[] {
  const { clientId: id, clientSecret: secret, refreshToken } = credentials;
  return [
    ['the Authorization header value as received', ({ authorization }) => authorization],
    ['its base64 credentials alone', ({ authorization }) => authorization.slice('Basic '.length)],
    [
      'base64 of the form-encoded id:secret without padding',
      () => base64(`${formPart(id)}:${formPart(secret)}`).replace(/=+$/, ''),
    ],
    ['base64 of the raw id:secret', () => base64(`${id}:${secret}`)],
    ['base64url of the raw id:secret', () => base64Url(`${id}:${secret}`)],
    ['base64 of the secret alone', () => base64(secret)],
    ['the Basic value JSON-escaped (\\/)', ({ authorization }) => authorization.replaceAll('/', '\\/')],
    ['the Basic value percent-encoded', ({ authorization }) => encodeURIComponent(authorization)],
    ['the request body as received', ({ body }) => body],
    ['the request body JSON-escaped', ({ body }) => jsonEscaped(body)],
    ['the secret JSON-escaped', () => jsonEscaped(secret)],
    ['the secret JSON-escaped with \\/', () => jsonEscaped(secret).replaceAll('/', '\\/')],
    ['the secret JSON-escaped twice', () => jsonEscaped(jsonEscaped(secret))],
    ['the secret as \\uXXXX escapes', () => unicodeEscaped(secret)],
    [
      'the secret as upper-case \\uXXXX escapes',
      () => unicodeEscaped(secret).toUpperCase().replaceAll('\\U', '\\u'),
    ],
    ['the secret percent-encoded in lower case', () => percentEncodedLowerCase(secret)],
    ['the secret percent-encoded twice', () => encodeURIComponent(encodeURIComponent(secret))],
    ['the secret as HTML character references', () => htmlEscaped(secret)],
    ['the refresh token JSON-escaped', () => jsonEscaped(refreshToken)],
    ['the refresh token as \\uXXXX escapes', () => unicodeEscaped(refreshToken)],
  ];
}

/**
 * Whether an echo carries a credential: not empty (no `Authorization` header with
 * client_secret_post) and not the body of a client_credentials request that authenticates in the
 * header (`grant_type=client_credentials`, nothing secret).
 */
export function echoesCredential(echo: string): boolean {
  return echo !== '' && echo !== 'grant_type=client_credentials';
}
