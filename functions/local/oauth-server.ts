/**
 * A real OAuth 2.0 authorization server for integration tests: `oidc-provider` v9 running in-process over
 * plain HTTP on a free 127.0.0.1 port, with server-side request counting, token capture and fault injection
 * in front of the token endpoint.
 *
 * Supported grants: `client_credentials` and `refresh_token` (rotation on every use, with reuse detection),
 * and, when {@link StartOAuthServerOptions.jwtBearerIssuers} is set, the JWT bearer grant (RFC 7523 §2.1,
 * functions/local/jwt-bearer-grant.ts). Clients authenticate with a secret, with `private_key_jwt`
 * (oidc-provider verifies the client assertion: signature with the registered key, `aud`, `exp`, `jti`
 * replay) or not at all (`none`). Refresh tokens are created programmatically with
 * {@link OAuthServer.seedRefreshToken}, no browser flow.
 *
 * @module
 */
import { generateKeyPair } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import {
  JWT_BEARER_GRANT,
  type JwtBearerCheck,
  type JwtBearerGrantHost,
  type JwtBearerIssuer,
  registerJwtBearerGrant,
} from './jwt-bearer-grant.js';

/** Client authentication methods supported at the token endpoint. */
export type TokenEndpointAuthMethod =
  | 'client_secret_basic'
  | 'client_secret_post'
  | 'private_key_jwt'
  | 'none';

/** Grant types a test client may use. */
export type HarnessGrantType = 'client_credentials' | 'refresh_token' | typeof JWT_BEARER_GRANT;

export { JWT_BEARER_GRANT, type JwtBearerCheck, type JwtBearerIssuer };

/** A client registered with the server at startup. */
export interface OAuthClientOptions {
  clientId: string;
  /** For `client_secret_basic` and `client_secret_post`. */
  clientSecret?: string;
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  grantTypes: HarnessGrantType[];
  /** The client's public keys, for `private_key_jwt` (its client assertions are verified with them). */
  jwks?: { keys: Record<string, unknown>[] };
  /** Lifetime of this client's `client_credentials` access tokens; default the server's. */
  accessTokenTtlSeconds?: number;
}

/** Options for {@link startOAuthServer}. */
export interface StartOAuthServerOptions {
  clients: OAuthClientOptions[];
  /** Lifetime of issued access tokens (`expires_in`). Default 3600. Must be a positive integer. */
  accessTokenTtlSeconds?: number;
  /** Lifetime of issued refresh tokens. Default 14 days. */
  refreshTokenTtlSeconds?: number;
  /**
   * Scopes a resource server (any `resource` / `audience`) grants, space separated. Requested scopes
   * outside this list are silently dropped from the token. Default `'api:read api:write'`.
   */
  resourceScope?: string;
  /** If set, only these resource indicators / audiences are accepted; others get `invalid_target`. */
  allowedResources?: string[];
  /** Format of access tokens issued for a resource/audience. `jwt` lets tests read `aud`. Default `jwt`. */
  resourceAccessTokenFormat?: 'jwt' | 'opaque';
  /** Issuers whose assertions the JWT bearer grant accepts; the grant exists only when this is set. */
  jwtBearerIssuers?: JwtBearerIssuer[];
  /** Longest `exp` − `iat` of a JWT bearer assertion. Default 3600. */
  jwtBearerMaxLifetimeSeconds?: number;
}

/**
 * A fault injected in front of the token endpoint (see {@link OAuthServer.setFault}).
 *
 * - `status`: answer with `status`, optional raw `body` (default empty) and `headers`
 *   (e.g. 429 + `Retry-After`, or 503 with an HTML page and `content-type: text/html`).
 * - `body`: answer with `status`, `content-type` and a raw body, e.g. truncated JSON or a crafted success
 *   such as `{"access_token":"x","token_type":"Bearer","expires_in":0}`.
 * - `delay`: stall `ms`, then let the real server process the request. The request is processed even if
 *   the client gave up meanwhile, so a refresh token can be rotated although the client never saw the
 *   answer. `ms: Infinity` never answers (the socket stays open until the client aborts or `stop()`).
 * - `disconnect`: destroy the TCP connection without answering.
 *
 * `times` limits the fault to the next N token requests (default: until cleared).
 */
export type TokenEndpointFault = (
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'body'; status: number; contentType: string; body: string }
  | { kind: 'delay'; ms: number }
  | { kind: 'disconnect' }
) & { times?: number };

/**
 * Token-endpoint POSTs received, counted by the server: `total` plus one key per `grant_type`
 * (`'unknown'` when the body carried none or could not be parsed).
 */
