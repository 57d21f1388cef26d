/**
 * Drill 10, on-demand abuse (issue #15, findings 3 and 4), with the real engine, the real adapters on
 * moto and oidc-provider; the read path is the `TokenReader` the read function builds, its on-demand
 * refreshes run the refresh handler in-process. The drill clock moves instead of sleeping.
 *
 * 1. One hour of abusive reports: one consumer reports the token it holds as refused, every second,
 *    for a simulated hour (3,600 reports), while the recurring schedule ticks every 5 minutes. Per
 *    grant (client_credentials, rotating refresh_token) and `onDemandRefreshInterval` (the default
 *    60 s, and 10 s), through one read function container, and (10 s, client_credentials) spread over
 *    10 containers. Counted: provider calls, token and credentials secret writes, refresh-function
 *    invocations, `GetSecretValue` of the read path and of the engine, DynamoDB calls, the answers.
 * 2. 100 concurrent reports of a young token (15 s old), one per container, with and without the
 *    providers' config in the read path (without it, every report reaches the engine and all but one
 *    lose the lease); and 100 concurrent reports of a token old enough to be replaced (one refresh;
 *    the others lose the lease to it), once with the simulated pause over before that refresh ends
 *    (the clock moves without waiting) and once with the pause lasting until it ended (a refresh
 *    faster than the pause, the usual case). Counted: the answers, `GetSecretValue` per container.
 *
 * The figures are printed as `DRILL on-demand-…` lines. Run against the code before issue 15 (the
 * drill uses no API that issue added), they give the "before" figures of docs/limits.md.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../functions/aws/logger.js';
import { SecretsManagerTokenStore } from '../../functions/aws/token-store.js';
import type { Clock, RefreshTrigger, TokenStore } from '../../functions/core/ports.js';
import { TokenReader, TokenUnavailableError } from '../../functions/core/read.js';
import { sha256Hex } from '../../functions/core/token-hash.js';
import {
  createRefreshHandler,
  inProcessRefreshTrigger,
  type RefreshHandler,
} from '../../functions/refresh/app.js';
import {
  CLIENTS,
  CREDENTIALS,
  type DrillParts,
  engineFrom,
  inspect,
  MINUTE,
  PREFIX,
  type RealPorts,
  realPorts,
  reportDrill,
  resetWorld,
  reuseDetections,
  startDrillParts,
  validatedProviders,
} from './support.js';

type Grant = 'cc' | 'rotating';

/** A clock that moves only when the drill moves it. */
class SimulatedClock implements Clock {
  #now = Date.now();

  now(): number {
    return this.#now;
  }

  advance(ms: number): void {
    this.#now += ms;
  }
}

const HOUR_SECONDS = 3_600;
const SCHEDULE_EVERY_SECONDS = 300;
const CALLER = 'arn:aws:sts::123456789012:assumed-role/abusive-consumer/session';
const STORM_CONTAINERS = 100;

/** What one scenario cost, counted at the ports (attribution) and by the answers. */
interface Counts {
  providerCalls: number;
  tokenWrites: number;
  credentialsWrites: number;
  invocations: number;
  readerSecretReads: number;
  engineSecretReads: number;
  dynamoDbCalls: number;
  answers: Record<string, number>;
}

const emptyCounts = (): Counts => ({
  providerCalls: 0,
  tokenWrites: 0,
  credentialsWrites: 0,
  invocations: 0,
  readerSecretReads: 0,
  engineSecretReads: 0,
  dynamoDbCalls: 0,
  answers: {},
});

/** `target` with every method call counted by `onCall(name)` first. */
function counted<T extends object>(target: T, onCall: (name: string) => void): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        onCall(String(property));
        return (value as (...a: unknown[]) => unknown).apply(object, args);
      };
    },
  });
}

