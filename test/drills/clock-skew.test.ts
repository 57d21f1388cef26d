/**
 * Drill 5, clock skew (issue #6): three refresh containers whose clocks run 2 min behind, on time and
 * 2 min ahead drive one provider across many token generations; three read containers with the same
 * skews serve the token (Invoke), each triggering on-demand refreshes through its own refresher.
 *
 * Per generation the drill clock jumps to 10 min before the token's true expiry (true time: the
 * unskewed drill clock; a token's true expiry is its recorded expiry minus its writer's skew), then
 * ticks every 30 s; at each tick a random non-empty subset of the refreshers is triggered at once
 * (seeded) and every reader reads. Asserted: no reader serves a token past its expiry by its own
 * clock, nor past its true expiry, and — with a lease longer than the clocks' spread — exactly one
 * provider call per generation.
 *
 * The lease compares the holder's `leaseExpiresAt` (its clock) with the taker's `now` (the taker's
 * clock), so it tolerates a skew up to the lease's length. The deployed lease is the refresh
 * function's remaining time, 60 s with the minimum timeout: shorter than the 4 min spread, so
 * duplicate calls happen (the long mode measured 3 in 100 generations with client_credentials, and a
 * revoked grant after 25 generations with the rotating provider). The drill therefore asserts
 * "exactly one per generation" with a 5 min lease, and with the deployed lease counts the duplicates
 * and asserts they stay harmless for client_credentials (the compare-and-swap refuses the loser's
 * write). Two targeted races show the mechanism: a slow holder (−2 min) paused in its provider call
 * while a fast refresher (+2 min) is triggered, with a 5 min lease and with the deployed 60 s one.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../functions/core/config.js';
import { readReadEnvironment } from '../../functions/core/env.js';
import type { Clock, Provider } from '../../functions/core/ports.js';
import type { RefreshResult, TokenRecord } from '../../functions/core/types.js';
import { createProvider } from '../../functions/providers/index.js';
import { composeReadHandler, type ReadHandler } from '../../functions/read/app.js';
import {
  inProcessRefreshTrigger,
  type RefreshHandler,
  refreshHandlerFromEnvironment,
} from '../../functions/refresh/app.js';
import {
  CLIENTS,
  CREDENTIALS,
  DrillClock,
  type DrillParts,
  inspect,
  iterations,
  MINUTE,
  MODE,
  refreshEnvironment,
  reportDrill,
  resetWorld,
  reuseDetections,
  startDrillParts,
} from './support.js';

const GENERATIONS = iterations(5, 100);
const SKEWS = [-2 * MINUTE, 0, 2 * MINUTE] as const;
const TICK_MS = 30_000;
/** The refresh function's minimum timeout (infra `refreshTimeout`), hence its usual lease. */
const DEPLOYED_LEASE_MS = 60_000;
/** A lease longer than the spread of the clocks (4 min). */
const SPREAD_COVERING_LEASE_MS = 5 * MINUTE;
const SEED = 20_060;

type Grant = 'cc' | 'rotating';

interface Served {
  readonly accessToken: string;
  readonly expiresAt: string;
}

