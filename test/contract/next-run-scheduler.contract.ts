/**
 * The contract of the {@link NextRunScheduler} port (`functions/core/ports.ts`): one precise one-time
 * run per provider, created by the first `scheduleAt` and moved by every later one. Run against the
 * fake and the adapter (`next-run-scheduler.test.ts`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NextRunScheduler } from '../../functions/core/ports.js';

/** A scheduler under test, with a way to read back what it scheduled. */
export interface NextRunSchedulerHarness {
  readonly scheduler: NextRunScheduler;
  /**
   * The provider's pending one-time run: when it fires (epoch ms) and the provider it runs the
   * refresh for; `undefined` when there is none.
   */
  scheduled(provider: string): Promise<{ readonly at: number; readonly provider: string } | undefined>;
  /** Release what the harness holds (clients); called after each case. */
  close?(): Promise<void>;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

export function describeNextRunSchedulerContract(
  name: string,
  makeSubject: () => Promise<NextRunSchedulerHarness>,
): void {
  describe(`NextRunScheduler contract: ${name}`, () => {
    let harness: NextRunSchedulerHarness;
    let scheduler: NextRunScheduler;
    // In the future, so that a real scheduler accepts it; with milliseconds, which it may round.
    const t0 = Math.floor(Date.now() / MINUTE) * MINUTE + 60 * MINUTE + 200;

    beforeEach(async () => {
      harness = await makeSubject();
      scheduler = harness.scheduler;
    });

    afterEach(async () => {
      await harness.close?.();
    });

    /** The run fires no earlier than asked, and within the second after. */
    const expectRunAt = async (provider: string, at: number) => {
      const run = await harness.scheduled(provider);
      expect(run?.provider).toBe(provider);
      expect(run?.at).toBeGreaterThanOrEqual(at);
      expect(run?.at).toBeLessThan(at + SECOND);
    };

    describe('Method: scheduleAt', () => {
      it('has no run of a provider that was never scheduled', async () => {
        // Act
        const run = await harness.scheduled('acme');

        // Assess
        expect(run).toBeUndefined();
      });

      it('creates the one-time run of a provider at the time asked, never earlier', async () => {
        // Act
        await scheduler.scheduleAt('acme', t0);

        // Assess
        await expectRunAt('acme', t0);
      });

      it.each([
        ['later', 30 * MINUTE],
        ['earlier', -30 * MINUTE],
      ])('moves the one run to a %s time', async (_case, offset) => {
        // Prepare
        await scheduler.scheduleAt('acme', t0);

        // Act
        await scheduler.scheduleAt('acme', t0 + offset);

        // Assess
        await expectRunAt('acme', t0 + offset);
      });

      it('moves it as often as asked; the last call wins', async () => {
        // Act
        for (const minutes of [5, 50, 20, 35]) await scheduler.scheduleAt('acme', t0 + minutes * MINUTE);

        // Assess
        await expectRunAt('acme', t0 + 35 * MINUTE);
      });

      it('keeps providers apart', async () => {
        // Act
        await scheduler.scheduleAt('acme', t0);
        await scheduler.scheduleAt('globex', t0 + 10 * MINUTE);
        await scheduler.scheduleAt('acme', t0 + 20 * MINUTE);

        // Assess
        await expectRunAt('acme', t0 + 20 * MINUTE);
        await expectRunAt('globex', t0 + 10 * MINUTE);
      });

      it('keeps apart two providers with long names (64 characters) that share a prefix', async () => {
        // Prepare
        const first = `${'a'.repeat(63)}1`;
        const second = `${'a'.repeat(63)}2`;

        // Act
        await scheduler.scheduleAt(first, t0);
        await scheduler.scheduleAt(second, t0 + 10 * MINUTE);

        // Assess
        await expectRunAt(first, t0);
        await expectRunAt(second, t0 + 10 * MINUTE);
      });
    });
  });
}
