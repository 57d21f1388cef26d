/**
 * What the two OAuth 2.0 grants share: the credentials check, the token request (built and sent by
 * oauth4webapi) and the validation of the token response (RFC 6749 §5.1/§5.2, done here).
 *
 * Why oauth4webapi builds the request but does not validate the response: its request side is exactly
 * what we want (client_secret_basic per RFC 6749 §2.3.1 with form-urlencoded id and secret, form body,
 * `redirect: 'manual'`, `customFetch`, `signal`). Its `process*Response` functions disagree with the
 * rules this service needs: they require `token_type` (we default to `Bearer`) and lower-case it (we
 * keep the case), accept `"3600"` and any size of `expires_in` (we refuse both), read RFC 6749 §5.2
 * error bodies only for 4xx with `application/json` (a 503 `temporarily_unavailable` would be lost),
 * throw on a 401 `WWW-Authenticate` challenge before looking at the body (we want `invalid_client`),
 * and work on a `Response` instead of a plain value. So {@link parseOAuthTokenResponse} is ours.
 */
import * as oauth from 'oauth4webapi';
import type { ProviderConfig } from '../core/config.js';
import { ProviderError, RefresherError } from '../core/errors.js';
import type { IssuedToken } from '../core/types.js';
import { createRedactor, quoteServerText, type Redactor } from './redact.js';
import {
  checkLifetimeSeconds,
  classifyErrorResponse,
  isJsonObject,
  isSuccessStatus,
  malformedResponse,
  oauthErrorOf,
  type ParseContext,
  parseJsonBody,
  type RawResponse,
} from './response.js';
import { type FetchFunction, guardedFetch, readResponse } from './transport.js';

/** Token types a client can use (RFC 6749 §7.1: never use a token whose type it does not understand). */
const SUPPORTED_TOKEN_TYPES: ReadonlySet<string> = new Set(['bearer', 'dpop']);

/**
 * Validate a token endpoint response (RFC 6749 §5.1 success, §5.2 error). Pure: no network, no clock
 * unless `context.now` is omitted.
 *
 * Decision on content type: a body that parses as a JSON object is accepted whatever the
 * `Content-Type` says (several providers send `text/plain` or `text/javascript`); an HTML page fails
 * JSON parsing and is `malformed_response`. `null` counts as absent for optional members.
 *
 * @throws ProviderError with a stable code (the table is in `functions/providers/index.ts`).
 */
export function parseOAuthTokenResponse(response: RawResponse, context: ParseContext = {}): IssuedToken {
  const now = context.now ?? Date.now();
  const sensitive = [...(context.sensitive ?? [])];
  const body = parseJsonBody(response.bodyText);
  // Tokens of this very response are secrets too, whatever else is wrong with it.
  if (isJsonObject(body)) sensitive.push(body.access_token, body.refresh_token, body.id_token);
  const redact = createRedactor(sensitive);
  const { status } = response;

  if (!isSuccessStatus(status)) throw classifyErrorResponse(response, body, { now, redact });
  if (body === undefined) throw malformedResponse('the body is not JSON', status);
  if (!isJsonObject(body)) throw malformedResponse('the body is not a JSON object', status);

  // A new refresh token is taken before anything else is checked: a server that rotated has spent
  // the refresh token sent, so the new one must reach the engine even when the rest is unusable
  // (the engine stores it, then records the failure).
  const rotated =
    typeof body.refresh_token === 'string' && body.refresh_token !== '' ? body.refresh_token : undefined;
  try {
    return validateTokenFields(body, { status, now, redact, response });
  } catch (error) {
    throw error instanceof ProviderError ? error.withRotatedRefreshToken(rotated) : error;
  }
}

/** What the checks of a 2xx answer's members need. */
interface FieldContext {
  readonly status: number;
  readonly now: number;
  readonly redact: Redactor;
  readonly response: RawResponse;
}

