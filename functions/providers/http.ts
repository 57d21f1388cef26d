/**
 * The `http` grant: a custom JSON token endpoint described by the config (method, URL, headers, JSON
 * body with `{{credentials.<field>}}` placeholders, and dot paths to the token and its expiry).
 */
import type { ProviderConfig } from '../core/config.js';
import { CredentialsError, ProviderError } from '../core/errors.js';
import type { Credentials, IssuedToken } from '../core/types.js';
import { BaseProvider } from './base.js';
import { credentialValues, requireGrantCredentials } from './credentials.js';
import { createRedactor } from './redact.js';
import {
  checkExpiresAt,
  checkLifetimeSeconds,
  classifyErrorResponse,
  isJsonObject,
  isSuccessStatus,
  malformedResponse,
  type ParseContext,
  parseJsonBody,
  type RawResponse,
  valueAtPath,
} from './response.js';
import { guardedFetch, readResponse } from './transport.js';

export type HttpProviderConfig = Extract<ProviderConfig, { grant: 'http' }>;
export type HttpResponseConfig = HttpProviderConfig['response'];

const PLACEHOLDER = /\{\{\s*credentials\.([\w-]+)\s*\}\}/g;

/** An HTTP auth scheme as RFC 9110 §11.1 allows it (`Bearer`, `Token`, `Bot`, ...). */
const AUTH_SCHEME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;

/**
 * Replace `{{credentials.<field>}}` placeholders in a string, or in every string of a JSON value
 * (recursively; object keys are left alone). `location` names where the value sits, for the error.
 * @throws CredentialsError naming the missing field and where it is referenced, never a value
 */
export function substitutePlaceholders(
  value: unknown,
  credentials: Credentials,
  context: { readonly provider: string; readonly location: string },
): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (_match, field: string) => {
      const replacement = Object.hasOwn(credentials, field) ? credentials[field] : undefined;
      if (typeof replacement !== 'string' || replacement === '') {
        throw new CredentialsError(
          `Credentials of provider "${context.provider}" lack "${field}" (a non-empty string), which ${context.location} references`,
        );
      }
      return replacement;
    });
  }
  if (Array.isArray(value)) {
    return value.map((item, index) =>
      substitutePlaceholders(item, credentials, { ...context, location: `${context.location}[${index}]` }),
    );
  }
  if (isJsonObject(value)) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        substitutePlaceholders(item, credentials, { ...context, location: `${context.location}.${key}` }),
      ]),
    );
  }
  return value;
}

/**
 * Validate a custom endpoint's response. 2xx: a JSON object with a non-empty string at `tokenPath`
 * (else `malformed_response`); expiry from `expiresInPath` (same rules as `expires_in`) and/or
 * `expiresAtPath` (ISO-8601 with zone or epoch seconds, in the future, at most 1 year ahead; else
 * `invalid_lifetime`); token type at `tokenTypePath`, default `Bearer`. Any token type that is a valid
 * HTTP auth scheme is accepted here: the endpoint is not OAuth and the operator chose the path. Error
 * statuses are classified like OAuth ones, an `error` string in the body included.
 */
export function parseHttpTokenResponse(
  response: RawResponse,
  paths: HttpResponseConfig,
  context: ParseContext = {},
): IssuedToken {
  const now = context.now ?? Date.now();
  const { status } = response;
  const body = parseJsonBody(response.bodyText);
  const accessToken = valueAtPath(body, paths.tokenPath);
  const redact = createRedactor([...(context.sensitive ?? []), accessToken]);

  if (!isSuccessStatus(status)) throw classifyErrorResponse(response, body, { now, redact });
  if (body === undefined) throw malformedResponse('the body is not JSON', status);
  if (!isJsonObject(body)) throw malformedResponse('the body is not a JSON object', status);
  if (typeof accessToken !== 'string' || accessToken === '') {
    throw malformedResponse(`"${paths.tokenPath}" is missing or not a non-empty string`, status);
  }

  let tokenType: unknown = 'Bearer';
  if (paths.tokenTypePath !== undefined) tokenType = valueAtPath(body, paths.tokenTypePath) ?? 'Bearer';
  if (typeof tokenType !== 'string' || !AUTH_SCHEME.test(tokenType)) {
    throw malformedResponse(`"${paths.tokenTypePath}" is not an HTTP auth scheme such as "Bearer"`, status);
  }

  const expiresInSeconds =
    paths.expiresInPath === undefined
      ? undefined
      : checkLifetimeSeconds(valueAtPath(body, paths.expiresInPath), paths.expiresInPath, status);
  const expiresAt =
    paths.expiresAtPath === undefined
      ? undefined
      : checkExpiresAt(valueAtPath(body, paths.expiresAtPath), paths.expiresAtPath, status, now);

  return {
    accessToken,
    tokenType,
    ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }),
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}

/** Calls a custom JSON token endpoint as the config describes it. Redirects are not followed. */
export class HttpProvider extends BaseProvider<HttpProviderConfig> {
  async requestToken(input: {
    readonly credentials: Credentials;
    readonly signal: AbortSignal;
  }): Promise<IssuedToken> {
    const { request, response: paths, name: provider } = this.config;
    const { credentials, signal } = input;
    // The grant declares no field of its own (none today); the template's placeholders name the rest.
    requireGrantCredentials(credentials, this.config);
    // Placeholders are resolved before any network traffic, so a missing field costs no request.
    const headers = new Headers();
    for (const [header, template] of Object.entries(request.headers)) {
      const value = substitutePlaceholders(template, credentials, {
        provider,
        location: `request.headers.${header}`,
      });
      try {
        headers.set(header, value as string);
      } catch {
        // The TypeError quotes the value, which may now hold a credential: dropped, not kept as cause.
        throw new ProviderError(
          `request.headers.${header} is not a valid HTTP header (name or value after substitution)`,
          'request_invalid',
          'permanent',
        );
      }
    }
    if (!headers.has('accept')) headers.set('accept', 'application/json');
    let body: string | undefined;
    if (request.method !== 'GET' && request.body !== undefined) {
      body = JSON.stringify(
        substitutePlaceholders(request.body, credentials, { provider, location: 'request.body' }),
      );
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    const send = guardedFetch(this.fetch, signal);
    const response = await send(request.url, {
      method: request.method,
      headers,
      ...(body === undefined ? {} : { body }),
      redirect: 'manual',
      signal,
    });
    const raw = await readResponse(response, signal);
    return parseHttpTokenResponse(raw, paths, {
      now: this.clock.now(),
      sensitive: credentialValues(credentials),
    });
  }
}
