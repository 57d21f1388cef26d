/**
 * The read function's answers: a served token or a failure, mapped to a Function URL response or to
 * a direct Invoke's payload. Pure: no I/O; a failure message never holds a token.
 */
import type { AccessDecision } from '../core/access.js';
import type { ServedToken } from '../core/read.js';
import { quote } from './request.js';

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

/** Why no token was served: a caller mistake (4xx) or a server-side condition (429/5xx). */
export interface ReadFailure {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly retryAfterSeconds?: number;
  readonly allow?: string;
}

/** What one request ends with. */
export type ReadOutcome = ServedToken | ReadFailure;

/** Whether the outcome is a failure (a served token has no status). */
export function isReadFailure(outcome: ReadOutcome): outcome is ReadFailure {
  return 'status' in outcome;
}

/** Anything unexpected: the caller learns nothing but where to look. */
export const INTERNAL_ERROR: ReadFailure = {
  status: 500,
  code: 'internal_error',
  message: 'The token could not be served; see the read function logs',
};

/** A Function URL caller the access policy refused. */
export function accessDenied(
  reason: Extract<AccessDecision, { allowed: false }>['reason'],
  provider: string,
): ReadFailure {
  if (reason === 'missing_identity') {
    return {
      status: 401,
      code: 'missing_identity',
      message: 'The request carries no IAM identity; sign it with SigV4 (the function URL uses AWS_IAM auth)',
    };
  }
  return {
    status: 403,
    code: 'forbidden',
    // The same answer whether or not the provider exists: a refusal tells nothing about other providers.
    message: `The caller may not read provider ${quote(provider)}; its IAM role must be one of the provider's consumers`,
  };
}

/** A direct Invoke naming a provider that is not configured. */
export function unknownProvider(provider: string): ReadFailure {
  // Invoke is authorized by IAM on the whole function, so naming an unknown provider leaks nothing.
  return {
    status: 404,
    code: 'unknown_provider',
    message: `No provider named ${quote(provider)} is configured`,
  };
}

const BASE_HEADERS = {
  'content-type': 'application/json',
  // Tokens must not be kept by any intermediary cache.
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

/** The Function URL response of an outcome. */
export function urlResponse(outcome: ReadOutcome): UrlResponse {
  if (!isReadFailure(outcome)) {
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

/** The direct Invoke payload of an outcome: the served token, or `{ error }`. */
export function invokeResponse(outcome: ReadOutcome): ServedToken | InvokeError {
  if (!isReadFailure(outcome)) return outcome;
  return {
    error: {
      status: outcome.status,
      code: outcome.code,
      message: outcome.message,
      ...(outcome.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: outcome.retryAfterSeconds }),
    },
  };
}
