/**
 * Private keys from the credentials secret (functions/providers/signing-key.ts): every form an
 * operator may store is read and signs with the algorithm its key type calls for; every unusable key
 * is refused with credentials_invalid naming the provider, the field and the fix, and never a piece
 * of the key.
 */
import { importJWK, importSPKI, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { CredentialsError } from '../../../functions/core/errors.js';
import { importSigningKey, signJwt } from '../../../functions/providers/index.js';
import { testKeys } from '../../support/keys.js';
import { caught } from './fake-fetch.js';

const SOURCE = { provider: 'acme', field: 'privateKey' };

/** The lines of base64 inside a PEM, and the long values of a JWK: what no message may contain. */
function keyMaterial(text: string): string[] {
  if (text.trim().startsWith('{')) {
    try {
      return Object.values(JSON.parse(text) as Record<string, string>).filter((value) => value.length > 12);
    } catch {
      return [text];
    }
  }
  return text.split('\n').filter((line) => line.length > 12 && !line.startsWith('-----'));
}

async function verifiedWith(publicJwk: Record<string, unknown>, jwt: string, alg: string) {
  return jwtVerify(jwt, await importJWK(publicJwk, alg));
}

describe('Function: importSigningKey', () => {
  const keys = testKeys();

  it.each([
    ['a PKCS#8 RSA PEM', keys.rsa.privatePem, 'RS256', keys.rsa.publicJwk],
    ['a PKCS#1 RSA PEM (GitHub App keys)', keys.rsa.pkcs1Pem, 'RS256', keys.rsa.publicJwk],
    ['an RSA JWK as JSON text', keys.rsa.privateJwkText, 'RS256', keys.rsa.publicJwk],
    ['an EC P-256 PEM', keys.ec.privatePem, 'ES256', keys.ec.publicJwk],
    ['an Ed25519 PEM', keys.ed25519.privatePem, 'EdDSA', keys.ed25519.publicJwk],
  ])('reads %s and signs JWTs its public key verifies', async (_label, text, alg, publicJwk) => {
    // Act
    const signingKey = await importSigningKey(text, SOURCE);
    const jwt = await signJwt(signingKey, { iss: 'me' });

    // Assess
    expect(signingKey.alg).toBe(alg);
    const { payload, protectedHeader } = await verifiedWith(publicJwk, jwt, alg);
    expect(payload).toEqual({ iss: 'me' });
    expect(protectedHeader).toEqual({ alg, typ: 'JWT' });
  });

  it('reads a PEM whose line breaks were stored as the two characters \\n', async () => {
    // Prepare: what a secret pasted through a shell sometimes holds.
    const flattened = keys.rsa.privatePem.trim().split('\n').join('\\n');

    // Act
    const signingKey = await importSigningKey(flattened, SOURCE);

    // Assess
    const jwt = await signJwt(signingKey, { iss: 'me' });
    await expect(
      importSPKI(keys.rsa.publicPem, 'RS256').then((key) => jwtVerify(jwt, key)),
    ).resolves.toBeDefined();
  });

  it("puts the kid argument in the header, else the JWK's own kid, and honours a JWK's PS256", async () => {
    // Prepare
    const jwk = { ...JSON.parse(keys.rsa.privateJwkText), kid: 'jwk-kid', alg: 'PS256' };

    // Act
    const fromJwk = await importSigningKey(JSON.stringify(jwk), SOURCE);
    const overridden = await importSigningKey(JSON.stringify(jwk), { ...SOURCE, kid: 'secret-kid' });

    // Assess
    expect(fromJwk).toMatchObject({ alg: 'PS256', kid: 'jwk-kid' });
    expect(overridden.kid).toBe('secret-kid');
    const { protectedHeader } = await verifiedWith(
      keys.rsa.publicJwk,
      await signJwt(overridden, {}),
      'PS256',
    );
    expect(protectedHeader.kid).toBe('secret-kid');
  });

  it.each([
    ['an encrypted PEM', () => keys.rsa.encryptedPem, 'encrypted', 'openssl pkey'],
    ['a public key PEM', () => keys.rsa.publicPem, 'public key', 'private key'],
    ['a public JWK', () => JSON.stringify(keys.rsa.publicJwk), 'public JWK', 'private JWK'],
    ['a 1024-bit RSA key', () => keys.shortRsaPem, '1024 bits', '2048 bits or more'],
    [
      'a PEM with a damaged body',
      () => keys.rsa.privatePem.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!'),
      'not a PEM private key',
      'PEM',
    ],
    ['text that is neither PEM nor JSON', () => 'my-client-secret', 'neither a PEM', 'JWK'],
    ['JSON that is not valid', () => '{"kty":"RSA",', 'not valid JSON', 'JWK'],
    ['JSON that is not a JWK', () => '{"hello":"world"}', 'not a JWK', 'JWK'],
  ])(
    'refuses %s with credentials_invalid naming the field and the fix, quoting nothing of it',
    async (_label, text, problem, fix) => {
      // Act
      const error = await caught(() => importSigningKey(text(), SOURCE));

      // Assess
      expect(error).toBeInstanceOf(CredentialsError);
      expect((error as CredentialsError).code).toBe('credentials_invalid');
      expect(error.message).toContain('Credentials field "privateKey" of provider "acme"');
      expect(error.message).toContain(problem);
      expect(error.message).toMatch(new RegExp(`Fix: .*${fix}`));
      const shown = `${error.message} ${JSON.stringify(error)} ${String(error.stack)}`;
      expect(keyMaterial(text()).filter((piece) => shown.includes(piece))).toEqual([]);
      expect(error.cause).toBeUndefined();
    },
  );
});
