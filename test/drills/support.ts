/**
 * Shared parts of the reliability drills (issue #6): iteration counts for CI and long mode, the drill
 * clock, the real parts (moto server, oidc-provider) with provisioning, output capture with the EMF
 * parser and the leak scan, and the `DRILL` lines each drill prints.
 *
 * Long mode: `DRILLS_LONG=1 npx vitest run --project drills` raises every iteration count (the CI
 * counts keep the drills project within about two minutes on two cores). The drills assert
 * correctness only, never a duration.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { vi } from 'vitest';
import { SecretsManagerCredentialsStore } from '../../functions/aws/credentials-store.js';
import { DynamoDbTokenStore } from '../../functions/aws/dynamodb-token-store.js';
import { createLogger } from '../../functions/aws/logger.js';
import { EmfMetrics } from '../../functions/aws/metrics.js';
import { createSecretsManagerClient } from '../../functions/aws/secrets.js';
import { createDynamoDbClient, DynamoDbStateTable } from '../../functions/aws/state-table.js';
import { SecretsManagerTokenStore } from '../../functions/aws/token-store.js';
import type { ProviderConfig, TokenStoreKind } from '../../functions/core/config.js';
import { deployedConfigJson, parseRefresherConfig } from '../../functions/core/config-schema.js';
import { RefreshEngine, type RefreshEngineOptions } from '../../functions/core/engine.js';
import type {
  Clock,
  CredentialsStore,
  EventPublisher,
  Logger,
  Provider,
  ProviderEvent,
  StateTable,
  TokenStore,
} from '../../functions/core/ports.js';
import type { Credentials } from '../../functions/core/types.js';
import { createProvider } from '../../functions/providers/index.js';
import { type AwsClientConfig, type MotoServer, startMoto } from '../support/moto.js';
import { type OAuthClientOptions, type OAuthServer, startOAuthServer } from '../support/oauth-server.js';
import { provision } from '../support/resources.js';
import {
  type StartStrictOAuthServerOptions,
  type StrictOAuthServer,
  startStrictOAuthServer,
} from '../support/strict-oauth-server.js';

/** `DRILLS_LONG=1`: the long mode with more iterations. */
export const LONG_MODE = process.env.DRILLS_LONG === '1';

/** The iteration count of the current mode. */
export function iterations(ci: number, long: number): number {
  return LONG_MODE ? long : ci;
}

/** `ci` or `long`, for test names and DRILL lines. */
export const MODE = LONG_MODE ? 'long' : 'ci';

export const MINUTE = 60_000;
export const TABLE = 'drill-state';
export const PREFIX = 'drill';
/** The DynamoDB token store's table (issue 16), created by every reset; used by providers that name it. */
export const TOKEN_TABLE = 'drill-tokens';

/** The token stores a drill can run against: the same figures are asserted for each (issue 16). */
export const TOKEN_STORES: readonly TokenStoreKind[] = ['secrets-manager', 'dynamodb'];

/**
 * Real time plus an offset the drill moves: leases end, tokens come due and expire without sleeping.
 * Each refresher may get its own skew on top (the clock-skew drill).
 */
export class DrillClock implements Clock {
  offsetMs = 0;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** A clock that runs `skewMs` ahead (negative: behind) of this one. */
  skewed(skewMs: number): Clock {
    return { now: () => this.now() + skewMs };
  }
}

/** Print one compact line of figures, prefixed `DRILL`, for the closing note. */
export function reportDrill(
  name: string,
  figures: Readonly<Record<string, string | number | boolean>>,
): void {
  const fields = Object.entries(figures).map(([key, value]) => `${key}=${value}`);
  console.log(`DRILL ${name} mode=${MODE} ${fields.join(' ')}`);
}

/** Everything the handlers write on stdout/stderr (Powertools logs and EMF documents). */
export class CapturedOutput {
  readonly #chunks: string[] = [];

  /** Start capturing: the handlers' Powertools loggers and EMF write on `process.stdout`. */
  start(): void {
    const capture = (chunk: unknown): boolean => {
      this.#chunks.push(
        typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'),
      );
      return true;
    };
    vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  }

  text(): string {
    return this.#chunks.join('');
  }

  /** Bytes captured so far (a position to look at only what came after it). */
  get length(): number {
    return this.#chunks.length;
  }

  /** The text captured since `position` (a value of {@link length}). */
  since(position: number): string {
    return this.#chunks.slice(position).join('');
  }
}

/** One metric value from an EMF document. */
export interface EmfDatapoint {
  readonly name: string;
  readonly value: number;
  readonly dimensions: readonly (readonly string[])[];
  readonly provider: string | undefined;
}

