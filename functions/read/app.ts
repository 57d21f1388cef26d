/**
 * The read function's composition and its thin handler: decode the Function URL request or the
 * Invoke payload, identify the caller by its caller proof (identify.ts), authorize its role against
 * the provider's consumers, serve from {@link TokenReader}, map the outcome to a response. One log
 * line per request, naming the caller or why it was refused; never a token or a proof, never a stack
 * trace to the caller.
 */
import { type AwsTransport, awsTransportFromEnvironment } from '../aws/aws-transport.js';
import type { AwsClientConfig } from '../aws/client-config.js';
import { createLogger } from '../aws/logger.js';
import type { HttpFetch } from '../client/http.js';
import { AccessPolicy } from '../core/access.js';
import type { ReadEnvironment } from '../core/env.js';
import { toRefresherError } from '../core/errors.js';
import { type Clock, type Logger, type RefreshTrigger, systemClock } from '../core/ports.js';
import { type ServedToken, TokenReader, TokenUnavailableError } from '../core/read.js';
import { loadReadEnvironment } from '../runtime/environment.js';
import { readAdapters } from './aws-adapters.js';
import {
  type CallerOutcome,
  type CallerProofs,
  identifyInvokeCaller,
  identifyUrlCaller,
} from './identify.js';
import { callerProofVerifier } from './proof-composition.js';
import {
  decodeInvokeEvent,
  decodeUrlEvent,
  type FunctionUrlEvent,
  isFunctionUrlEvent,
  type ReadRequest,
} from './request.js';
import {
  accessDenied,
  INTERNAL_ERROR,
  type InvokeError,
  invokeResponse,
  isReadFailure,
  type ReadOutcome,
  type UrlResponse,
  unknownProvider,
  urlResponse,
} from './response.js';

export type { InvokeError, UrlResponse } from './response.js';

export type ReadHandler = (event: unknown) => Promise<UrlResponse | ServedToken | InvokeError>;

export interface ReadHandlerOptions {
  readonly reader: TokenReader;
  /** Which role may read which provider. */
  readonly policy: AccessPolicy;
  /** Configured provider names (a trusted direct Invoke of an unknown one is a 404). */
  readonly providers: ReadonlySet<string>;
  /** Checks caller proofs: a {@link CallerIdentityVerifier}. */
  readonly proofs: CallerProofs;
  /**
   * The config's `trustDirectInvoke`: requests without a proof are believed (a Function URL event's
   * `userArn`; a direct Invoke reads every provider). @default false
   */
  readonly trustDirectInvoke?: boolean;
  readonly logger: Logger;
  readonly clock?: Clock;
}

/** What every request of a handler shares. */
interface ReadContext extends ReadHandlerOptions {
  readonly clock: Clock;
  readonly trustDirectInvoke: boolean;
}

/** The handler proper, from already-built parts (tests and the local runner build their own). */
export function createReadHandler(options: ReadHandlerOptions): ReadHandler {
  const context: ReadContext = {
    ...options,
    clock: options.clock ?? systemClock,
    trustDirectInvoke: options.trustDirectInvoke ?? false,
  };
  return async (event) => {
    try {
      return isFunctionUrlEvent(event) ? await handleUrl(context, event) : await handleInvoke(context, event);
    } catch (error) {
      // Nothing above should throw; if it does, the caller still gets JSON, not a stack trace.
      context.logger.error('Read handler failed', { errorName: toRefresherError(error).name });
      return isFunctionUrlEvent(event) ? urlResponse(INTERNAL_ERROR) : { error: INTERNAL_ERROR };
    }
  };
}

/** A Function URL request: decode, identify the caller, authorize it against the provider's consumers, serve. */
async function handleUrl(context: ReadContext, event: FunctionUrlEvent): Promise<UrlResponse> {
  const startedAt = context.clock.now();
  const decoded = decodeUrlEvent(event);
  if (!decoded.ok) {
    logRead(context, { via: 'url', outcome: decoded.problem, startedAt, extra: UNIDENTIFIED });
    return urlResponse(decoded.problem);
  }
  const { request, callerArn, callerProof } = decoded.value;
  prefetch(context, request);
  const caller = await identifyUrlCaller(context, { callerProof, eventArn: callerArn });
  const { outcome, denied } = await authorizeAndServe(context, request, caller);
  logRead(context, { via: 'url', request, outcome, startedAt, extra: { ...caller.log, ...denied } });
  return urlResponse(outcome);
}

