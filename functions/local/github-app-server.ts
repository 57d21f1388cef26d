/**
 * A stand-in for GitHub's installation-token endpoint on a free 127.0.0.1 port (plain `node:http`), strict
 * about the app JWT as GitHub is, for the github_app grant's tests and `npm start`'s demo:
 *
 * - `POST {basePath}/app/installations/{id}/access_tokens` only (`basePath` `''` as api.github.com,
 *   `/api/v3` as a GitHub Enterprise Server);
 * - `Authorization: Bearer <app JWT>`, verified with jose against the app's public key: `alg` RS256
 *   only, `iss` = the app id, `iat` present and backdated (at least {@link MIN_BACKDATE_SECONDS} in the
 *   past, as GitHub recommends 60 s against drift), `exp` present, in the future and at most 10 minutes
 *   ahead. A refused JWT gets 401 with GitHub's JSON error shape and the reason;
 * - an unknown installation gets 404; `repositories` or `permissions` beyond the installation's get 422;
 * - success: 201 `{ token, expires_at, permissions, repository_selection, repositories? }`, tokens living
 *   `tokenTtlSeconds` (default 3600, as GitHub's).
 *
 * Faults are queued ({@link GitHubAppServer.queueFault}), one per request.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importJWK, type JWK, jwtVerify } from 'jose';

const HOST = '127.0.0.1';
/** GitHub refuses an `exp` more than 10 minutes ahead. */
export const MAX_APP_JWT_AHEAD_SECONDS = 600;
/** The stand-in refuses an `iat` less backdated than this (GitHub recommends 60 s). */
export const MIN_BACKDATE_SECONDS = 30;

export interface GitHubInstallation {
  readonly repositories: readonly string[];
  readonly permissions: Readonly<Record<string, 'read' | 'write' | 'admin'>>;
}

export interface GitHubApp {
  readonly appId: string;
  /** The app's public key (what GitHub keeps of the key pair). */
  readonly publicJwk: Record<string, unknown>;
  readonly installations: Readonly<Record<string, GitHubInstallation>>;
}

export interface StartGitHubAppServerOptions {
  readonly apps: readonly GitHubApp[];
  /** `''` (api.github.com) or `/api/v3` (GitHub Enterprise Server). Default `''`. */
  readonly basePath?: string;
  /** Lifetime of the installation tokens. Default 3600. */
  readonly tokenTtlSeconds?: number;
  /** The server's clock (epoch ms). Default `Date.now`. */
  readonly clock?: () => number;
}