/** The refresh side of one scenario: the engine's ports counted. */
function countedPorts(ports: RealPorts, counts: Counts): RealPorts {
  return {
    ...ports,
    tokens: counted(ports.tokens, (name) => {
      if (name === 'readCurrent') counts.engineSecretReads += 1;
      if (name === 'write') counts.tokenWrites += 1;
    }),
    credentials: counted(ports.credentials, (name) => {
      if (name === 'write') counts.credentialsWrites += 1;
    }),
    state: counted(ports.state, () => {
      counts.dynamoDbCalls += 1;
    }),
  };
}

/** The answer's key: `200`, or `<status> <code>`; `retryAfters` collects the `Retry-After` values. */
async function answerOf(report: Promise<unknown>, retryAfters?: Set<number>): Promise<string> {
  try {
    await report;
    return '200';
  } catch (error) {
    if (!(error instanceof TokenUnavailableError)) throw error;
    retryAfters?.add(error.retryAfterSeconds);
    return `${error.status} ${error.code}`;
  }
}

function tally(answers: Record<string, number>, key: string): void {
  answers[key] = (answers[key] ?? 0) + 1;
}

/** `{"200":3,"429 refresh_rate_limited":5}` as `200:3,429_refresh_rate_limited:5`. */
function answersText(answers: Record<string, number>): string {
  return Object.entries(answers)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, count]) => `${key.replace(' ', '_')}:${count}`)
    .join(',');
}

