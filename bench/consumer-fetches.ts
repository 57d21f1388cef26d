/**
 * Benchmark 1: consumer fetches per token generation.
 *
 * One simulated consumer container reads a 1-hour token 50 times a second for one simulated hour,
 * against moto server. The refresher is simulated by writing the token secret the way the engine
 * does (compare-and-swap: `PutSecretValue` + `UpdateSecretVersionStage`): generation 1 at 0:00,
 * generation 2 at 55:00 (a 1-hour token with `refreshBefore` 5 min). `GetSecretValue` calls are
 * counted at the emulator, one contestant after another, each from a fresh secret and a fresh cache.
 *
 * Time: every contestant sees the same simulated clock. Ours take it as `clock`; Powertools
 * parameters takes none (it stamps a cache entry with `new Date()` and checks it against
 * `Date.now()`), so the global `Date` reads the simulated clock during the simulation (see
 * `lib/simulated-date.ts`; timers are not faked, the SDK's HTTP timeouts run on real time).
 */

import { getSecret } from '@aws-lambda-powertools/parameters/secrets';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SecretsManagerTokenStore, tokenSecretName } from '../functions/aws/token-store.js';
import { createSecretsManagerTokenClient } from '../functions/client/secrets-manager.js';
import { deployedConfigJson } from '../functions/core/config-schema.js';
import { readReadEnvironment } from '../functions/core/env.js';
import type { RefreshTrigger } from '../functions/core/ports.js';
import type { TokenRecord } from '../functions/core/types.js';
import { composeReadHandler } from '../functions/read/app.js';
import { type BenchContext, silentLogger } from './lib/context.js';
import type { Section } from './lib/report.js';
import { printTable, say } from './lib/report.js';
import { installSimulatedDate } from './lib/simulated-date.js';
import { fixed, int, ratio, usd } from './lib/stats.js';

const PREFIX = 'bench-consumer';
const PROVIDER = 'github';
const SECRET_ID = tokenSecretName(PREFIX, PROVIDER);
const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const READS_PER_SECOND = 50;
const TOKEN_LIFETIME = HOUR;
const REFRESH_BEFORE = 5 * MINUTE;
/** The Secrets Manager Lambda extension's default `SECRETS_MANAGER_TTL`. */
const EXTENSION_TTL = 300 * SECOND;
/**
 * The container starts this far into generation 1's life: any phase will do, as long as the TTL
 * cache's 300 s period does not happen to line up with the refresher's writes.
 */
const FIRST_GENERATION_AGE_AT_START = 17 * MINUTE;
const GET_SECRET_VALUE = 'secretsmanager.GetSecretValue';
/** us-east-1, per 10,000 API calls. */
const SECRETS_MANAGER_PRICE_PER_10K_CALLS = 0.05;
const HOURS_PER_MONTH = 730;

/** What each contestant does for one read: return the access token it would use. */
interface Contestant {
  readonly name: string;
  readonly how: string;
  read(): Promise<string>;
  close?(): void;
}

interface Outcome {
  readonly name: string;
  readonly how: string;
  readonly reads: number;
  readonly calls: number;
  /** Generations whose life overlaps the simulated hour: the physical lower bound of calls. */
  readonly generationsLive: number;
  readonly generationsSeen: number;
  /** Reads answered with generation 1 after generation 2 was written, and for how long. */
  readonly olderGenerationReads: number;
  readonly olderGenerationForMs: number;
  readonly expiredServed: number;
  readonly failures: number;
}

