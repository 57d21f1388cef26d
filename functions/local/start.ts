/**
 * `npm start`: the whole service on 127.0.0.1 — moto server as AWS, a demo OAuth 2.0 server
 * (oidc-provider) with two demo providers unless a configuration names real ones, the table and
 * secrets the stack would create, a local scheduler driving the refresh handler, the read handler
 * behind a Function-URL-shaped endpoint, and a live status view. Ctrl-C stops everything.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SecretsManagerCredentialsStore } from '../aws/credentials-store.js';
import { DynamoDbStateTable } from '../aws/state-table.js';
import { ConfigError, type RefresherConfig } from '../core/config.js';
import { parseRefresherConfig } from '../core/config-schema.js';
import { MIN_REFRESH_INVOCATION_MS } from '../core/timing.js';
import type { Credentials } from '../core/types.js';
import { readHandlerFromEnvironment, type UrlResponse } from '../read/app.js';
import {
  inProcessRefreshTrigger,
  type RefreshHandlerResult,
  refreshHandlerFromEnvironment,
} from '../refresh/app.js';
import { credentialsSecretIds } from '../refresh/credentials-event.js';
import { loadConfigFile } from '../runtime/config-file.js';
import { CredentialsWatch } from './credentials-watch.js';
import {
  LOCAL_CALLER_FILE,
  LOCAL_PROOF_HEADER_FILE,
  type LocalCallerOptions,
  startLocalCaller,
} from './local-caller.js';
import { LocalLogger } from './local-logger.js';
import { type MotoServer, startMoto } from './moto.js';
import { type OAuthServer, startOAuthServer } from './oauth-server.js';
import {
  LOCAL_DIRECTORY,
  LOCAL_STATE_FILE,
  PRIVATE_FILE_MODE,
  preparePrivateDirectory,
  provisionMissing,
} from './persistence.js';
import {
  LOCAL_CALLER_ROLE,
  LOCAL_READ_FUNCTION_NAME,
  type ReadServer,
  startReadServer,
} from './read-server.js';
import { provision } from './resources.js';
import { LocalScheduler, ratePeriodSeconds } from './scheduler.js';
import { type LocalSession, localTokenTableName, removeLocalSession, writeLocalSession } from './session.js';
import { SIGNED_DEMO_PROVIDERS, startSignedDemo } from './signed-demo.js';
import { StatusView } from './status-view.js';

export const LOCAL_TABLE_NAME = 'token-refresher-local';
/** The DynamoDB token store's table (`tokenStore: "dynamodb"`), always created locally. */
export const LOCAL_TOKEN_TABLE_NAME = localTokenTableName(LOCAL_TABLE_NAME);
/** The demo provider whose tokens live twice the demo lifetime (2 minutes) in the DynamoDB token store. */
export const SHORT_LIVED_DEMO_PROVIDER = 'demo-short-lived';
export const DEMO_PROVIDERS = [
  'demo-client-credentials',
  'demo-rotating',
  SHORT_LIVED_DEMO_PROVIDER,
  ...SIGNED_DEMO_PROVIDERS,
] as const;
/** Lifetime of the demo tokens: short, so refreshes happen within a minute of starting. */
export const DEMO_TOKEN_TTL_SECONDS = 60;
const STATUS_INTERVAL_MS = 1000;

export interface StartLocalOptions {
  /** Where `.token-refresher/` (session file, effective config, log) goes. Default `process.cwd()`. */
  readonly cwd?: string;
  /** A configuration file with real providers; default: the two demo providers. */
  readonly configFile?: string;
  /** Port of the read endpoint; 0 picks a free one. Default 8787. */
  readonly port?: number;
  /** Lifetime of the demo tokens. Default {@link DEMO_TOKEN_TTL_SECONDS}. */
  readonly demoTokenTtlSeconds?: number;
  /** Where the banner and the status go. Default `process.stdout`. */
  readonly out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Redraw in place; default: whether `out` is a TTY. */
  readonly tty?: boolean;
}

export interface LocalService {
  readonly session: LocalSession;
  readonly config: RefresherConfig;
  /** The local caller's read-function client options (also in `.token-refresher/local-caller.json`). */
  readonly caller: LocalCallerOptions;
  /** Stops timers, servers, the emulator and the OAuth server; removes the session file. Idempotent. */
  stop(): Promise<void>;
}

