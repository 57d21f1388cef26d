import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FOLLOW_INTERVAL_MS,
  LocalScheduler,
  type LocalSchedulerOptions,
  ratePeriodSeconds,
  type SchedulerTimers,
} from '../../../functions/local/scheduler.js';

const START = Date.UTC(2026, 10, 27, 12, 0, 0);

/** Let pending promise callbacks run (the scheduler's reads are async). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Timers on a fake clock: {@link FakeClock.advance} runs what falls due, in order. */
class FakeClock implements SchedulerTimers {
  now = START;
  /** The next one-time timer fires this many ms before its time (a timer that fires early). */
  fireNextTimeoutEarlyByMs = 0;
  #lastId = 0;
  readonly #timers = new Map<number, { at: number; callback: () => void; periodMs?: number }>();
  readonly delays: number[] = [];

  setTimeout(callback: () => void, ms: number): unknown {
    this.delays.push(ms);
    const early = this.fireNextTimeoutEarlyByMs;
    this.fireNextTimeoutEarlyByMs = 0;
    return this.#add({ at: this.now + ms - early, callback });
  }
  setInterval(callback: () => void, ms: number): unknown {
    return this.#add({ at: this.now + ms, callback, periodMs: ms });
  }
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  clearInterval(handle: unknown): void {
    this.#timers.delete(handle as number);
  }
  get pending(): number {
    return this.#timers.size;
  }

  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      const [id, timer] =
        [...this.#timers]
          .filter(([, t]) => t.at <= end)
          .sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0] ?? [];
      if (id === undefined || timer === undefined) break;
      this.now = Math.max(this.now, timer.at);
      if (timer.periodMs === undefined) this.#timers.delete(id);
      else timer.at += timer.periodMs;
      timer.callback();
      await settle();
    }
    this.now = end;
    await settle();
  }

  /** Advance to an absolute time. */
  advanceTo(at: number): Promise<void> {
    return this.advance(at - this.now);
  }

  #add(timer: { at: number; callback: () => void; periodMs?: number }): number {
    this.#lastId += 1;
    this.#timers.set(this.#lastId, timer);
    return this.#lastId;
  }
}

/** A scheduler on a fake clock, with a state table that is a map of `nextRefreshAt` per provider. */
function given(options: Partial<LocalSchedulerOptions> & { follow?: boolean } = {}) {
  const clock = new FakeClock();
  const stored = new Map<string, number>();
  const fired: { provider: string; reason: string; at: number }[] = [];
  const reads: string[] = [];
  const scheduler = new LocalScheduler({
    fire: async (provider, reason) => {
      fired.push({ provider, reason, at: clock.now });
    },
    ...(options.follow === false
      ? {}
      : {
          readNextRefreshAt: async (provider: string) => {
            reads.push(provider);
            return stored.get(provider);
          },
        }),
    now: () => clock.now,
    timers: clock,
    ...options,
  });
  const precise = () => fired.filter((run) => run.reason === 'precise');
  return { clock, stored, fired, precise, reads, scheduler };
}

