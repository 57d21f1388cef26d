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
    const counters = { onDemandRequests: 0 };
    // Answers at once (a thrown error would make the reader poll the store on the stepped clock).
    const refusingTrigger: RefreshTrigger = {
      async refresh({ provider }) {
        counters.onDemandRequests += 1;
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
    const simulation = new EarlyRunSimulation({
      clock,
      scheduler,
      random,
      earlyBy,
      view: inspect(parts.moto.clientConfig),
      run: async (event) =>
        (await refresh(event, { getRemainingTimeInMillis: () => 30_000 })) as RefreshResult,
      read: async () => (await read({ provider: PROVIDER })) as Served | { error: unknown },
    });
    while (simulation.refreshed < generations + 1) await simulation.fireNext();
    parts.secrets.add(...parts.strict.issuedTokens);
    const counted = simulation.figures();
    const result: PhaseFigures = {
      phase: name,
      generations: counted.generations,
      preciseRuns: counted.preciseRuns,
      preciseRunsNotDue: counted.preciseRunsNotDue,
      recurringTicks: counted.recurringTicks,
      rearms: counted.rearms,
      schedulerCallsFromArmedTicks: counted.schedulerCallsFromArmedTicks,
      lapsedMs: counted.lapsedMs,
      lapses: counted.lapses,
      reads: counted.reads,
      expiredServed: counted.expiredServed,
      readsRefused: counted.readsRefused,
      onDemandRequests: counters.onDemandRequests,
      minEarlyMs: counted.minEarlyMs,
      maxEarlyMs: counted.maxEarlyMs,
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

/** What {@link EarlyRunSimulation} drives. */
interface SimulationParts {
  readonly clock: SteppedClock;
  readonly scheduler: RecordingScheduler;
  readonly random: () => number;
  /** How early the precise run fires (`rearmed`: the schedule was armed again by a not-due run). */
  readonly earlyBy: (random: () => number, rearmed: boolean) => number;
  readonly view: ReturnType<typeof inspect>;
  /** One refresh invocation with this event. */
  readonly run: (event: Record<string, unknown>) => Promise<RefreshResult>;
  /** One consumer read. */
  readonly read: () => Promise<Served | { error: unknown }>;
}

/**
 * The two schedules firing one after another on the stepped clock (the earlier of the precise run,
 * fired early, and the recurring tick), a consumer reading between firings, and what that counts.
 */
class EarlyRunSimulation {
  refreshed = 0;
  #reads = 0;
  #expiredServed = 0;
  #readsRefused = 0;
  #preciseRuns = 0;
  #preciseRunsNotDue = 0;
  #recurringTicks = 0;
  #rearms = 0;
  #schedulerCallsFromArmedTicks = 0;
  #lapsedMs = 0;
  #lapses = 0;
  #rearmed = false;
  #minEarlyMs = Number.POSITIVE_INFINITY;
  #maxEarlyMs = 0;
  #storedExpiresAt = Number.NEGATIVE_INFINITY;
  /** The recurring schedule's first firing creates the first token (no state yet: due). */
  #nextRecurring: number;
  readonly #parts: SimulationParts;

  constructor(parts: SimulationParts) {
    this.#parts = parts;
    this.#nextRecurring = parts.clock.now();
  }

  /** Move to the next firing (reading on the way), fire it, and read right after. */
  async fireNext(): Promise<void> {
    const { clock, scheduler, random, earlyBy, view } = this.#parts;
    const precise = scheduler.pending(PROVIDER);
    const earlyMs = precise === undefined ? 0 : earlyBy(random, this.#rearmed);
    const preciseFiresAt = precise === undefined ? Number.POSITIVE_INFINITY : precise - earlyMs;
    const firesAt = Math.min(preciseFiresAt, this.#nextRecurring);
    this.#countLapse(firesAt);
    await this.#readUntil(firesAt);
    clock.set(firesAt);
    const result =
      firesAt === preciseFiresAt
        ? await this.#firePrecise(earlyMs)
        : await this.#fireRecurring(precise !== undefined);
    if (result.status === 'refreshed') this.refreshed += 1;
    else if (result.status !== 'fresh') throw new Error(`a run ended ${JSON.stringify(result)}`);
    const stored = await view.token(PROVIDER);
    this.#storedExpiresAt = stored === undefined ? this.#storedExpiresAt : Date.parse(stored.expiresAt);
    await this.#consume(clock.now());
  }

  /** Until the firing nothing changes the store: any time past the stored expiry has lapsed. */
  #countLapse(firesAt: number): void {
    const lapse = Math.max(0, firesAt - Math.max(this.#storedExpiresAt, this.#parts.clock.now()));
    if (lapse > 0 && Number.isFinite(this.#storedExpiresAt)) {
      this.#lapsedMs += lapse;
      this.#lapses += 1;
    }
  }

  /** Once a token exists: a read at a random moment before the firing, and one right before it. */
  async #readUntil(firesAt: number): Promise<void> {
    const { clock, random } = this.#parts;
    if (!Number.isFinite(this.#storedExpiresAt) || firesAt <= clock.now()) return;
    await this.#consume(clock.now() + Math.floor(random() * (firesAt - clock.now())));
    await this.#consume(firesAt - 1);
  }

  async #firePrecise(earlyMs: number): Promise<RefreshResult> {
    const { scheduler, run } = this.#parts;
    const callsBefore = scheduler.calls.length;
    scheduler.fired(PROVIDER);
    this.#preciseRuns += 1;
    this.#minEarlyMs = Math.min(this.#minEarlyMs, earlyMs);
    this.#maxEarlyMs = Math.max(this.#maxEarlyMs, earlyMs);
    const result = await run({ provider: PROVIDER, trigger: 'precise' });
    if (result.status === 'fresh') this.#preciseRunsNotDue += 1;
    this.#rearmed = result.status === 'fresh' && scheduler.calls.length > callsBefore;
    if (this.#rearmed) this.#rearms += 1;
    return result;
  }

  async #fireRecurring(armedBefore: boolean): Promise<RefreshResult> {
    const { scheduler, run } = this.#parts;
    const callsBefore = scheduler.calls.length;
    this.#recurringTicks += 1;
    this.#nextRecurring += RECURRING_MS;
    const result = await run({ provider: PROVIDER });
    if (result.status === 'fresh' && armedBefore && scheduler.calls.length > callsBefore) {
      this.#schedulerCallsFromArmedTicks += 1;
    }
    return result;
  }

  async #consume(at: number): Promise<void> {
    const { clock, read } = this.#parts;
    clock.set(at);
    const readAt = clock.now();
    const response = await read();
    this.#reads += 1;
    if ('error' in response) this.#readsRefused += 1;
    else if (Date.parse(response.expiresAt) <= readAt) this.#expiredServed += 1;
  }

  figures(): Omit<PhaseFigures, 'phase' | 'onDemandRequests' | 'reuseDetections'> {
    return {
      generations: this.refreshed - 1,
      preciseRuns: this.#preciseRuns,
      preciseRunsNotDue: this.#preciseRunsNotDue,
      recurringTicks: this.#recurringTicks,
      rearms: this.#rearms,
      schedulerCallsFromArmedTicks: this.#schedulerCallsFromArmedTicks,
      lapsedMs: this.#lapsedMs,
      lapses: this.#lapses,
      reads: this.#reads,
      expiredServed: this.#expiredServed,
      readsRefused: this.#readsRefused,
      minEarlyMs: Number.isFinite(this.#minEarlyMs) ? this.#minEarlyMs : 0,
      maxEarlyMs: this.#maxEarlyMs,
    };
  }
}
