/**
 * `token-refresher refresh <provider>`: a forced refresh through the same lease and engine as the
 * schedule. Local mode builds the refresh handler in this process against the emulator; AWS mode
 * invokes the deployed refresh function with `{"provider":"<name>","force":true}` (RequestResponse).
 */
import { randomUUID } from 'node:crypto';
import { InvokeCommand, type InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { createLambdaClient } from '../aws/refresh-invoker.js';
import { awsErrorName } from '../aws/sdk-errors.js';
import { parseRefresherConfig } from '../core/config-schema.js';
import { expiresIn } from '../core/duration.js';
import type { Clock, Logger } from '../core/ports.js';
import { MIN_REFRESH_INVOCATION_MS } from '../core/timing.js';
import { isRefreshStatus, type RefreshResult } from '../core/types.js';
import { localTokenTableName } from '../local/session.js';
import { type RefreshHandlerResult, refreshHandlerFromEnvironment } from '../refresh/app.js';
import { CliError } from './errors.js';
import { type AwsTarget, checkProvider, type LocalTarget, type Target } from './target.js';

export interface RefreshOutcome {
  readonly result: RefreshHandlerResult;
  /**
   * Local mode: the engine's own message for a failure (it names the secret or field, never a
   * value). AWS mode has it in the refresh function's log instead.
   */
  readonly detail?: string;
}

export interface RefreshCommandOptions {
  readonly clock: Clock;
  /** Engine log lines go here (`--debug`); without it they are dropped. */
  readonly debugLog?: (line: string) => void;
}

/** Run a forced refresh on the target. */
export async function forceRefresh(
  target: Target,
  provider: string,
  options: RefreshCommandOptions,
): Promise<RefreshOutcome> {
  let names: readonly string[] | undefined;
  try {
    names = await target.providerNames();
  } catch (error) {
    // AWS mode without the ProviderNames output: the refresh function checks the name itself.
    if (!(error instanceof CliError) || target.kind === 'local') throw error;
  }
  if (names !== undefined) checkProvider(provider, names);
  return target.kind === 'local'
    ? refreshInProcess(target, provider, options)
    : invokeRefreshFunction(target, provider);
}

async function refreshInProcess(
  target: LocalTarget,
  provider: string,
  options: RefreshCommandOptions,
): Promise<RefreshOutcome> {
  let detail: string | undefined;
  const log =
    (level: string, problem: boolean) =>
    (message: string, attributes?: Record<string, unknown>): void => {
      if (problem && attributes?.provider === provider && typeof attributes.errorMessage === 'string') {
        detail = attributes.errorMessage;
      }
      options.debugLog?.(JSON.stringify({ level, message, ...attributes }));
    };
  const logger: Logger = {
    debug: log('DEBUG', false),
    info: log('INFO', false),
    warn: log('WARN', true),
    error: log('ERROR', true),
  };
  const tableName = await target.tableName();
  const handler = refreshHandlerFromEnvironment(
    {
      TABLE_NAME: tableName,
      // npm start names its DynamoDB token table after the state table.
      TOKEN_TABLE_NAME: localTokenTableName(tableName),
      PROVIDERS_CONFIG_FILE: target.configFile(),
    },
    // The file may be one a person wrote (--config): the full schema, not the functions' shape check.
    { clientConfig: target.clientConfig, logger, clock: options.clock, parseConfig: parseRefresherConfig },
  );
  // The handler publishes EMF metrics on stdout (for CloudWatch in Lambda); here they would mix with
  // the CLI's output, so they are switched off for the call.
  const previous = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  try {
    // Told it has as long as a deployed refresh function with the shortest timeout (its lease).
    const deadline = Date.now() + MIN_REFRESH_INVOCATION_MS;
    const result = await handler(
      { provider, force: true },
      {
        // The lease owner: shown by `status` while the refresh runs.
        awsRequestId: `cli-${randomUUID()}`,
        getRemainingTimeInMillis: () => deadline - Date.now(),
      },
    );
    return { result, ...(detail === undefined ? {} : { detail }) };
  } finally {
    if (previous === undefined) delete process.env.POWERTOOLS_METRICS_DISABLED;
    else process.env.POWERTOOLS_METRICS_DISABLED = previous;
  }
}

async function invokeRefreshFunction(target: AwsTarget, provider: string): Promise<RefreshOutcome> {
  const functionName = await target.refreshFunctionName();
  // One attempt: a retried Invoke would queue a second refresh behind the first.
  const client = await createLambdaClient({ ...target.clientConfig, maxAttempts: 1 });
  let response: InvokeCommandOutput;
  try {
    response = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify({ provider, force: true })),
      }),
    );
  } catch (error) {
    throw translateInvokeError(error, functionName);
  } finally {
    client.destroy();
  }
  const text = response.Payload === undefined ? '' : new TextDecoder().decode(response.Payload);
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    payload = undefined;
  }
  if (response.FunctionError !== undefined) {
    // Lambda's error payload: {"errorType","errorMessage"}; the function's messages name variables
    // and codes, never secrets.
    const { errorType, errorMessage } = (payload ?? {}) as { errorType?: unknown; errorMessage?: unknown };
    const what = [errorType, errorMessage].filter((part) => typeof part === 'string').join(': ');
    throw new CliError(
      `the refresh function ${functionName} failed (${response.FunctionError}${what === '' ? '' : `: ${what.slice(0, 500)}`}); ` +
        'see its CloudWatch logs',
    );
  }
  const status =
    typeof payload === 'object' && payload !== null ? (payload as { status?: unknown }).status : undefined;
  if (!isRefreshStatus(status) && status !== 'rejected') {
    throw new CliError(`the refresh function ${functionName} answered with an unknown result`);
  }
  return { result: payload as RefreshHandlerResult };
}

