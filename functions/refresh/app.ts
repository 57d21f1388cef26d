/**
 * The refresh function's composition and its thin handler: parse the Scheduler event, look up the
 * provider, run the engine once, log the result once, flush metrics. Clients are built once per
 * container here, never inside the core.
 */
import type { AwsClientConfig } from '../aws/client-config.js';
import { credentialsSecretName, SecretsManagerCredentialsStore } from '../aws/credentials-store.js';
import { DynamoDbTokenStore } from '../aws/dynamodb-token-store.js';
import { EventBridgePublisher } from '../aws/events.js';
import { createLogger } from '../aws/logger.js';
import { EmfMetrics } from '../aws/metrics.js';
import { SchedulerNextRun } from '../aws/scheduler.js';
import { LazySecretsManagerClient } from '../aws/secrets-manager-client.js';
import { createDynamoDbClient, DynamoDbStateTable } from '../aws/state-table.js';
import { SecretsManagerTokenStore } from '../aws/token-store.js';
import type { ProviderConfig } from '../core/config.js';
import type { ConfigParser } from '../core/deployed-config.js';
import { RefreshEngine } from '../core/engine.js';
import type { RefreshEnvironment } from '../core/env.js';
import { RefresherError, StoreError } from '../core/errors.js';
import { type JsonShape, shapeParser } from '../core/json-shape.js';
import { DEFAULT_SECRET_PREFIX } from '../core/names.js';
import {
  type Clock,
  type Logger,
  type NextRunScheduler,
  type Provider,
  type RefreshTrigger,
  systemClock,
} from '../core/ports.js';
import { MIN_REFRESH_INVOCATION_MS } from '../core/timing.js';
import { SHA256_HEX_PATTERN } from '../core/token-hash.js';
import { PerProviderTokenStore } from '../core/token-stores.js';
import type { RefreshResult } from '../core/types.js';
import { createProvider } from '../providers/index.js';
import { loadRefreshEnvironment } from '../runtime/environment.js';
import { credentialsSecretIds, decodeCredentialsChange, isEventBridgeEvent } from './credentials-event.js';

/**
 * The refresh event: `{ "provider": "<name>" }` from EventBridge Scheduler (`"trigger": "precise"`
 * from the one-time schedule of the next precise run), optionally `"force": true` (an operator), or
 * `"onDemand": { "rejectedTokenSha256"?: "<hex>" }` (the read function). `"trigger":
 * "credentials-changed"`: look at the credentials' version (what the credentials-change rule's
 * CloudTrail event decodes to, `credentials-event.ts`; local mode's watcher sends it as it is).
 * Checked by `core/json-shape.ts` (no zod in the bundle), then by {@link EXCLUSIVE_FIELDS}.
 */
export const REFRESH_EVENT_SCHEMA = {
  type: 'object',
  properties: {
    provider: { type: 'string', minLength: 1 },
    force: { type: 'boolean' },
    trigger: { type: 'string', enum: ['schedule', 'precise', 'credentials-changed'] },
    onDemand: {
      type: 'object',
      properties: {
        rejectedTokenSha256: {
          type: 'string',
          pattern: SHA256_HEX_PATTERN.source,
          description: 'the lower-case hex SHA-256 of the refused token',
        },
      },
      additionalProperties: false,
    },
  },
  required: ['provider'],
} as const satisfies JsonShape;

/** A refresh event as the read function and operators send it. */
export interface RefreshEvent {
  readonly provider: string;
  readonly force?: boolean;
  readonly trigger?: 'schedule' | 'precise' | 'credentials-changed';
  readonly onDemand?: { readonly rejectedTokenSha256?: string };
}

const refreshEventShape = shapeParser<RefreshEvent>(REFRESH_EVENT_SCHEMA, 'event');

/** The rules between fields that the schema does not say, each a problem of `onDemand`. */
const EXCLUSIVE_FIELDS: readonly {
  readonly breaks: (event: RefreshEvent) => boolean;
  readonly problem: string;
}[] = [
  {
    breaks: (event) => event.force === true && event.onDemand !== undefined,
    problem: 'onDemand: "force" and "onDemand" exclude each other',
  },
  {
    breaks: (event) => event.trigger === 'credentials-changed' && event.onDemand !== undefined,
    problem: 'onDemand: "trigger": "credentials-changed" and "onDemand" exclude each other',
  },
];

/** A valid refresh event, or its problems, each naming its field (never a value). */
export function parseRefreshEvent(
  event: unknown,
): { readonly data: RefreshEvent } | { readonly problems: readonly string[] } {
  const parsed = refreshEventShape.safeParse(event);
  if (!parsed.success) return { problems: parsed.problems };
  const problems = EXCLUSIVE_FIELDS.filter((rule) => rule.breaks(parsed.data)).map((rule) => rule.problem);
  return problems.length > 0 ? { problems } : { data: parsed.data };
}

