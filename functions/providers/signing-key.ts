/**
 * Private keys from the credentials secret, made ready to sign JWTs (client assertions, JWT bearer
 * assertions, GitHub App JWTs).
 *
 * Accepted: a PEM private key (PKCS#8 `BEGIN PRIVATE KEY`, PKCS#1 `BEGIN RSA PRIVATE KEY` as GitHub
 * hands out App keys, SEC1 `BEGIN EC PRIVATE KEY`) or a private JWK as JSON text. Node.js's crypto
 * parses it, jose imports it as a non-extractable `CryptoKey`; no crypto is written here. The
 * signature algorithm follows from the key: RSA → RS256 (or the JWK's own RS or PS `alg`), EC P-256 /
 * P-384 / P-521 → ES256 / ES384 / ES512, Ed25519 → EdDSA.
 *
 * Errors are `CredentialsError` (`credentials_invalid`, permanent): they name the provider, the field
 * and the fix, and never quote the key, nor the parser's message, nor keep it as a `cause`.
 */
import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { type CryptoKey, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import { CredentialsError } from '../core/errors.js';

/** A key ready to sign with, the JWS algorithm it signs with and the key id to put in the header. */
export interface SigningKey {
  readonly key: CryptoKey;
  /** JWS `alg`, e.g. `RS256`. */
  readonly alg: string;
  /** JWS `kid`, when the credentials name one (or the JWK has one). */
  readonly kid?: string;
}

/** Where a key comes from, for the messages. */
export interface KeySource {
  readonly provider: string;
  /** The credentials field that holds the key, e.g. `privateKey`. */
  readonly field: string;
}

/** RSA moduli below this are refused (RFC 7518 §3.3; jose refuses them too). */
export const MIN_RSA_MODULUS_BITS = 2048;

const RSA_ALGORITHMS: ReadonlySet<string> = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);

const EC_ALGORITHMS: Readonly<Record<string, string>> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};

const SUPPORTED_KEYS = `an RSA (${MIN_RSA_MODULUS_BITS} bits or more), EC (P-256, P-384, P-521) or Ed25519 private key`;

/** A refused key: the field, what is wrong with it (never its content) and the fix. */
function invalidKey(source: KeySource, problem: string, fix?: string): CredentialsError {
  return new CredentialsError(
    `Credentials field "${source.field}" of provider "${source.provider}" ${problem}. Fix: ${
      fix ??
      `put ${SUPPORTED_KEYS} in "${source.field}", as PEM text ("-----BEGIN PRIVATE KEY-----" …) or as a JWK (JSON text with "d")`
    }`,
  );
}

/** A parsed key and what a JWK said about itself. */
interface ParsedKey {
  readonly keyObject: KeyObject;
  readonly jwkAlg?: string;
  readonly jwkKid?: string;
}

/** A PEM private key. Secrets pasted through a shell sometimes carry `\n` as two characters. */
function parsePem(text: string, source: KeySource): ParsedKey {
  const pem = text.includes('\\n') ? text.replaceAll('\\n', '\n') : text;
  const label = /-----BEGIN ([A-Z0-9 ]{1,40})-----/.exec(pem)?.[1] ?? '';
  if (label.includes('ENCRYPTED') || pem.includes('Proc-Type: 4,ENCRYPTED')) {
    throw invalidKey(
      source,
      'holds an encrypted (passphrase-protected) private key',
      `store it unencrypted in "${source.field}" (openssl pkey -in key.pem -out key-plain.pem)`,
    );
  }
  if (label.includes('PUBLIC KEY') || label.includes('CERTIFICATE')) {
    throw invalidKey(
      source,
      `holds a ${label.includes('CERTIFICATE') ? 'certificate' : 'public key'}, not a private key`,
      `put the private key in "${source.field}"; the server keeps the public key`,
    );
  }
  try {
    return { keyObject: createPrivateKey({ key: pem, format: 'pem' }) };
  } catch {
    // The parser's error is dropped on purpose: only the field is named, never what is in it.
    throw invalidKey(source, 'is not a PEM private key that can be read');
  }
}

