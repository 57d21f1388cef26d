/**
 * A strict rotating OAuth 2.0 token endpoint for tests (issue #11), independent of oidc-provider: plain
 * `node:http` on a free 127.0.0.1 port, `grant_type=refresh_token` only, in memory.
 *
 * What makes it strict (OAuth 2.0 Security BCP, RFC 9700 §4.14.2; RFC 6749 §6):
 *
 * - Every refresh rotates: the presented refresh token is marked spent **when the request arrives**,
 *   before anything is answered, and a new one is issued. A client that never sees the answer (it gave
 *   up, the connection broke) has lost the new refresh token; the server does not care.
 * - A replay of a spent refresh token is a reuse detection: the whole family (every refresh token of
 *   that grant) is revoked, and every token of it gets `invalid_grant` from then on.
 * - Client authentication is required, with the method the client is registered with
 *   (`client_secret_basic` per RFC 6749 §2.3.1, or `client_secret_post`); a refresh token is only
 *   accepted from the client it was issued to.
 *
 * Faults are queued ({@link StrictOAuthServer.queueFault}); each one is used by one token request:
 * `rotate-with-body` rotates and answers 200 with a bad body (the success body with some fields
 * replaced), `stall` rotates at arrival and sends the (good) answer only after `ms`, `status` answers an
 * error (e.g. 503) without touching the refresh token.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const HOST = '127.0.0.1';
const TOKEN_PATH = '/token';
const MAX_BODY_BYTES = 16 * 1024;

/** A confidential client and the one authentication method it is registered with. */
export interface StrictClient {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly authMethod: 'client_secret_basic' | 'client_secret_post';
}

export interface StartStrictOAuthServerOptions {
  readonly clients: readonly StrictClient[];
  /** `expires_in` of issued access tokens. Default 3600. */
  readonly accessTokenTtlSeconds?: number;
}

/**
 * One queued fault, used by one token request (after client authentication):
 *
 * - `rotate-with-body`: rotate as usual, then answer 200 with the normal success body in which `fields`
 *   replace members (`undefined` removes one), e.g. `{ expires_in: 0 }` or `{ token_type: 'mac' }`.
 * - `stall`: rotate at arrival, hold the normal answer for `ms`, then send it, whether or not the
 *   client still waits for it.
 * - `status`: answer `status` with `body` (default empty) and `headers`; the refresh token is not
 *   looked at, so nothing rotates (a plain transient error such as 503).
 */
export type StrictFault =
  | { readonly kind: 'rotate-with-body'; readonly fields: Readonly<Record<string, unknown>> }
  | { readonly kind: 'stall'; readonly ms: number }
  | {
      readonly kind: 'status';
      readonly status: number;
      readonly body?: string;
      readonly headers?: Readonly<Record<string, string>>;
    };

/** Figures the server counted since start or {@link StrictOAuthServer.resetCounters}. */
export interface StrictCounters {
  /** Token endpoint requests received (every POST to the token path). */
  readonly tokenRequests: number;
  /** Refresh tokens rotated (a spent one traded for a new one). */
  readonly rotations: number;
  /** Replays of a spent refresh token. */
  readonly reuseDetections: number;
  /** Families revoked (by a reuse detection). */
  readonly revokedFamilies: number;
  /** Stalled answers sent after the client had gone: a rotated refresh token lost in the void. */
  readonly answersLost: number;
  /** Faults used. */
  readonly faultsUsed: number;
}

/** One answer of the token endpoint. */
export interface StrictAnswer {
  readonly status: number;
  /** The OAuth `error` code, for an error answer. */
  readonly error?: string;
  /** The fault that shaped the answer, if any. */
  readonly fault?: StrictFault['kind'];
  /** The family the presented refresh token belongs to, when known. */
  readonly familyId?: string;
}

/** A family: every refresh token descended from one grant (one seeding). */
export interface StrictFamily {
  readonly familyId: string;
  readonly clientId: string;
  readonly revoked: boolean;
  /** The refresh token issued last (seeded or rotated); the only one that is not spent. */
  readonly latestRefreshToken: string;
  /** Refresh tokens issued in the family, the seeded one included. */
  readonly issued: number;
}