export interface TokenRequestCounts {
  total: number;
  client_credentials: number;
  refresh_token: number;
  [grantType: string]: number;
}

/** One answer sent by the token endpoint, real or injected. */
export interface TokenResponseRecord {
  status: number;
  grantType: string;
  /** True if the answer came from {@link OAuthServer.setFault} rather than oidc-provider. */
  injected: boolean;
  /** The OAuth `error` code of a real error answer, e.g. `invalid_grant`. */
  error?: string;
  /** The OAuth `error_description` of a real error answer (generic for `invalid_grant`). */
  errorDescription?: string;
  /**
   * oidc-provider's internal reason for a failed grant, never sent to the client, e.g.
   * `refresh token already used` (reuse detected) or `refresh token not found`.
   */
  errorDetail?: string;
}

/** A credential value the server handed out (via the token endpoint or {@link OAuthServer.seedRefreshToken}). */
export interface IssuedToken {
  type: 'access_token' | 'refresh_token' | 'id_token';
  value: string;
  /** `grant_type` of the token request, or `'seed'` for {@link OAuthServer.seedRefreshToken}. */
  grantType: string;
}

/** Options for {@link OAuthServer.seedRefreshToken}. */
export interface SeedRefreshTokenOptions {
  clientId: string;
  /** Granted scope. Default `'offline_access'`; include `openid` to also get ID tokens on refresh. */
  scope?: string;
  /** Subject the grant belongs to. Default `'test-user'`. */
  accountId?: string;
  /** Resource indicator the grant is bound to; refreshed access tokens are then issued for it. */
  resource?: string;
}