function describeResult(result: RefreshHandlerResult): string {
  switch (result.status) {
    case 'refreshed':
      return `refreshed (generation ${result.generation}, expires ${result.expiresAt.slice(11, 19)} UTC)`;
    case 'fresh':
      return `fresh (${result.reason})`;
    case 'failed':
      return `FAILED ${result.code}${result.permanent ? ' (permanent: put new credentials, or npx token-refresher refresh <provider>)' : result.retryAt === undefined ? '' : `, retry at ${result.retryAt.slice(11, 19)} UTC`}`;
    case 'throttled':
      return `throttled until ${result.retryAt.slice(11, 19)} UTC`;
    case 'in-progress':
      return 'another refresh holds the lease';
    case 'rejected':
      return `rejected: ${result.code}`;
  }
}

/** The providers local mode runs: the demo ones with their own OAuth server, or a file's. */
interface LocalProviders {
  readonly config: RefresherConfig;
  /** Per provider, the credentials to provision (`undefined`: an empty credentials secret). */
  readonly credentials: Record<string, Credentials | undefined>;
  /** The demo OAuth server; none for a configuration file's providers. */
  readonly oauth?: OAuthServer;
}

/**
 * The demo: an OAuth server with a provider of each OAuth grant and of the signed-assertion kinds
 * (functions/local/signed-demo.ts); its stops join `stops`.
 */
async function startDemoProviders(
  tokenTtlSeconds: number,
  stops: (() => Promise<void> | void)[],
): Promise<LocalProviders> {
  const clientSecrets = {
    cc: randomBytes(18).toString('base64url'),
    rt: randomBytes(18).toString('base64url'),
    short: randomBytes(18).toString('base64url'),
  };
  const signed = await startSignedDemo(tokenTtlSeconds);
  stops.push(() => signed.github.stop());
  const started = await startOAuthServer({
    accessTokenTtlSeconds: tokenTtlSeconds,
    jwtBearerIssuers: [...signed.jwtBearerIssuers],
    clients: [
      ...signed.clients,
      {
        clientId: 'demo-cc',
        clientSecret: clientSecrets.cc,
        tokenEndpointAuthMethod: 'client_secret_basic',
        grantTypes: ['client_credentials'],
      },
      {
        clientId: 'demo-rt',
        clientSecret: clientSecrets.rt,
        tokenEndpointAuthMethod: 'client_secret_basic',
        grantTypes: ['refresh_token'],
      },
      {
        clientId: 'demo-short',
        clientSecret: clientSecrets.short,
        tokenEndpointAuthMethod: 'client_secret_basic',
        grantTypes: ['client_credentials'],
        accessTokenTtlSeconds: 2 * tokenTtlSeconds,
      },
    ],
  });
  stops.push(() => started.stop());
  const demo = (name: string, grant: 'client_credentials' | 'refresh_token') => ({
    name,
    grant,
    tokenUrl: started.tokenUrl,
    schedule: 'rate(1 minute)',
    expectedLifetime: 60,
    requestTimeout: 5,
    onDemandRefreshInterval: 10,
  });
  const { name: _name, grant: _grant, tokenUrl, ...common } = demo('', 'client_credentials');
  const signedProviders = signed.providers(tokenUrl, common);
  const config = parseRefresherConfig({
    secretPrefix: 'token-refresher',
    providers: [
      demo(DEMO_PROVIDERS[0], 'client_credentials'),
      demo(DEMO_PROVIDERS[1], 'refresh_token'),
      // Refreshed every minute (half its life): too often for Secrets Manager on AWS, so in DynamoDB.
      {
        ...demo(SHORT_LIVED_DEMO_PROVIDER, 'client_credentials'),
        expectedLifetime: 120,
        tokenStore: 'dynamodb',
      },
      ...signedProviders.entries,
    ],
  });
  const credentials: Record<string, Credentials | undefined> = { ...signedProviders.credentials };
  credentials[DEMO_PROVIDERS[0]] = { clientId: 'demo-cc', clientSecret: clientSecrets.cc };
  credentials[SHORT_LIVED_DEMO_PROVIDER] = { clientId: 'demo-short', clientSecret: clientSecrets.short };
  credentials[DEMO_PROVIDERS[1]] = {
    clientId: 'demo-rt',
    clientSecret: clientSecrets.rt,
    refreshToken: await started.seedRefreshToken({ clientId: 'demo-rt' }),
  };
  return { config, credentials, oauth: started };
}