describe('Class: LocalScheduler', () => {
  it('re-arms the precise run at a nextRefreshAt that moved elsewhere (a CLI refresh), within one interval', async () => {
    // Prepare: the engine armed the run at T1; then a refresh elsewhere stored T2.
    const { clock, stored, precise, scheduler } = given();
    const t1 = START + 30_000;
    const t2 = START + 32_500;
    scheduler.startRecurring('crm', 300);
    await scheduler.scheduleAt('crm', t1);
    stored.set('crm', t1);
    await clock.advance(2_000);
    stored.set('crm', t2);

    // Act
    await clock.advance(DEFAULT_FOLLOW_INTERVAL_MS);
    const armedAt = scheduler.preciseRunOf('crm');
    await clock.advanceTo(t1 + 1_000);
    const firedByT1 = precise().length;
    await clock.advanceTo(t2 + 1_000);

    // Assess: nothing at the stale time, one run at the new one.
    expect(armedAt).toBe(t2);
    expect(firedByT1).toBe(0);
    expect(precise()).toEqual([{ provider: 'crm', reason: 'precise', at: t2 }]);
    expect(scheduler.nextRunOf('crm')).toBe(START + 300_000);
    scheduler.stop();
  });

  it('arms a precise run when none is pending, also for a time already past (due at once)', async () => {
    // Prepare
    const { clock, stored, precise, scheduler } = given();
    stored.set('crm', START - 5_000);
    stored.set('billing', START + 10_000);
    scheduler.startRecurring('crm', 60);
    scheduler.startRecurring('billing', 60);

    // Act
    await clock.advance(DEFAULT_FOLLOW_INTERVAL_MS);
    await clock.advanceTo(START + 11_000);

    // Assess
    expect(precise()).toEqual([
      { provider: 'crm', reason: 'precise', at: START + DEFAULT_FOLLOW_INTERVAL_MS },
      { provider: 'billing', reason: 'precise', at: START + 10_000 },
    ]);
    scheduler.stop();
  });

  it('does not run again for a time it already ran for (a refresh in progress elsewhere, a store that is down)', async () => {
    // Prepare: the run at T1 changes nothing in the table.
    const { clock, stored, fired, precise, scheduler } = given();
    const t1 = START + 5_000;
    stored.set('crm', t1);
    scheduler.startRecurring('crm', 60);

    // Act
    await clock.advance(30_000);

    // Assess: one precise run; the recurring one is the safety net.
    expect(precise()).toEqual([{ provider: 'crm', reason: 'precise', at: t1 }]);
    expect(fired.filter((run) => run.reason === 'schedule')).toHaveLength(1);
    expect(scheduler.preciseRunOf('crm')).toBeUndefined();
    scheduler.stop();
  });

  it('keeps the precise run when the table agrees, has no item, or cannot be read', async () => {
    // Prepare
    let failing = false;
    const { clock, stored, scheduler } = given({
      readNextRefreshAt: async (provider) => {
        if (failing) throw new Error('ECONNREFUSED');
        return stored.get(provider);
      },
    });
    scheduler.startRecurring('crm', 60);
    scheduler.startRecurring('new', 60);
    await scheduler.scheduleAt('crm', START + 20_000);
    stored.set('crm', START + 20_000);

    // Act
    await clock.advance(3_000);
    const agreed = [scheduler.preciseRunOf('crm'), scheduler.preciseRunOf('new')];
    failing = true;
    stored.set('crm', START + 40_000);
    await clock.advance(3_000);
    const whileFailing = scheduler.preciseRunOf('crm');
    failing = false;
    await clock.advance(DEFAULT_FOLLOW_INTERVAL_MS);

    // Assess
    expect(agreed).toEqual([START + 20_000, undefined]);
    expect(whileFailing).toBe(START + 20_000);
    expect(scheduler.preciseRunOf('crm')).toBe(START + 40_000);
    scheduler.stop();
  });

  it('drops a read that the refresh handler overtook by arming the run itself', async () => {
    // Prepare: a slow read that returns what the table held before the handler's refresh.
    const clock = new FakeClock();
    let release: (value: number) => void = () => {};
    const scheduler = new LocalScheduler({
      fire: async () => {},
      readNextRefreshAt: () =>
        new Promise<number>((resolve) => {
          release = resolve;
        }),
      now: () => clock.now,
      timers: clock,
    });
    scheduler.startRecurring('crm', 60);
    await clock.advance(DEFAULT_FOLLOW_INTERVAL_MS);

    // Act: the handler arms the new time, then the old read answers.
    await scheduler.scheduleAt('crm', START + 50_000);
    release(START + 20_000);
    await settle();

    // Assess
    expect(scheduler.preciseRunOf('crm')).toBe(START + 50_000);
    scheduler.stop();
  });

  it('does not run a precise run whose timer fired early; it runs at its time', async () => {
    // Prepare
    const { clock, precise, scheduler } = given({ follow: false });
    clock.fireNextTimeoutEarlyByMs = 1;

    // Act
    await scheduler.scheduleAt('crm', START + 10_000);
    await clock.advanceTo(START + 9_999);
    const early = precise().length;
    await clock.advanceTo(START + 10_000);

    // Assess
    expect(early).toBe(0);
    expect(precise()).toEqual([{ provider: 'crm', reason: 'precise', at: START + 10_000 }]);
  });

  it('waits for a run beyond the timer limit in steps instead of firing at once', async () => {
    // Prepare: a permanently failed provider is rechecked in a day; a one-year token in almost a year.
    const { clock, precise, scheduler } = given({ follow: false });
    const at = START + 300 * 86_400_000;

    // Act
    await scheduler.scheduleAt('yearly', at);
    await clock.advanceTo(at - 1);
    const before = precise().length;
    await clock.advanceTo(at);

    // Assess
    expect(Math.max(...clock.delays)).toBe(2 ** 31 - 1);
    expect(before).toBe(0);
    expect(precise()).toEqual([{ provider: 'yearly', reason: 'precise', at }]);
  });

  it('reads at the configured interval, and not at all without a reader', async () => {
    // Prepare
    const fast = given({ followIntervalMs: 250 });
    const none = given({ follow: false });
    fast.scheduler.startRecurring('crm', 60);
    none.scheduler.startRecurring('crm', 60);

    // Act
    await fast.clock.advance(1_000);
    await none.clock.advance(1_000);

    // Assess: four reads; without a reader only the recurring timer exists.
    expect(fast.reads).toEqual(['crm', 'crm', 'crm', 'crm']);
    expect(none.clock.pending).toBe(1);
    fast.scheduler.stop();
    none.scheduler.stop();
  });

  it('stops every timer: no run and no read after stop', async () => {
    // Prepare
    const { clock, stored, fired, reads, scheduler } = given();
    stored.set('crm', START + 5_000);
    scheduler.startRecurring('crm', 60);
    await scheduler.scheduleAt('crm', START + 5_000);

    // Act
    scheduler.stop();
    await clock.advance(120_000);

    // Assess: only the recurring run fired at start.
    expect(fired).toEqual([{ provider: 'crm', reason: 'schedule', at: START }]);
    expect(reads).toEqual([]);
    expect(clock.pending).toBe(0);
  });
});

describe('Function: ratePeriodSeconds', () => {
  it.each([
    ['rate(1 minute)', 60],
    ['rate(5 minutes)', 300],
    ['rate(2 hours)', 7200],
    ['rate(1 day)', 86_400],
    ['cron(0/5 * * * ? *)', undefined],
  ])('%s → %s', (expression, seconds) => {
    expect(ratePeriodSeconds(expression)).toBe(seconds);
  });
});
