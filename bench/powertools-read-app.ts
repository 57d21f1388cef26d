/**
 * The comparison handler of benchmarks 2 and 3: a read function written the way the Powertools
 * documentation suggests, with `getSecret` from `@aws-lambda-powertools/parameters` (its default
 * `maxAge`, 5 s) and the Powertools Logger, serving the same routes and the same response shape as
 * `functions/read/handler.ts`:
 *
 * - Function URL `GET /tokens/{provider}` → 200 `{ provider, accessToken, tokenType, expiresAt,
 *   expiresIn }`, the caller's role checked against the provider's `consumers` (the same
 *   `AccessPolicy` as ours: authorization is not what is compared);
 * - Invoke `{ "provider": "<name>" }` → the same object;
 * - errors as `{ code, message }` (URL) or `{ error: { status, code, message } }` (Invoke).
 *
 * What it does not do, and ours does: validate the configuration with the shared zod schema (here a
 * `JSON.parse`), validate the token record with zod, cache until the token's expiry (here `maxAge`),
 * single-flight concurrent reads, fall back to a cached token when Secrets Manager fails, refresh on
 * demand (`POST /tokens/{provider}/refresh`), decode base64 bodies. It is the smallest handler that
 * serves the same answer, which is the fair baseline for size and start-up time.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import { AccessPolicy } from '../functions/core/access.js';

interface Served {
  readonly provider: string;
  readonly accessToken: string;
  readonly tokenType: string;
  readonly expiresAt: string;
  readonly expiresIn: number;
}

interface Problem {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

interface UrlResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

interface UrlEvent {
  readonly rawPath?: unknown;
  readonly requestContext?: {
    readonly http?: { readonly method?: unknown };
    readonly authorizer?: { readonly iam?: { readonly userArn?: unknown } };
  };
}

export type PowertoolsReadHandler = (event: unknown) => Promise<UrlResponse | Served | { error: Problem }>;

const HEADERS = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;
const PROVIDER_NAME = /^[a-z0-9-]{1,64}$/;
const GET_ROUTE = /^\/tokens\/([a-z0-9-]{1,64})$/;

/** Build the handler from the same environment variables as ours (`PROVIDERS_CONFIG`). */
export function createPowertoolsReadHandler(
  env: Readonly<Record<string, string | undefined>>,
  logger = new Logger({ serviceName: 'token-refresher' }),
): PowertoolsReadHandler {
  const config = JSON.parse(env.PROVIDERS_CONFIG ?? '{}') as {
    secretPrefix?: string;
    providers?: { name: string; consumers?: string[] }[];
  };
  const secretPrefix = config.secretPrefix ?? 'token-refresher';
  const providers = new Map((config.providers ?? []).map((provider) => [provider.name, provider]));
  const policy = new AccessPolicy(
    new Map([...providers.values()].map((provider) => [provider.name, provider.consumers ?? []])),
  );

  async function serve(provider: string): Promise<Served | Problem> {
    let record: Record<string, unknown> | undefined;
    try {
      record = await getSecret<Record<string, unknown>>(`${secretPrefix}/${provider}/token`, {
        transform: 'json',
        // What AWS does by default; moto needs it said (docs/local-development.md,
        // "Known emulator differences").
        sdkOptions: { VersionStage: 'AWSCURRENT' },
      });
    } catch (error) {
      logger.error('Could not read the token secret', { provider, errorName: (error as Error).name });
      return { status: 503, code: 'store_unavailable', message: 'The token cannot be read right now' };
    }
    const expiresAtMs = typeof record?.expiresAt === 'string' ? Date.parse(record.expiresAt) : Number.NaN;
    if (
      record === undefined ||
      typeof record.accessToken !== 'string' ||
      typeof record.tokenType !== 'string' ||
      !(expiresAtMs > Date.now())
    ) {
      return { status: 503, code: 'token_unavailable', message: 'No valid token yet' };
    }
    return {
      provider,
      accessToken: record.accessToken,
      tokenType: record.tokenType,
      expiresAt: record.expiresAt as string,
      expiresIn: Math.floor((expiresAtMs - Date.now()) / 1000),
    };
  }

  async function handleUrl(event: UrlEvent): Promise<UrlResponse> {
    const method = event.requestContext?.http?.method;
    const match = typeof event.rawPath === 'string' ? GET_ROUTE.exec(event.rawPath) : null;
    let outcome: Served | Problem;
    if (method !== 'GET' || match?.[1] === undefined) {
      outcome = { status: 404, code: 'not_found', message: 'use GET /tokens/{provider}' };
    } else {
      const userArn = event.requestContext?.authorizer?.iam?.userArn;
      const decision = policy.decide(typeof userArn === 'string' ? userArn : undefined, match[1]);
      outcome = decision.allowed
        ? await serve(match[1])
        : { status: 403, code: 'forbidden', message: 'The caller may not read this provider' };
    }
    logger.info('Read request', {
      via: 'url',
      provider: match?.[1],
      status: 'status' in outcome ? outcome.status : 200,
    });
    if ('status' in outcome) {
      return {
        statusCode: outcome.status,
        headers: HEADERS,
        body: JSON.stringify({ code: outcome.code, message: outcome.message }),
      };
    }
    return { statusCode: 200, headers: HEADERS, body: JSON.stringify(outcome) };
  }

  async function handleInvoke(event: unknown): Promise<Served | { error: Problem }> {
    const provider = (event as { provider?: unknown } | null)?.provider;
    const outcome: Served | Problem =
      typeof provider === 'string' && PROVIDER_NAME.test(provider) && providers.has(provider)
        ? await serve(provider)
        : { status: 404, code: 'unknown_provider', message: 'No such provider' };
    logger.info('Read request', {
      via: 'invoke',
      provider,
      status: 'status' in outcome ? outcome.status : 200,
    });
    return 'status' in outcome ? { error: outcome } : outcome;
  }

  return (event) =>
    typeof event === 'object' && event !== null && 'requestContext' in event
      ? handleUrl(event as UrlEvent)
      : handleInvoke(event);
}