export async function consumerFetches(context: BenchContext): Promise<Section> {
  const { moto } = context;
  const admin = new SecretsManagerClient(moto.clientConfig);
  const store = new SecretsManagerTokenStore({ clientConfig: moto.clientConfig, secretPrefix: PREFIX });
  // Whole seconds, so that the simulated times print nicely.
  const startedAt = Math.ceil(Date.now() / SECOND) * SECOND;
  const time: SimulatedTime = { now: startedAt };
  const clock = { now: () => time.now };

  say('Benchmark 1: consumer fetches per token generation (1 simulated hour at 50 reads/s)');
  const outcomes: Outcome[] = [];
  const restoreDate = installSimulatedDate(() => time.now);
  try {
    for (const build of contestants(moto.clientConfig, clock)) {
      const outcome = await runContestant(build, { moto, admin, store, time, startedAt });
      outcomes.push(outcome);
      say(
        `  ${outcome.name}: ${int(outcome.calls)} GetSecretValue for ${int(outcome.reads)} reads, ` +
          `${outcome.generationsSeen} generations seen, ${outcome.failures} failed reads`,
      );
    }
  } finally {
    restoreDate();
    admin.destroy();
  }

  const ours = outcomes[0];
  const oursCalls = ours?.calls ?? Number.NaN;
  const generationsWritten = ours?.generationsLive ?? Number.NaN;
  const table = {
    title: `GetSecretValue calls counted at moto: one container, ${int(ours?.reads ?? 0)} reads over one simulated hour, ${generationsWritten} token generations`,
    head: [
      'consumer',
      'cache rule',
      'GetSecretValue',
      'per generation (limit 1)',
      'vs ours',
      'reads served the older generation (max lag)',
      'expired tokens served',
      'Secrets Manager API cost per container-month',
    ],
    rows: outcomes.map((outcome) => [
      outcome.name,
      outcome.how,
      int(outcome.calls),
      fixed(outcome.calls / generationsWritten, 1),
      ratio(outcome.calls, oursCalls),
      `${int(outcome.olderGenerationReads)} (${fixed(outcome.olderGenerationForMs / SECOND, 0)} s)`,
      int(outcome.expiredServed),
      usd(outcome.calls * HOURS_PER_MONTH * (SECRETS_MANAGER_PRICE_PER_10K_CALLS / 10_000)),
    ]),
  };
  printTable(table);

  return {
    title: '1. Consumer fetches per token generation',
    method: [
      `One simulated consumer container reads a 1-hour token ${READS_PER_SECOND} times a second for one simulated hour ` +
        `(${int((HOUR / SECOND) * READS_PER_SECOND)} reads, one after another, 20 ms of simulated time apart) against moto server. ` +
        'The refresher is simulated by compare-and-swap writes of the token secret, as the engine makes them, every 55 min ' +
        "(1-hour token, `refreshBefore` 5 min); the container starts 17 min into generation 1's life (any phase will do, as long " +
        "as the TTL cache's period does not line up with the writes), so generation 2 appears at 38:00. Each contestant runs alone from a fresh secret and a fresh cache; " +
        "`GetSecretValue` calls are counted at the emulator (moto's request recorder), never with a mock.",
      'Clock: one simulated clock for all. Ours take it as `clock`; Powertools parameters takes none (it stamps its cache entry ' +
        'with `new Date()` and compares with `Date.now()`), so the global `Date` reads the simulated clock during the simulation ' +
        "(timers are not faked: the SDK's HTTP timeouts run on real time). The TTL cache stands in for the Secrets Manager Lambda extension (same upstream calls; its local " +
        "HTTP hop is not simulated). The monthly cost column is the hour's calls × 730 h × $0.05 per 10,000 calls.",
    ],
    tables: [table],
    notes: [
      `Ours makes ${int(oursCalls)} calls for ${generationsWritten} generations: the physical limit of one per container per generation. ` +
        `The price: after the refresher writes a new generation, the container keeps serving the previous one until its \`expiresAt − 30 s\` ` +
        `(${fixed((ours?.olderGenerationForMs ?? Number.NaN) / SECOND, 0)} s here, = \`refreshBefore\` − 30 s). That token is still valid ` +
        '(the client never serves one past `expiresAt`, and `refreshBefore` is never below 60 s), but a consumer that wants the newest ' +
        "token as soon as it exists (e.g. after scopes changed) gets it only through `withToken`'s 401 retry. A TTL cache holds an " +
        'older generation for up to its TTL, `maxAge` for up to 5 s.',
      "Neither Powertools' `maxAge` nor the extension's TTL knows when the token expires: with a refresher that has stopped they " +
        'would go on serving an expired token until the secret changes; ours refuses an expired token (not exercised here).',
    ],
  };
}

