/**
 * The EventPublisher contract against the recording fake and against `EventBridgePublisher` on moto:
 * a rule routes `source: token-refresher` to an SQS queue, read back as a user's target would
 * (as `test/integration/events.test.ts` does).
 */
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { EVENT_DETAIL_TYPES, EVENT_SOURCE, EventBridgePublisher } from '../../functions/aws/events.js';
import type { ProviderEvent } from '../../functions/core/ports.js';
import { RecordingEvents } from '../unit/core/fakes.js';
import { describeEventPublisherContract } from './event-publisher.contract.js';
import { useMoto } from './support.js';

const DEPLOYMENT = 'contract';
const TYPE_OF_DETAIL_TYPE = new Map(
  Object.entries(EVENT_DETAIL_TYPES).map(([type, detailType]) => [detailType, type]),
);

describeEventPublisherContract('RecordingEvents', async () => {
  const publisher = new RecordingEvents();
  const undeliverable = new RecordingEvents();
  undeliverable.failNext = true;
  return {
    publisher,
    delivered: async () => publisher.published.map((event) => ({ type: event.type, event })),
    undeliverable,
  };
});

const moto = useMoto();

describeEventPublisherContract('EventBridgePublisher on moto', async () => {
  const clientConfig = await moto.fresh();
  const eventBridge = new EventBridgeClient(clientConfig);
  const sqs = new SQSClient(clientConfig);
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'contract-events' }))).QueueUrl ?? '';
  const queueArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))
  ).Attributes?.QueueArn;
  // The rule a user writes to route the events (docs/events.md).
  await eventBridge.send(
    new PutRuleCommand({ Name: 'contract-events', EventPattern: JSON.stringify({ source: [EVENT_SOURCE] }) }),
  );
  await eventBridge.send(
    new PutTargetsCommand({ Rule: 'contract-events', Targets: [{ Id: 'queue', Arn: queueArn }] }),
  );
  const received: Array<{ type: string; event: ProviderEvent }> = [];
  return {
    publisher: new EventBridgePublisher({
      client: eventBridge,
      eventBusName: 'default',
      deployment: DEPLOYMENT,
    }),
    delivered: async () => {
      for (;;) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
        );
        if (Messages.length === 0) return received;
        for (const message of Messages) received.push(fromEnvelope(JSON.parse(message.Body ?? '{}')));
      }
    },
    undeliverable: new EventBridgePublisher({
      client: eventBridge,
      eventBusName: 'no-such-bus',
      deployment: DEPLOYMENT,
    }),
    close: async () => {
      eventBridge.destroy();
      sqs.destroy();
    },
  };
});

/**
 * The event in an EventBridge envelope, with its type from `detail-type`. What the adapter adds for
 * EventBridge (source, `detail.deployment`, the envelope's `time` at the change, to the second) is
 * checked here and left out of the event.
 */
function fromEnvelope(envelope: {
  readonly source?: string;
  readonly 'detail-type'?: string;
  readonly time?: string;
  readonly detail?: Record<string, unknown>;
}): { type: string; event: ProviderEvent } {
  const { deployment, ...event } = envelope.detail ?? {};
  const occurredAtSecond = Math.floor(Date.parse(String(event.occurredAt)) / 1000) * 1000;
  if (
    envelope.source !== EVENT_SOURCE ||
    deployment !== DEPLOYMENT ||
    Date.parse(envelope.time ?? '') !== occurredAtSecond
  ) {
    throw new Error(
      `unexpected envelope: source ${envelope.source}, time ${envelope.time}, deployment ${String(deployment)}`,
    );
  }
  return {
    type: TYPE_OF_DETAIL_TYPE.get(envelope['detail-type'] ?? '') ?? `unknown: ${envelope['detail-type']}`,
    event: event as unknown as ProviderEvent,
  };
}