interface EmfDocument {
  readonly _aws: {
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: string[][];
      readonly Metrics: readonly { readonly Name: string }[];
    }[];
  };
  readonly [field: string]: unknown;
}

/** The datapoints of every EMF document in `output` (CloudWatch extracts the same from the logs). */
export function emfDatapoints(output: string): EmfDatapoint[] {
  return output
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .flatMap((line) => documentDatapoints(JSON.parse(line) as EmfDocument));
}

/** One EMF document's datapoints: every value of every metric of every directive. */
function documentDatapoints(document: EmfDocument): EmfDatapoint[] {
  const provider = typeof document.provider === 'string' ? document.provider : undefined;
  return document._aws.CloudWatchMetrics.flatMap((directive) =>
    directive.Metrics.flatMap((metric) => {
      const raw = document[metric.Name];
      return (Array.isArray(raw) ? raw : [raw]).map((value) => ({
        name: metric.Name,
        value: Number(value),
        dimensions: directive.Dimensions,
        provider,
      }));
    }),
  );
}

/** The sum of a metric's values for one provider. */
export function metricSum(points: readonly EmfDatapoint[], name: string, provider: string): number {
  return points
    .filter((point) => point.name === name && point.provider === provider)
    .reduce((sum, point) => sum + point.value, 0);
}

/**
 * Every secret value that must never reach a log line or a metric: client secrets, seeded refresh
 * tokens, every token the OAuth server issued, and values injected by faults that look like tokens.
 */
export class SecretRegistry {
  readonly #values = new Set<string>();

  add(...values: readonly (string | undefined)[]): void {
    for (const value of values) if (value !== undefined && value.length >= 8) this.#values.add(value);
  }

  /** Add every token the server issued so far (call before it resets its log). */
  addIssued(oauth: OAuthServer): void {
    this.add(...oauth.issuedTokens.map((token) => token.value));
  }

  get size(): number {
    return this.#values.size;
  }

