/**
 * The refresh engine's events (docs/architecture.md, "Events"): published on changes of a provider's
 * condition only, best effort (a failed publish is logged and never fails the refresh).
 */
import type { RefresherError } from './errors.js';
import { toRefresherError } from './errors.js';
import {
  type Clock,
  type EventPublisher,
  type Logger,
  type ProviderEvent,
  REAUTHORIZATION_CODES,
} from './ports.js';
import type { ProviderState } from './types.js';

export interface StateChangeEventsOptions {
  /** Without a publisher no event is published. */
  readonly events?: EventPublisher;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Publishes a provider's state changes, comparing with its state before this run's outcome. */
export class StateChangeEvents {
  readonly #options: StateChangeEventsOptions;

  constructor(options: StateChangeEventsOptions) {
    this.#options = options;
  }

  /**
   * A failure that changes the provider's condition: healthy → failing, or → needs re-authorization
   * (`invalid_grant`, unless the streak already ended on it). Later failures of a streak publish
   * nothing.
   */
  async failed(provider: string, before: ProviderState, error: RefresherError): Promise<void> {
    const occurredAt = this.#now();
    const reauthorization = REAUTHORIZATION_CODES.find((code) => code === error.code);
    if (reauthorization !== undefined) {
      if (before.consecutiveFailures > 0 && before.lastErrorCode === reauthorization) return;
      await this.#publish({
        type: 'needs-reauthorization',
        provider,
        errorCode: reauthorization,
        occurredAt,
      });
      return;
    }
    if (before.consecutiveFailures > 0) return;
    await this.#publish({
      type: 'failing',
      provider,
      errorCode: error.code,
      permanent: error.kind === 'permanent',
      occurredAt,
    });
  }

  /** A token was stored (by us, or observed from a holder that could not record it) after failures. */
  async recovered(provider: string, before: ProviderState): Promise<void> {
    await this.#publish({
      type: 'recovered',
      provider,
      failedAttempts: before.consecutiveFailures,
      ...(before.lastErrorCode === undefined ? {} : { lastErrorCode: before.lastErrorCode }),
      occurredAt: this.#now(),
    });
  }

  #now(): string {
    return new Date(this.#options.clock.now()).toISOString();
  }

  async #publish(event: ProviderEvent): Promise<void> {
    if (this.#options.events === undefined) return;
    try {
      await this.#options.events.publish(event);
    } catch (error) {
      this.#options.logger.warn('Could not publish the state-change event', {
        provider: event.provider,
        eventType: event.type,
        errorCode: toRefresherError(error).code,
      });
    }
  }
}