describe('Drill: on-demand abuse (issue #15)', () => {
  let parts: DrillParts;
  // Simulated time only (no real time added, unlike the other drills' clock): the hour is exactly
  // 3,600 reports long however long the emulator takes.
  const clock = new SimulatedClock();

  beforeAll(async () => {
    parts = await startDrillParts({ clients: [CLIENTS.cc, CLIENTS.rotating] });
  });

  afterAll(async () => {
    await parts?.stop();
  });

  const providers = (interval: number) => [
    {
      name: 'cc',
      grant: 'client_credentials',
      tokenUrl: parts.oauth.tokenUrl,
      onDemandRefreshInterval: interval,
    },
    {
      name: 'rotating',
      grant: 'refresh_token',
      tokenUrl: parts.oauth.tokenUrl,
      onDemandRefreshInterval: interval,
    },
  ];

  /** The refresh handler (one per scenario: engines hold no state between runs) and a counted trigger. */
  const refreshSide = (
    interval: number,
    counts: Counts,
  ): { handler: RefreshHandler; trigger: RefreshTrigger } => {
    const ports = countedPorts(realPorts({ ...parts.moto.clientConfig }, clock), counts);
    const handler = createRefreshHandler({
      engine: engineFrom(ports, clock),
      providers: validatedProviders(providers(interval)),
      logger: ports.logger,
      publishMetrics: () => ports.metrics.publish(),
    });
    const inner = inProcessRefreshTrigger(handler);
    return {
      handler,
      trigger: {
        refresh: (input) => {
          counts.invocations += 1;
          return inner.refresh(input);
        },
      },
    };
  };

  /** One read function container: its own cache and holds, its token reads counted. */
  const readContainer = (
    interval: number,
    trigger: RefreshTrigger,
    onRead: () => void,
    withConfig = true,
    onSleep: (ms: number) => void | Promise<void> = () => {},
  ): TokenReader => {
    let paused = 0;
    const tokens: TokenStore = counted(
      new SecretsManagerTokenStore({ clientConfig: { ...parts.moto.clientConfig }, secretPrefix: PREFIX }),
      (name) => {
        if (name === 'readCurrent') onRead();
      },
    );
    return new TokenReader({
      tokens,
      trigger,
      // Each container's pauses move its own view of the clock only: containers pause side by side,
      // in parallel, so moving the shared clock per pause would add up 99 pauses (and make the lease
      // holder's time run out).
      clock: { now: () => clock.now() + paused },
      logger: createLogger(),
      sleep: async (ms) => {
        await onSleep(ms);
        paused += ms;
      },
      ...(withConfig ? { providers: validatedProviders(providers(interval)) } : {}),
    });
  };

  const schedule = (handler: RefreshHandler, provider: Grant) =>
    handler({ provider }, { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 60_000 });

  /** Reset the world and store the provider's first token; returns the counts of what follows. */
  const begin = async (handler: RefreshHandler, provider: Grant, counts: Counts): Promise<void> => {
    await resetWorld(parts, { cc: CREDENTIALS.cc, rotating: CREDENTIALS.rotating });
    await schedule(handler, provider);
    parts.secrets.addIssued(parts.oauth);
    parts.oauth.resetCounters();
    Object.assign(counts, emptyCounts());
  };

  describe('one hour of abusive reports', () => {
    it.each([
      { provider: 'cc' as const, interval: 60, containers: 1 },
      { provider: 'cc' as const, interval: 10, containers: 1 },
      { provider: 'rotating' as const, interval: 60, containers: 1 },
      { provider: 'rotating' as const, interval: 10, containers: 1 },
      { provider: 'cc' as const, interval: 10, containers: 10 },
    ])(
      'provider $provider, onDemandRefreshInterval $interval s, $containers container(s): provider calls and secret writes stay within the budget',
      async ({ provider, interval, containers }) => {
        // Prepare
        const counts = emptyCounts();
        const { handler, trigger } = refreshSide(interval, counts);
        const readers = Array.from({ length: containers }, () =>
          readContainer(interval, trigger, () => {
            counts.readerSecretReads += 1;
          }),
        );
        await begin(handler, provider, counts);
        await parts.moto.startCounting();

        // Act: a report every second; the recurring schedule every 5 minutes.
        for (let second = 1; second <= HOUR_SECONDS; second += 1) {
          clock.advance(1_000);
          if (second % SCHEDULE_EVERY_SECONDS === 0) await schedule(handler, provider);
          const reader = readers[second % containers] as TokenReader;
          const held = await reader.get(provider);
          tally(
            counts.answers,
            await answerOf(reader.refreshRejected(provider, sha256Hex(held.accessToken), CALLER)),
          );
        }
        const moto = await parts.moto.countOperations();
        await parts.moto.stopCounting();
        counts.providerCalls = parts.oauth.tokenRequests.total;
        parts.secrets.addIssued(parts.oauth);

        // Assess
        const putSecretValue = moto['secretsmanager.PutSecretValue'] ?? 0;
        reportDrill(`on-demand-abuse provider=${provider}`, {
          interval,
          containers,
          reports: HOUR_SECONDS,
          providerCalls: counts.providerCalls,
          tokenWrites: counts.tokenWrites,
          credentialsWrites: counts.credentialsWrites,
          putSecretValue,
          invocations: counts.invocations,
          readerGetSecretValue: counts.readerSecretReads,
          engineGetSecretValue: counts.engineSecretReads,
          getSecretValue: moto['secretsmanager.GetSecretValue'] ?? 0,
          dynamoDbCalls: counts.dynamoDbCalls,
          answers: answersText(counts.answers),
          reuseDetections: reuseDetections(parts.oauth),
        });
        // At most the budget (4) caused by reports, plus the schedule's one or two refreshes in the hour.
        expect(counts.providerCalls).toBeLessThanOrEqual(4 + 2);
        expect(counts.tokenWrites).toBe(counts.providerCalls);
        expect(counts.credentialsWrites).toBeLessThanOrEqual(provider === 'rotating' ? 6 : 0);
        expect(counts.invocations).toBeLessThanOrEqual(containers * 12);
        expect(Object.keys(counts.answers).filter((key) => key.startsWith('5'))).toEqual([]);
        expect(reuseDetections(parts.oauth)).toBe(0);
      },
    );
  });

  describe('100 concurrent reports', () => {
    it.each([
      { label: 'young token, read path with the config', age: 15_000, withConfig: true },
      {
        label: 'young token, read path without the config (every report reaches the engine)',
        age: 15_000,
        withConfig: false,
      },
      {
        label: 'token old enough to replace (one refresh, the others lose the lease to it)',
        age: 2 * MINUTE,
        withConfig: true,
      },
      {
        label: 'token old enough, the refresh ends within the first pause (the pause waits for it)',
        age: 2 * MINUTE,
        withConfig: true,
        refreshEndsByWaitMs: 500,
      },
      {
        label: 'token old enough, the refresh ends after the first pause, before the retry time',
        age: 2 * MINUTE,
        withConfig: true,
        refreshEndsByWaitMs: 2_000,
      },
    ])(
      '$label: no 503, at most 3 GetSecretValue per container',
      async ({ age, withConfig, label, refreshEndsByWaitMs }) => {
        // Prepare: 100 read containers, each invoking its own refresh container.
        const counts = emptyCounts();
        const { handler } = refreshSide(60, counts);
        await begin(handler, 'cc', counts);
        const perContainerReads = Array.from({ length: STORM_CONTAINERS }, () => 0);
        const perContainerWaitMs = Array.from({ length: STORM_CONTAINERS }, () => 0);
        // The invocations under way: a pause that "lasts" until they end models a refresh faster than it.
        const invocations: Promise<unknown>[] = [];
        const readers = perContainerReads.map((_, index) => {
          const { trigger } = refreshSide(60, counts);
          return readContainer(
            60,
            {
              refresh: (input) => {
                const invocation = trigger.refresh(input);
                invocations.push(invocation);
                return invocation;
              },
            },
            () => {
              perContainerReads[index] = (perContainerReads[index] ?? 0) + 1;
            },
            withConfig,
            async (ms) => {
              perContainerWaitMs[index] = (perContainerWaitMs[index] ?? 0) + ms;
              const waited = perContainerWaitMs[index] ?? 0;
              if (refreshEndsByWaitMs !== undefined && waited >= refreshEndsByWaitMs) {
                await Promise.allSettled(invocations);
              }
            },
          );
        });
        const view = inspect(parts.moto.clientConfig);
        const refused = (await view.token('cc'))?.accessToken ?? '';
        clock.advance(age);

        // Act
        const retryAfters = new Set<number>();
        const answers = await Promise.all(
          readers.map((reader, index) =>
            answerOf(reader.refreshRejected('cc', sha256Hex(refused), `caller-${index}`), retryAfters),
          ),
        );
        counts.providerCalls = parts.oauth.tokenRequests.total;
        parts.secrets.addIssued(parts.oauth);

        // Assess
        for (const answer of answers) tally(counts.answers, answer);
        const name = label.split(' (')[0]?.replaceAll(' ', '-').replaceAll(',', '');
        reportDrill(`on-demand-storm ${name}`, {
          containers: STORM_CONTAINERS,
          answers: answersText(counts.answers),
          retryAfterSeconds: [...retryAfters].sort((x, y) => x - y).join('/') || 'none',
          providerCalls: counts.providerCalls,
          invocations: counts.invocations,
          maxReaderGetSecretValuePerContainer: Math.max(...perContainerReads),
          readerGetSecretValue: perContainerReads.reduce((sum, reads) => sum + reads, 0),
          engineGetSecretValue: counts.engineSecretReads,
          dynamoDbCalls: counts.dynamoDbCalls,
          maxWaitMsPerContainer: Math.max(...perContainerWaitMs),
        });
        expect(answers.filter((answer) => answer.startsWith('5'))).toEqual([]);
        expect(Math.max(...perContainerReads)).toBeLessThanOrEqual(3);
        expect(counts.providerCalls).toBeLessThanOrEqual(1);
        // The waits the read path asked for (the injected sleep), not a measured duration.
        expect(Math.max(...perContainerWaitMs)).toBeLessThanOrEqual(2_000);
        // A refresh that ends while the containers wait gets every one of them the new token.
        if (refreshEndsByWaitMs !== undefined) expect(answers.every((answer) => answer === '200')).toBe(true);
      },
    );
  });

  it('never logged or emitted a token, refresh token or client secret (runs last)', () => {
    // Prepare
    parts.secrets.addIssued(parts.oauth);

    // Act
    const { scanned, leaked } = parts.secrets.scan(parts.output.text());

    // Assess
    reportDrill('on-demand secrets-in-logs', { valuesScanned: scanned, hits: leaked.length });
    expect(scanned).toBeGreaterThan(3);
    expect(leaked).toEqual([]);
  });
});
