/**
 * Replace the global `Date` by one that reads a simulated clock: `Date.now()` and `new Date()`
 * (without arguments) give the simulated time; every other use of `Date` is unchanged.
 *
 * Why not fake timers: Powertools parameters takes no clock. Its cache entry is stamped with
 * `new Date()` and checked against `Date.now()`, so both must move with the simulation; timers must
 * not (the SDK's HTTP timeouts and moto's answers run on real time). `@sinonjs/fake-timers` is only a
 * transitive dependency here, so a dozen lines are preferred over importing it.
 *
 * @returns a function that puts the real `Date` back.
 */
export function installSimulatedDate(now: () => number): () => void {
  const RealDate = globalThis.Date;
  class SimulatedDate extends RealDate {
    constructor(...args: unknown[]) {
      if (args.length === 0) super(now());
      else super(...(args as [string | number]));
    }

    static override now(): number {
      return now();
    }
  }
  globalThis.Date = SimulatedDate as DateConstructor;
  return () => {
    globalThis.Date = RealDate;
  };
}
