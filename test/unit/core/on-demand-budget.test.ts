/**
 * `onDemandRefreshesPerHour` (issue #15, finding 3): the schema's bounds, the deploy-only check, and
 * the budget's arithmetic.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, secretsManagerWriteRateProblems } from '../../../functions/core/config.js';
import { parseRefresherConfig } from '../../../functions/core/config-schema.js';
import {
  ON_DEMAND_BUDGET_WINDOW_MS,
  onDemandBudgetRetryAt,
  onDemandRefreshesInWindow,
} from '../../../functions/core/on-demand-budget.js';

const MINUTE = 60_000;
const NOW = Date.parse('2026-01-01T12:00:00Z');

const provider = (grant: 'client_credentials' | 'refresh_token', extra: Record<string, unknown> = {}) => ({
  name: grant === 'refresh_token' ? 'crm' : 'github',
  grant,
  tokenUrl: 'https://auth.example.com/token',
  ...extra,
});

function problemsOf(input: unknown): readonly string[] {
  try {
    parseRefresherConfig(input);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('Config field: onDemandRefreshesPerHour', () => {
  it('defaults to 4 for every grant: with the default schedule, within one write per 10 minutes', () => {
    // Act
    const config = parseRefresherConfig({
      providers: [provider('client_credentials'), provider('refresh_token')],
    });

    // Assess
    expect(config.providers.map((entry) => entry.onDemandRefreshesPerHour)).toEqual([4, 4]);
    expect(secretsManagerWriteRateProblems(config)).toEqual([]);
  });

  it('allows at most 6 for a grant that rotates its refresh token, naming the field and the fix', () => {
    // Act
    const problems = problemsOf({ providers: [provider('refresh_token', { onDemandRefreshesPerHour: 7 })] });

    // Assess
    expect(problems).toEqual([
      'providers[0] (crm).onDemandRefreshesPerHour: is 7; a refresh_token grant writes its rotated refresh ' +
        'token to the credentials secret at every refresh, and Secrets Manager allows about one write every ' +
        '10 minutes. Fix: set onDemandRefreshesPerHour to 6 or less',
    ]);
    expect(problemsOf({ providers: [provider('refresh_token', { onDemandRefreshesPerHour: 6 })] })).toEqual(
      [],
    );
  });

  it('bounds every grant to 1–60 and whole numbers', () => {
    // Act
    const problems = [0, 61, 2.5].map((value) =>
      problemsOf({ providers: [provider('client_credentials', { onDemandRefreshesPerHour: value })] }),
    );

    // Assess
    expect(problems[0]).toEqual([
      'providers[0] (github).onDemandRefreshesPerHour: is 0; it must be between 1 and 60 (on-demand refreshes per provider and hour)',
    ]);
    expect(problems[1]).toEqual([
      'providers[0] (github).onDemandRefreshesPerHour: is 61; it must be between 1 and 60 (on-demand refreshes per provider and hour)',
    ]);
    expect(problems[2]).toHaveLength(1);
    expect(problems[2]?.[0]).toMatch(/^providers\[0\] \(github\)\.onDemandRefreshesPerHour: /);
  });

  it('refuses more than 6 at synth time for any grant (tokens in Secrets Manager), naming the field and the fix', () => {
    // Prepare: valid for the schema (npm start, the CLI), not for a deployment.
    const config = parseRefresherConfig({
      providers: [provider('client_credentials', { onDemandRefreshesPerHour: 30 })],
    });

    // Act
    const problems = secretsManagerWriteRateProblems(config);

    // Assess
    expect(problems).toEqual([
      'providers[0] (github).onDemandRefreshesPerHour: is 30; every on-demand refresh writes the token secret, ' +
        'and Secrets Manager allows about one write every 10 minutes (6 an hour) per secret. Fix: set ' +
        "onDemandRefreshesPerHour to 6 or less (the schedule's own writes come on top).",
    ]);
  });
});

describe('Function: onDemandBudgetRetryAt', () => {
  it('allows a refresh while the last hour holds fewer than the budget', () => {
    // Act
    const retryAt = onDemandBudgetRetryAt([NOW - 10 * MINUTE, NOW - 61 * MINUTE], 2, NOW);

    // Assess: the entry older than an hour does not count.
    expect(retryAt).toBeUndefined();
  });

  it('names the time the oldest counted refresh leaves the hour', () => {
    // Act
    const retryAt = onDemandBudgetRetryAt([NOW - 5 * MINUTE, NOW - 50 * MINUTE, NOW - 20 * MINUTE], 3, NOW);

    // Assess
    expect(retryAt).toBe(NOW - 50 * MINUTE + ON_DEMAND_BUDGET_WINDOW_MS);
  });

  it('waits for enough entries to leave when the log holds more than a lowered budget', () => {
    // Act: 3 in the hour, budget now 1: two of them must leave, the second oldest last.
    const retryAt = onDemandBudgetRetryAt([NOW - 5 * MINUTE, NOW - 50 * MINUTE, NOW - 20 * MINUTE], 1, NOW);

    // Assess
    expect(retryAt).toBe(NOW - 5 * MINUTE + ON_DEMAND_BUDGET_WINDOW_MS);
    expect(onDemandRefreshesInWindow([NOW, NOW - 2 * MINUTE, NOW - 90 * MINUTE], NOW)).toEqual([
      NOW - 2 * MINUTE,
      NOW,
    ]);
  });
});
