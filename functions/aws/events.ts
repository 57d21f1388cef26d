/**
 * State-change events on an EventBridge bus (docs/events.md): one `PutEvents` entry per
 * change, source `token-refresher`. The client is loaded on the first event, not at cold start:
 * changes are rare, and most invocations never publish one.
 */
import type {
  EventBridgeClient,
  EventBridgeClientConfig,
  PutEventsCommand as PutEventsCommandClass,
} from '@aws-sdk/client-eventbridge';
import { StoreError } from '../core/errors.js';
import type { EventPublisher, ProviderEvent } from '../core/ports.js';
import { DEFAULT_CLIENT_CONFIG } from './clients.js';
import { awsErrorName } from './sdk-errors.js';

/** The `source` of every event. */
export const EVENT_SOURCE = 'token-refresher';

/** The `detail-type` of each event type: what a rule matches on. */
export const EVENT_DETAIL_TYPES: Readonly<Record<ProviderEvent['type'], string>> = {
  failing: 'Provider Failing',
  'needs-reauthorization': 'Provider Needs Reauthorization',
  recovered: 'Provider Recovered',
};

export interface EventBridgePublisherOptions {
  /** Name or ARN of the bus. */
  readonly eventBusName: string;
  /**
   * Which deployment the event is from, in `detail.deployment` (the stack's secret prefix: unique per
   * account and region), so that rules can tell two stacks' providers apart.
   */
  readonly deployment: string;
  /** A client to use (tests); otherwise one is built, on the first event, from `clientConfig`. */
  readonly client?: EventBridgeClient;
  readonly clientConfig?: EventBridgeClientConfig;
}

interface LoadedSdk {
  readonly client: EventBridgeClient;
  readonly PutEventsCommand: typeof PutEventsCommandClass;
}

/** {@link EventPublisher} on EventBridge. */
export class EventBridgePublisher implements EventPublisher {
  readonly #options: EventBridgePublisherOptions;
  #sdk: Promise<LoadedSdk> | undefined;

  constructor(options: EventBridgePublisherOptions) {
    this.#options = options;
  }

  /**
   * Put one event: `detail` is the event itself plus `deployment`; its `time` is when the change
   * happened.
   * @throws StoreError `eventbridge_unavailable` (transient) or `eventbridge_access_denied` (permanent),
   *   also when EventBridge refused the entry (`FailedEntryCount`).
   */
  async publish(event: ProviderEvent): Promise<void> {
    const { client, PutEventsCommand } = await this.#loadSdk();
    let output: { FailedEntryCount?: number; Entries?: { ErrorCode?: string }[] };
    try {
      output = await client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: this.#options.eventBusName,
              Source: EVENT_SOURCE,
              DetailType: EVENT_DETAIL_TYPES[event.type],
              Detail: JSON.stringify({ ...event, deployment: this.#options.deployment }),
              Time: new Date(event.occurredAt),
            },
          ],
        }),
      );
    } catch (error) {
      const name = awsErrorName(error);
      throw name === 'AccessDeniedException'
        ? new StoreError(
            `Access denied to PutEvents on bus "${this.#options.eventBusName}"; grant the function events:PutEvents on it`,
            'eventbridge_access_denied',
            'permanent',
            { cause: error },
          )
        : new StoreError(`EventBridge PutEvents failed (${name})`, 'eventbridge_unavailable', 'transient', {
            cause: error,
          });
    }
    if ((output.FailedEntryCount ?? 0) > 0) {
      throw new StoreError(
        `EventBridge refused the event (${output.Entries?.[0]?.ErrorCode ?? 'no error code'})`,
        'eventbridge_unavailable',
        'transient',
      );
    }
  }

  /** The SDK module, loaded once (on the first event), and the injected client or a new one. */
  #loadSdk(): Promise<LoadedSdk> {
    this.#sdk ??= import('@aws-sdk/client-eventbridge').then(({ EventBridgeClient, PutEventsCommand }) => ({
      client:
        this.#options.client ??
        new EventBridgeClient({ ...DEFAULT_CLIENT_CONFIG, ...this.#options.clientConfig }),
      PutEventsCommand,
    }));
    return this.#sdk;
  }
}