/** The part of the Lambda context the handler uses. */
export interface RefreshContext {
  readonly awsRequestId?: string;
  getRemainingTimeInMillis(): number;
}

/** An event the handler refused: nothing was read or written. */
export interface RejectedEvent {
  readonly status: 'rejected';
  /** `unknown_secret`: a credentials-change event for a secret that is no provider's credentials. */
  readonly code: 'invalid_event' | 'unknown_provider' | 'unknown_secret';
  readonly message: string;
}

export type RefreshHandlerResult = RefreshResult | RejectedEvent;

export type RefreshHandler = (event: unknown, context: RefreshContext) => Promise<RefreshHandlerResult>;

export interface RefreshHandlerOptions {
  readonly engine: RefreshEngine;
  readonly providers: readonly ProviderConfig[];
  readonly logger: Logger;
  /** Flush buffered metrics at the end of each invocation. */
  readonly publishMetrics: () => void;
  /**
   * The configuration's `secretPrefix`, which names the credentials secrets that credentials-change
   * events are matched against. Default {@link DEFAULT_SECRET_PREFIX}.
   */
  readonly secretPrefix?: string;
}

/** The handler proper, from already-built parts (tests and the local runner build their own). */
export function createRefreshHandler(options: RefreshHandlerOptions): RefreshHandler {
  const byName = new Map(options.providers.map((provider) => [provider.name, provider]));
  const credentialsSecrets = credentialsSecretIds(
    options.secretPrefix ?? DEFAULT_SECRET_PREFIX,
    options.providers,
  );
  return async (event, context) => {
    try {
      const parsed = parseEvent(event, credentialsSecrets, options.logger);
      if ('status' in parsed) return parsed;
      const config = byName.get(parsed.data.provider);
      if (config === undefined) {
        return rejected(
          options.logger,
          'unknown_provider',
          `Unknown provider "${truncate(parsed.data.provider)}"; configured: ${listNames([...byName.keys()])}`,
        );
      }
      const result = await options.engine.refresh({
        config,
        force: parsed.data.force ?? false,
        precise: parsed.data.trigger === 'precise',
        ...(parsed.data.trigger === 'credentials-changed' ? { credentialsChanged: true } : {}),
        ...(parsed.data.onDemand === undefined ? {} : { onDemand: parsed.data.onDemand }),
        remainingTimeMs: context.getRemainingTimeInMillis(),
        ...(context.awsRequestId === undefined ? {} : { owner: context.awsRequestId }),
      });
      options.logger.info('Refresh finished', { ...result });
      return result;
    } finally {
      options.publishMetrics();
    }
  };
}

/** The refresh event, from a refresh event or a credentials-change rule's event; or its rejection. */
function parseEvent(
  event: unknown,
  credentialsSecrets: ReadonlyMap<string, string>,
  logger: Logger,
): { readonly data: RefreshEvent } | RejectedEvent {
  let input = event;
  if (isEventBridgeEvent(event)) {
    const decoded = decodeCredentialsChange(event, credentialsSecrets);
    if ('problem' in decoded) return rejected(logger, decoded.problem.code, decoded.problem.message);
    input = decoded.event;
  }
  const parsed = parseRefreshEvent(input);
  if ('data' in parsed) return parsed;
  const fields = parsed.problems;
  return rejected(
    logger,
    'invalid_event',
    `Malformed refresh event (${fields.join('; ')}); expected {"provider":"<name>","force"?:true}` +
      ` or {"provider":"<name>","onDemand":{"rejectedTokenSha256"?:"<hex>"}}`,
  );
}

function rejected(logger: Logger, code: RejectedEvent['code'], message: string): RejectedEvent {
  // Another secret's event (the rule matches a prefix, the function the exact name) is routine.
  (code === 'unknown_secret' ? logger.info : logger.error).call(logger, 'Refresh event rejected', {
    code,
    message,
  });
  return { status: 'rejected', code, message };
}

/** At most 10 names, so a large configuration does not flood the log line. */
function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 10).join(', ');
  return names.length > 10 ? `${shown} and ${names.length - 10} more` : shown;
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

