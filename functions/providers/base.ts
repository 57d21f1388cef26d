/** What every grant's provider shares: its config entry, the fetch it sends with, and the clock. */
import type { Clock, Provider } from '../core/ports.js';
import type { Credentials, IssuedToken } from '../core/types.js';
import type { FetchFunction } from './transport.js';

/** Injected into every provider; `fetch` defaults to the global one (read at call time). */
export interface ProviderDependencies {
  readonly fetch?: FetchFunction;
  readonly clock: Clock;
}

/** Base class of the grant providers (one subclass per grant type fills in `requestToken`). */
export abstract class BaseProvider<Config> implements Provider {
  protected readonly config: Config;
  protected readonly clock: Clock;
  readonly #fetch: FetchFunction | undefined;

  constructor(config: Config, dependencies: ProviderDependencies) {
    this.config = config;
    this.clock = dependencies.clock;
    this.#fetch = dependencies.fetch;
  }

  /** The injected fetch, or the global one. */
  protected get fetch(): FetchFunction {
    return this.#fetch ?? fetch;
  }

  abstract requestToken(input: {
    readonly credentials: Credentials;
    readonly signal: AbortSignal;
  }): Promise<IssuedToken>;
}