/** The simulated time every contestant and the global `Date` read during the simulation. */
interface SimulatedTime {
  now: number;
}

type MotoClientConfig = BenchContext['moto']['clientConfig'];

/** The contestants, each built fresh for its run (a fresh cache). */
function contestants(clientConfig: MotoClientConfig, clock: { now(): number }): (() => Contestant)[] {
  return [
    () => {
      const client = createSecretsManagerTokenClient({ secretPrefix: PREFIX, clientConfig, clock });
      return {
        name: 'token-refresher client (secrets-manager source)',
        how: 'cache until `expiresAt − 30 s`',
        read: async () => (await client.getToken(PROVIDER)).accessToken,
      };
    },
    () => {
      const handler = composeReadHandler(
        readReadEnvironment({
          PROVIDERS_CONFIG: deployedConfigJson({
            secretPrefix: PREFIX,
            // What is counted here is GetSecretValue per token generation; caller proofs (checked with
            // STS, never with Secrets Manager) would have to be re-signed on the simulated clock, so this
            // container trusts its direct Invokes instead.
            trustDirectInvoke: true,
            providers: [
              { name: PROVIDER, grant: 'client_credentials', tokenUrl: 'https://auth.example.com/t' },
            ],
          }),
          REFRESH_FUNCTION_NAME: 'bench-unused',
        }),
        { clientConfig, clock, logger: silentLogger, trigger: unusedTrigger },
      );
      return {
        name: 'token-refresher read function (one container)',
        how: 'cache until `expiresAt − 30 s`',
        read: async () => {
          const answer = (await handler({ provider: PROVIDER })) as { accessToken?: string };
          if (typeof answer.accessToken !== 'string') throw new Error('the read function served no token');
          return answer.accessToken;
        },
      };
    },
    () => ({
      name: 'Powertools `getSecret` (default `maxAge`)',
      how: 'cache for `maxAge` = 5 s',
      read: async () => {
        const record = await getSecret<TokenRecord>(SECRET_ID, {
          transform: 'json',
          // What AWS does by default; moto needs it said (docs/local-development.md,
          // "Known emulator differences").
          sdkOptions: { VersionStage: 'AWSCURRENT' },
        });
        if (record === undefined) throw new Error('getSecret returned nothing');
        return record.accessToken;
      },
    }),
    () => extensionLikeCache(clientConfig, clock),
  ];
}

/** A TTL cache of 300 s in front of `GetSecretValue`, as the Secrets Manager Lambda extension keeps one. */
function extensionLikeCache(clientConfig: MotoClientConfig, clock: { now(): number }): Contestant {
  const client = new SecretsManagerClient(clientConfig);
  let cached: { token: string; until: number } | undefined;
  return {
    name: 'TTL cache, 300 s (Secrets Manager Lambda extension default)',
    how: 'cache for 300 s',
    read: async () => {
      if (cached !== undefined && clock.now() < cached.until) return cached.token;
      const output = await client.send(
        new GetSecretValueCommand({ SecretId: SECRET_ID, VersionStage: 'AWSCURRENT' }),
      );
      const record = JSON.parse(output.SecretString ?? '{}') as TokenRecord;
      cached = { token: record.accessToken, until: clock.now() + EXTENSION_TTL };
      return record.accessToken;
    },
    close: () => client.destroy(),
  };
}

/** One token generation as the simulated refresher wrote it. */
interface Generation {
  readonly token: TokenRecord;
  readonly versionId: string;
  readonly expiresAtMs: number;
  readonly writtenAt: number;
}

