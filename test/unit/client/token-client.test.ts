import { beforeEach, describe, expect, it, vi } from 'vitest';
import { TokenClientError } from '../../../functions/client/errors.js';
import { TokenClient } from '../../../functions/client/token-client.js';
import { deferred, FakeClock, fakeSource, HOUR, MINUTE, SECOND, T0, token } from './fakes.js';

const OLD = token('old-access-token-7f3a', T0 + HOUR);
const NEW = token('new-access-token-91c2', T0 + 2 * HOUR);

describe('Class: TokenClient', () => {
  let clock: FakeClock;
  let fake: ReturnType<typeof fakeSource>;
  let client: TokenClient;

  beforeEach(() => {
    clock = new FakeClock();
    fake = fakeSource();
    client = new TokenClient(fake.source, { clock });
  });

  describe('Method: getToken', () => {
    it('reads once and serves the cached token until expiresAt − 30 s (the default margin)', async () => {
      // Prepare
      fake.read.mockResolvedValueOnce(OLD).mockResolvedValueOnce(NEW);

      // Act
      const first = await client.getToken('github');
      clock.advance(HOUR - 30 * SECOND - 1);
      const lastCached = await client.getToken('github');
      const readsBeforeMargin = fake.read.mock.calls.length;
      clock.advance(1);
      const afterMargin = await client.getToken('github');

      // Assess
      expect(first).toStrictEqual(OLD);
      expect(lastCached).toBe(first);
      expect(readsBeforeMargin).toBe(1);
      expect(afterMargin).toStrictEqual(NEW);
      expect(fake.read).toHaveBeenCalledTimes(2);
      expect(fake.read).toHaveBeenNthCalledWith(2, 'github');
    });

    it('re-reads at expiresAt − marginMs when a margin is given', async () => {
      // Prepare
      client = new TokenClient(fake.source, { clock, marginMs: 2 * MINUTE });
      fake.read.mockResolvedValueOnce(OLD).mockResolvedValueOnce(NEW);
      await client.getToken('github');

      // Act
      clock.advance(HOUR - 2 * MINUTE - 1);
      await client.getToken('github');
      const readsBefore = fake.read.mock.calls.length;
      clock.advance(1);
      const after = await client.getToken('github');

      // Assess
      expect(readsBefore).toBe(1);
      expect(after).toStrictEqual(NEW);
      expect(fake.read).toHaveBeenCalledTimes(2);
    });

    it('makes one read for many concurrent callers (single-flight)', async () => {
      // Prepare
      const pending = deferred<typeof OLD>();
      fake.read.mockReturnValueOnce(pending.promise);

      // Act
      const calls = Array.from({ length: 100 }, () => client.getToken('github'));
      pending.resolve(OLD);
      const tokens = await Promise.all(calls);

      // Assess
      expect(fake.read).toHaveBeenCalledTimes(1);
      expect(new Set(tokens)).toStrictEqual(new Set([OLD]));
    });

    it('shares a failed read with its concurrent callers, then reads again on the next call', async () => {
      // Prepare
      const pending = deferred<typeof OLD>();
      fake.read.mockReturnValueOnce(pending.promise).mockResolvedValueOnce(OLD);
      const failure = new TokenClientError(
        'Reading token secret "x" failed (ThrottlingException)',
        'read_failed',
      );

      // Act
      const calls = Array.from({ length: 10 }, () => client.getToken('github'));
      pending.reject(failure);
      const outcomes = await Promise.allSettled(calls);
      const next = await client.getToken('github');

      // Assess
      expect(outcomes.every((o) => o.status === 'rejected' && o.reason === failure)).toBe(true);
      expect(next).toStrictEqual(OLD);
      expect(fake.read).toHaveBeenCalledTimes(2);
    });

    it('falls back to the cached token when a read fails while it is still valid, re-asking at most every 5 s', async () => {
      // Prepare
      fake.read
        .mockResolvedValueOnce(OLD)
        .mockRejectedValue(new TokenClientError('Reading token secret failed', 'read_failed'));
      await client.getToken('github');
      clock.advance(HOUR - 20 * SECOND); // inside the margin: a read is due

      // Act
      const fallback = await client.getToken('github');
      clock.advance(4 * SECOND);
      const stillCached = await client.getToken('github');
      const readsWithin5s = fake.read.mock.calls.length;
      clock.advance(SECOND);
      const afterRecheck = await client.getToken('github');

      // Assess
      expect(fallback).toBe(OLD);
      expect(stillCached).toBe(OLD);
      expect(readsWithin5s).toBe(2);
      expect(afterRecheck).toBe(OLD);
      expect(fake.read).toHaveBeenCalledTimes(3);
    });

    it('throws the read error, not the cached token, once the cached token has expired', async () => {
      // Prepare
      const failure = new TokenClientError('Reading token secret failed', 'read_failed');
      fake.read.mockResolvedValueOnce(OLD).mockRejectedValue(failure);
      await client.getToken('github');
      clock.advance(HOUR);

      // Act
      const reading = client.getToken('github');

      // Assess
      await expect(reading).rejects.toBe(failure);
    });

    it.each([
      ['expired a minute ago', T0 - MINUTE],
      ['expiring exactly now', T0],
    ])('never returns a token %s: token_expired', async (_case, expiresAtMs) => {
      // Prepare
      fake.read.mockResolvedValue(token('stale-access-token-0000', expiresAtMs));

      // Act
      const reading = client.getToken('github');

      // Assess
      await expect(reading).rejects.toMatchObject({ name: 'TokenClientError', code: 'token_expired' });
      await expect(reading).rejects.not.toHaveProperty('message', expect.stringContaining('stale-access'));
    });

    it('serves a token read inside its last margin, and reads again after 5 s rather than on every call', async () => {
      // Prepare: the refresher is late, the stored token has 20 s left
      const late = token('late-access-token-5555', T0 + 20 * SECOND);
      fake.read.mockResolvedValue(late);

      // Act
      const first = await client.getToken('github');
      clock.advance(4 * SECOND);
      await client.getToken('github');
      const readsWithin5s = fake.read.mock.calls.length;
      clock.advance(SECOND);
      await client.getToken('github');

      // Assess
      expect(first).toBe(late);
      expect(readsWithin5s).toBe(1);
      expect(fake.read).toHaveBeenCalledTimes(2);
    });

    it('caches each provider separately', async () => {
      // Prepare
      const crm = token('crm-access-token-1234', T0 + HOUR, 'crm');
      fake.read.mockImplementation(async (provider) => (provider === 'crm' ? crm : OLD));

      // Act
      const results = [
        await client.getToken('github'),
        await client.getToken('crm'),
        await client.getToken('github'),
        await client.getToken('crm'),
      ];

      // Assess
      expect(results).toStrictEqual([OLD, crm, OLD, crm]);
      expect(fake.read.mock.calls).toStrictEqual([['github'], ['crm']]);
    });

    it.each([
      ['an upper-case name', 'GitHub'],
      ['a path', '../other'],
      ['an empty name', ''],
    ])('rejects %s with invalid_provider_name without reading', async (_case, provider) => {
      // Act
      const reading = client.getToken(provider);

      // Assess
      await expect(reading).rejects.toMatchObject({ code: 'invalid_provider_name' });
      expect(fake.read).not.toHaveBeenCalled();
    });

    it('wraps an unexpected error of the source as read_failed, keeping it as a non-enumerable cause', async () => {
      // Prepare
      const bug = new TypeError('boom');
      fake.read.mockRejectedValue(bug);

      // Act
      const error = await client.getToken('github').catch((e: unknown) => e);

      // Assess
      expect(error).toBeInstanceOf(TokenClientError);
      expect(error).toMatchObject({ code: 'read_failed', cause: bug });
      expect(Object.keys(error as object)).not.toContain('cause');
    });
  });

  describe('Constructor', () => {
    it.each([[-1], [Number.NaN], [Number.POSITIVE_INFINITY]])(
      'refuses marginMs %s with invalid_options',
      (marginMs) => {
        // Act
        const build = () => new TokenClient(fake.source, { marginMs });

        // Assess
        expect(build).toThrow(expect.objectContaining({ code: 'invalid_options' }));
      },
    );
  });

  describe('Method: withToken', () => {
    beforeEach(() => {
      fake.read.mockResolvedValue(OLD);
    });

    it('returns the result of fn, called once with the token, when it is not a 401', async () => {
      // Prepare
      const fn = vi.fn(async () => ({ status: 200 }));

      // Act
      const result = await client.withToken('github', fn);

      // Assess
      expect(result).toStrictEqual({ status: 200 });
      expect(fn).toHaveBeenCalledExactlyOnceWith(OLD);
      expect(fake.replaceRejected).not.toHaveBeenCalled();
    });

    it('on a 401 asks the source to replace the refused token and retries once with the new one', async () => {
      // Prepare
      fake.replaceRejected.mockResolvedValue(NEW);
      const fn = vi.fn(async (t: typeof OLD) => ({ status: t.accessToken === NEW.accessToken ? 200 : 401 }));

      // Act
      const result = await client.withToken('github', fn);
      const cachedAfter = await client.getToken('github');

      // Assess
      expect(result).toStrictEqual({ status: 200 });
      expect(fn.mock.calls).toStrictEqual([[OLD], [NEW]]);
      expect(fake.replaceRejected).toHaveBeenCalledExactlyOnceWith('github', OLD);
      expect(cachedAfter).toStrictEqual(NEW);
      expect(fake.read).toHaveBeenCalledTimes(1);
    });

    it('returns a second 401 to the caller instead of retrying again', async () => {
      // Prepare
      fake.replaceRejected.mockResolvedValue(NEW);
      const fn = vi.fn(async (t: typeof OLD) => ({ status: 401, token: t.accessToken }));

      // Act
      const result = await client.withToken('github', fn);

      // Assess
      expect(result).toStrictEqual({ status: 401, token: NEW.accessToken });
      expect(fn).toHaveBeenCalledTimes(2);
      expect(fake.replaceRejected).toHaveBeenCalledTimes(1);
    });

    it('returns the first 401 without a retry when no newer token exists', async () => {
      // Prepare: Secrets Manager read again still holds the refused token
      fake.replaceRejected.mockResolvedValue(OLD);
      const fn = vi.fn(async () => ({ status: 401 }));

      // Act
      const result = await client.withToken('github', fn);

      // Assess
      expect(result).toStrictEqual({ status: 401 });
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('does not retry when fn throws', async () => {
      // Prepare
      const failure = new Error('socket hang up');
      const fn = vi.fn(async () => {
        throw failure;
      });

      // Act
      const calling = client.withToken('github', fn);

      // Assess
      await expect(calling).rejects.toBe(failure);
      expect(fn).toHaveBeenCalledTimes(1);
      expect(fake.replaceRejected).not.toHaveBeenCalled();
    });

    it('uses isUnauthorized to recognise a refusal', async () => {
      // Prepare
      fake.replaceRejected.mockResolvedValue(NEW);
      const fn = vi.fn(async (t: typeof OLD) => ({ statusCode: t === NEW ? 200 : 401 }));

      // Act
      const result = await client.withToken('github', fn, {
        isUnauthorized: (r) => r.statusCode === 401,
      });

      // Assess
      expect(result).toStrictEqual({ statusCode: 200 });
      expect(fn).toHaveBeenCalledTimes(2);
    });

    it('makes one replacement request when many callers see the same token refused at once', async () => {
      // Prepare
      const pending = deferred<typeof NEW>();
      fake.replaceRejected.mockReturnValueOnce(pending.promise);
      const fn = vi.fn(async (t: typeof OLD) => ({ status: t.accessToken === NEW.accessToken ? 200 : 401 }));
      await client.getToken('github');

      // Act
      const calls = Array.from({ length: 20 }, () => client.withToken('github', fn));
      await vi.waitFor(() => expect(fake.replaceRejected).toHaveBeenCalled());
      pending.resolve(NEW);
      const results = await Promise.all(calls);
      const late = await client.withToken('github', fn);

      // Assess
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(late).toStrictEqual({ status: 200 });
      expect(fake.replaceRejected).toHaveBeenCalledTimes(1);
    });

    it('throws the source error (with retryAfterSeconds) when the replacement is refused', async () => {
      // Prepare
      const limited = new TokenClientError('rate-limited', 'refresh_rate_limited', {
        status: 429,
        retryAfterSeconds: 42,
      });
      fake.replaceRejected.mockRejectedValue(limited);
      const fn = vi.fn(async () => ({ status: 401 }));

      // Act
      const calling = client.withToken('github', fn);

      // Assess
      await expect(calling).rejects.toBe(limited);
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('releases the body of a refused fetch Response before retrying', async () => {
      // Prepare
      fake.replaceRejected.mockResolvedValue(NEW);
      const refused = new Response('{"error":"invalid_token"}', { status: 401 });
      const accepted = new Response('ok', { status: 200 });
      const fn = vi.fn(async (t: typeof OLD) => (t === NEW ? accepted : refused));

      // Act
      const result = await client.withToken('github', fn);

      // Assess
      expect(result).toBe(accepted);
      expect(refused.bodyUsed).toBe(true);
      expect(accepted.bodyUsed).toBe(false);
    });
  });
});
