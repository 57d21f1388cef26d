/**
 * The first token read of a container, started before the caller is authorized
 * ({@link TokenReader.prefetch}): a cold read function checks the caller's proof with STS and reads
 * the token store at the same time, so its first answer waits for one round trip instead of two.
 * Nothing is served from a prefetch; it only fills the cache, and the token is served once the
 * caller is authorized. Once per provider per container, so requests that are never authorized
 * cannot turn into store reads.
 */
export class Prefetches {
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #started = new Set<string>();

  /** Run `read` for `provider` if this container never did; its failure is dropped. */
  start(provider: string, read: () => Promise<void>): void {
    if (this.#started.has(provider)) return;
    this.#started.add(provider);
    const done = read()
      .catch(() => undefined)
      .finally(() => this.#inFlight.delete(provider));
    this.#inFlight.set(provider, done);
  }

  /** The provider's running prefetch, which never rejects; `undefined` when none runs. */
  running(provider: string): Promise<void> | undefined {
    return this.#inFlight.get(provider);
  }
}