/** What a contestant's run works with. */
interface Simulation {
  readonly moto: BenchContext['moto'];
  readonly admin: SecretsManagerClient;
  readonly store: SecretsManagerTokenStore;
  readonly time: SimulatedTime;
  readonly startedAt: number;
}

/** Write generation `generation` now (compare-and-swap from `expectedVersionId`), valid for an hour. */
async function writeGeneration(
  simulation: Simulation,
  generation: number,
  expectedVersionId: string | undefined,
): Promise<Generation> {
  const { store, time } = simulation;
  const token: TokenRecord = {
    provider: PROVIDER,
    accessToken: `bench-access-token-generation-${generation}`,
    tokenType: 'Bearer',
    issuedAt: new Date(time.now).toISOString(),
    expiresAt: new Date(time.now + TOKEN_LIFETIME).toISOString(),
    generation,
  };
  const versionId = await store.write({ provider: PROVIDER, fence: generation, token, expectedVersionId });
  return { token, versionId, expiresAtMs: time.now + TOKEN_LIFETIME, writtenAt: time.now };
}

/** One contestant alone, from a fresh secret: an hour of reads while the refresher writes generations. */
async function runContestant(build: () => Contestant, simulation: Simulation): Promise<Outcome> {
  const { moto, admin, time, startedAt } = simulation;
  time.now = startedAt - FIRST_GENERATION_AGE_AT_START;
  await moto.reset();
  const created = await admin.send(
    new CreateSecretCommand({ Name: SECRET_ID, SecretString: '{"status":"pending"}' }),
  );
  const generations = [await writeGeneration(simulation, 1, created.VersionId)];
  time.now = startedAt;
  const contestant = build();
  await moto.startCounting();

  const reads = (HOUR / SECOND) * READS_PER_SECOND;
  const step = SECOND / READS_PER_SECOND;
  const tally = {
    seen: new Set<string>(),
    olderGenerationReads: 0,
    olderGenerationForMs: 0,
    expiredServed: 0,
    failures: 0,
  };
  for (let index = 0; index < reads; index++) {
    time.now = startedAt + index * step;
    const latest = generations[generations.length - 1];
    if (latest !== undefined && time.now >= latest.expiresAtMs - REFRESH_BEFORE) {
      generations.push(await writeGeneration(simulation, generations.length + 1, latest.versionId));
    }
    let accessToken: string;
    try {
      accessToken = await contestant.read();
    } catch {
      tally.failures++;
      continue;
    }
    countRead(tally, generations, accessToken, time.now);
  }
  const calls = (await moto.countOperations())[GET_SECRET_VALUE] ?? 0;
  await moto.stopCounting();
  contestant.close?.();
  const { seen, ...counts } = tally;
  return {
    name: contestant.name,
    how: contestant.how,
    reads,
    calls,
    generationsLive: generations.length,
    generationsSeen: seen.size,
    ...counts,
  };
}

/** Count one served token: which generation it is, whether it expired, whether a newer one existed. */
function countRead(
  tally: {
    seen: Set<string>;
    olderGenerationReads: number;
    olderGenerationForMs: number;
    expiredServed: number;
  },
  generations: readonly Generation[],
  accessToken: string,
  now: number,
): void {
  tally.seen.add(accessToken);
  const generation = generations.find((entry) => entry.token.accessToken === accessToken);
  const newest = generations[generations.length - 1];
  if (generation === undefined || newest === undefined) return;
  if (generation.expiresAtMs <= now) tally.expiredServed++;
  if (generation !== newest) {
    tally.olderGenerationReads++;
    tally.olderGenerationForMs = Math.max(tally.olderGenerationForMs, now - newest.writtenAt);
  }
}

/** The read function never needs an on-demand refresh here: a valid token is always stored. */
const unusedTrigger: RefreshTrigger = {
  refresh() {
    return Promise.reject(new Error('benchmark 1 never triggers a refresh'));
  },
};