export interface StrictOAuthServer {
  /** e.g. `http://127.0.0.1:41234/token`. */
  readonly tokenUrl: string;
  readonly counters: StrictCounters;
  /** The answers in order (a stalled answer is listed when it is sent). */
  readonly answers: readonly StrictAnswer[];
  /** Every access and refresh token value issued so far (for leak scans). */
  readonly issuedTokens: readonly string[];
  /** Faults queued and not used yet. */
  readonly pendingFaults: number;
  /**
   * Create a family for `clientId`, as if a user had completed an authorization code flow.
   * @returns the family's first refresh token.
   */
  seedFamily(clientId: string, options?: { readonly scope?: string }): string;
  /** The family a refresh token belongs to (spent or not). */
  familyOf(refreshToken: string): StrictFamily | undefined;
  /** A family by id. */
  family(familyId: string): StrictFamily | undefined;
  /** Queue `fault` for the next `times` token requests (after the faults already queued). */
  queueFault(fault: StrictFault, times?: number): void;
  /** Drop every queued fault. */
  clearFaults(): void;
  /** Resolves when every stalled answer has been sent (or dropped at `stop`). */
  settled(): Promise<void>;
  /** Clear the counters and the answer log (families and tokens are kept). */
  resetCounters(): void;
  /** Close every connection and the listener; stalled answers are dropped. Idempotent. */
  stop(): Promise<void>;
}

interface FamilyRecord {
  readonly familyId: string;
  readonly clientId: string;
  readonly scope: string;
  revoked: boolean;
  latestRefreshToken: string;
  issued: number;
}

interface RefreshTokenRecord {
  readonly family: FamilyRecord;
  spent: boolean;
}

type MutableCounters = { -readonly [K in keyof StrictCounters]: StrictCounters[K] };

function emptyCounters(): MutableCounters {
  return {
    tokenRequests: 0,
    rotations: 0,
    reuseDetections: 0,
    revokedFamilies: 0,
    answersLost: 0,
    faultsUsed: 0,
  };
}

/** An answer the handler decided on; `stallMs` delays sending it. */
interface Reply {
  readonly status: number;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly record: StrictAnswer;
  readonly stallMs?: number;
}

class OAuthFailure extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(`${error}: ${description}`);
  }
}

/** `invalid_grant` for a token of a known family (replayed, or of a revoked family). */
class FamilyFailure extends OAuthFailure {
  constructor(
    readonly familyId: string,
    description: string,
  ) {
    super(400, 'invalid_grant', description);
  }
}