  /**
   * Scan `output` for every registered value. Returns how many values were scanned and which leaked,
   * described by index and length only (the failure message must not print a secret either).
   */
  scan(output: string): { scanned: number; leaked: string[] } {
    const leaked: string[] = [];
    let index = 0;
    for (const value of this.#values) {
      if (output.includes(value)) leaked.push(`secret #${index} (${value.length} chars)`);
      index += 1;
    }
    return { scanned: this.#values.size, leaked };
  }
}

/** moto and oidc-provider for one drill file, with helpers to reset and provision between runs. */
export interface DrillParts {
  readonly moto: MotoServer;
  readonly oauth: OAuthServer;
  readonly output: CapturedOutput;
  readonly secrets: SecretRegistry;
  stop(): Promise<void>;
}

export async function startDrillParts(options: {
  readonly clients: readonly OAuthClientOptions[];
  readonly accessTokenTtlSeconds?: number;
  readonly resourceAccessTokenFormat?: 'jwt' | 'opaque';
}): Promise<DrillParts> {
  const [moto, oauth] = await Promise.all([
    startMoto(),
    startOAuthServer({
      clients: [...options.clients],
      ...(options.accessTokenTtlSeconds === undefined
        ? {}
        : { accessTokenTtlSeconds: options.accessTokenTtlSeconds }),
      ...(options.resourceAccessTokenFormat === undefined
        ? {}
        : { resourceAccessTokenFormat: options.resourceAccessTokenFormat }),
    }),
  ]);
  const { output, secrets } = captureDrillOutput(options.clients);
  return {
    moto,
    oauth,
    output,
    secrets,
    async stop() {
      vi.restoreAllMocks();
      await Promise.all([moto.stop(), oauth.stop()]);
    },
  };
}

/** The provider entries as validated config (defaults applied), for composing an engine directly. */
export function validatedProviders(providers: readonly unknown[]): ProviderConfig[] {
  return parseRefresherConfig({ secretPrefix: PREFIX, providers }).providers;
}

/** The refresh function's environment for a provider list. */
export function refreshEnvironment(providers: readonly unknown[]): Record<string, string> {
  // trustDirectInvoke: the drills read through direct Invokes without a caller proof.
  const config = { secretPrefix: PREFIX, trustDirectInvoke: true, providers };
  return { TABLE_NAME: TABLE, TOKEN_TABLE_NAME: TOKEN_TABLE, PROVIDERS_CONFIG: deployedConfigJson(config) };
}

/**
 * Wipe moto and create the tables and secrets again (no token secret for the providers of
 * `dynamodbProviders`: their token is in the token table). A `refreshToken: 'seed'` field is replaced
 * by a freshly seeded refresh token for that client (registered as a secret).
 */
export async function resetWorld(
  parts: DrillParts,
  credentials: Readonly<Record<string, Credentials>>,
  dynamodbProviders: readonly string[] = [],
): Promise<Record<string, Credentials>> {
  await parts.moto.reset();
  parts.oauth.setFault(undefined);
  const resolved: Record<string, Credentials> = {};
  for (const [provider, entry] of Object.entries(credentials)) {
    if (entry.refreshToken === 'seed' && entry.clientId !== undefined) {
      const refreshToken = await parts.oauth.seedRefreshToken({ clientId: entry.clientId });
      parts.secrets.add(refreshToken);
      resolved[provider] = { ...entry, refreshToken };
    } else {
      resolved[provider] = entry;
    }
  }
  await provision({
    clientConfig: parts.moto.clientConfig,
    tableName: TABLE,
    tokenTableName: TOKEN_TABLE,
    secretPrefix: PREFIX,
    credentials: resolved,
    dynamodbProviders,
  });
  return resolved;
}

/** The token store of a kind, as the refresh function composes it. */
function tokenStoreOf(
  store: TokenStoreKind,
  clients: { readonly secretsClient?: SecretsManagerClient; readonly dynamoDbClient?: DynamoDBClient },
  clientConfig: AwsClientConfig,
): TokenStore {
  return store === 'dynamodb'
    ? new DynamoDbTokenStore({
        ...(clients.dynamoDbClient === undefined ? { clientConfig } : { client: clients.dynamoDbClient }),
        tableName: TOKEN_TABLE,
      })
    : new SecretsManagerTokenStore({
        ...(clients.secretsClient === undefined ? { clientConfig } : { client: clients.secretsClient }),
        secretPrefix: PREFIX,
      });
}

/** Read-only views of the stores, for assertions (their own clients, default retries). */
export function inspect(clientConfig: AwsClientConfig, store: TokenStoreKind = 'secrets-manager') {
  const tokens = tokenStoreOf(store, {}, clientConfig);
  const credentials = new SecretsManagerCredentialsStore({ clientConfig, secretPrefix: PREFIX });
  const state = new DynamoDbStateTable({ clientConfig, tableName: TABLE });
  return {
    token: async (provider: string) => (await tokens.readCurrent(provider)).token,
    refreshToken: async (provider: string) => (await credentials.read(provider)).credentials.refreshToken,
    state: (provider: string) => state.read(provider),
  };
}

/** OAuth clients the drills register (secrets are registered for the leak scan). */
export const CLIENTS: { readonly cc: OAuthClientOptions; readonly rotating: OAuthClientOptions } = {
  cc: {
    clientId: 'drill-cc',
    clientSecret: 'drill-cc-secret-7c41d0e9',
    tokenEndpointAuthMethod: 'client_secret_basic',
    grantTypes: ['client_credentials'],
  },
  rotating: {
    clientId: 'drill-rotating',
    clientSecret: 'drill-rotating-secret-2b95aa17',
    tokenEndpointAuthMethod: 'client_secret_basic',
    grantTypes: ['refresh_token'],
  },
};

/** Credentials secrets for {@link CLIENTS}; `'seed'` is replaced by {@link resetWorld}. */
export const CREDENTIALS: { readonly cc: Credentials; readonly rotating: Credentials } = {
  cc: { clientId: CLIENTS.cc.clientId, clientSecret: CLIENTS.cc.clientSecret },
  rotating: {
    clientId: CLIENTS.rotating.clientId,
    clientSecret: CLIENTS.rotating.clientSecret,
    refreshToken: 'seed',
  },
};

/** Token responses of the OAuth server that revoked a grant because a refresh token was replayed. */
export function reuseDetections(oauth: OAuthServer): number {
  return oauth.tokenResponses.filter((response) => response.errorDetail === 'refresh token already used')
    .length;
}

/** The real adapters and provider clients of one "container", for composing a {@link RefreshEngine}. */
export interface RealPorts {
  readonly secretsClient: SecretsManagerClient;
  /** The client of the state table, and of the token table with the DynamoDB store. */
  readonly dynamoDbClient: DynamoDBClient;
  readonly tokens: TokenStore;
  readonly credentials: CredentialsStore;
  readonly state: StateTable;
  readonly providerFor: (config: ProviderConfig) => Provider;
  readonly metrics: EmfMetrics;
  readonly logger: Logger;
}

/**
 * What the refresh function's composition builds, against the emulator and with the drill clock; the
 * token in `store` (the drill's providers all use one store).
 */
export function realPorts(
  clientConfig: AwsClientConfig & { maxAttempts?: number },
  clock: Clock,
  store: TokenStoreKind = 'secrets-manager',
): RealPorts {
  const secretsClient = createSecretsManagerClient(clientConfig);
  const dynamoDbClient = createDynamoDbClient(clientConfig);
  return {
    secretsClient,
    dynamoDbClient,
    tokens: tokenStoreOf(store, { secretsClient, dynamoDbClient }, clientConfig),
    credentials: new SecretsManagerCredentialsStore({ client: secretsClient, secretPrefix: PREFIX }),
    state: new DynamoDbStateTable({ client: dynamoDbClient, tableName: TABLE }),
    providerFor: (config) => createProvider(config, { clock }),
    metrics: new EmfMetrics(),
    logger: createLogger(),
  };
}

/** An engine from ports (the crash drill decorates some of them first), with optional extras. */
export function engineFrom(
  ports: RealPorts,
  clock: Clock,
  extras: Pick<RefreshEngineOptions, 'scheduler' | 'events' | 'sleep' | 'random'> = {},
): RefreshEngine {
  const { tokens, credentials, state, providerFor, metrics, logger } = ports;
  return new RefreshEngine({ tokens, credentials, state, providerFor, clock, metrics, logger, ...extras });
}

/**
 * The state-change events the engine published, in order. The EventBridge adapter and its routing
 * have their own integration test (`test/integration/events.test.ts`); the drills look at what is
 * published.
 */
export class RecordedEvents implements EventPublisher {
  readonly events: ProviderEvent[] = [];