/** The §5.1 members of a 2xx JSON object answer. */
function validateTokenFields(body: Record<string, unknown>, context: FieldContext): IssuedToken {
  const { status } = context;
  const accessToken = checkAccessToken(body, context);
  const tokenType = checkTokenType(body.token_type ?? 'Bearer', context);
  const expiresInSeconds = checkLifetimeSeconds(body.expires_in, 'expires_in', status);

  const refreshToken = body.refresh_token ?? undefined;
  if (refreshToken !== undefined && (typeof refreshToken !== 'string' || refreshToken === '')) {
    throw malformedResponse('"refresh_token" is not a non-empty string', status);
  }
  const scope = body.scope ?? undefined;
  if (scope !== undefined && typeof scope !== 'string')
    throw malformedResponse('"scope" is not a string', status);

  return {
    accessToken,
    tokenType,
    ...(expiresInSeconds === undefined ? {} : { expiresInSeconds }),
    ...(scope === undefined ? {} : { scope }),
    ...(refreshToken === undefined ? {} : { refreshToken }),
  };
}

/** `access_token`, a non-empty string. */
function checkAccessToken(body: Record<string, unknown>, context: FieldContext): string {
  const accessToken = body.access_token;
  if (typeof accessToken === 'string' && accessToken !== '') return accessToken;
  // A 2xx that carries an RFC 6749 §5.2 error object (seen in the wild) is classified as that error.
  if (oauthErrorOf(body) !== undefined) throw classifyErrorResponse(context.response, body, context);
  throw malformedResponse('"access_token" is missing or not a non-empty string', context.status);
}

/** `token_type` (default `Bearer`), one a client can use; its case is kept. */
function checkTokenType(tokenType: unknown, context: FieldContext): string {
  const { status, redact } = context;
  if (typeof tokenType !== 'string') throw malformedResponse('"token_type" is not a string', status);
  if (!SUPPORTED_TOKEN_TYPES.has(tokenType.toLowerCase())) {
    throw new ProviderError(
      `"token_type" "${quoteServerText(tokenType, redact, 40)}" is not supported (only Bearer and DPoP; RFC 6749 §7.1; HTTP ${status})`,
      'unsupported_token_type',
      'permanent',
      { status },
    );
  }
  return tokenType;
}

type OAuthProviderConfig = Extract<ProviderConfig, { grant: 'client_credentials' | 'refresh_token' }>;

/** How the client authenticates: the configured method, or none (public client, `client_id` in body). */
export function clientAuthentication(
  config: OAuthProviderConfig,
  clientSecret: string | undefined,
): oauth.ClientAuth {
  if (clientSecret === undefined) return oauth.None();
  return config.clientAuth === 'client_secret_post'
    ? oauth.ClientSecretPost(clientSecret)
    : oauth.ClientSecretBasic(clientSecret);
}

/** The arguments oauth4webapi's request functions take, for one call. */
export interface TokenRequestArguments {
  readonly as: oauth.AuthorizationServer;
  readonly client: oauth.Client;
  readonly options: oauth.HttpRequestOptions<'POST', URLSearchParams>;
}

/**
 * Send one token request through oauth4webapi and read the response within the signal.
 * `send` is the oauth4webapi request function of the grant, called with ready arguments.
 * @throws ProviderError `network_error`, `timeout` or (a bug or an impossible config) `request_invalid`
 */
export async function sendTokenRequest(input: {
  readonly config: OAuthProviderConfig;
  readonly clientId: string;
  readonly signal: AbortSignal;
  readonly fetch: FetchFunction;
  readonly send: (args: TokenRequestArguments) => Promise<Response>;
}): Promise<RawResponse> {
  const tokenEndpoint = new URL(input.config.tokenUrl);
  let response: Response;
  try {
    response = await input.send({
      // Only the token endpoint is used; the issuer is required by the API but checked only for ID tokens.
      as: { issuer: tokenEndpoint.origin, token_endpoint: tokenEndpoint.href },
      client: { client_id: input.clientId },
      options: {
        [oauth.customFetch]: guardedFetch(input.fetch, input.signal),
        // The config schema allows plain http only for loopback hosts (local runs and tests).
        [oauth.allowInsecureRequests]: tokenEndpoint.protocol === 'http:',
        signal: input.signal,
      },
    });
  } catch (error) {
    if (error instanceof RefresherError) throw error;
    // oauth4webapi refused to build the request (argument checks). Its message names an argument, not
    // a value; only name and code are kept anyway.
    const { name, code } = error as { name?: unknown; code?: unknown };
    throw new ProviderError(
      `Could not build the token request (${String(name)}${typeof code === 'string' ? ` ${code}` : ''})`,
      'request_invalid',
      'permanent',
      { cause: error },
    );
  }
  return readResponse(response, input.signal);
}
