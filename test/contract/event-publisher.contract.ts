/**
 * The contract of the {@link EventPublisher} port (`functions/core/ports.ts`): each state-change event
 * reaches the subscribers with its type and its whole detail, in order, and a publish that cannot be
 * delivered throws. Run against the fake and the adapter (`event-publisher.test.ts`).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type EventPublisher,
  type ProviderEvent,
  REAUTHORIZATION_CODES,
} from '../../functions/core/ports.js';

/** A publisher under test, with what a subscriber received from it. */
export interface EventPublisherHarness {
  readonly publisher: EventPublisher;
  /**
   * Every event a subscriber received since the case began, in order: the type the delivery says
   * (what a subscriber's rule matches on, mapped back to {@link ProviderEvent}'s `type`) and the event.
   */
  delivered(): Promise<Array<{ readonly type: string; readonly event: ProviderEvent }>>;
  /** A publisher of the same kind that cannot deliver (its destination does not exist). */
  readonly undeliverable: EventPublisher;
  /** Release what the harness holds (clients); called after each case. */
  close?(): Promise<void>;
}

const AT = '2026-03-01T10:00:00.000Z';

const failing = (permanent: boolean): ProviderEvent => ({
  type: 'failing',
  provider: 'acme',
  errorCode: permanent ? 'invalid_client' : 'http_503',
  permanent,
  occurredAt: AT,
});

export function describeEventPublisherContract(
  name: string,
  makeSubject: () => Promise<EventPublisherHarness>,
): void {
  describe(`EventPublisher contract: ${name}`, () => {
    let harness: EventPublisherHarness;
    let publisher: EventPublisher;

    beforeEach(async () => {
      harness = await makeSubject();
      publisher = harness.publisher;
    });

    afterEach(async () => {
      await harness.close?.();
    });

    const expectDelivered = async (events: readonly ProviderEvent[]) => {
      expect(await harness.delivered()).toStrictEqual(events.map((event) => ({ type: event.type, event })));
    };

    describe('Method: publish', () => {
      it('delivers nothing before anything is published', async () => {
        // Assess
        await expectDelivered([]);
      });

      it.each([
        ['transient', false],
        ['permanent', true],
      ])('delivers a %s failing event with its error code', async (_case, permanent) => {
        // Act
        await publisher.publish(failing(permanent));

        // Assess
        await expectDelivered([failing(permanent)]);
      });

      it.each(REAUTHORIZATION_CODES)('delivers needs-reauthorization for %s', async (errorCode) => {
        // Prepare
        const event: ProviderEvent = {
          type: 'needs-reauthorization',
          provider: 'acme',
          errorCode,
          occurredAt: AT,
        };

        // Act
        await publisher.publish(event);

        // Assess
        await expectDelivered([event]);
      });

      it.each([
        ['with', { lastErrorCode: 'http_503' }],
        ['without', {}],
      ])('delivers recovered %s the last error code', async (_case, extra) => {
        // Prepare
        const event: ProviderEvent = {
          type: 'recovered',
          provider: 'acme',
          failedAttempts: 3,
          occurredAt: AT,
          ...extra,
        };

        // Act
        await publisher.publish(event);

        // Assess
        await expectDelivered([event]);
      });

      it('delivers events in the order they were published', async () => {
        // Prepare
        const events: ProviderEvent[] = [
          failing(false),
          {
            type: 'recovered',
            provider: 'acme',
            failedAttempts: 1,
            lastErrorCode: 'http_503',
            occurredAt: AT,
          },
          { type: 'needs-reauthorization', provider: 'globex', errorCode: 'invalid_grant', occurredAt: AT },
          failing(true),
        ];

        // Act
        for (const event of events) await publisher.publish(event);

        // Assess
        await expectDelivered(events);
      });

      it('throws when the event cannot be delivered, and delivers nothing', async () => {
        // Act
        const publish = harness.undeliverable.publish(failing(false));

        // Assess
        await expect(publish).rejects.toBeInstanceOf(Error);
        await expectDelivered([]);
      });
    });
  });
}
