import { beforeEach, describe, expect, it } from 'vitest';
import { CredentialsWatch, type WatchTimers } from '../../../functions/local/credentials-watch.js';

/** Interval timers the test fires by hand. */
class ManualTimers implements WatchTimers {
  readonly intervals = new Map<number, () => void>();
  #next = 0;
  setInterval(callback: () => void): unknown {
    this.#next += 1;
    this.intervals.set(this.#next, callback);
    return this.#next;
  }
  clearInterval(handle: unknown): void {
    this.intervals.delete(handle as number);
  }
}

describe('Class: CredentialsWatch', () => {
  let versions: Map<string, string>;
  let changed: string[];
  let timers: ManualTimers;
  let watch: CredentialsWatch;

  beforeEach(() => {
    versions = new Map([
      ['acme', 'v1'],
      ['globex', 'g1'],
    ]);
    changed = [];
    timers = new ManualTimers();
    watch = new CredentialsWatch({
      providers: ['acme', 'globex'],
      currentVersionId: async (provider) => {
        const version = versions.get(provider);
        if (version === undefined) throw new Error('ResourceNotFoundException');
        return version;
      },
      changed: async (provider) => {
        changed.push(provider);
      },
      timers,
    });
  });

  it('takes the versions found at start as they are, then triggers a provider once per new version', async () => {
    // Prepare
    await watch.start();

    // Act
    await watch.lookOnce();
    versions.set('acme', 'v2');
    await watch.lookOnce();
    await watch.lookOnce();
    versions.set('acme', 'v3');
    versions.set('globex', 'g2');
    await watch.lookOnce();

    // Assess
    expect(changed).toEqual(['acme', 'acme', 'globex']);
    expect(timers.intervals.size).toBe(1);
  });

  it('skips a look that fails and triggers on the next one that finds a new version', async () => {
    // Prepare
    await watch.start();
    versions.delete('acme');

    // Act
    await watch.lookOnce();
    versions.set('acme', 'v2');
    await watch.lookOnce();

    // Assess
    expect(changed).toEqual(['acme']);
  });

  it('stops looking when stopped', async () => {
    // Prepare
    await watch.start();
    watch.stop();
    versions.set('acme', 'v2');

    // Act
    await watch.lookOnce();

    // Assess
    expect(changed).toEqual([]);
    expect(timers.intervals.size).toBe(0);
  });
});