/** A configuration file's providers, with empty credentials secrets for the operator to fill. */
function providersFromFile(path: string): LocalProviders {
  // The loader validate-config and the CLI use: the same rules, the same messages.
  const config = loadConfigFile(path);
  const credentials: Record<string, Credentials | undefined> = {};
  for (const provider of config.providers) credentials[provider.name] = undefined;
  return { config, credentials };
}

const PROOF_HEADER_PATH = join(LOCAL_DIRECTORY, LOCAL_PROOF_HEADER_FILE);

/** The banner local mode prints once everything runs. */
function bannerText(input: {
  readonly moto: MotoServer;
  readonly readUrl: string;
  readonly config: RefresherConfig;
  readonly persistent: boolean;
  readonly oauth?: OAuthServer;
  readonly configFile?: string;
  readonly demoTokenTtlSeconds: number;
}): string {
  const { moto, readUrl, config, persistent, oauth } = input;
  const example = config.providers[0]?.name ?? '<provider>';
  return [
    'token-refresher — local mode (127.0.0.1 only)',
    `  AWS emulator (moto):  ${moto.endpoint}`,
    persistent
      ? `  emulated state:       ${moto.restoredState ? 'restored from' : 'kept in'} ${LOCAL_STATE_FILE} (secrets and table; delete it to start afresh)`
      : '  emulated state:       starts empty and is not kept (demo providers)',
    oauth === undefined
      ? `  providers:            ${config.providers.map((p) => p.name).join(', ')} (from ${input.configFile})`
      : `  demo OAuth server:    ${oauth.issuer} (${input.demoTokenTtlSeconds}-second tokens, ${2 * input.demoTokenTtlSeconds} s for ${SHORT_LIVED_DEMO_PROVIDER} in the DynamoDB token table; providers ${DEMO_PROVIDERS.join(', ')})`,
    `  read endpoint:        ${readUrl}tokens/<provider>    try: curl -H @${PROOF_HEADER_PATH} ${readUrl}tokens/${example}`,
    `  local caller:         ${join(LOCAL_DIRECTORY, LOCAL_CALLER_FILE)} (client options); every read needs its caller proof`,
    `  operator CLI:         npx token-refresher status   (logs: ${join('.token-refresher', 'local.log')})`,
    ...(oauth === undefined
      ? [
          `  credentials: fill each ${config.secretPrefix}/<provider>/credentials on the emulator, e.g.`,
          `    AWS_ENDPOINT_URL=${moto.endpoint} AWS_REGION=${moto.clientConfig.region} AWS_DEFAULT_REGION=${moto.clientConfig.region} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \\`,
          `    aws secretsmanager put-secret-value --secret-id ${config.secretPrefix}/${example}/credentials --secret-string file://creds.json`,
          '    the refresher notices the new version within seconds (no refresh command needed)',
        ]
      : []),
    '  Ctrl-C stops everything.',
    '',
  ].join('\n');
}