/** A direct Invoke: decode, identify the caller by its proof (or trust it), authorize, serve. */
async function handleInvoke(context: ReadContext, event: unknown): Promise<ServedToken | InvokeError> {
  const startedAt = context.clock.now();
  const decoded = decodeInvokeEvent(event);
  if (!decoded.ok) {
    logRead(context, { via: 'invoke', outcome: decoded.problem, startedAt, extra: UNIDENTIFIED });
    return invokeResponse(decoded.problem);
  }
  const { request, callerProof } = decoded.value;
  prefetch(context, request);
  const caller = await identifyInvokeCaller(context, callerProof);
  const { outcome, denied } =
    caller.ok && caller.source === 'trusted_invoke'
      ? { outcome: await serveConfigured(context, request), denied: {} }
      : await authorizeAndServe(context, request, caller);
  logRead(context, { via: 'invoke', request, outcome, startedAt, extra: { ...caller.log, ...denied } });
  return invokeResponse(outcome);
}

/**
 * A get of a configured provider: its token is read while the caller is identified (STS), and served
 * only once the caller is authorized (`TokenReader.prefetch`).
 */
function prefetch(context: ReadContext, request: ReadRequest): void {
  if (request.action === 'get' && context.providers.has(request.provider))
    context.reader.prefetch(request.provider);
}

/** Requests refused before anyone was identified (a malformed request). */
const UNIDENTIFIED = { caller: 'unidentified' } as const;

/**
 * The identified caller's role against the provider's consumers, then serve. `denied` is for the log
 * line only: the caller sees the same "forbidden" whatever the reason.
 */
async function authorizeAndServe(
  context: ReadContext,
  request: ReadRequest,
  caller: CallerOutcome,
): Promise<{ readonly outcome: ReadOutcome; readonly denied: Record<string, unknown> }> {
  if (!caller.ok) {
    const { status, code, message, retryAfterSeconds } = caller.failure;
    const outcome = {
      status,
      code,
      message,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    };
    return { outcome, denied: {} };
  }
  const decision = context.policy.decide(caller.callerArn, request.provider);
  if (!decision.allowed) {
    return { outcome: accessDenied(decision.reason, request.provider), denied: { denied: decision.reason } };
  }
  return { outcome: await serve(context, request, decision.caller), denied: {} };
}

/** A trusted Invoke: any provider the config names; any other is a 404 (a proof's caller gets 403 instead). */
async function serveConfigured(context: ReadContext, request: ReadRequest): Promise<ReadOutcome> {
  if (!context.providers.has(request.provider)) return unknownProvider(request.provider);
  return serve(context, request);
}

/** Serve from the reader; a condition it reports is a failure with its status, anything else a 500. */
async function serve(context: ReadContext, request: ReadRequest, caller?: string): Promise<ReadOutcome> {
  try {
    return request.action === 'get'
      ? await context.reader.get(request.provider)
      : await context.reader.refreshRejected(request.provider, request.rejectedTokenSha256, caller);
  } catch (error) {
    if (error instanceof TokenUnavailableError) {
      return {
        status: error.status,
        code: error.code,
        message: error.message,
        retryAfterSeconds: error.retryAfterSeconds,
      };
    }
    const failure = toRefresherError(error);
    context.logger.error('Read failed unexpectedly', {
      provider: request.provider,
      errorCode: failure.code,
      errorName: failure.name,
    });
    return INTERNAL_ERROR;
  }
}

/** The one log line per request: an error for a 5xx, else info; never a token. */
function logRead(
  context: ReadContext,
  entry: {
    readonly via: 'url' | 'invoke';
    readonly request?: ReadRequest | undefined;
    readonly outcome: ReadOutcome;
    readonly startedAt: number;
    readonly extra?: Record<string, unknown>;
  },
): void {
  const { logger, clock } = context;
  const { via, request, outcome, startedAt, extra } = entry;
  const failed = isReadFailure(outcome);
  (failed && outcome.status >= 500 ? logger.error : logger.info).call(logger, 'Read request', {
    via,
    action: request?.action,
    provider: request?.provider,
    status: failed ? outcome.status : 200,
    ...(failed ? { code: outcome.code } : { expiresIn: outcome.expiresIn }),
    durationMs: clock.now() - startedAt,
    ...extra,
  });
}