/** A running OAuth authorization server owned by the current test file. */
export interface OAuthServer {
  /** Issuer identifier, e.g. `http://127.0.0.1:41234`. */
  readonly issuer: string;
  /** Token endpoint URL, e.g. `http://127.0.0.1:41234/token`. */
  readonly tokenUrl: string;
  /** Snapshot of the server-side token request counters since start / {@link OAuthServer.resetCounters}. */
  readonly tokenRequests: TokenRequestCounts;
  /** Snapshot of the token endpoint's answers, in order. Hung or disconnected requests have none. */
  readonly tokenResponses: readonly TokenResponseRecord[];
  /** Snapshot of every access/refresh/ID token value issued, e.g. to scan logs for leaked secrets. */
  readonly issuedTokens: readonly IssuedToken[];
  /** Errors oidc-provider reported as `server_error` (bugs or misconfiguration), for assertions. */
  readonly serverErrors: readonly Error[];
  /** Every JWT bearer assertion the server looked at, accepted or refused with the reason. */
  readonly jwtBearerChecks: readonly JwtBearerCheck[];
  /**
   * Creates a Grant and a refresh token for `clientId` directly in the provider's storage, as if a user had
   * completed an authorization code flow, and returns the refresh token value.
   */
  seedRefreshToken(options: SeedRefreshTokenOptions): Promise<string>;
  /** Injects a fault in front of the token endpoint; `undefined` clears it. */
  setFault(fault: TokenEndpointFault | undefined): void;
  /** Changes the lifetime of access tokens issued from now on. */
  setAccessTokenTtl(seconds: number): void;
  /** Clears counters, the response log and the issued-token log (provider storage is kept). */
  resetCounters(): void;
  /** Closes all connections and the listener. Idempotent. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const TOKEN_PATH = '/token';
const MAX_FAULT_BODY_BYTES = 64 * 1024;
const DEFAULT_REFRESH_TOKEN_TTL = 14 * 24 * 60 * 60;
const MIN_GRANT_TTL = 365 * 24 * 60 * 60;

/**
 * Starts an oidc-provider based authorization server on a free 127.0.0.1 port.
 *
 * Configuration: `client_credentials` and `refresh_token` grants, `rotateRefreshToken: true`, resource
 * indicators (RFC 8707 `resource`, and `audience` as an alias for `client_credentials`; both must be
 * absolute URIs), in-memory storage, freshly generated RS256 signing key, dev interactions disabled.
 */
export async function startOAuthServer(options: StartOAuthServerOptions): Promise<OAuthServer> {
  const { Provider, errors } = await loadOidcProvider();
  const state = new ServerState(checkTtl(options.accessTokenTtlSeconds ?? 3600));
  const refreshTokenTtl = options.refreshTokenTtlSeconds ?? DEFAULT_REFRESH_TOKEN_TTL;
  const resourceScope = options.resourceScope ?? 'api:read api:write';
  const clientTtls = new Map(
    options.clients.flatMap((client) =>
      client.accessTokenTtlSeconds === undefined
        ? []
        : [[client.clientId, checkTtl(client.accessTokenTtlSeconds)]],
    ),
  );

  const httpServer = createServer();
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, HOST, () => resolve());
  });
  const { port } = httpServer.address() as AddressInfo;
  const issuer = `http://${HOST}:${port}`;

  const configuration = {
    clients: options.clients.map((client) => ({
      client_id: client.clientId,
      ...(client.clientSecret === undefined ? {} : { client_secret: client.clientSecret }),
      ...(client.jwks === undefined ? {} : { jwks: client.jwks }),
      token_endpoint_auth_method: client.tokenEndpointAuthMethod,
      grant_types: client.grantTypes,
      redirect_uris: [],
      response_types: [],
    })),
    jwks: { keys: [await generateSigningKey()] },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx: OidcRequestContext, _client: unknown, oneOf?: string[]) => {
          if (oneOf) return oneOf;
          // oidc-provider knows no `audience` parameter (it strips it from params), but the raw body is
          // still available: treat it as the resource indicator for client_credentials.
          const audience = ctx.oidc.body?.audience;
          if (ctx.oidc.params?.grant_type === 'client_credentials' && typeof audience === 'string') {
            return audience;
          }
          return undefined;
        },
        getResourceServerInfo: async (_ctx: unknown, resourceIndicator: string) => {
          if (options.allowedResources && !options.allowedResources.includes(resourceIndicator)) {
            throw new errors.InvalidTarget();
          }
          return {
            scope: resourceScope,
            audience: resourceIndicator,
            accessTokenTTL: state.accessTokenTtl,
            accessTokenFormat: options.resourceAccessTokenFormat ?? 'jwt',
          };
        },
        useGrantedResource: async () => true,
      },
    },
    rotateRefreshToken: true,
    ttl: {
      AccessToken: () => state.accessTokenTtl,
      ClientCredentials: (_ctx: unknown, token: { clientId?: string }) =>
        clientTtls.get(token.clientId ?? '') ?? state.accessTokenTtl,
      RefreshToken: refreshTokenTtl,
      Grant: Math.max(refreshTokenTtl, MIN_GRANT_TTL),
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: refreshTokenTtl,
    },
    // Defaults for these log "you MUST/SHOULD change" notices when first called.
    clientBasedCORS: () => false,
    renderError: async (ctx: { type: string; body: string }, out: Record<string, string>) => {
      ctx.type = 'application/json';
      ctx.body = JSON.stringify(out);
    },
  };

  let provider: OidcProvider;
  try {
    provider = withOidcNoticesSilenced(() => new Provider(issuer, configuration));
  } catch (error) {
    httpServer.close();
    throw error;
  }
  if (options.jwtBearerIssuers !== undefined) {
    registerJwtBearerGrant(provider, {
      tokenUrl: `${issuer}${TOKEN_PATH}`,
      issuerIdentifier: issuer,
      issuers: options.jwtBearerIssuers,
      maxLifetimeSeconds: options.jwtBearerMaxLifetimeSeconds ?? 3600,
      invalidGrant: (description) => new errors.InvalidGrant(description),
      checks: state.jwtBearerChecks,
    });
  }
  provider.on('server_error', (_ctx, error) => state.serverErrors.push(error));
  provider.on('grant.error', (ctx, error) => {
    if (typeof error.error_detail === 'string') state.errorDetails.set(ctx, error.error_detail);
  });
  provider.use((ctx, next) => tokenEndpointMiddleware(state, ctx, next));
  httpServer.on('request', provider.callback());

  let stopping: Promise<void> | undefined;

  return {
    issuer,
    tokenUrl: `${issuer}${TOKEN_PATH}`,
    get tokenRequests() {
      return { ...state.counts };
    },
    get tokenResponses() {
      return state.responses.map((record) => ({ ...record }));
    },
    get issuedTokens() {
      return state.issued.map((token) => ({ ...token }));
    },
    get serverErrors() {
      return [...state.serverErrors];
    },
    get jwtBearerChecks() {
      return state.jwtBearerChecks.map((check) => ({ ...check }));
    },

    async seedRefreshToken({ clientId, scope = 'offline_access', accountId = 'test-user', resource }) {
      const client = await provider.Client.find(clientId);
      if (!client) throw new Error(`seedRefreshToken: unknown client ${clientId}`);
      const grant = new provider.Grant({ accountId, clientId });
      grant.addOIDCScope(scope);
      if (resource) grant.addResourceScope(resource, resourceScope);
      const grantId = await grant.save();
      const refreshToken = new provider.RefreshToken({
        accountId,
        client,
        grantId,
        scope,
        resource,
        gty: 'authorization_code',
        authTime: Math.floor(Date.now() / 1000),
        expiresWithSession: false,
      });
      const value = await refreshToken.save();
      state.issued.push({ type: 'refresh_token', value, grantType: 'seed' });
      return value;
    },

    setFault(fault) {
      state.fault = fault ? { ...fault } : undefined;
    },

    setAccessTokenTtl(seconds) {
      state.accessTokenTtl = checkTtl(seconds);
    },

    resetCounters() {
      state.resetCounters();
    },

    stop() {
      stopping ??= (async () => {
        state.stopped = true;
        state.fault = undefined;
        for (const timer of state.timers) clearTimeout(timer);
        state.timers.clear();
        const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        httpServer.closeAllConnections();
        await closed;
      })();
      return stopping;
    },
  };
}