  async publish(event: ProviderEvent): Promise<void> {
    this.events.push(event);
  }

  /** The events so far, without `occurredAt` (for comparisons), and forget them. */
  take(): Omit<ProviderEvent, 'occurredAt'>[] {
    return this.events.splice(0).map(({ occurredAt: _occurredAt, ...event }) => event);
  }
}

/**
 * The precise one-time schedule as EventBridge Scheduler keeps it: the contract-tested fake (one per
 * provider, replaced by every `scheduleAt`, gone once it fired). The drill decides when it fires.
 */
export { FakeNextRunScheduler as RecordingScheduler } from '../unit/core/fakes.js';

/** moto and the strict rotating OAuth server (issue #11) for one drill file. */
export interface StrictDrillParts {
  readonly moto: MotoServer;
  readonly strict: StrictOAuthServer;
  readonly output: CapturedOutput;
  readonly secrets: SecretRegistry;
  stop(): Promise<void>;
}

/** Start capturing what the handlers print, and register the clients' secrets for the leak scan. */
function captureDrillOutput(clients: readonly { readonly clientSecret?: string }[]): {
  output: CapturedOutput;
  secrets: SecretRegistry;
} {
  const output = new CapturedOutput();
  output.start();
  const secrets = new SecretRegistry();
  secrets.add(...clients.map((client) => client.clientSecret));
  return { output, secrets };
}

export async function startStrictDrillParts(
  options: StartStrictOAuthServerOptions,
): Promise<StrictDrillParts> {
  const [moto, strict] = await Promise.all([startMoto(), startStrictOAuthServer(options)]);
  const { output, secrets } = captureDrillOutput(options.clients);
  return {
    moto,
    strict,
    output,
    secrets,
    async stop() {
      vi.restoreAllMocks();
      await Promise.all([moto.stop(), strict.stop()]);
    },
  };
}

/**
 * Wipe moto, clear the strict server's faults and counters, and create the table and secrets again.
 * A `refreshToken: 'seed'` field is replaced by the first refresh token of a new family.
 */
export async function resetStrictWorld(
  parts: StrictDrillParts,
  credentials: Readonly<Record<string, Credentials>>,
): Promise<Record<string, Credentials>> {
  await parts.moto.reset();
  parts.strict.clearFaults();
  parts.strict.resetCounters();
  const resolved: Record<string, Credentials> = {};
  for (const [provider, entry] of Object.entries(credentials)) {
    resolved[provider] =
      entry.refreshToken === 'seed' && entry.clientId !== undefined
        ? { ...entry, refreshToken: parts.strict.seedFamily(entry.clientId) }
        : entry;
  }
  await provision({
    clientConfig: parts.moto.clientConfig,
    tableName: TABLE,
    secretPrefix: PREFIX,
    credentials: resolved,
  });
  return resolved;
}
