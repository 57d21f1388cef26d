/**
 * Drill 8, early timers (issue #11): the precise one-time run arrives a little before the token's
 * refresh time — node's `setTimeout` fires up to 1 ms early, a scheduler whose clock is ahead of the
 * function's by its skew. Such a run must refresh (a run up to 5 s early counts as due); a run that
 * arrives earlier than that finds the token not due and must arm the precise run again, or the token
 * lapses until the next recurring tick (5 min, while a 60 s token is refreshed 30 s before expiry).
 *
 * The service refreshes 60 s tokens of the strict rotating server (a rotating `refresh_token` grant)
 * on moto, with a recording {@link RecordingScheduler} in place of EventBridge Scheduler: the drill
 * fires its one-time schedule (`{"provider": "...", "trigger": "precise"}`) early by a random, seeded
 * offset, and the recurring schedule (`{"provider": "..."}`) every 5 min. The drill clock jumps from
 * one firing to the next (no sleeping). A consumer reads through the read handler at random moments
 * between firings and right before and after each; its on-demand refresh is switched off (the trigger
 * refuses), so only the schedules keep the token fresh.
 *
 * Phase 1: every precise run 1–1,000 ms early, 100 generations (CI). Phase 2: precise runs 5.5–30 s
 * early (beyond the tolerance: the run must re-arm), then the re-armed run 1–1,000 ms early, 10
 * generations (CI). Asserted: 0 s with an expired token in the store, 0 expired tokens served, 0
 * reads refused, 0 reuse detections, and no scheduler call from a recurring tick that finds the
 * precise run armed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readReadEnvironment } from '../../functions/core/env.js';
import type { Clock, RefreshTrigger } from '../../functions/core/ports.js';
import type { RefreshResult } from '../../functions/core/types.js';
import { composeReadHandler } from '../../functions/read/app.js';
import { createRefreshHandler } from '../../functions/refresh/app.js';
import type { StrictClient } from '../support/strict-oauth-server.js';
import {
  engineFrom,
  inspect,
  iterations,
  MINUTE,
  MODE,
  RecordingScheduler,
  realPorts,
  refreshEnvironment,
  reportDrill,
  resetStrictWorld,
  type StrictDrillParts,
  startStrictDrillParts,
  validatedProviders,
} from './support.js';

const PROVIDER = 'short';
const TOKEN_LIFETIME_S = 60;
const RECURRING_MS = 5 * MINUTE;
const GENERATIONS = iterations(100, 1_000);
const FAR_EARLY_GENERATIONS = iterations(10, 100);
/** `DRILL_SEED` replays a run; the default keeps CI deterministic. */
const SEED = Number(process.env.DRILL_SEED ?? 11);

const CLIENT: StrictClient = {
  clientId: 'drill-early-timer',
  clientSecret: 'drill-early-timer-secret-3f8a26',
  authMethod: 'client_secret_basic',
};

/** A clock that only moves when the drill moves it: the early offsets stay exact to the millisecond. */
class SteppedClock implements Clock {
  constructor(private at: number) {}

  now(): number {
    return this.at;
  }

  set(at: number): void {
    this.at = Math.max(this.at, at);
  }
}

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface PhaseFigures {
  readonly phase: string;
  readonly generations: number;
  readonly preciseRuns: number;
  readonly preciseRunsNotDue: number;
  readonly recurringTicks: number;
  readonly rearms: number;
  readonly schedulerCallsFromArmedTicks: number;
  readonly lapsedMs: number;
  readonly lapses: number;
  readonly reads: number;
  readonly expiredServed: number;
  readonly readsRefused: number;
  readonly onDemandRequests: number;
  readonly minEarlyMs: number;
  readonly maxEarlyMs: number;
  readonly reuseDetections: number;
}

interface Served {
  readonly accessToken: string;
  readonly expiresAt: string;
}