function translateInvokeError(error: unknown, functionName: string): unknown {
  switch (awsErrorName(error)) {
    case 'ResourceNotFoundException':
      return new CliError(
        `the refresh function ${functionName} does not exist in this region: check --stack/--region, or pass --refresh-function`,
        1,
        { cause: error },
      );
    case 'AccessDeniedException':
    case 'AccessDenied':
      return new CliError(
        `not allowed to invoke ${functionName}: the caller needs lambda:InvokeFunction on it`,
        1,
        { cause: error },
      );
    default:
      return error;
  }
}

/** Exit code 0 only when the provider ends with a fresh token. */
export function refreshSucceeded(result: RefreshHandlerResult): boolean {
  return result.status === 'refreshed' || result.status === 'fresh';
}

/** What to do about a failure code, for the operator (never includes a secret value). */
export function hintFor(
  result: Extract<RefreshResult, { status: 'failed' }>,
  credentialsSecret: string,
): string {
  const again = `then run: token-refresher refresh ${result.provider}`;
  switch (result.code) {
    case 'invalid_grant':
      return (
        'the refresh token was refused (expired, revoked, or already used): re-seed the credentials secret ' +
        `${credentialsSecret} with a new refresh token ({"clientId":"…","clientSecret":"…","refreshToken":"…"}), ${again}`
      );
    case 'rotation_outcome_unknown':
      return (
        'the refresh_token request got no answer but may have reached the server, which may have rotated ' +
        'the refresh token; nothing is replayed automatically. Running the refresh again sends the stored ' +
        'refresh token once (it works if the server never got the call or allows reuse for a grace period); ' +
        `if that answers invalid_grant, re-seed the credentials secret ${credentialsSecret} with a new refresh token`
      );
    case 'invalid_client':
    case 'unauthorized_client':
      return `the client id or secret was refused: fix them in the credentials secret ${credentialsSecret}, ${again}`;
    case 'credentials_not_set':
    case 'credentials_invalid':
      return (
        `the credentials secret ${credentialsSecret} is not filled in as the grant needs ` +
        `({"clientId":"…","clientSecret":"…"}, plus "refreshToken" for refresh_token): put them in, ${again}`
      );
    case 'invalid_scope':
    case 'invalid_target':
    case 'invalid_request':
    case 'access_denied':
    case 'unsupported_grant_type':
      return (
        "the token endpoint refused the request: check the provider's grant, scope and audience in the " +
        `configuration against the client's registration at the provider, ${again}`
      );
    case 'unsupported_token_type':
      return `the token endpoint issued a token type the refresher cannot use (only Bearer and DPoP; a rotated refresh token in that answer was stored): check the client's registration at the provider, ${again}`;
    case 'malformed_response':
    case 'invalid_lifetime':
      return `the token endpoint's answer was not a usable token (the refresher retries with backoff): if it lasts, check tokenUrl (and the response paths of an http provider), ${again}`;
    case 'secret_not_found':
      return 'a secret of this provider does not exist: deploy the stack, or fix credentialsSecretArn in the configuration';
    case 'table_not_found':
      return 'the state table does not exist: deploy the stack, or fix --table';
    case 'write_conflict':
      return 'another refresh wrote a newer token meanwhile; it stays (token-refresher status shows it)';
    default:
      return result.permanent
        ? `a permanent failure: no scheduled run calls the provider until a forced refresh; fix the cause, ${again}`
        : `a transient failure: the schedule retries${result.retryAt === undefined ? '' : ` at ${result.retryAt}`}, or run refresh again`;
  }
}

/** Human lines for a refresh outcome. */
export function describeRefresh(
  outcome: RefreshOutcome,
  now: number,
  context: { readonly kind: Target['kind']; readonly credentialsSecret: string },
): string[] {
  const { result } = outcome;
  switch (result.status) {
    case 'refreshed':
      return [
        `refreshed ${result.provider}: generation ${result.generation}, expires ${result.expiresAt} ` +
          `(in ${expiresIn(Date.parse(result.expiresAt), now)})` +
          `${result.refreshTokenRotated ? '; the rotated refresh token was stored' : ''}`,
      ];
    case 'fresh':
      return [
        `${result.provider} is fresh (${result.reason})` +
          `${result.expiresAt === undefined ? '' : `: expires ${result.expiresAt}`}`,
      ];
    case 'in-progress':
      return [
        `another refresh of ${result.provider} holds the lease right now; retry in a few seconds ` +
          '(token-refresher status shows the holder)',
      ];
    case 'throttled':
      return [`${result.provider}: refresh refused until ${result.retryAt} (on-demand rate limit)`];
    case 'rejected':
      return [`the refresh function rejected the request (${result.code}): ${result.message}`];
    case 'failed':
      return [
        `refresh of ${result.provider} failed: ${result.code} (${result.permanent ? 'permanent' : 'transient'})` +
          `${result.attempted ? '' : '; the provider was not called'}`,
        ...(outcome.detail === undefined ? [] : [`  detail: ${outcome.detail}`]),
        `  what to do: ${hintFor(result, context.credentialsSecret)}`,
        ...(context.kind === 'aws'
          ? ['  details: the refresh function\'s log ("Refresh failed" lines, errorCode per provider)']
          : []),
      ];
  }
}
