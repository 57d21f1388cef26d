/**
 * Private keys for the signed-assertion grants' tests, generated once per test process with Node.js's
 * crypto (never committed): the same key in each form an operator may store (PKCS#8 PEM, PKCS#1 PEM as
 * GitHub hands out App keys, a JWK as JSON text), its public JWK for the servers, and keys that must
 * be refused (encrypted, too short, a public key).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

/** One key pair in the forms the tests use. */
export interface TestKeyPair {
  /** PKCS#8 PEM (`BEGIN PRIVATE KEY`). */
  readonly privatePem: string;
  /** The private JWK as JSON text, as a credentials field holds it. */
  readonly privateJwkText: string;
  /** The public JWK, for a server's key set. */
  readonly publicJwk: Record<string, unknown>;
  /** SPKI PEM of the public key. */
  readonly publicPem: string;
}

export interface TestKeys {
  readonly rsa: TestKeyPair & {
    /** PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`), GitHub's format for App keys. */
    readonly pkcs1Pem: string;
    /** The PKCS#8 PEM encrypted with a passphrase. */
    readonly encryptedPem: string;
  };
  /** A second RSA key (a key the server does not know). */
  readonly otherRsa: TestKeyPair;
  readonly ec: TestKeyPair;
  readonly ed25519: TestKeyPair;
  /** A 1024-bit RSA key (too short for JWS). */
  readonly shortRsaPem: string;
}

function pairOf(privateKey: KeyObject, publicKey: KeyObject): TestKeyPair {
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    privateJwkText: JSON.stringify(privateKey.export({ format: 'jwk' })),
    publicJwk: publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

let keys: TestKeys | undefined;

/** The keys, generated on first use. */
export function testKeys(): TestKeys {
  if (keys !== undefined) return keys;
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ed25519 = generateKeyPairSync('ed25519');
  const shortRsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  keys = {
    rsa: {
      ...pairOf(rsa.privateKey, rsa.publicKey),
      pkcs1Pem: rsa.privateKey.export({ format: 'pem', type: 'pkcs1' }).toString(),
      encryptedPem: rsa.privateKey
        .export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'test-passphrase' })
        .toString(),
    },
    otherRsa: pairOf(otherRsa.privateKey, otherRsa.publicKey),
    ec: pairOf(ec.privateKey, ec.publicKey),
    ed25519: pairOf(ed25519.privateKey, ed25519.publicKey),
    shortRsaPem: shortRsa.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
  return keys;
}