/** Mutable per-server bookkeeping shared by the middleware and the public handle. */
class ServerState {
  counts: TokenRequestCounts = emptyCounts();
  responses: TokenResponseRecord[] = [];
  issued: IssuedToken[] = [];
  serverErrors: Error[] = [];
  jwtBearerChecks: JwtBearerCheck[] = [];
  /** `error_detail` of failed grants by request context (filled by the `grant.error` event). */
  errorDetails = new WeakMap<object, string>();
  fault: TokenEndpointFault | undefined;
  timers = new Set<NodeJS.Timeout>();
  stopped = false;

  constructor(public accessTokenTtl: number) {}

  countGrantType(grantType: string): void {
    this.counts[grantType] = (this.counts[grantType] ?? 0) + 1;
  }

  /** Returns the active fault and consumes one of its `times`. */
  takeFault(): TokenEndpointFault | undefined {
    const fault = this.fault;
    if (fault?.times !== undefined) {
      fault.times -= 1;
      if (fault.times <= 0) this.fault = undefined;
    }
    return fault;
  }

  resetCounters(): void {
    this.counts = emptyCounts();
    this.responses = [];
    this.issued = [];
    this.serverErrors = [];
    this.jwtBearerChecks.splice(0);
  }

  sleep(ms: number, req: IncomingMessage): Promise<void> {
    return new Promise((resolve) => {
      if (!Number.isFinite(ms)) {
        // Never answer; give up once the client is gone so the middleware does not leak.
        req.socket.once('close', () => resolve());
        return;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }
}

function checkTtl(seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new RangeError(
      `access token TTL must be a positive integer, got ${seconds} (oidc-provider rejects 0; ` +
        'use a body fault to serve expires_in: 0)',
    );
  }
  return seconds;
}

function emptyCounts(): TokenRequestCounts {
  return { total: 0, client_credentials: 0, refresh_token: 0 };
}

/**
 * Runs before oidc-provider for every request. For POST /token it counts the request on arrival, applies
 * the active fault, and records the answer and any tokens issued.
 */
async function tokenEndpointMiddleware(state: ServerState, ctx: KoaContext, next: () => Promise<void>) {
  if (ctx.method !== 'POST' || ctx.path !== TOKEN_PATH) return next();

  state.counts.total += 1;
  const fault = state.takeFault();
  if (fault !== undefined && fault.kind !== 'delay') return answerWithFault(state, ctx, fault);
  if (fault?.kind === 'delay') {
    const processed = await stallRequest(state, ctx, fault.ms);
    if (!processed) return;
  }

  try {
    await next();
  } finally {
    const body = ctx.oidc?.body;
    const grantType = typeof body?.grant_type === 'string' ? body.grant_type : 'unknown';
    state.countGrantType(grantType);
    recordRealResponse(state, ctx, grantType);
  }
}

/** An injected answer (status, body) or a dropped connection, instead of the real server's. */
async function answerWithFault(
  state: ServerState,
  ctx: KoaContext,
  fault: Exclude<TokenEndpointFault, { kind: 'delay' }>,
): Promise<void> {
  // The real server never sees this request, so reading the body here is safe.
  const grantType = grantTypeOf(await readBody(ctx.req));
  state.countGrantType(grantType);
  ctx.respond = false;
  if (fault.kind === 'disconnect') {
    ctx.req.socket.destroy();
    return;
  }
  const headers =
    fault.kind === 'body' ? { 'content-type': fault.contentType } : { ...(fault.headers ?? {}) };
  writeRaw(ctx.res, fault.status, headers, fault.body ?? '');
  state.responses.push({ status: fault.status, grantType, injected: true });
}

/**
 * A `delay` fault: stall `ms`, then (unless the server stopped meanwhile) let the real server process
 * the request. An infinite delay never answers. @returns whether the request goes on to the server.
 */
async function stallRequest(state: ServerState, ctx: KoaContext, ms: number): Promise<boolean> {
  if (!Number.isFinite(ms)) {
    state.countGrantType(grantTypeOf(await readBody(ctx.req)));
    ctx.respond = false;
    await state.sleep(ms, ctx.req);
    return false;
  }
  await state.sleep(ms, ctx.req);
  return !state.stopped;
}

function recordRealResponse(state: ServerState, ctx: KoaContext, grantType: string): void {
  const body = isRecord(ctx.body) ? ctx.body : {};
  const record: TokenResponseRecord = { status: ctx.status, grantType, injected: false };
  if (typeof body.error === 'string') record.error = body.error;
  if (typeof body.error_description === 'string') record.errorDescription = body.error_description;
  const detail = state.errorDetails.get(ctx);
  if (detail) record.errorDetail = detail;
  state.responses.push(record);

  if (ctx.status !== 200) return;
  for (const type of ['access_token', 'refresh_token', 'id_token'] as const) {
    const value = body[type];
    if (typeof value === 'string') state.issued.push({ type, value, grantType });
  }
}

function writeRaw(res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, {
    'cache-control': 'no-store',
    ...headers,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FAULT_BODY_BYTES) break;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function grantTypeOf(formBody: string): string {
  return new URLSearchParams(formBody).get('grant_type') ?? 'unknown';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

async function generateSigningKey(): Promise<Record<string, unknown>> {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'harness-rs256', use: 'sig' };
}

// Not anchored: on a TTY the notice is wrapped in ANSI colour codes.
const OIDC_NOTICE = /oidc-provider (?:WARNING|NOTICE): /;

/**
 * Runs `fn` while dropping oidc-provider's console notices ("development-only in-memory adapter",
 * "Unsupported runtime" on Node 20, ...). Other console output passes through.
 */
function withOidcNoticesSilenced<T>(fn: () => T): T {
  const { warn, info } = console;
  const filter =
    (original: (...data: unknown[]) => void) =>
    (...data: unknown[]): void => {
      if (typeof data[0] === 'string' && OIDC_NOTICE.test(data[0])) return;
      original.apply(console, data);
    };
  console.warn = filter(warn);
  console.info = filter(info);
  try {
    const result = fn();
    if (result instanceof Promise) {
      return result.finally(() => {
        console.warn = warn;
        console.info = info;
      }) as T;
    }
    console.warn = warn;
    console.info = info;
    return result;
  } catch (error) {
    console.warn = warn;
    console.info = info;
    throw error;
  }
}

// oidc-provider ships no type declarations (and @types/oidc-provider targets older majors), so the small
// surface used here is typed locally and the module is imported through a non-literal specifier.
const OIDC_PROVIDER_MODULE = 'oidc-provider';

async function loadOidcProvider(): Promise<OidcProviderModule> {
  // The runtime check warns at import time, so silence notices around the first import.
  return withOidcNoticesSilenced(() => import(OIDC_PROVIDER_MODULE) as Promise<OidcProviderModule>);
}

interface OidcProviderModule {
  Provider: new (issuer: string, configuration: object) => OidcProvider;
  errors: {
    InvalidTarget: new (description?: string) => Error;
    InvalidGrant: new (description?: string) => Error;
  };
}

interface OidcProvider extends JwtBearerGrantHost {
  use(middleware: (ctx: KoaContext, next: () => Promise<void>) => Promise<void>): void;
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: 'server_error' | 'grant.error', listener: (ctx: object, error: OidcError) => void): void;
  Client: { find(clientId: string): Promise<object | undefined> };
  Grant: new (init: {
    accountId: string;
    clientId: string;
  }) => {
    addOIDCScope(scope: string): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  };
  RefreshToken: new (init: Record<string, unknown>) => { save(): Promise<string> };
}

/** oidc-provider's error objects carry a hidden `error_detail` next to the public OAuth fields. */
interface OidcError extends Error {
  error_detail?: unknown;
}

/** The subset of oidc-provider's per-request context used by the configuration callbacks. */
interface OidcRequestContext {
  oidc: { body?: Record<string, unknown>; params?: Record<string, unknown> };
}

/** The subset of a Koa context used by the token endpoint middleware. */
interface KoaContext {
  method: string;
  path: string;
  status: number;
  body: unknown;
  respond?: boolean;
  req: IncomingMessage;
  res: ServerResponse;
  /** Set by oidc-provider once the request reached one of its routes. */
  oidc?: Partial<OidcRequestContext['oidc']>;
}
