/**
 * The local stand-in for EventBridge Scheduler: one recurring timer per provider (its `schedule`),
 * plus the precise one-time runs the engine asks for ({@link NextRunScheduler}). Each firing calls the
 * refresh handler as the deployed schedule would, with `{ "provider": "<name>" }`.
 */
import type { NextRunScheduler } from '../core/ports.js';

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const UNIT_SECONDS: Record<string, number> = { minute: 60, hour: 3600, day: 86_400 };

/** The period of a `rate(...)` expression in seconds; `undefined` for `cron(...)`. */
export function ratePeriodSeconds(expression: string): number | undefined {
  const match = RATE.exec(expression);
  if (match === null) return undefined;
  const unit = (match[2] ?? 'minute').replace(/s$/, '');
  return Number(match[1]) * (UNIT_SECONDS[unit] ?? 60);
}

export interface LocalSchedulerOptions {
  /** Runs one refresh of one provider (the refresh handler with a Scheduler-shaped event). */
  readonly fire: (provider: string, reason: 'schedule' | 'precise') => Promise<void>;
  /** Epoch ms now; injected for tests. */
  readonly now?: () => number;
}

export class LocalScheduler implements NextRunScheduler {
  readonly #options: LocalSchedulerOptions;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #precise = new Map<string, { readonly timer: NodeJS.Timeout; readonly at: number }>();
  readonly #nextRecurring = new Map<string, number>();
  #stopped = false;

  constructor(options: LocalSchedulerOptions) {
    this.#options = options;
  }

  /** Fire now, then every `periodSeconds`. */
  startRecurring(provider: string, periodSeconds: number): void {
    const fire = () => {
      if (this.#stopped) return;
      this.#nextRecurring.set(provider, this.#now() + periodSeconds * 1000);
      void this.#options.fire(provider, 'schedule');
    };
    const timer = setInterval(fire, periodSeconds * 1000);
    this.#timers.add(timer);
    fire();
  }

  /** The precise one-time run: replaces the provider's previous one, as `next-<provider>` does. */
  async scheduleAt(provider: string, at: number): Promise<void> {
    if (this.#stopped) return;
    const previous = this.#precise.get(provider);
    if (previous !== undefined) clearTimeout(previous.timer);
    const timer = setTimeout(
      () => {
        this.#precise.delete(provider);
        if (!this.#stopped) void this.#options.fire(provider, 'precise');
      },
      Math.max(0, at - this.#now()),
    );
    this.#precise.set(provider, { timer, at });
  }

  /** When the provider's next run (recurring or precise) is due, as far as this scheduler knows. */
  nextRunOf(provider: string): number | undefined {
    const runs = [this.#nextRecurring.get(provider), this.#precise.get(provider)?.at].filter(
      (at): at is number => at !== undefined,
    );
    return runs.length === 0 ? undefined : Math.min(...runs);
  }

  stop(): void {
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    for (const { timer } of this.#precise.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#precise.clear();
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}
