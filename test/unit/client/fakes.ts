/**
 * Fakes for the client's unit tests: a clock moved by hand, tokens, and a source whose answers are
 * scripted per call.
 */
import { vi } from 'vitest';
import type { ClientToken } from '../../../functions/client/token.js';
import type { TokenSource } from '../../../functions/client/token-client.js';

export const T0 = Date.parse('2030-01-01T00:00:00.000Z');
export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

export class FakeClock {
  constructor(public current = T0) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

export function token(accessToken: string, expiresAtMs: number, provider = 'github'): ClientToken {
  return Object.freeze({
    provider,
    accessToken,
    tokenType: 'Bearer',
    expiresAt: new Date(expiresAtMs).toISOString(),
  });
}

/** A source whose `read` and `replaceRejected` are spies; script them with `mockResolvedValueOnce`. */
export function fakeSource() {
  const read = vi.fn<TokenSource['read']>();
  const replaceRejected = vi.fn<TokenSource['replaceRejected']>();
  const source: TokenSource = { read, replaceRejected };
  return { source, read, replaceRejected };
}

/** A promise resolved from outside, to hold a read in flight. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
