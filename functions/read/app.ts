/**
 * The read function's composition and its thin handler: decode the Function URL request or the
 * Invoke payload, authorize (Function URL: the caller's role against the provider's consumers),
 * serve from {@link TokenReader}, map the outcome to a response. One log line per request; never a
 * token, never a stack trace to the caller.
 */
import type { AwsClientConfig } from '../aws/client-config.js';
import { createLogger } from '../aws/logger.js';
import { LambdaRefreshTrigger } from '../aws/refresh-invoker.js';
import { createSecretsManagerClient } from '../aws/secrets.js';
import { SecretsManagerTokenStore } from '../aws/token-store.js';
import { AccessPolicy } from '../core/access.js';
import type { ReadEnvironment } from '../core/env.js';
import { toRefresherError } from '../core/errors.js';
import { type Clock, type Logger, type RefreshTrigger, systemClock } from '../core/ports.js';
import { type ServedToken, TokenReader, TokenUnavailableError } from '../core/read.js';
import { loadReadEnvironment } from '../runtime/environment.js';
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
  /** Function URL authorization. */
  readonly policy: AccessPolicy;
  /** Configured provider names (a direct Invoke of an unknown one is a 404). */
  readonly providers: ReadonlySet<string>;
  readonly logger: Logger;
  readonly clock?: Clock;
}

/** What every request of a handler shares. */
interface ReadContext extends ReadHandlerOptions {
  readonly clock: Clock;
}

/** The handler proper, from already-built parts (tests and the local runner build their own). */
export function createReadHandler(options: ReadHandlerOptions): ReadHandler {
  const context: ReadContext = { ...options, clock: options.clock ?? systemClock };
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

/** A Function URL request: decode, authorize the caller against the provider's consumers, serve. */
async function handleUrl(context: ReadContext, event: FunctionUrlEvent): Promise<UrlResponse> {
  const startedAt = context.clock.now();
  const decoded = decodeUrlEvent(event);
  if (!decoded.ok) {
    logRead(context, { via: 'url', outcome: decoded.problem, startedAt });
    return urlResponse(decoded.problem);
  }
  const { request, callerArn } = decoded.value;
  const decision = context.policy.decide(callerArn, request.provider);
  if (!decision.allowed) {
    const failure = accessDenied(decision.reason, request.provider);
    logRead(context, {
      via: 'url',
      request,
      outcome: failure,
      startedAt,
      extra: { denied: decision.reason },
    });
    return urlResponse(failure);
  }
  const outcome = await serve(context, request);
  logRead(context, { via: 'url', request, outcome, startedAt, extra: { caller: decision.caller } });
  return urlResponse(outcome);
}

/** A direct Invoke (authorized by IAM on the whole function): decode, check the provider, serve. */
async function handleInvoke(context: ReadContext, event: unknown): Promise<ServedToken | InvokeError> {
  const startedAt = context.clock.now();
  const decoded = decodeInvokeEvent(event);
  const request = decoded.ok ? decoded.value : undefined;
  const outcome = decoded.ok ? await serveConfigured(context, decoded.value) : decoded.problem;
  logRead(context, { via: 'invoke', request, outcome, startedAt });
  return invokeResponse(outcome);
}

/** Serve a provider the config names; any other is a 404 (the Function URL path answers 403 instead). */
async function serveConfigured(context: ReadContext, request: ReadRequest): Promise<ReadOutcome> {
  if (!context.providers.has(request.provider)) return unknownProvider(request.provider);
  return serve(context, request);
}

/** Serve from the reader; a condition it reports is a failure with its status, anything else a 500. */
async function serve(context: ReadContext, request: ReadRequest): Promise<ReadOutcome> {
  try {
    return request.action === 'get'
      ? await context.reader.get(request.provider)
      : await context.reader.refreshRejected(request.provider, request.rejectedTokenSha256);
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
}

/** Build the real handler from a validated environment (the deployed function, the local runner). */
export function composeReadHandler(
  environment: ReadEnvironment,
  options: ComposeReadOptions = {},
): ReadHandler {
  const logger = options.logger ?? createLogger();
  const clientConfig = options.clientConfig ?? {};
  const clock = options.clock ?? systemClock;
  const trigger =
    options.trigger ??
    new LambdaRefreshTrigger({
      clientConfig,
      functionName: environment.refreshFunctionName,
    });
  const reader = new TokenReader({
    tokens: new SecretsManagerTokenStore({
      client: createSecretsManagerClient(clientConfig),
      secretPrefix: environment.config.secretPrefix,
    }),
    trigger,
    clock,
    logger,
    ...(options.refreshWaitMs === undefined ? {} : { refreshWaitMs: options.refreshWaitMs }),
    ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
  });
  return createReadHandler({
    reader,
    policy: new AccessPolicy(environment.consumers),
    providers: new Set(environment.config.providers.map((provider) => provider.name)),
    logger,
    clock,
  });
}

/** Validate the process environment and build the handler; throws at cold start naming each bad variable. */
export function readHandlerFromEnvironment(
  env: Readonly<Record<string, string | undefined>> = process.env,
  options: ComposeReadOptions = {},
): ReadHandler {
  return composeReadHandler(loadReadEnvironment(env), options);
}