describe(`Drill: precise runs that arrive early (${MODE} mode, seed ${SEED})`, () => {
  let parts: StrictDrillParts;
  const figures: PhaseFigures[] = [];
  const providerEntries = () => [
    { name: PROVIDER, grant: 'refresh_token', tokenUrl: parts.strict.tokenUrl, requestTimeout: 2 },
  ];

  beforeAll(async () => {
    parts = await startStrictDrillParts({ clients: [CLIENT], accessTokenTtlSeconds: TOKEN_LIFETIME_S });
  });

  afterAll(async () => {
    await parts?.stop();
  });

  /**
   * Run `generations` refreshes driven by the two schedules; `earlyBy(rearmed)` draws how early the
   * precise run fires (`rearmed`: the schedule was armed again by a not-due run).
   */
  async function phase(
    name: string,
    generations: number,
    earlyBy: (random: () => number, rearmed: boolean) => number,
  ): Promise<PhaseFigures> {
    await resetStrictWorld(parts, {
      [PROVIDER]: { clientId: CLIENT.clientId, clientSecret: CLIENT.clientSecret, refreshToken: 'seed' },
    });
    const random = seededRandom(SEED + figures.length);
    const clock = new SteppedClock(Date.now());
    const scheduler = new RecordingScheduler();
    const ports = realPorts(parts.moto.clientConfig, clock);
    const refresh = createRefreshHandler({
      engine: engineFrom(ports, clock, { scheduler }),
      providers: validatedProviders(providerEntries()),
      logger: ports.logger,
      publishMetrics: () => ports.metrics.publish(),
    });
    let onDemandRequests = 0;
    // Answers at once (a thrown error would make the reader poll the store on the stepped clock).
    const refusingTrigger: RefreshTrigger = {
      async refresh({ provider }) {
        onDemandRequests += 1;
        return { status: 'failed', provider, code: 'on_demand_off', permanent: false, attempted: false };
      },
    };
    const read = composeReadHandler(
      readReadEnvironment({
        PROVIDERS_CONFIG: refreshEnvironment(providerEntries()).PROVIDERS_CONFIG,
        REFRESH_FUNCTION_NAME: 'in-process',
      }),
      { clientConfig: parts.moto.clientConfig, clock, trigger: refusingTrigger },
    );
    const view = inspect(parts.moto.clientConfig);
    const run = async (event: Record<string, unknown>) =>
      (await refresh(event, { getRemainingTimeInMillis: () => 30_000 })) as RefreshResult;

    let reads = 0;
    let expiredServed = 0;
    let readsRefused = 0;
    const consume = async (at: number) => {
      clock.set(at);
      const readAt = clock.now();
      const response = (await read({ provider: PROVIDER })) as Served | { error: unknown };
      reads += 1;
      if ('error' in response) readsRefused += 1;
      else if (Date.parse(response.expiresAt) <= readAt) expiredServed += 1;
    };

    // The recurring schedule's first firing creates the first token (no state yet: due).
    let nextRecurring = clock.now();
    let refreshed = 0;
    let preciseRuns = 0;
    let preciseRunsNotDue = 0;
    let recurringTicks = 0;
    let rearms = 0;
    let schedulerCallsFromArmedTicks = 0;
    let lapsedMs = 0;
    let lapses = 0;
    let rearmed = false;
    let minEarlyMs = Number.POSITIVE_INFINITY;
    let maxEarlyMs = 0;
    let storedExpiresAt = Number.NEGATIVE_INFINITY;
    while (refreshed < generations + 1) {
      const precise = scheduler.pending(PROVIDER);
      const earlyMs = precise === undefined ? 0 : earlyBy(random, rearmed);
      const preciseFiresAt = precise === undefined ? Number.POSITIVE_INFINITY : precise - earlyMs;
      const firesAt = Math.min(preciseFiresAt, nextRecurring);
      // Until the firing nothing changes the store: any time past the stored expiry has lapsed.
      const lapse = Math.max(0, firesAt - Math.max(storedExpiresAt, clock.now()));
      if (lapse > 0 && Number.isFinite(storedExpiresAt)) {
        lapsedMs += lapse;
        lapses += 1;
      }
      if (Number.isFinite(storedExpiresAt) && firesAt > clock.now()) {
        await consume(clock.now() + Math.floor(random() * (firesAt - clock.now())));
        await consume(firesAt - 1);
      }
      clock.set(firesAt);
      const callsBefore = scheduler.calls.length;
      let result: RefreshResult;
      if (firesAt === preciseFiresAt) {
        scheduler.fired(PROVIDER);
        preciseRuns += 1;
        minEarlyMs = Math.min(minEarlyMs, earlyMs);
        maxEarlyMs = Math.max(maxEarlyMs, earlyMs);
        result = await run({ provider: PROVIDER, trigger: 'precise' });
        if (result.status === 'fresh') preciseRunsNotDue += 1;
        rearmed = result.status === 'fresh' && scheduler.calls.length > callsBefore;
        if (rearmed) rearms += 1;
      } else {
        recurringTicks += 1;
        nextRecurring += RECURRING_MS;
        const armedBefore = precise !== undefined;
        result = await run({ provider: PROVIDER });
        if (result.status === 'fresh' && armedBefore && scheduler.calls.length > callsBefore) {
          schedulerCallsFromArmedTicks += 1;
        }
      }
      if (result.status === 'refreshed') refreshed += 1;
      else if (result.status !== 'fresh') throw new Error(`a run ended ${JSON.stringify(result)}`);
      const stored = await view.token(PROVIDER);
      storedExpiresAt = stored === undefined ? storedExpiresAt : Date.parse(stored.expiresAt);
      await consume(clock.now());
    }
    parts.secrets.add(...parts.strict.issuedTokens);
    const result: PhaseFigures = {
      phase: name,
      generations: refreshed - 1,
      preciseRuns,
      preciseRunsNotDue,
      recurringTicks,
      rearms,
      schedulerCallsFromArmedTicks,
      lapsedMs,
      lapses,
      reads,
      expiredServed,
      readsRefused,
      onDemandRequests,
      minEarlyMs: Number.isFinite(minEarlyMs) ? minEarlyMs : 0,
      maxEarlyMs,
      reuseDetections: parts.strict.counters.reuseDetections,
    };
    figures.push(result);
    return result;
  }

  it(`${GENERATIONS} generations of 60 s tokens, every precise run 1–1,000 ms early: 0 s lapsed, 0 expired served`, async () => {
    // Act
    const result = await phase('1-1000ms', GENERATIONS, (random) => 1 + Math.floor(random() * 1_000));

    // Assess
    expect(result).toMatchObject({
      generations: GENERATIONS,
      lapsedMs: 0,
      expiredServed: 0,
      readsRefused: 0,
      onDemandRequests: 0,
      reuseDetections: 0,
      preciseRunsNotDue: 0,
      schedulerCallsFromArmedTicks: 0,
    });
  });

  it(`${FAR_EARLY_GENERATIONS} generations whose precise run comes 5.5–30 s early: re-armed, 0 s lapsed`, async () => {
    // Act: the first firing of each generation is far early, the re-armed one 1–1,000 ms early.
    const result = await phase('5.5-30s-then-rearmed', FAR_EARLY_GENERATIONS, (random, rearmed) =>
      rearmed ? 1 + Math.floor(random() * 1_000) : 5_500 + Math.floor(random() * 24_500),
    );

    // Assess
    expect(result).toMatchObject({
      generations: FAR_EARLY_GENERATIONS,
      lapsedMs: 0,
      expiredServed: 0,
      readsRefused: 0,
      onDemandRequests: 0,
      reuseDetections: 0,
      schedulerCallsFromArmedTicks: 0,
    });
    expect(result.rearms).toBe(result.preciseRunsNotDue);
    expect(result.preciseRunsNotDue).toBeGreaterThanOrEqual(FAR_EARLY_GENERATIONS);
  });

  it('reports the figures, and never logged a token or secret (runs last)', () => {
    // Prepare
    parts.secrets.add(...parts.strict.issuedTokens);

    // Act
    const { scanned, leaked } = parts.secrets.scan(parts.output.text());

    // Assess
    for (const entry of figures) {
      const { phase: name, lapsedMs, ...rest } = entry;
      reportDrill(`early-timer phase=${name}`, {
        seed: SEED,
        secondsLapsed: lapsedMs / 1000,
        ...rest,
      });
    }
    reportDrill('early-timer secrets-in-logs', { valuesScanned: scanned, hits: leaked.length });
    expect(figures).toHaveLength(2);
    expect(leaked).toEqual([]);
  });
});
