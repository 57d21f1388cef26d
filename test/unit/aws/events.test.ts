import 'aws-sdk-client-mock-vitest/extend';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { EVENT_DETAIL_TYPES, EVENT_SOURCE, EventBridgePublisher } from '../../../functions/aws/events.js';
import type { ProviderEvent } from '../../../functions/core/ports.js';
import { awsError } from './helpers.js';

const FAILING: ProviderEvent = {
  type: 'failing',
  provider: 'acme',
  errorCode: 'http_503',
  permanent: false,
  occurredAt: '2026-01-01T00:00:00.000Z',
};

describe('Class: EventBridgePublisher', () => {
  const eventBridge = mockClient(EventBridgeClient);
  let publisher: EventBridgePublisher;

  beforeEach(() => {
    eventBridge.reset();
    publisher = new EventBridgePublisher({
      client: new EventBridgeClient({ region: 'us-east-1' }),
      eventBusName: 'default',
      deployment: 'token-refresher',
    });
  });

  it('puts one entry: source token-refresher, the detail-type of the event, the event as detail', async () => {
    // Prepare
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });

    // Act
    await publisher.publish(FAILING);

    // Assess
    expect(eventBridge.commandCalls(PutEventsCommand)[0]?.args[0].input).toStrictEqual({
      Entries: [
        {
          EventBusName: 'default',
          Source: 'token-refresher',
          DetailType: 'Provider Failing',
          Detail: JSON.stringify({ ...FAILING, deployment: 'token-refresher' }),
          Time: new Date('2026-01-01T00:00:00.000Z'),
        },
      ],
    });
  });

  it('names a detail-type for every event type', () => {
    // Assess
    expect(EVENT_SOURCE).toBe('token-refresher');
    expect(EVENT_DETAIL_TYPES).toStrictEqual({
      failing: 'Provider Failing',
      'needs-reauthorization': 'Provider Needs Reauthorization',
      recovered: 'Provider Recovered',
    });
  });

  it('throws a transient StoreError when EventBridge refuses the entry', async () => {
    // Prepare
    eventBridge
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }] });

    // Act
    const error = await publisher.publish(FAILING).catch((caught: unknown) => caught);

    // Assess
    expect(error).toMatchObject({ code: 'eventbridge_unavailable', kind: 'transient' });
    expect((error as Error).message).toContain('ThrottlingException');
  });

  it.each([
    ['AccessDeniedException', 400, 'eventbridge_access_denied', 'permanent'],
    ['InternalException', 500, 'eventbridge_unavailable', 'transient'],
  ])('translates %s into %s', async (name, status, code, kind) => {
    // Prepare
    eventBridge.on(PutEventsCommand).rejects(awsError(name, 'no', status));

    // Act
    const error = await publisher.publish(FAILING).catch((caught: unknown) => caught);

    // Assess
    expect(error).toMatchObject({ code, kind });
  });
});