describe(`Drill: clock skew of ±2 min between refreshers (${MODE} mode, ${GENERATIONS} generations per provider)`, () => {
  let parts: DrillParts;
  const clock = new DrillClock();
  const totals: Record<string, number> = {};
  const providers = () => [
    { name: 'cc', grant: 'client_credentials', tokenUrl: parts.oauth.tokenUrl, requestTimeout: 5 },
    { name: 'rotating', grant: 'refresh_token', tokenUrl: parts.oauth.tokenUrl, requestTimeout: 5 },
  ];

  beforeAll(async () => {
    parts = await startDrillParts({ clients: [CLIENTS.cc, CLIENTS.rotating] });
  });

  afterAll(async () => {
    await parts?.stop();
  });

  const refresher = (skewed: Clock, providerFor?: (config: ProviderConfig) => Provider): RefreshHandler =>
    refreshHandlerFromEnvironment(refreshEnvironment(providers()), {
      clientConfig: parts.moto.clientConfig,
      clock: skewed,
      ...(providerFor === undefined ? {} : { providerFor }),
    });
  const reader = (skewed: Clock, refresh: RefreshHandler, leaseMs: number): ReadHandler =>
    composeReadHandler(
      readReadEnvironment({
        PROVIDERS_CONFIG: refreshEnvironment(providers()).PROVIDERS_CONFIG,
        REFRESH_FUNCTION_NAME: 'in-process',
      }),
      {
        clientConfig: parts.moto.clientConfig,
        clock: skewed,
        trigger: inProcessRefreshTrigger(refresh, leaseMs),
      },
    );
  const trigger = async (refresh: RefreshHandler, provider: Grant, remainingTimeMs: number) =>
    (await refresh(
      { provider },
      { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => remainingTimeMs },
    )) as RefreshResult;

  /** What one run of generations measured. */
  interface SkewRun {
    readonly callsPerGeneration: readonly number[];
    /** Served past the expiry by the reader's own clock, or a generation that never came. */
    readonly problems: readonly string[];
    /** Served past the true expiry (a reader whose clock is behind, a writer whose clock is ahead). */
    readonly servedPastTrueExpiry: number;
    readonly reads: number;
    readonly refusedReads: number;
    readonly maxOvershootMs: number;
    /** Failed refreshes that called the provider, by code. */
    readonly failures: Readonly<Record<string, number>>;
    /**
     * `failed` results without an attempt (the cheap check reporting a recorded failure streak) while
     * the stored token was fresh: see the clock-skew notes in the drills README.
     */
    readonly staleFailureReports: number;
  }

  /** What a run counts as it goes, and the skew of the container that wrote each generation. */
  interface SkewTally {
    readonly callsPerGeneration: number[];
    readonly problems: string[];
    servedPastTrueExpiry: number;
    reads: number;
    refusedReads: number;
    maxOvershootMs: number;
    readonly failures: Record<string, number>;
    staleFailureReports: number;
    /** The skew of the container that wrote each generation (from the results and the readers' refreshes). */
    readonly writerSkew: Map<number, number>;
  }

  /** The skewed containers of one run and what they drive. */
  interface SkewWorld {
    readonly grant: Grant;
    readonly leaseMs: number;
    readonly view: ReturnType<typeof inspect>;
    readonly clocks: readonly Clock[];
    readonly refreshers: readonly RefreshHandler[];
    readonly readers: readonly ReadHandler[];
    readonly random: () => number;
  }

  /**
   * Drive `GENERATIONS` token generations with the three skewed refreshers (random subsets each
   * 30 s tick) and the three skewed readers (every tick). `leaseMs` is what each invocation is told
   * it has left, hence its lease.
   */
  async function driveGenerations(grant: Grant, leaseMs: number): Promise<SkewRun> {
    await resetWorld(parts, { [grant]: CREDENTIALS[grant] });
    parts.oauth.resetCounters();
    const view = inspect(parts.moto.clientConfig);
    const clocks = SKEWS.map((skew) => clock.skewed(skew));
    const refreshers = clocks.map((skewed) => refresher(skewed));
    const readers = clocks.map((skewed, index) =>
      reader(skewed, refreshers[index] as RefreshHandler, leaseMs),
    );
    const world: SkewWorld = { grant, leaseMs, view, clocks, refreshers, readers, random: mulberry32(SEED) };
    const tally: SkewTally = {
      callsPerGeneration: [],
      problems: [],
      servedPastTrueExpiry: 0,
      reads: 0,
      refusedReads: 0,
      maxOvershootMs: 0,
      failures: {},
      staleFailureReports: 0,
      writerSkew: new Map(),
    };
    const first = await trigger(refreshers[1] as RefreshHandler, grant, leaseMs);
    if (first.status === 'refreshed') tally.writerSkew.set(first.generation, 0);
    for (let generation = 0; generation < GENERATIONS; generation += 1) {
      await driveGeneration(world, tally, generation);
    }
    const { writerSkew: _writers, ...run } = tally;
    return run;
  }

  /**
   * One generation: jump to 10 min before the current token's true expiry, then tick every 30 s
   * (random refreshers, every reader) until a newer generation is stored, at most 40 ticks.
   */
  async function driveGeneration(world: SkewWorld, tally: SkewTally, generation: number): Promise<void> {
    const { grant, view } = world;
    const current = await view.token(grant);
    if (current === undefined) throw new Error('no token');
    const skewOfWriter = tally.writerSkew.get(current.generation) ?? Number.NaN;
    const trueExpiry = Date.parse(current.expiresAt) - skewOfWriter;
    tally.maxOvershootMs = Math.max(tally.maxOvershootMs, skewOfWriter);
    // 10 min before the true expiry: nobody considers the token due yet (leads 5 min ± 4 min).
    clock.advance(trueExpiry - 10 * MINUTE - clock.now());
    const callsBefore = parts.oauth.tokenRequests.total;
    let next: TokenRecord | undefined = current;
    for (let tick = 0; tick < 40 && next?.generation === current.generation; tick += 1) {
      clock.advance(TICK_MS);
      await triggerRandomRefreshers(world, tally);
      for (const index of world.readers.keys()) {
        await readOnce(world, tally, index, { token: current, skewOfWriter });
      }
      next = await view.token(grant);
    }
    tally.callsPerGeneration.push(parts.oauth.tokenRequests.total - callsBefore);
    if ((next?.generation ?? 0) <= current.generation)
      tally.problems.push(`generation ${generation + 1} never came`);
    parts.secrets.addIssued(parts.oauth);
  }

  /** A random non-empty subset of the refreshers, triggered at once; their results counted. */
  async function triggerRandomRefreshers(world: SkewWorld, tally: SkewTally): Promise<void> {
    const { random, refreshers, grant, leaseMs } = world;
    const chosen = SKEWS.map((_, index) => index).filter(() => random() < 0.5);
    if (chosen.length === 0) chosen.push(Math.floor(random() * SKEWS.length));
    const results = await Promise.all(
      chosen.map((index) => trigger(refreshers[index] as RefreshHandler, grant, leaseMs)),
    );
    results.forEach((result, position) => {
      countRefresh(tally, result, SKEWS[chosen[position] ?? 0] ?? 0);
    });
  }

  function countRefresh(tally: SkewTally, result: RefreshResult, skew: number): void {
    if (result.status === 'refreshed') tally.writerSkew.set(result.generation, skew);
    if (result.status === 'failed' && result.attempted)
      tally.failures[result.code] = (tally.failures[result.code] ?? 0) + 1;
    if (result.status === 'failed' && !result.attempted) tally.staleFailureReports += 1;
  }

  /** Reader `index` reads once; what it served is checked against its own clock and the true time. */
  async function readOnce(
    world: SkewWorld,
    tally: SkewTally,
    index: number,
    current: { readonly token: TokenRecord; readonly skewOfWriter: number },
  ): Promise<void> {
    const { grant, view } = world;
    const readerNow = (world.clocks[index] as Clock).now();
    const trueNow = clock.now();
    const before = parts.oauth.tokenRequests.total;
    const response = (await (world.readers[index] as ReadHandler)({ provider: grant })) as
      | Served
      | { error: unknown };
    tally.reads += 1;
    if ('error' in response) {
      tally.refusedReads += 1;
      return;
    }
    if (parts.oauth.tokenRequests.total > before) {
      // The reader's on-demand refresh wrote a generation: its writer has the reader's skew.
      const stored = await view.token(grant);
      if (stored !== undefined && !tally.writerSkew.has(stored.generation)) {
        tally.writerSkew.set(stored.generation, SKEWS[index] ?? 0);
      }
    }
    const recordedExpiry = Date.parse(response.expiresAt);
    if (recordedExpiry <= readerNow)
      tally.problems.push(`reader ${SKEWS[index]} served a token past its expiry`);
    const servedSkew = skewOfServed(tally, await view.token(grant), response, current);
    if (servedSkew !== undefined && recordedExpiry - servedSkew <= trueNow) tally.servedPastTrueExpiry += 1;
  }

  /** The skew of the writer of the token served: the stored one's, or the generation's current one's. */
  function skewOfServed(
    tally: SkewTally,
    stored: TokenRecord | undefined,
    response: Served,
    current: { readonly token: TokenRecord; readonly skewOfWriter: number },
  ): number | undefined {
    if (stored?.accessToken === response.accessToken) return tally.writerSkew.get(stored.generation);
    return response.accessToken === current.token.accessToken ? current.skewOfWriter : undefined;
  }

  function report(name: string, grant: Grant, leaseMs: number, run: SkewRun): number {
    const duplicates = run.callsPerGeneration.reduce((sum, calls) => sum + Math.max(0, calls - 1), 0);
    for (const [key, value] of Object.entries({
      generations: run.callsPerGeneration.length,
      reads: run.reads,
      duplicates,
    })) {
      totals[key] = (totals[key] ?? 0) + value;
    }
    reportDrill(`clock-skew ${name} provider=${grant} lease=${leaseMs / 1000}s`, {
      refreshers: SKEWS.map((skew) => `${skew / MINUTE}min`).join('/'),
      generations: run.callsPerGeneration.length,
      providerCalls: run.callsPerGeneration.reduce((sum, calls) => sum + calls, 0),
      duplicateCalls: duplicates,
      generationsWithoutCall: run.callsPerGeneration.filter((calls) => calls === 0).length,
      reads: run.reads,
      readsRefused: run.refusedReads,
      servedPastOwnClockExpiry: run.problems.filter((problem) => problem.includes('past')).length,
      servedPastTrueExpiry: run.servedPastTrueExpiry,
      maxRecordedExpiryOvershootS: run.maxOvershootMs / 1000,
      failedRefreshes:
        Object.entries(run.failures)
          .map(([code, count]) => `${code}:${count}`)
          .join(',') || 0,
      staleFailureReports: run.staleFailureReports,
      reuseDetections: reuseDetections(parts.oauth),
    });
    return duplicates;
  }

  it.each(['cc', 'rotating'] as const)(
    'provider %s, lease 5 min (longer than the 4 min clock spread): exactly one provider call per generation, nothing served past its expiry',
    async (grant) => {
      // Act
      const run = await driveGenerations(grant, SPREAD_COVERING_LEASE_MS);

      // Assess
      report('generations', grant, SPREAD_COVERING_LEASE_MS, run);
      expect(run.problems).toEqual([]);
      expect(run.callsPerGeneration).toEqual(Array(GENERATIONS).fill(1));
      expect(run.servedPastTrueExpiry).toBe(0);
      expect(run.failures).toEqual({});
      expect(run.staleFailureReports).toBe(0);
      expect(reuseDetections(parts.oauth)).toBe(0);
    },
  );

  it('provider cc, the deployed lease (60 s, shorter than the spread): duplicate calls are counted, one token stays current, nothing served past its expiry', async () => {
    // Act
    const run = await driveGenerations('cc', DEPLOYED_LEASE_MS);

    // Assess: a duplicate here is the known limit (see the races below); it must stay harmless for
    // client_credentials: the loser's write is refused by the compare-and-swap, nothing else fails.
    const duplicates = report('generations', 'cc', DEPLOYED_LEASE_MS, run);
    expect(run.problems).toEqual([]);
    expect(run.servedPastTrueExpiry).toBe(0);
    expect(Object.keys(run.failures).filter((code) => code !== 'write_conflict')).toEqual([]);
    expect(run.failures.write_conflict ?? 0).toBeLessThanOrEqual(duplicates);
    expect(run.callsPerGeneration.every((calls) => calls >= 1)).toBe(true);
  });

  describe('a slow holder (−2 min) paused in its provider call while a fast refresher (+2 min) is triggered', () => {
    /** Runs the race with the given lease; returns the provider calls and the two results. */
    async function race(grant: Grant, leaseMs: number) {
      await resetWorld(parts, { [grant]: CREDENTIALS[grant] });
      parts.secrets.addIssued(parts.oauth);
      parts.oauth.resetCounters();
      const onTime = refresher(clock);
      await trigger(onTime, grant, leaseMs);
      const view = inspect(parts.moto.clientConfig);
      const token = await view.token(grant);
      if (token === undefined) throw new Error('the on-time refresher stored no token');
      // Due for the slow holder too: 4 min before the expiry by its clock.
      clock.advance(Date.parse(token.expiresAt) - 4 * MINUTE + 2 * MINUTE - clock.now());
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered: () => void = () => {};
      const atProvider = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const slow = refresher(clock.skewed(-2 * MINUTE), (config) => {
        const real = createProvider(config, { clock: clock.skewed(-2 * MINUTE) });
        return {
          requestToken: async (input) => {
            entered();
            await gate;
            return real.requestToken(input);
          },
        };
      });
      const fast = refresher(clock.skewed(2 * MINUTE));
      const callsBefore = parts.oauth.tokenRequests.total;
      const slowRun = trigger(slow, grant, leaseMs);
      // (If the slow holder ends without calling the provider, the race is off; the assertions say so.)
      await Promise.race([atProvider, slowRun]);
      const fastResult = await trigger(fast, grant, leaseMs);
      release();
      const slowResult = await slowRun;
      const calls = parts.oauth.tokenRequests.total - callsBefore;
      parts.secrets.addIssued(parts.oauth);
      return { calls, fastResult, slowResult, reuse: reuseDetections(parts.oauth) };
    }

    it.each(['cc', 'rotating'] as const)(
      'provider %s, lease 5 min (longer than the 4 min spread): the fast one finds the lease held, one call',
      async (grant) => {
        // Act
        const { calls, fastResult, slowResult, reuse } = await race(grant, SPREAD_COVERING_LEASE_MS);

        // Assess
        reportDrill(`clock-skew race provider=${grant} lease=300s`, {
          providerCalls: calls,
          reuseDetections: reuse,
        });
        expect(fastResult.status).toBe('in-progress');
        expect(slowResult).toMatchObject({ status: 'refreshed' });
        expect(calls).toBe(1);
        expect(reuse).toBe(0);
      },
    );

    it('provider cc, the deployed lease (60 s, shorter than the spread): the fast one takes the live lease; CAS keeps its token', async () => {
      // Act
      const { calls, fastResult, slowResult, reuse } = await race('cc', DEPLOYED_LEASE_MS);
      const stored = await inspect(parts.moto.clientConfig).token('cc');

      // Assess: a known limit (see the drill report): the lease tolerates skew up to its length.
      reportDrill('clock-skew race provider=cc lease=60s', {
        providerCalls: calls,
        duplicateCalls: calls - 1,
        reuseDetections: reuse,
      });
      expect(fastResult).toMatchObject({ status: 'refreshed' });
      // Its write is refused (compare-and-swap) and it finds the fast one's token: no failure.
      expect(slowResult).toMatchObject({ status: 'fresh', reason: 'refreshed-by-other' });
      expect(calls).toBe(2);
      expect(stored?.generation).toBe(fastResult.status === 'refreshed' ? fastResult.generation : -1);
    });

    it('provider rotating, the deployed lease (60 s): the slow holder replays the spent refresh token and the grant is revoked', async () => {
      // Act
      const { calls, fastResult, slowResult, reuse } = await race('rotating', DEPLOYED_LEASE_MS);
      const verify = (await refresher(clock)(
        { provider: 'rotating', force: true },
        { awsRequestId: randomUUID(), getRemainingTimeInMillis: () => DEPLOYED_LEASE_MS },
      )) as RefreshResult;

      // Assess: the known limit again, with its worst consequence for a rotating provider.
      reportDrill('clock-skew race provider=rotating lease=60s', {
        providerCalls: calls,
        duplicateCalls: calls - 1,
        reuseDetections: reuse,
        grantRevoked: verify.status === 'failed' && verify.code === 'invalid_grant',
      });
      expect(fastResult).toMatchObject({ status: 'refreshed' });
      expect(slowResult).toMatchObject({ status: 'failed', code: 'invalid_grant' });
      expect(calls).toBe(2);
      expect(reuse).toBe(1);
      expect(verify).toMatchObject({ status: 'failed', code: 'invalid_grant' });
    });
  });

  it('never logged or emitted a token, refresh token or client secret (runs last)', () => {
    // Prepare
    parts.secrets.addIssued(parts.oauth);

    // Act
    const { scanned, leaked } = parts.secrets.scan(parts.output.text());

    // Assess
    reportDrill('clock-skew secrets-in-logs', { ...totals, valuesScanned: scanned, hits: leaked.length });
    expect(leaked).toEqual([]);
  });
});

/** A small seeded PRNG (mulberry32): the same subsets of triggers on every run. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
