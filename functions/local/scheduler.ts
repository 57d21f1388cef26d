/**
 * The local stand-in for EventBridge Scheduler: one recurring timer per provider (its `schedule`),
 * plus the precise one-time runs the engine asks for ({@link NextRunScheduler}). Each firing calls the
 * refresh handler as the deployed schedule would, with `{ "provider": "<name>" }`.
 *
 * It also follows the state table: a refresh that ran elsewhere (the CLI's `refresh` builds its own
 * handler, without this scheduler) moves the provider's `nextRefreshAt`, and a precise run left at
 * the old time would find the token not due and leave it to lapse until the next recurring tick. So
 * every {@link DEFAULT_FOLLOW_INTERVAL_MS} the scheduler reads each provider's `nextRefreshAt` and,
 * when it differs from the time the precise run was last armed for, re-arms it there.
 */
import type { NextRunScheduler } from '../core/ports.js';

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_SECONDS: Record<string, number> = { minute: 60, hour: 3600, day: 86_400 };

/** How often the state table is read for moved refresh times. */
export const DEFAULT_FOLLOW_INTERVAL_MS = 1_000;

/** Longest delay a Node.js timer takes; a longer one fires at once (TimeoutOverflowWarning). */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The period of a `rate(...)` expression in seconds; `undefined` for `cron(...)`. */
export function ratePeriodSeconds(expression: string): number | undefined {
  const match = RATE.exec(expression);
  if (match === null) return undefined;
  const unit = (match[2] ?? 'minute').replace(/s$/, '');
  return Number(match[1]) * (UNIT_SECONDS[unit] ?? 60);
}

/** The timer functions the scheduler uses; injected for tests (a fake clock). */
export interface SchedulerTimers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const SYSTEM_TIMERS: SchedulerTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export interface LocalSchedulerOptions {
  /** Runs one refresh of one provider (the refresh handler with a Scheduler-shaped event). */
  readonly fire: (provider: string, reason: 'schedule' | 'precise') => Promise<void>;
  /**
   * The provider's stored `nextRefreshAt` (epoch ms; `undefined` without a state item): the state
   * table's, e.g. `DynamoDbStateTable.read`. Without it the scheduler does not follow the table.
   */
  readonly readNextRefreshAt?: (provider: string) => Promise<number | undefined>;
  /** How often to read it. Default {@link DEFAULT_FOLLOW_INTERVAL_MS}. */
  readonly followIntervalMs?: number;
  /** Epoch ms now; injected for tests. */
  readonly now?: () => number;
  /** Timers; injected for tests. Default the global ones. */
  readonly timers?: SchedulerTimers;
}

export class LocalScheduler implements NextRunScheduler {
  readonly #options: LocalSchedulerOptions;
  readonly #timers: SchedulerTimers;
  readonly #recurring = new Set<unknown>();
  readonly #precise = new Map<string, { readonly timer: unknown; readonly at: number }>();
  /** The time each provider's precise run was last armed for, kept after it fired. */
  readonly #armedFor = new Map<string, number>();
  /** Counts the arms per provider, so a read that an arm overtook is dropped (it may predate it). */
  readonly #arms = new Map<string, number>();
  readonly #nextRecurring = new Map<string, number>();
  /** The providers whose `nextRefreshAt` is followed (those with a recurring schedule). */
  readonly #followed = new Set<string>();
  #followTimer: unknown;
  #following = false;
  #stopped = false;

  constructor(options: LocalSchedulerOptions) {
    this.#options = options;
    this.#timers = options.timers ?? SYSTEM_TIMERS;
  }

  /** Fire now, then every `periodSeconds`; and follow the provider's `nextRefreshAt`. */
  startRecurring(provider: string, periodSeconds: number): void {
    const fire = () => {
      if (this.#stopped) return;
      this.#nextRecurring.set(provider, this.#now() + periodSeconds * 1000);
      void this.#options.fire(provider, 'schedule');
    };
    this.#recurring.add(this.#timers.setInterval(fire, periodSeconds * 1000));
    this.#follow(provider);
    fire();
  }

  /** The precise one-time run: replaces the provider's previous one, as `next-<provider>` does. */
  async scheduleAt(provider: string, at: number): Promise<void> {
    this.#arm(provider, at);
  }

  /** When the provider's next run (recurring or precise) is due, as far as this scheduler knows. */
  nextRunOf(provider: string): number | undefined {
    const runs = [this.#nextRecurring.get(provider), this.#precise.get(provider)?.at].filter(
      (at): at is number => at !== undefined,
    );
    return runs.length === 0 ? undefined : Math.min(...runs);
  }

  /** When the provider's pending precise run is due; `undefined` when none is pending. */
  preciseRunOf(provider: string): number | undefined {
    return this.#precise.get(provider)?.at;
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#recurring) this.#timers.clearInterval(timer);
    for (const { timer } of this.#precise.values()) this.#timers.clearTimeout(timer);
    if (this.#followTimer !== undefined) this.#timers.clearInterval(this.#followTimer);
    this.#recurring.clear();
    this.#precise.clear();
  }

  #arm(provider: string, at: number): void {
    if (this.#stopped) return;
    const previous = this.#precise.get(provider);
    if (previous !== undefined) this.#timers.clearTimeout(previous.timer);
    this.#armedFor.set(provider, at);
    this.#arms.set(provider, (this.#arms.get(provider) ?? 0) + 1);
    const timer = this.#timers.setTimeout(
      () => {
        if (this.#stopped) return;
        // A timer may fire a little early (Node's by up to 1 ms) or, for a delay beyond the timer
        // limit, in steps: wait out the rest instead of running a refresh that is not due yet.
        if (this.#now() < at) {
          this.#arm(provider, at);
          return;
        }
        this.#precise.delete(provider);
        void this.#options.fire(provider, 'precise');
      },
      Math.min(Math.max(0, at - this.#now()), MAX_TIMER_DELAY_MS),
    );
    this.#precise.set(provider, { timer, at });
  }

  #follow(provider: string): void {
    if (this.#options.readNextRefreshAt === undefined) return;
    this.#followed.add(provider);
    this.#followTimer ??= this.#timers.setInterval(
      () => void this.#followOnce(),
      this.#options.followIntervalMs ?? DEFAULT_FOLLOW_INTERVAL_MS,
    );
  }

  /**
   * Re-arm each followed provider's precise run at its stored `nextRefreshAt` when that differs from
   * the time it was last armed for. A time it was already armed for is not armed again after the run
   * fired: that run found the state as it is (a refresh in progress elsewhere, an unreachable store),
   * and repeating it every interval would only hammer the table; the recurring schedule stays the
   * safety net, as on AWS.
   */
  async #followOnce(): Promise<void> {
    const read = this.#options.readNextRefreshAt;
    if (read === undefined || this.#following || this.#stopped) return;
    this.#following = true;
    try {
      await Promise.all(
        [...this.#followed].map(async (provider) => {
          const arms = this.#arms.get(provider);
          let next: number | undefined;
          try {
            next = await read(provider);
          } catch {
            return; // the emulator is busy or stopping: the next interval reads again
          }
          // The refresh handler armed the run while we read: our value may be older than its.
          if (this.#arms.get(provider) !== arms) return;
          if (next !== undefined && next !== this.#armedFor.get(provider)) this.#arm(provider, next);
        }),
      );
    } finally {
      this.#following = false;
    }
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}