/** Start everything; resolves once the first scheduled refreshes have been fired. */
export async function startLocal(options: StartLocalOptions = {}): Promise<LocalService> {
  const cwd = options.cwd ?? process.cwd();
  const out = options.out ?? process.stdout;
  const dir = join(cwd, LOCAL_DIRECTORY);
  // 0700, files 0600: the emulator's state file holds refresh tokens and client secrets.
  preparePrivateDirectory(dir);
  // EMF lines are for CloudWatch; locally they would only flood the terminal.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    // Real providers keep the emulated secrets and table across restarts; the demo starts afresh (its
    // OAuth server forgets its clients and tokens on exit).
    const persistent = options.configFile !== undefined;
    const moto: MotoServer = await startMoto(persistent ? { stateFile: join(cwd, LOCAL_STATE_FILE) } : {});
    stops.push(() => moto.stop());

    const { config, credentials, oauth } =
      options.configFile === undefined
        ? await startDemoProviders(options.demoTokenTtlSeconds ?? DEMO_TOKEN_TTL_SECONDS, stops)
        : providersFromFile(resolve(cwd, options.configFile));

    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: PRIVATE_FILE_MODE });
    // A restored emulator keeps its table and secrets (a rotated refresh token, the state item);
    // only what a changed configuration adds is created.
    await (persistent ? provisionMissing : provision)({
      clientConfig: moto.clientConfig,
      tableName: LOCAL_TABLE_NAME,
      tokenTableName: LOCAL_TOKEN_TABLE_NAME,
      secretPrefix: config.secretPrefix,
      credentials,
      dynamodbProviders: config.providers.flatMap((provider) =>
        provider.tokenStore === 'dynamodb' ? [provider.name] : [],
      ),
    });

    const view = new StatusView({ out, ...(options.tty === undefined ? {} : { tty: options.tty }) });
    const logger = new LocalLogger(join(dir, 'local.log'), (text) => view.event(text));
    const clientConfig = { ...moto.clientConfig, maxAttempts: 2 };
    let invocation = 0;
    // The scheduler follows the state table, so a refresh from elsewhere (the CLI) re-arms the precise run.
    const stateTable = new DynamoDbStateTable({ clientConfig, tableName: LOCAL_TABLE_NAME });
    const fire = async (provider: string, reason: 'schedule' | 'precise' | 'credentials-changed') => {
      invocation += 1;
      // Told it has as long as a deployed refresh function with the shortest timeout (its lease).
      const deadline = Date.now() + MIN_REFRESH_INVOCATION_MS;
      const result = await refresh(
        { provider, trigger: reason },
        { awsRequestId: `local-${invocation}`, getRemainingTimeInMillis: () => deadline - Date.now() },
      );
      if (result.status !== 'fresh') view.event(`${provider}: ${describeResult(result)} [${reason}]`);
    };
    const scheduler = new LocalScheduler({
      readNextRefreshAt: async (provider) => (await stateTable.read(provider))?.nextRefreshAt,
      fire,
    });
    stops.push(() => scheduler.stop());
    const refresh = refreshHandlerFromEnvironment(
      {
        TABLE_NAME: LOCAL_TABLE_NAME,
        TOKEN_TABLE_NAME: LOCAL_TOKEN_TABLE_NAME,
        PROVIDERS_CONFIG_FILE: configFile,
      },
      { clientConfig, logger, scheduler },
    );
    const read = readHandlerFromEnvironment(
      {
        PROVIDERS_CONFIG_FILE: configFile,
        TOKEN_TABLE_NAME: LOCAL_TOKEN_TABLE_NAME,
        REFRESH_FUNCTION_NAME: 'local',
        AWS_LAMBDA_FUNCTION_NAME: LOCAL_READ_FUNCTION_NAME,
        EXTRA_CONSUMERS: JSON.stringify(
          Object.fromEntries(config.providers.map((provider) => [provider.name, [LOCAL_CALLER_ROLE]])),
        ),
      },
      { clientConfig, logger, trigger: inProcessRefreshTrigger(refresh) },
    );
    const server: ReadServer = await startReadServer(
      async (event) => {
        const answer = (await read(event)) as UrlResponse;
        const { rawPath, requestContext } = event as {
          rawPath: string;
          requestContext: { http: { method: string } };
        };
        view.event(`read ${requestContext.http.method} ${rawPath} → ${answer.statusCode}`);
        return answer;
      },
      { port: options.port ?? 8787 },
    );
    stops.push(() => server.close());
    const caller = await startLocalCaller({
      dir,
      readUrl: server.url,
      awsEndpoint: moto.endpoint,
      region: moto.clientConfig.region,
    });
    stops.push(() => caller.stop());

    const session: LocalSession = {
      pid: process.pid,
      awsEndpoint: moto.endpoint,
      region: moto.clientConfig.region,
      tableName: LOCAL_TABLE_NAME,
      secretPrefix: config.secretPrefix,
      configFile,
      readUrl: server.url,
      ...(oauth === undefined ? {} : { oauthIssuer: oauth.issuer }),
      startedAt: new Date().toISOString(),
    };
    writeLocalSession(session, cwd);
    stops.push(() => removeLocalSession(cwd));

    out.write(
      bannerText({
        moto,
        readUrl: server.url,
        config,
        persistent,
        ...(oauth === undefined ? {} : { oauth }),
        ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
        demoTokenTtlSeconds: options.demoTokenTtlSeconds ?? DEMO_TOKEN_TTL_SECONDS,
      }),
    );

    const table = new DynamoDbStateTable({ clientConfig, tableName: LOCAL_TABLE_NAME });
    let drawing = false;
    const draw = async () => {
      if (drawing) return;
      drawing = true;
      try {
        const rows = await Promise.all(
          config.providers.map(async ({ name }) => ({
            provider: name,
            state: await table.read(name).catch(() => undefined),
            nextRunAt: scheduler.nextRunOf(name),
          })),
        );
        view.draw(rows);
      } finally {
        drawing = false;
      }
    };
    const statusTimer = setInterval(() => void draw(), STATUS_INTERVAL_MS);
    stops.push(() => clearInterval(statusTimer));

    for (const provider of config.providers) {
      scheduler.startRecurring(provider.name, ratePeriodSeconds(provider.schedule) ?? 60);
    }
    // put-secret-value on the emulator reaches the refresh function as the credentials-change rule's
    // event would on AWS (issue 16, item 5).
    const credentialsSecrets = credentialsSecretIds(config.secretPrefix, config.providers);
    const credentialsStore = new SecretsManagerCredentialsStore({
      clientConfig,
      secretPrefix: config.secretPrefix,
      secretIdFor: (provider) => credentialsSecrets.get(provider) ?? provider,
    });
    const watch = new CredentialsWatch({
      providers: config.providers.map((provider) => provider.name),
      currentVersionId: (provider) => credentialsStore.currentVersionId(provider),
      changed: (provider) => fire(provider, 'credentials-changed'),
    });
    stops.push(() => watch.stop());
    await watch.start();

    let stopped: Promise<void> | undefined;
    return {
      session,
      config,
      caller: caller.options,
      stop: () => {
        stopped ??= stopAll();
        return stopped;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

const USAGE = `Usage: npm start [-- --config <file>] [--port <n>] [--demo-token-ttl <seconds>]

Runs token-refresher on 127.0.0.1: moto server as AWS, a demo OAuth server (unless --config or
TOKEN_REFRESHER_CONFIG names real providers), the refresh schedule, the read endpoint and a status view.`;

/** `npm start`'s arguments (and `TOKEN_REFRESHER_CONFIG`) as startLocal options, help, or a usage error. */
function parseStartArguments(
  argv: readonly string[],
):
  | { readonly kind: 'start'; readonly options: StartLocalOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string } {
  let values: { config?: string; port?: string; 'demo-token-ttl'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        'demo-token-ttl': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    return { kind: 'usage-error', message: (error as Error).message };
  }
  if (values.help) return { kind: 'help' };
  const configFile = values.config ?? process.env.TOKEN_REFRESHER_CONFIG;
  const port = values.port === undefined ? undefined : Number(values.port);
  const ttl = values['demo-token-ttl'] === undefined ? undefined : Number(values['demo-token-ttl']);
  const portValid = port === undefined || (Number.isInteger(port) && port >= 0 && port < 65536);
  const ttlValid = ttl === undefined || (Number.isInteger(ttl) && ttl > 0);
  if (!portValid || !ttlValid) {
    return { kind: 'usage-error', message: '--port must be 0–65535 and --demo-token-ttl a positive integer' };
  }
  return {
    kind: 'start',
    options: {
      ...(configFile === undefined ? {} : { configFile }),
      ...(port === undefined ? {} : { port }),
      ...(ttl === undefined ? {} : { demoTokenTtlSeconds: ttl }),
    },
  };
}

/** The `npm start` entry point. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const parsed = parseStartArguments(argv);
  if (parsed.kind === 'usage-error') {
    process.stderr.write(`token-refresher: ${parsed.message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (parsed.kind === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let service: LocalService;
  try {
    service = await startLocal(parsed.options);
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : (error as Error).message;
    process.stderr.write(`token-refresher: ${message}\n`);
    process.exitCode = 1;
    return;
  }
  const shutdown = (signal: string) => {
    process.stdout.write(`\n${signal}: stopping…\n`);
    void service.stop().then(() => {
      process.stdout.write('stopped; nothing left running.\n');
      process.exit(0);
    });
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

if (
  process.argv[1] !== undefined &&
  resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)
) {
  void main();
}