/** A queued answer instead of the real one. */
export interface GitHubFault {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** One request to the token endpoint and what the stand-in made of it. */
export interface GitHubRequestRecord {
  readonly status: number;
  readonly installationId: string;
  /** Why the app JWT or the request was refused. */
  readonly reason?: string;
  readonly injected: boolean;
}

export interface GitHubAppServer {
  /** What a provider's `apiBaseUrl` is, e.g. `http://127.0.0.1:41234/api/v3`. */
  readonly apiBaseUrl: string;
  /** Every request, in order. */
  readonly requests: readonly GitHubRequestRecord[];
  /** Every installation token issued, and every app JWT received: secrets for leak scans. */
  readonly secretsSeen: readonly string[];
  queueFault(fault: GitHubFault): void;
  resetCounters(): void;
  stop(): Promise<void>;
}

/** A refusal: the HTTP status and GitHub's message. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Starts the stand-in. */
export async function startGitHubAppServer(options: StartGitHubAppServerOptions): Promise<GitHubAppServer> {
  const basePath = options.basePath ?? '';
  const clock = options.clock ?? Date.now;
  const ttl = options.tokenTtlSeconds ?? 3600;
  const requests: GitHubRequestRecord[] = [];
  const secretsSeen: string[] = [];
  const faults: GitHubFault[] = [];
  const route = new RegExp(`^${basePath.replace(/[/.]/g, '\\$&')}/app/installations/(\\d+)/access_tokens$`);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const match = req.method === 'POST' ? route.exec(req.url ?? '') : null;
    if (match === null) return answer(res, 404, { message: 'Not Found' });
    const installationId = match[1] ?? '';
    const bodyText = await readBody(req);
    const fault = faults.shift();
    if (fault !== undefined) {
      requests.push({ status: fault.status, installationId, injected: true });
      return answer(res, fault.status, fault.body ?? { message: 'injected' }, fault.headers);
    }
    try {
      const app = await verifyAppJwt(req.headers.authorization, options.apps, clock(), secretsSeen);
      const body = issueToken(app, installationId, bodyText, clock() + ttl * 1000);
      secretsSeen.push(body.token);
      requests.push({ status: 201, installationId, injected: false });
      return answer(res, 201, body);
    } catch (error) {
      const refusal = error instanceof Refusal ? error : new Refusal(500, 'stand-in error');
      requests.push({ status: refusal.status, installationId, reason: refusal.message, injected: false });
      return answer(res, refusal.status, {
        message: refusal.message,
        documentation_url: 'https://docs.github.com/rest',
        status: String(refusal.status),
      });
    }
  };

  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    apiBaseUrl: `http://${HOST}:${port}${basePath}`,
    get requests() {
      return [...requests];
    },
    get secretsSeen() {
      return [...secretsSeen];
    },
    queueFault: (fault) => faults.push(fault),
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

/** The app whose JWT this is, after every check of the module comment. */
async function verifyAppJwt(
  authorization: string | undefined,
  apps: readonly GitHubApp[],
  now: number,
  secretsSeen: string[],
): Promise<GitHubApp> {
  const jwt = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
  if (jwt === undefined) throw new Refusal(401, 'A JSON web token could not be decoded');
  secretsSeen.push(jwt);
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8') || '{}') as {
    iss?: unknown;
    iat?: unknown;
    exp?: unknown;
  };
  const app = apps.find((candidate) => candidate.appId === String(payload.iss));
  if (app === undefined) throw new Refusal(401, "'Issuer' claim ('iss') must be an existing app id");
  try {
    await jwtVerify(jwt, await importJWK(app.publicJwk as JWK, 'RS256'), {
      algorithms: ['RS256'],
      currentDate: new Date(now),
      requiredClaims: ['iat', 'exp', 'iss'],
    });
  } catch (error) {
    throw new Refusal(401, `A JSON web token could not be verified (${(error as { code?: string }).code})`);
  }
  const nowSeconds = now / 1000;
  const { iat, exp } = payload as { iat: number; exp: number };
  if (iat > nowSeconds - MIN_BACKDATE_SECONDS) {
    throw new Refusal(401, "'Issued at' claim ('iat') must be backdated against clock drift");
  }
  if (exp > nowSeconds + MAX_APP_JWT_AHEAD_SECONDS) {
    throw new Refusal(401, "'Expiration time' claim ('exp') is too far in the future");
  }
  return app;
}

/** A new installation token of `installationId`, expiring at `expiresAt` (epoch ms). */
function issueToken(
  app: GitHubApp,
  installationId: string,
  bodyText: string,
  expiresAt: number,
): { token: string; expires_at: string } & Record<string, unknown> {
  const installation = app.installations[installationId];
  if (installation === undefined) throw new Refusal(404, 'Not Found');
  return {
    token: `ghs_${randomBytes(18).toString('base64url')}`,
    // GitHub writes whole seconds: 2026-03-01T13:00:00Z.
    expires_at: new Date(Math.floor(expiresAt / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    ...narrow(installation, bodyText),
  };
}

/** The token's scope after the request body's `repositories` and `permissions`. */
function narrow(installation: GitHubInstallation, bodyText: string): Record<string, unknown> {
  const body = (bodyText === '' ? {} : JSON.parse(bodyText)) as {
    repositories?: string[];
    permissions?: Record<string, string>;
  };
  const rank = { read: 1, write: 2, admin: 3 } as const;
  for (const repository of body.repositories ?? []) {
    if (!installation.repositories.includes(repository)) {
      throw new Refusal(
        422,
        `There is at least one repository that does not exist or is not accessible: ${repository}`,
      );
    }
  }
  for (const [name, level] of Object.entries(body.permissions ?? {})) {
    const granted = installation.permissions[name];
    if (granted === undefined || rank[granted] < (rank[level as keyof typeof rank] ?? 9)) {
      throw new Refusal(422, 'The permissions requested are not granted to this installation.');
    }
  }
  return {
    permissions: body.permissions ?? installation.permissions,
    repository_selection: body.repositories === undefined ? 'all' : 'selected',
    ...(body.repositories === undefined ? {} : { repositories: body.repositories.map((name) => ({ name })) }),
  };
}

function answer(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
