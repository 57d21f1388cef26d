import { describe, expect, it } from 'vitest';
import { isRefreshStatus, REFRESH_STATUSES } from '../../../functions/core/types.js';

describe('Constant: REFRESH_STATUSES', () => {
  it('lists every status a refresh can end with, once', () => {
    expect([...REFRESH_STATUSES].sort()).toEqual([
      'failed',
      'fresh',
      'in-progress',
      'refreshed',
      'throttled',
    ]);
  });
});

describe('Function: isRefreshStatus', () => {
  it('accepts the statuses and nothing else', () => {
    expect(REFRESH_STATUSES.every(isRefreshStatus)).toBe(true);
    expect([undefined, null, 1, 'rejected', 'toString', 'constructor', ''].some(isRefreshStatus)).toBe(false);
  });
});