/** Starts the server on a free 127.0.0.1 port. */
export async function startStrictOAuthServer(
  options: StartStrictOAuthServerOptions,
): Promise<StrictOAuthServer> {
  const accessTokenTtl = options.accessTokenTtlSeconds ?? 3600;
  if (!Number.isInteger(accessTokenTtl) || accessTokenTtl <= 0) {
    throw new Error(`accessTokenTtlSeconds must be a positive integer (got ${accessTokenTtl})`);
  }
  const clients = new Map(options.clients.map((client) => [client.clientId, client]));
  const families = new Map<string, FamilyRecord>();
  const refreshTokens = new Map<string, RefreshTokenRecord>();
  const issuedTokens: string[] = [];
  const faults: StrictFault[] = [];
  const stalls = new Map<NodeJS.Timeout, () => void>();
  const waiters: (() => void)[] = [];
  let counters = emptyCounters();
  let answers: StrictAnswer[] = [];
  let stopping: Promise<void> | undefined;

  const newToken = (prefix: string): string => {
    const value = `${prefix}-${randomBytes(24).toString('base64url')}`;
    issuedTokens.push(value);
    return value;
  };

  const issueRefreshToken = (family: FamilyRecord): string => {
    const value = newToken('strict-rt');
    refreshTokens.set(value, { family, spent: false });
    family.latestRefreshToken = value;
    family.issued += 1;
    return value;
  };

  const publicFamily = (family: FamilyRecord | undefined): StrictFamily | undefined =>
    family === undefined
      ? undefined
      : {
          familyId: family.familyId,
          clientId: family.clientId,
          revoked: family.revoked,
          latestRefreshToken: family.latestRefreshToken,
          issued: family.issued,
        };

  /** Decide the answer to one token request; the rotation happens here, at arrival. */
  const decide = (request: IncomingMessage, bodyText: string): Reply => {
    counters.tokenRequests += 1;
    const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (contentType !== 'application/x-www-form-urlencoded') {
      throw new OAuthFailure(400, 'invalid_request', 'the body must be application/x-www-form-urlencoded');
    }
    const form = new URLSearchParams(bodyText);
    const client = authenticate(request.headers.authorization, form, clients);

    const fault = faults.shift();
    if (fault !== undefined) counters.faultsUsed += 1;
    if (fault?.kind === 'status') {
      return {
        status: fault.status,
        body: fault.body ?? '',
        ...(fault.headers === undefined ? {} : { headers: fault.headers }),
        record: { status: fault.status, fault: fault.kind },
      };
    }
    const { family, requestedScope } = presentedGrant(form, client);
    return rotate(family, requestedScope, fault);
  };

  /** The refresh token presented, checked: known, of this client, unspent (else the family is revoked), in scope. */
  const presentedGrant = (
    form: URLSearchParams,
    client: StrictClient,
  ): { family: FamilyRecord; requestedScope: string | null } => {
    const token = presentedToken(form, client);
    const { family } = token;
    if (token.spent) {
      // RFC 9700 §4.14.2: a replayed refresh token revokes the whole family.
      counters.reuseDetections += 1;
      if (!family.revoked) counters.revokedFamilies += 1;
      family.revoked = true;
      throw new FamilyFailure(family.familyId, 'the refresh token was already used');
    }
    if (family.revoked) throw new FamilyFailure(family.familyId, 'the grant was revoked');
    const requestedScope = form.get('scope');
    if (requestedScope !== null && !withinScope(requestedScope, family.scope)) {
      throw new OAuthFailure(400, 'invalid_scope', 'the requested scope exceeds the grant');
    }
    // Spent now, whatever happens to the answer.
    token.spent = true;
    return { family, requestedScope };
  };

  /** A refresh_token grant request naming a refresh token this server issued to this client. */
  const presentedToken = (form: URLSearchParams, client: StrictClient): RefreshTokenRecord => {
    if (form.get('grant_type') !== 'refresh_token') {
      throw new OAuthFailure(400, 'unsupported_grant_type', 'only refresh_token is supported');
    }
    const presented = form.get('refresh_token');
    if (presented === null || presented === '') {
      throw new OAuthFailure(400, 'invalid_request', 'refresh_token is missing');
    }
    const token = refreshTokens.get(presented);
    if (token === undefined || token.family.clientId !== client.clientId) {
      throw new OAuthFailure(400, 'invalid_grant', 'the refresh token is invalid');
    }
    return token;
  };

  /** A new access token and refresh token; a fault may spoil the body or stall the answer. */
  const rotate = (
    family: FamilyRecord,
    requestedScope: string | null,
    fault: StrictFault | undefined,
  ): Reply => {
    counters.rotations += 1;
    const success: Record<string, unknown> = {
      access_token: newToken('strict-at'),
      token_type: 'Bearer',
      expires_in: accessTokenTtl,
      refresh_token: issueRefreshToken(family),
      scope: requestedScope ?? family.scope,
    };
    const record = { status: 200, familyId: family.familyId };
    if (fault?.kind === 'rotate-with-body') {
      return {
        status: 200,
        body: JSON.stringify({ ...success, ...fault.fields }),
        record: { ...record, fault: fault.kind },
      };
    }
    if (fault?.kind === 'stall') {
      return {
        status: 200,
        body: JSON.stringify(success),
        record: { ...record, fault: fault.kind },
        stallMs: fault.ms,
      };
    }
    return { status: 200, body: JSON.stringify(success), record };
  };

  const send = (response: ServerResponse, reply: Reply): void => {
    answers.push(reply.record);
    if (response.destroyed || response.socket === null || response.socket.destroyed) {
      counters.answersLost += 1;
      return;
    }
    response.writeHead(reply.status, {
      'cache-control': 'no-store',
      pragma: 'no-cache',
      ...(reply.status === 200 || reply.body.startsWith('{') ? { 'content-type': 'application/json' } : {}),
      ...reply.headers,
    });
    response.end(reply.body);
  };

  /** The reply to a whole request body: decided, or the OAuth error it failed with. */
  const replyTo = (request: IncomingMessage, size: number, chunks: readonly Buffer[]): Reply => {
    try {
      if (size > MAX_BODY_BYTES) throw new OAuthFailure(413, 'invalid_request', 'the body is too large');
      return decide(request, Buffer.concat(chunks).toString('utf8'));
    } catch (error) {
      if (!(error instanceof OAuthFailure)) throw error;
      return failureReply(error);
    }
  };

  const server = createServer((request, response) => {
    if (request.method !== 'POST' || request.url !== TOKEN_PATH) {
      response.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      const reply = replyTo(request, size, chunks);
      if (reply.stallMs === undefined) {
        send(response, reply);
        return;
      }
      const complete = () => {
        stalls.delete(timer);
        send(response, reply);
        if (stalls.size === 0) for (const resolve of waiters.splice(0)) resolve();
      };
      const timer = setTimeout(complete, reply.stallMs);
      stalls.set(timer, complete);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    tokenUrl: `http://${HOST}:${port}${TOKEN_PATH}`,
    get counters() {
      return { ...counters };
    },
    get answers() {
      return answers.map((answer) => ({ ...answer }));
    },
    get issuedTokens() {
      return [...issuedTokens];
    },
    get pendingFaults() {
      return faults.length;
    },
    seedFamily(clientId, seedOptions = {}) {
      if (!clients.has(clientId)) throw new Error(`seedFamily: unknown client ${clientId}`);
      const family: FamilyRecord = {
        familyId: `family-${families.size + 1}`,
        clientId,
        scope: seedOptions.scope ?? 'api:read',
        revoked: false,
        latestRefreshToken: '',
        issued: 0,
      };
      families.set(family.familyId, family);
      return issueRefreshToken(family);
    },
    familyOf(refreshToken) {
      return publicFamily(refreshTokens.get(refreshToken)?.family);
    },
    family(familyId) {
      return publicFamily(families.get(familyId));
    },
    queueFault(fault, times = 1) {
      for (let index = 0; index < times; index += 1) faults.push(fault);
    },
    clearFaults() {
      faults.length = 0;
    },
    settled() {
      if (stalls.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    resetCounters() {
      counters = emptyCounters();
      answers = [];
    },
    stop() {
      stopping ??= (async () => {
        for (const timer of stalls.keys()) clearTimeout(timer);
        stalls.clear();
        for (const resolve of waiters.splice(0)) resolve();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      })();
      return stopping;
    },
  };
}

/**
 * Client authentication with the registered method only (RFC 6749 §2.3.1): `client_secret_basic`
 * (id and secret form-urlencoded, then Base64) or `client_secret_post`; both at once is refused.
 */
function authenticate(
  authorization: string | undefined,
  form: URLSearchParams,
  clients: ReadonlyMap<string, StrictClient>,
): StrictClient {
  const basic = authorization?.match(/^Basic\s+([A-Za-z0-9+/=]+)$/i)?.[1];
  const postedId = form.get('client_id');
  const postedSecret = form.get('client_secret');
  const challenge = { 'www-authenticate': 'Basic realm="strict"' };
  if (basic !== undefined && postedSecret !== null) {
    throw new OAuthFailure(400, 'invalid_request', 'more than one client authentication method');
  }
  let clientId: string | null;
  let secret: string | null;
  let method: StrictClient['authMethod'];
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OAuthFailure(401, 'invalid_client', 'malformed Basic credentials', challenge);
    const formDecode = (text: string) => decodeURIComponent(text.replace(/\+/g, ' '));
    clientId = formDecode(decoded.slice(0, colon));
    secret = formDecode(decoded.slice(colon + 1));
    method = 'client_secret_basic';
  } else {
    clientId = postedId;
    secret = postedSecret;
    method = 'client_secret_post';
  }
  const client = clientId === null ? undefined : clients.get(clientId);
  if (client === undefined || secret === null || secret !== client.clientSecret) {
    throw new OAuthFailure(401, 'invalid_client', 'client authentication failed', challenge);
  }
  if (client.authMethod !== method) {
    throw new OAuthFailure(401, 'invalid_client', `the client must use ${client.authMethod}`, challenge);
  }
  return client;
}

/** Whether every requested scope was granted to the family. */
function withinScope(requestedScope: string, grantedScope: string): boolean {
  const granted = new Set(grantedScope.split(' '));
  return requestedScope.split(' ').every((scope) => granted.has(scope));
}

/** An RFC 6749 §5.2 error answer. */
function failureReply(error: OAuthFailure): Reply {
  return {
    status: error.status,
    body: JSON.stringify({ error: error.error, error_description: error.description }),
    headers: error.headers,
    record: {
      status: error.status,
      error: error.error,
      ...(error instanceof FamilyFailure ? { familyId: error.familyId } : {}),
    },
  };
}
