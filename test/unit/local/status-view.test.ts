import { describe, expect, it, vi } from 'vitest';
import { LocalScheduler, ratePeriodSeconds } from '../../../functions/local/scheduler.js';
import { renderStatus, StatusView, stateLabel } from '../../../functions/local/status-view.js';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const base = { provider: 'p', fence: 3, consecutiveFailures: 0 };

describe('Function: renderStatus', () => {
  it('shows state, expiry, last refresh, generation, failures, next run and last error per provider', () => {
    // Act
    const lines = renderStatus(
      [
        {
          provider: 'ok-one',
          state: { ...base, lastSuccessAt: NOW - 65_000, tokenExpiresAt: NOW + 3_250_000 },
          nextRunAt: NOW + 30_000,
        },
        {
          provider: 'broken',
          state: {
            ...base,
            lastErrorCode: 'invalid_grant',
            lastErrorPermanent: true,
            consecutiveFailures: 2,
            tokenExpiresAt: NOW - 120_000,
          },
          nextRunAt: undefined,
        },
        { provider: 'new', state: undefined, nextRunAt: NOW },
      ],
      NOW,
    );

    // Assess
    expect(lines[0]).toMatch(
      /^provider\s+state\s+expires in\s+last refresh\s+generation\s+failures\s+next run\s+last error$/,
    );
    expect(lines[1]?.split(/\s{2,}/)).toEqual([
      'ok-one',
      'ok',
      '54m 10s',
      '1m 5s ago',
      '3',
      '0',
      'in 30s',
      '-',
    ]);
    expect(lines[2]?.split(/\s{2,}/)).toEqual([
      'broken',
      'needs attention',
      'expired 2m 0s ago',
      'never',
      '-',
      '2',
      '-',
      'invalid_grant',
    ]);
    expect(lines[3]?.split(/\s{2,}/)).toEqual(['new', 'waiting', '-', 'never', '-', '0', 'now', '-']);
  });

  it.each([
    [{ ...base, leaseOwner: 'x', leaseExpiresAt: NOW + 1 }, 'refreshing'],
    [
      { ...base, leaseOwner: 'x', leaseExpiresAt: NOW - 1, lastSuccessAt: NOW - 1, tokenExpiresAt: NOW + 1 },
      'ok',
    ],
    [{ ...base, consecutiveFailures: 1, lastErrorCode: 'http_503' }, 'failing'],
    [{ ...base, lastSuccessAt: NOW - 10, tokenExpiresAt: NOW }, 'expired'],
  ])('labels %j as %s', (state, label) => {
    expect(stateLabel(state, NOW)).toBe(label);
  });
});

describe('Class: StatusView', () => {
  it('prints one line per event without a TTY and never redraws', () => {
    const written: string[] = [];
    const view = new StatusView({
      out: { write: (text: string) => written.push(text) } as never,
      tty: false,
      now: () => NOW,
    });
    view.event('p: refreshed');
    view.draw([{ provider: 'p', state: undefined, nextRunAt: undefined }]);
    expect(written).toEqual(['12:00:00  p: refreshed\n']);
  });

  it('redraws in place on a TTY (cursor up over the previous drawing)', () => {
    const written: string[] = [];
    const view = new StatusView({
      out: { write: (text: string) => written.push(text) } as never,
      tty: true,
      now: () => NOW,
    });
    view.draw([{ provider: 'p', state: undefined, nextRunAt: undefined }]);
    view.event('p: refreshed');
    view.draw([{ provider: 'p', state: undefined, nextRunAt: undefined }]);
    expect(written[0]?.startsWith('\u001b[')).toBe(false);
    expect(written[1]?.startsWith('\u001b[4A\u001b[0J')).toBe(true);
    expect(written[1]).toContain('12:00:00  p: refreshed');
  });
});

describe('Class: LocalScheduler', () => {
  it('reads rate expressions and leaves cron to the caller', () => {
    expect(
      ['rate(1 minute)', 'rate(5 minutes)', 'rate(2 hours)', 'rate(1 day)', 'cron(0/5 * * * ? *)'].map(
        ratePeriodSeconds,
      ),
    ).toEqual([60, 300, 7200, 86_400, undefined]);
  });

  it('fires at once and then every period, and fires a precise run once, replacing the previous one', async () => {
    vi.useFakeTimers({ now: NOW });
    try {
      const fired: string[] = [];
      const scheduler = new LocalScheduler({
        fire: async (provider, reason) => void fired.push(`${provider}:${reason}`),
      });
      scheduler.startRecurring('a', 60);
      await scheduler.scheduleAt('a', NOW + 10_000);
      await scheduler.scheduleAt('a', NOW + 20_000);
      expect(scheduler.nextRunOf('a')).toBe(NOW + 20_000);
      await vi.advanceTimersByTimeAsync(61_000);
      scheduler.stop();
      await vi.advanceTimersByTimeAsync(120_000);
      expect(fired).toEqual(['a:schedule', 'a:precise', 'a:schedule']);
    } finally {
      vi.useRealTimers();
    }
  });
});