export interface ComposeRefreshOptions {
  /** Settings of every SDK client (tests point them at the emulator). */
  readonly clientConfig?: AwsClientConfig;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly scheduler?: NextRunScheduler;
  readonly providerFor?: (config: ProviderConfig) => Provider;
  /** The engine's wait between attempts of a write (tests move their clock instead). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Build the real handler from a validated environment (the deployed function, the local runner). */
export function composeRefreshHandler(
  environment: RefreshEnvironment,
  options: ComposeRefreshOptions = {},
): RefreshHandler {
  const logger = options.logger ?? createLogger();
  const clientConfig = options.clientConfig ?? {};
  // Built on the first Secrets Manager call: a not-due tick reads only its state item.
  const secretsClient = new LazySecretsManagerClient({ clientConfig });
  const metrics = new EmfMetrics();
  const scheduler =
    options.scheduler ??
    (environment.precise === undefined
      ? undefined
      : new SchedulerNextRun({ clientConfig, ...environment.precise }));
  const { secretPrefix, providers } = environment.config;
  const credentialsArns = new Map(
    providers.flatMap((provider) =>
      provider.credentialsSecretArn === undefined
        ? []
        : [[provider.name, provider.credentialsSecretArn] as const],
    ),
  );
  const providerClients = new Map<string, Provider>();
  const dynamoDbClient = createDynamoDbClient(clientConfig);
  const { tokenTableName } = environment;
  // Each provider's token in the store its tokenStore names (the DynamoDB one only when configured).
  const tokens = new PerProviderTokenStore(providers, {
    'secrets-manager': new SecretsManagerTokenStore({ client: secretsClient, secretPrefix }),
    ...(tokenTableName === undefined
      ? {}
      : { dynamodb: new DynamoDbTokenStore({ client: dynamoDbClient, tableName: tokenTableName }) }),
  });
  const engine = new RefreshEngine({
    tokens,
    credentials: new SecretsManagerCredentialsStore({
      client: secretsClient,
      secretPrefix,
      secretIdFor: (provider) =>
        credentialsArns.get(provider) ?? credentialsSecretName(secretPrefix, provider),
    }),
    state: new DynamoDbStateTable({ client: dynamoDbClient, tableName: environment.tableName }),
    providerFor:
      options.providerFor ??
      ((config) => {
        let client = providerClients.get(config.name);
        if (client === undefined) {
          client = createProvider(config);
          providerClients.set(config.name, client);
        }
        return client;
      }),
    clock: options.clock ?? systemClock,
    metrics,
    logger,
    ...(scheduler === undefined ? {} : { scheduler }),
    ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
    ...(environment.eventBusName === undefined
      ? {}
      : {
          events: new EventBridgePublisher({
            eventBusName: environment.eventBusName,
            deployment: secretPrefix,
            clientConfig,
          }),
        }),
  });
  return createRefreshHandler({
    engine,
    providers,
    logger,
    publishMetrics: () => metrics.publish(),
    secretPrefix,
  });
}

/** {@link ComposeRefreshOptions}, and how the configuration is validated. */
export interface RefreshFromEnvironmentOptions extends ComposeRefreshOptions {
  /**
   * Default: the shape check of the normalized configuration the construct delivers. The CLI, which
   * may hand over a configuration file a person wrote, passes `parseRefresherConfig`.
   */
  readonly parseConfig?: ConfigParser;
}

/** Validate the process environment and build the handler; throws at cold start naming each bad variable. */
export function refreshHandlerFromEnvironment(
  env: Readonly<Record<string, string | undefined>> = process.env,
  { parseConfig, ...options }: RefreshFromEnvironmentOptions = {},
): RefreshHandler {
  return composeRefreshHandler(
    loadRefreshEnvironment(env, parseConfig === undefined ? {} : { parseConfig }),
    options,
  );
}

/**
 * A {@link RefreshTrigger} that runs the refresh handler in this process: for the local runner and
 * tests, where the deployed read function would invoke the refresh function instead.
 * @param remainingTimeMs what the refresh is told it has left (its lease length); default
 *   {@link MIN_REFRESH_INVOCATION_MS}, the deployed refresh function's minimum timeout.
 */
export function inProcessRefreshTrigger(
  handler: RefreshHandler,
  remainingTimeMs = MIN_REFRESH_INVOCATION_MS,
): RefreshTrigger {
  return {
    async refresh({ provider, onDemand, signal }) {
      const deadline = Date.now() + remainingTimeMs;
      const run = handler({ provider, onDemand }, { getRemainingTimeInMillis: () => deadline - Date.now() });
      const aborted = new Promise<never>((_, reject) => {
        const fail = () =>
          reject(
            new StoreError(
              'The on-demand refresh did not answer in time',
              'refresh_unavailable',
              'transient',
            ),
          );
        if (signal.aborted) fail();
        signal.addEventListener('abort', fail, { once: true });
      });
      // Like a synchronous Invoke that times out, the refresh itself runs on to its end.
      const result = await Promise.race([run, aborted]);
      if (result.status === 'rejected') {
        throw new RefresherError(
          `The refresh handler refused the event (${result.code})`,
          'refresh_rejected',
          'permanent',
        );
      }
      return result;
    },
  };
}
