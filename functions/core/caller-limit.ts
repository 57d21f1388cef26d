/**
 * The per-caller limit of the read path (docs/read-function.md, "On-demand refresh"): one caller
 * (an authorized role) may make a read function instance invoke the refresh function for its reports
 * at most half the provider's `onDemandRefreshesPerHour` (rounded up) per hour, so that one consumer
 * cannot spend the whole budget and leave other consumers' refused tokens throttled.
 *
 * The count lives in the instance's memory: a caller whose reports reach several instances gets that
 * share from each. The provider's budget (in the state table, enforced by the engine) is the bound
 * that holds across instances; this limit only keeps it fair within one.
 */

/** The window of the per-caller count. */
export const CALLER_WINDOW_MS = 3_600_000;
/** Callers remembered per instance; the least recently added is forgotten beyond this. */
export const MAX_TRACKED_CALLERS = 10_000;
/** The key of requests that name no caller (a trusted direct Invoke). */
export const UNIDENTIFIED_CALLER = '(unidentified)';

/** A caller's share of a provider's budget of `perHour` on-demand refreshes. */
export function callerShare(perHour: number): number {
  return Math.max(1, Math.ceil(perHour / 2));
}

/** Per-instance counts of refresh invocations per caller and provider. */
export class CallerLimiter {
  readonly #log = new Map<string, number[]>();

  /** When `caller` may cause the next invocation for `provider`: `undefined` if it may now. */
  refusedUntil(
    provider: string,
    caller: string | undefined,
    perHour: number,
    now: number,
  ): number | undefined {
    const recent = (this.#log.get(keyOf(provider, caller)) ?? []).filter((at) => at > now - CALLER_WINDOW_MS);
    const share = callerShare(perHour);
    return recent.length < share ? undefined : (recent[recent.length - share] ?? now) + CALLER_WINDOW_MS;
  }

  /**
   * Count one invocation for `caller` and `provider` if the caller's share allows it.
   * @returns `undefined` when counted, else when the caller may cause the next one (epoch ms).
   */
  take(provider: string, caller: string | undefined, perHour: number, now: number): number | undefined {
    const refused = this.refusedUntil(provider, caller, perHour, now);
    if (refused !== undefined) return refused;
    const key = keyOf(provider, caller);
    const recent = (this.#log.get(key) ?? []).filter((at) => at > now - CALLER_WINDOW_MS);
    this.#log.delete(key); // re-inserted last: the map's order is the order of last use
    this.#log.set(key, [...recent, now]);
    if (this.#log.size > MAX_TRACKED_CALLERS) {
      const oldest = this.#log.keys().next().value;
      if (oldest !== undefined) this.#log.delete(oldest);
    }
    return undefined;
  }
}

function keyOf(provider: string, caller: string | undefined): string {
  return `${provider}\n${caller ?? UNIDENTIFIED_CALLER}`;
}
