import { describe, expect, it } from 'vitest';
import { parseRetryAfter as readFunctionParser } from '../../../functions/client/read-function.js';
import { MAX_RETRY_AFTER_SECONDS, parseRetryAfter } from '../../../functions/client/retry-after.js';
import { RETRY_AFTER_MAX_MS } from '../../../functions/core/timing.js';
import { parseRetryAfter as providerParser } from '../../../functions/providers/response.js';

const NOW = Date.parse('2025-06-01T12:00:00Z');

describe('Function: parseRetryAfter (the one parser)', () => {
  it('is the parser of both the provider responses and the read function answers', () => {
    expect(providerParser).toBe(parseRetryAfter);
    expect(readFunctionParser).toBe(parseRetryAfter);
  });

  it('caps delay-seconds and HTTP-dates alike, at the cap the engine applies', () => {
    expect(parseRetryAfter('86400', NOW)).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(parseRetryAfter(new Date(NOW + 86_400_000).toUTCString(), NOW)).toBe(MAX_RETRY_AFTER_SECONDS);
    expect(MAX_RETRY_AFTER_SECONDS * 1000).toBe(RETRY_AFTER_MAX_MS);
  });

  it('reads only the IMF-fixdate form of an HTTP-date, with real day and month names', () => {
    expect(parseRetryAfter('Sun, 01 Jun 2025 12:00:30 GMT', NOW)).toBe(30);
    expect(parseRetryAfter('Xyz, 01 Jun 2025 12:00:30 GMT', NOW)).toBeUndefined();
    expect(parseRetryAfter('Sunday, 01-Jun-25 12:00:30 GMT', NOW)).toBeUndefined();
  });
});
