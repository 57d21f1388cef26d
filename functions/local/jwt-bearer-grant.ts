/**
 * The JWT bearer grant (RFC 7523 §2.1) registered on the demo/test OAuth server (oidc-provider's
 * `registerGrantType`): the assertion is the grant, verified as RFC 7523 §3 asks.
 *
 * Verified, each failure answering `invalid_grant` with the reason in `error_description` and in
 * {@link JwtBearerCheck.reason}: a known issuer (`iss`) with a registered public key, the signature
 * (jose), `aud` = the token endpoint URL or the issuer identifier, `exp` present and in the future
 * (a few seconds of tolerance), `iat` present, `exp` − `iat` at most `maxLifetimeSeconds`, `sub`
 * present, and `jti` present and never seen before (replay detection in oidc-provider's storage). The
 * token issued is an opaque access token of the client that sent the request (`client_id`, a public
 * client), with the requested scope.
 *
 * @module
 */
import { decodeJwt, importJWK, type JWK, jwtVerify } from 'jose';

/** The grant type URN (RFC 7523 §2.1). */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** An issuer of assertions the server trusts. */
export interface JwtBearerIssuer {
  /** The assertions' `iss`. */
  readonly issuer: string;
  /** The public key its assertions are signed with (JWK). */
  readonly publicJwk: Record<string, unknown>;
}

/** One assertion the grant looked at. */
export interface JwtBearerCheck {
  readonly accepted: boolean;
  readonly issuer?: string;
  readonly subject?: string;
  /** Why it was refused. */
  readonly reason?: string;
}

/** Clock tolerance for `exp`, `iat` and `nbf`, in seconds. */
const CLOCK_TOLERANCE_SECONDS = 5;

/** The slice of oidc-provider the grant uses. */
export interface JwtBearerGrantHost {
  registerGrantType(name: string, handler: (ctx: JwtBearerContext) => Promise<void>, params: string[]): void;
}

/** The slice of oidc-provider's request context the grant uses. */
export interface JwtBearerContext {
  body: unknown;
  oidc: {
    params?: Record<string, unknown>;
    client?: object;
    provider: {
      ReplayDetection: { unique(iss: string, jti: string, exp: number): Promise<boolean> };
      ClientCredentials: new (init: {
        client: object;
        scope?: string;
      }) => {
        save(): Promise<string>;
        expiration: number;
      };
    };
  };
}

/** What the grant is configured with. */
export interface JwtBearerGrantOptions {
  readonly tokenUrl: string;
  readonly issuerIdentifier: string;
  readonly issuers: readonly JwtBearerIssuer[];
  readonly maxLifetimeSeconds: number;
  readonly invalidGrant: (description: string) => Error;
  readonly checks: JwtBearerCheck[];
}

type Claims = ReturnType<typeof decodeJwt>;

/** Registers the grant on `host`; every check is appended to `options.checks`. */
export function registerJwtBearerGrant(host: JwtBearerGrantHost, options: JwtBearerGrantOptions): void {
  host.registerGrantType(
    JWT_BEARER_GRANT,
    async (ctx) => {
      const params = ctx.oidc.params ?? {};
      const claims = await verifiedClaims(ctx, params.assertion, options);
      const client = ctx.oidc.client;
      if (client === undefined) throw refusal(options, 'no client', claims);
      const scope = typeof params.scope === 'string' && params.scope !== '' ? params.scope : undefined;
      const token = new ctx.oidc.provider.ClientCredentials({ client, ...(scope ? { scope } : {}) });
      const value = await token.save();
      options.checks.push({ accepted: true, ...claimsOf(claims) });
      ctx.body = {
        access_token: value,
        expires_in: token.expiration,
        token_type: 'Bearer',
        ...(scope ? { scope } : {}),
      };
    },
    ['assertion', 'scope'],
  );
}

/** The issuer and subject of a check, when the assertion named them. */
function claimsOf(claims: Partial<Claims>): { issuer?: string; subject?: string } {
  return {
    ...(typeof claims.iss === 'string' ? { issuer: claims.iss } : {}),
    ...(typeof claims.sub === 'string' ? { subject: claims.sub } : {}),
  };
}

/** A refused assertion: recorded, and the `invalid_grant` error to throw. */
function refusal(options: JwtBearerGrantOptions, reason: string, claims: Partial<Claims> = {}): Error {
  options.checks.push({ accepted: false, reason, ...claimsOf(claims) });
  return options.invalidGrant(reason);
}

/** The claims of an assertion that passes every check of the module comment. */
async function verifiedClaims(
  ctx: JwtBearerContext,
  assertion: unknown,
  options: JwtBearerGrantOptions,
): Promise<Claims> {
  if (typeof assertion !== 'string' || assertion === '') throw refusal(options, 'assertion missing');
  let claims: Claims;
  try {
    claims = decodeJwt(assertion);
  } catch {
    throw refusal(options, 'assertion is not a JWT');
  }
  const known = options.issuers.find((candidate) => candidate.issuer === claims.iss);
  if (known === undefined) throw refusal(options, 'unknown issuer', claims);
  try {
    await jwtVerify(assertion, await importJWK(known.publicJwk as JWK, jwkAlgorithm(known.publicJwk)), {
      issuer: known.issuer,
      audience: [options.tokenUrl, options.issuerIdentifier],
      requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    });
  } catch (error) {
    throw refusal(options, `assertion refused (${(error as { code?: string }).code ?? 'invalid'})`, claims);
  }
  const { exp = 0, iat = 0, jti = '' } = claims;
  if (exp - iat > options.maxLifetimeSeconds) throw refusal(options, 'assertion lives too long', claims);
  const replayDetection = ctx.oidc.provider.ReplayDetection;
  if (!(await replayDetection.unique(known.issuer, jti, exp + CLOCK_TOLERANCE_SECONDS))) {
    throw refusal(options, 'assertion replayed (jti seen before)', claims);
  }
  return claims;
}

/** The JWS algorithm a public JWK verifies. */
function jwkAlgorithm(jwk: Record<string, unknown>): string {
  if (typeof jwk.alg === 'string') return jwk.alg;
  if (jwk.kty === 'EC')
    return (
      ({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as Record<string, string>)[String(jwk.crv)] ??
      'ES256'
    );
  if (jwk.kty === 'OKP') return 'EdDSA';
  return 'RS256';
}
