/**
 * A stand-in for Google's OAuth 2.0 token endpoint for service accounts (the server-to-server JWT
 * bearer flow) on a free 127.0.0.1 port, strict as Google documents it, for the
 * `google_service_account` preset's tests:
 *
 * - `POST /token`, form-encoded, `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and
 *   `assertion`;
 * - the assertion, verified with jose against the service account's public key: `alg` RS256, `kid` =
 *   the key file's `private_key_id`, `iss` = its `client_email`, `aud` = the token endpoint, a `scope`
 *   claim, `iat` and `exp` with `exp` − `iat` ≤ 1 h;
 * - refusals as Google answers them: 400 `{"error":"invalid_grant","error_description":"…"}`;
 * - success: `{ access_token, expires_in: 3599, token_type: "Bearer" }`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeProtectedHeader, importJWK, type JWK, jwtVerify } from 'jose';

const HOST = '127.0.0.1';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export interface GoogleServiceAccount {
  readonly clientEmail: string;
  readonly privateKeyId: string;
  readonly publicJwk: Record<string, unknown>;
}

/** One token request and the stand-in's verdict. */
export interface GoogleRequestRecord {
  readonly status: number;
  readonly reason?: string;
  /** The `scope` claim of an accepted assertion. */
  readonly scope?: string;
}

export interface GoogleTokenServer {
  /** The token endpoint, what the key file's `token_uri` and the provider's `tokenUrl` say. */
  readonly tokenUrl: string;
  readonly requests: readonly GoogleRequestRecord[];
  /** Assertions received and tokens issued: secrets for leak scans. */
  readonly secretsSeen: readonly string[];
  resetCounters(): void;
  stop(): Promise<void>;
}

class Refusal extends Error {}

/** Starts the stand-in for the given service accounts. */
export async function startGoogleTokenServer(options: {
  readonly serviceAccounts: readonly GoogleServiceAccount[];
}): Promise<GoogleTokenServer> {
  const requests: GoogleRequestRecord[] = [];
  const secretsSeen: string[] = [];
  let tokenUrl = '';

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    try {
      if (req.method !== 'POST' || req.url !== '/token') throw new Refusal('Not Found');
      if (form.get('grant_type') !== JWT_BEARER) throw new Refusal('Invalid grant_type');
      const assertion = form.get('assertion') ?? '';
      secretsSeen.push(assertion);
      const scope = await verify(assertion, options.serviceAccounts, tokenUrl);
      const accessToken = `ya29.${randomBytes(24).toString('base64url')}`;
      secretsSeen.push(accessToken);
      requests.push({ status: 200, scope });
      send(res, 200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' });
    } catch (error) {
      const reason = error instanceof Refusal ? error.message : 'Internal error';
      requests.push({ status: 400, reason });
      send(res, 400, { error: 'invalid_grant', error_description: reason });
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  tokenUrl = `http://${HOST}:${(server.address() as AddressInfo).port}/token`;
  return {
    tokenUrl,
    get requests() {
      return [...requests];
    },
    get secretsSeen() {
      return [...secretsSeen];
    },
    resetCounters: () => {
      requests.splice(0);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The `scope` claim of an assertion that passes every check of the module comment. */
async function verify(
  assertion: string,
  accounts: readonly GoogleServiceAccount[],
  tokenUrl: string,
): Promise<string> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(assertion).kid;
  } catch {
    throw new Refusal('Invalid JWT');
  }
  const account = accounts.find((candidate) => candidate.privateKeyId === kid);
  if (account === undefined) throw new Refusal('Invalid JWT Signature.');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(assertion, await importJWK(account.publicJwk as JWK, 'RS256'), {
      algorithms: ['RS256'],
      issuer: account.clientEmail,
      audience: tokenUrl,
      requiredClaims: ['iat', 'exp', 'scope'],
    }));
  } catch (error) {
    throw new Refusal(`Invalid JWT: ${(error as { code?: string }).code ?? 'refused'}`);
  }
  const { iat, exp, scope } = payload as { iat: number; exp: number; scope: unknown };
  if (exp - iat > 3600) throw new Refusal('Invalid JWT: Token must be a short-lived token (60 minutes)');
  if (typeof scope !== 'string' || scope === '') throw new Refusal('Invalid JWT: scope missing');
  return scope;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
