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
  quote,
  type ReadRequest,
} from './request.js';

/** A Function URL response (payload format 2.0). */
export interface UrlResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What a direct Invoke returns when no token is served. */
export interface InvokeError {
  readonly error: {
    readonly status: number;
    readonly code: string;
    readonly message: string;
    readonly retryAfterSeconds?: number;
  };
}

export type ReadHandler = (event: unknown) => Promise<UrlResponse | ServedToken | InvokeError>;

/** Why no token was served: a caller mistake (4xx) or a server-side condition (429/5xx). */
interface Failure {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly retryAfterSeconds?: number;
  readonly allow?: string;
}

export interface ReadHandlerOptions {
  readonly reader: TokenReader;
  /** Function URL authorization. */
  readonly policy: AccessPolicy;
  /** Configured provider names (a direct Invoke of an unknown one is a 404). */
  readonly providers: ReadonlySet<string>;
  readonly logger: Logger;
  readonly clock?: Clock;
}

const FORBIDDEN = (provider: string): Failure => ({
  status: 403,
  code: 'forbidden',
  // The same answer whether or not the provider exists: a refusal tells nothing about other providers.
  message: `The caller may not read provider ${quote(provider)}; its IAM role must be one of the provider's consumers`,
});

/** The handler proper, from already-built parts (tests and the local runner build their own). */
export function createReadHandler(options: ReadHandlerOptions): ReadHandler {
  const { reader, policy, providers, logger } = options;
  const clock = options.clock ?? systemClock;

  async function serve(request: ReadRequest): Promise<ServedToken | Failure> {
    try {
      return request.action === 'get'
        ? await reader.get(request.provider)
        : await reader.refreshRejected(request.provider, request.rejectedTokenSha256);
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
      logger.error('Read failed unexpectedly', {
        provider: request.provider,
        errorCode: failure.code,
        errorName: failure.name,
      });
      return {
        status: 500,
        code: 'internal_error',
        message: 'The token could not be served; see the read function logs',
      };
    }
  }

  function log(
    via: 'url' | 'invoke',
    request: ReadRequest | undefined,
    outcome: ServedToken | Failure,
    extra: Record<string, unknown>,
    startedAt: number,
  ): void {
    const failed = 'status' in outcome;
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

  async function handleUrl(event: FunctionUrlEvent): Promise<UrlResponse> {
    const startedAt = clock.now();
    const decoded = decodeUrlEvent(event);
    if (!decoded.ok) {
      log('url', undefined, decoded.problem, {}, startedAt);
      return urlResponse(decoded.problem);
    }
    const { request, callerArn } = decoded.value;
    const decision = policy.decide(callerArn, request.provider);
    if (!decision.allowed) {
      const failure: Failure =
        decision.reason === 'missing_identity'
          ? {
              status: 401,
              code: 'missing_identity',
              message:
                'The request carries no IAM identity; sign it with SigV4 (the function URL uses AWS_IAM auth)',
            }
          : FORBIDDEN(request.provider);
      log('url', request, failure, { denied: decision.reason }, startedAt);
      return urlResponse(failure);
    }
    const outcome = await serve(request);
    log('url', request, outcome, { caller: decision.caller }, startedAt);
    return urlResponse(outcome);
  }

  async function handleInvoke(event: unknown): Promise<ServedToken | InvokeError> {
    const startedAt = clock.now();
    const decoded = decodeInvokeEvent(event);
    let outcome: ServedToken | Failure;
    if (!decoded.ok) {
      outcome = decoded.problem;
    } else if (!providers.has(decoded.value.provider)) {
      // Invoke is authorized by IAM on the whole function, so naming an unknown provider leaks nothing.
      outcome = {
        status: 404,
        code: 'unknown_provider',
        message: `No provider named ${quote(decoded.value.provider)} is configured`,
      };
    } else {
      outcome = await serve(decoded.value);
    }
    log('invoke', decoded.ok ? decoded.value : undefined, outcome, {}, startedAt);
    if (!('status' in outcome)) return outcome;
    return {
      error: {
        status: outcome.status,
        code: outcome.code,
        message: outcome.message,
        ...(outcome.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: outcome.retryAfterSeconds }),
      },
    };
  }

  return async (event) => {
    try {
      return isFunctionUrlEvent(event) ? await handleUrl(event) : await handleInvoke(event);
    } catch (error) {
      // Nothing above should throw; if it does, the caller still gets JSON, not a stack trace.
      logger.error('Read handler failed', { errorName: toRefresherError(error).name });
      const failure = {
        status: 500,
        code: 'internal_error',
        message: 'The token could not be served; see the read function logs',
      };
      return isFunctionUrlEvent(event) ? urlResponse(failure) : { error: failure };
    }
  };
}

const BASE_HEADERS = {
  'content-type': 'application/json',
  // Tokens must not be kept by any intermediary cache.
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

function urlResponse(outcome: ServedToken | Failure): UrlResponse {
  if (!('status' in outcome)) {
    const { provider, accessToken, tokenType, expiresAt, expiresIn } = outcome;
    return {
      statusCode: 200,
      headers: BASE_HEADERS,
      body: JSON.stringify({ provider, accessToken, tokenType, expiresAt, expiresIn }),
    };
  }
  return {
    statusCode: outcome.status,
    headers: {
      ...BASE_HEADERS,
      ...(outcome.retryAfterSeconds === undefined
        ? {}
        : { 'retry-after': String(outcome.retryAfterSeconds) }),
      ...(outcome.allow === undefined ? {} : { allow: outcome.allow }),
    },
    body: JSON.stringify({ code: outcome.code, message: outcome.message }),
  };
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