export interface ComposeReadOptions {
  readonly clientConfig?: AwsClientConfig;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Default: invoke the refresh function named in the environment. */
  readonly trigger?: RefreshTrigger;
  /** Bound on waiting for an on-demand refresh (ms). */
  readonly refreshWaitMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Where caller proofs go. @default the environment's (`AWS_ENDPOINT_URL_STS`), else `clientConfig.endpoint`, else STS in the region */
  readonly stsEndpoint?: string;
  /** The name caller proofs must be made for. @default `AWS_LAMBDA_FUNCTION_NAME` */
  readonly serverId?: string;
  /** A `fetch` to send caller proofs to STS with (tests count calls). @default over `node:http(s)` */
  readonly stsFetch?: typeof fetch;
  /**
   * How the token reads and the on-demand Invoke reach AWS (aws-transport.ts): `fetch`, SDK-free
   * signed requests, or `sdk`, the AWS SDK's clients imported on first use.
   * @default `TOKEN_REFRESHER_AWS_TRANSPORT` from {@link readHandlerFromEnvironment}, else `fetch`
   *   (`sdk` where `fetch` cannot be used: no region, FIPS or dual-stack endpoints)
   */
  readonly transport?: AwsTransport;
  /**
   * Where the `fetch` transport reads `AWS_REGION`, `AWS_ENDPOINT_URL[_<SERVICE>]` and the credentials
   * (`clientConfig` wins). @default `process.env`
   */
  readonly awsEnvironment?: Readonly<Record<string, string | undefined>>;
  /** The HTTP of the `fetch` transport (tests). @default over `node:http(s)` */
  readonly awsFetch?: HttpFetch;
}

/** Build the real handler from a validated environment (the deployed function, the local runner). */
export function composeReadHandler(
  environment: ReadEnvironment,
  options: ComposeReadOptions = {},
): ReadHandler {
  const logger = options.logger ?? createLogger();
  const clientConfig = options.clientConfig ?? {};
  const clock = options.clock ?? systemClock;
  const { tokens, trigger, plan } = readAdapters({
    providers: environment.config.providers,
    secretPrefix: environment.config.secretPrefix,
    tokenTableName: environment.tokenTableName,
    refreshFunctionName: environment.refreshFunctionName,
    clientConfig,
    transport: options.transport,
    environment: options.awsEnvironment ?? process.env,
    clock,
    ...(options.awsFetch === undefined ? {} : { fetch: options.awsFetch }),
    ...(options.trigger === undefined ? {} : { trigger: options.trigger }),
  });
  if (plan.kind === 'sdk' && options.transport === undefined) {
    logger.info('AWS calls go through the AWS SDK', { reason: plan.reason });
  }
  const reader = new TokenReader({
    tokens,
    trigger,
    clock,
    logger,
    providers: environment.config.providers,
    ...(options.refreshWaitMs === undefined ? {} : { refreshWaitMs: options.refreshWaitMs }),
    ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
  });
  const proofs = callerProofVerifier({
    environment,
    clientConfig,
    clock,
    logger,
    ...(options.stsEndpoint === undefined ? {} : { stsEndpoint: options.stsEndpoint }),
    ...(options.serverId === undefined ? {} : { serverId: options.serverId }),
    ...(options.stsFetch === undefined ? {} : { stsFetch: options.stsFetch }),
  });
  return createReadHandler({
    reader,
    policy: new AccessPolicy(environment.consumers),
    providers: new Set(environment.config.providers.map((provider) => provider.name)),
    proofs,
    trustDirectInvoke: environment.config.trustDirectInvoke,
    logger,
    clock,
  });
}

/** Validate the process environment and build the handler; throws at cold start naming each bad variable. */
export function readHandlerFromEnvironment(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: ComposeReadOptions = {},
): ReadHandler {
  return composeReadHandler(loadReadEnvironment(env), {
    transport: awsTransportFromEnvironment(env),
    awsEnvironment: env,
    ...options,
  });
}
