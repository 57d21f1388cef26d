/**
 * Issue 17: a cold read function reads the token while STS checks the caller's proof, and serves it
 * only once the caller is authorized; the read happens once per provider per container, so callers
 * that are never authorized cannot turn their requests into store reads.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { AccessPolicy } from '../../../functions/core/access.js';
import type { TokenStore } from '../../../functions/core/ports.js';
import { TokenReader } from '../../../functions/core/read.js';
import { createReadHandler, type ReadHandler, type UrlResponse } from '../../../functions/read/app.js';
import type { Identification } from '../../../functions/read/caller-identity.js';
import type { CallerProofs } from '../../../functions/read/identify.js';
import { FakeClock, RecordingLogger } from '../core/fakes.js';

const ALLOWED = 'arn:aws:sts::123456789012:assumed-role/consumer-a/session-a';
const OTHER = 'arn:aws:sts::123456789012:assumed-role/consumer-b/session-b';
const TOKEN = 'prefetched-access-token-7c1e';

/** A promise settled from outside. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** Proofs whose STS answers the test releases; each proof names its caller ARN. */
class GatedProofs implements CallerProofs {
  readonly pending: { proof: string; answer: (identification: Identification) => void }[] = [];
  identify(proof: string): Promise<Identification> {
    const { promise, resolve } = deferred<Identification>();
    this.pending.push({ proof, answer: resolve });
    return promise;
  }
  /** Answer every pending proof as STS would for an honest caller: the proof is the caller's ARN. */
  answerAll(): void {
    for (const { proof, answer } of this.pending.splice(0))
      answer({ ok: true, callerArn: proof, fromCache: false });
  }
}

function urlEvent(provider: string, proof: string): Record<string, unknown> {
  return {
    version: '2.0',
    rawPath: `/tokens/${provider}`,
    rawQueryString: '',
    headers: { 'x-token-refresher-proof': proof },
    isBase64Encoded: false,
    requestContext: { http: { method: 'GET', path: `/tokens/${provider}` } },
  };
}

describe('Read function: the token read overlaps the caller check (issue 17)', () => {
  let clock: FakeClock;
  let reads: string[];
  let refreshes: number;
  let readFails: boolean;
  let proofs: GatedProofs;
  let handler: ReadHandler;
  let logger: RecordingLogger;

  beforeEach(() => {
    clock = new FakeClock();
    reads = [];
    refreshes = 0;
    readFails = false;
    proofs = new GatedProofs();
    logger = new RecordingLogger();
    const tokens: TokenStore = {
      readCurrent: async (provider) => {
        reads.push(provider);
        if (readFails) throw new Error('store down');
        return {
          versionId: 'v1',
          token: {
            provider,
            accessToken: TOKEN,
            tokenType: 'Bearer',
            issuedAt: new Date(clock.now()).toISOString(),
            expiresAt: new Date(clock.now() + 3_600_000).toISOString(),
            generation: 1,
          },
        };
      },
      write: async () => {
        throw new Error('the read function never writes');
      },
    };
    const reader = new TokenReader({
      tokens,
      trigger: {
        refresh: async () => {
          refreshes += 1;
          throw new Error('no refresh expected');
        },
      },
      clock,
      logger,
      sleep: async (ms) => clock.advance(ms),
    });
    handler = createReadHandler({
      reader,
      policy: new AccessPolicy(new Map([['alpha', ['arn:aws:iam::123456789012:role/consumer-a']]])),
      providers: new Set(['alpha']),
      proofs,
      logger,
      clock,
    });
  });

  /** Let pending promise callbacks run. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('reads the token before STS has answered, and serves it only once the caller is authorized', async () => {
    // Act
    const answer = handler(urlEvent('alpha', ALLOWED));
    await settle();

    // Assess: the store was read while the proof was still with STS; nothing was answered yet.
    expect(proofs.pending).toHaveLength(1);
    expect(reads).toEqual(['alpha']);
    let answered = false;
    void answer.then(() => {
      answered = true;
    });
    await settle();
    expect(answered).toBe(false);

    proofs.answerAll();
    const response = (await answer) as UrlResponse;
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body).accessToken).toBe(TOKEN);
    // One read in all: the request was served from what the early read cached.
    expect(reads).toEqual(['alpha']);
  });

  it('never serves the early read to a caller who is not allowed, and reads once per container whatever they send', async () => {
    // Act: a caller of another role, then unknown providers, then the same caller again.
    const first = handler(urlEvent('alpha', OTHER));
    await settle();
    proofs.answerAll();
    const denied = (await first) as UrlResponse;
    const unknown = handler(urlEvent('gamma', OTHER));
    await settle();
    proofs.answerAll();
    await unknown;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const again = handler(urlEvent('alpha', OTHER));
      await settle();
      proofs.answerAll();
      expect(((await again) as UrlResponse).statusCode).toBe(403);
    }

    // Assess
    expect(denied.statusCode).toBe(403);
    expect(denied.body).not.toContain(TOKEN);
    // The first request's early read, and none for the other six: not for an unconfigured provider,
    // and not again for a provider this container has read once.
    expect(reads).toEqual(['alpha']);
    expect(refreshes).toBe(0);
  });

  it('does not read again for callers who are not allowed when nothing could be cached (a failed read)', async () => {
    // Arrange: the store fails, so the early read leaves nothing in the cache.
    readFails = true;

    // Act
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const answer = handler(urlEvent('alpha', OTHER));
      await settle();
      proofs.answerAll();
      expect(((await answer) as UrlResponse).statusCode).toBe(403);
    }

    // Assess: one early read in the container's life, however often it is asked.
    expect(reads).toEqual(['alpha']);
  });

  it('drops a failed early read silently, and the request reads again and answers as before', async () => {
    // Arrange
    readFails = true;

    // Act
    const answer = handler(urlEvent('alpha', ALLOWED));
    await settle();
    proofs.answerAll();
    const response = (await answer) as UrlResponse;

    // Assess: the early read and the request's own read; one error line, from the request's read.
    expect(reads).toEqual(['alpha', 'alpha']);
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body).code).toBe('store_unavailable');
    expect(logger.lines.filter((entry) => entry.message === 'Could not read the token secret')).toHaveLength(
      1,
    );
    expect(refreshes).toBe(0);
  });
});