/** A private JWK written as JSON text. */
function parseJwk(text: string, source: KeySource): ParsedKey {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    // A SyntaxError quotes the text: dropped.
    throw invalidKey(source, 'starts like a JWK but is not valid JSON');
  }
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk) || typeof (jwk as JWK).kty !== 'string') {
    throw invalidKey(source, 'is JSON but not a JWK (an object with "kty")');
  }
  const { alg, kid, d } = jwk as JWK;
  if (typeof d !== 'string') {
    throw invalidKey(source, 'is a public JWK (it has no "d")', `put the private JWK in "${source.field}"`);
  }
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    throw invalidKey(source, 'is a JWK that cannot be read as a private key');
  }
  return {
    keyObject,
    ...(typeof alg === 'string' ? { jwkAlg: alg } : {}),
    ...(typeof kid === 'string' && kid !== '' ? { jwkKid: kid } : {}),
  };
}

/** The JWS algorithm of a key, or why the key cannot sign here. */
function algorithmOf(parsed: ParsedKey, source: KeySource): string {
  const { keyObject, jwkAlg } = parsed;
  const details = keyObject.asymmetricKeyDetails ?? {};
  switch (keyObject.asymmetricKeyType) {
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < MIN_RSA_MODULUS_BITS) {
        throw invalidKey(
          source,
          `is an RSA key of ${bits} bits, below the ${MIN_RSA_MODULUS_BITS} bits JWS requires`,
          `create a key of ${MIN_RSA_MODULUS_BITS} bits or more and register its public key with the server`,
        );
      }
      return jwkAlg !== undefined && RSA_ALGORITHMS.has(jwkAlg) ? jwkAlg : 'RS256';
    }
    case 'ec': {
      const alg = EC_ALGORITHMS[details.namedCurve ?? ''];
      if (alg !== undefined) return alg;
      throw invalidKey(source, `is an EC key on curve ${details.namedCurve ?? '(unknown)'}`);
    }
    case 'ed25519':
      return 'EdDSA';
    default:
      throw invalidKey(source, `is a key of type ${keyObject.asymmetricKeyType ?? '(unknown)'}`);
  }
}

/**
 * The signing key in a credentials field (PEM or JWK text), with its algorithm and key id (`kid`
 * argument first, else the JWK's own).
 * @throws CredentialsError `credentials_invalid` naming the field and the fix, never the key
 */
export async function importSigningKey(
  text: string,
  source: KeySource & { readonly kid?: string },
): Promise<SigningKey> {
  const trimmed = text.trim();
  let parsed: ParsedKey;
  if (trimmed.startsWith('{')) parsed = parseJwk(trimmed, source);
  else if (trimmed.includes('-----BEGIN')) parsed = parsePem(trimmed, source);
  else {
    throw invalidKey(
      source,
      'is neither a PEM private key ("-----BEGIN … PRIVATE KEY-----") nor a JWK (JSON text)',
    );
  }
  const alg = algorithmOf(parsed, source);
  let key: CryptoKey;
  try {
    key = (await importJWK(parsed.keyObject.export({ format: 'jwk' }) as JWK, alg)) as CryptoKey;
  } catch {
    throw invalidKey(source, `cannot be used to sign with ${alg}`);
  }
  const kid = source.kid ?? parsed.jwkKid;
  return { key, alg, ...(kid === undefined ? {} : { kid }) };
}

/** A compact JWS of `claims` (`typ: JWT`, the key's `alg` and `kid`), signed by jose. */
export async function signJwt(signingKey: SigningKey, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({
      alg: signingKey.alg,
      typ: 'JWT',
      ...(signingKey.kid === undefined ? {} : { kid: signingKey.kid }),
    })
    .sign(signingKey.key);
}
