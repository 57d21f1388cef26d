/**
 * The NextRunScheduler contract against the in-memory fake and against `SchedulerNextRun` on moto
 * (which stores schedules and answers GetSchedule; it never fires them).
 */
import {
  CreateScheduleGroupCommand,
  GetScheduleCommand,
  type GetScheduleCommandOutput,
  ResourceNotFoundException,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { nextRunScheduleName, SchedulerNextRun } from '../../functions/aws/scheduler.js';
import { FakeNextRunScheduler } from '../unit/core/fakes.js';
import { describeNextRunSchedulerContract } from './next-run-scheduler.contract.js';
import { useMoto } from './support.js';

const GROUP = 'contract-group';
const AT_EXPRESSION = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/;

describeNextRunSchedulerContract('FakeNextRunScheduler', async () => {
  const scheduler = new FakeNextRunScheduler();
  return {
    scheduler,
    scheduled: async (provider) => {
      const at = scheduler.pending(provider);
      return at === undefined ? undefined : { at, provider };
    },
  };
});

const moto = useMoto();

describeNextRunSchedulerContract('SchedulerNextRun on moto', async () => {
  const client = new SchedulerClient(await moto.fresh());
  await client.send(new CreateScheduleGroupCommand({ Name: GROUP }));
  return {
    scheduler: new SchedulerNextRun({
      client,
      group: GROUP,
      roleArn: 'arn:aws:iam::123456789012:role/contract-scheduler',
      targetArn: 'arn:aws:lambda:us-east-1:123456789012:function:contract-refresh',
    }),
    // The schedule as EventBridge Scheduler keeps it: its `at(...)` time in UTC, and the event its
    // target receives.
    scheduled: async (provider) => {
      let schedule: GetScheduleCommandOutput;
      try {
        schedule = await client.send(
          new GetScheduleCommand({ Name: nextRunScheduleName(provider), GroupName: GROUP }),
        );
      } catch (error) {
        if (error instanceof ResourceNotFoundException) return undefined;
        throw error;
      }
      const time = AT_EXPRESSION.exec(schedule.ScheduleExpression ?? '')?.[1];
      if (time === undefined || schedule.ScheduleExpressionTimezone !== 'UTC') {
        throw new Error(`not a one-time schedule in UTC: ${schedule.ScheduleExpression}`);
      }
      const input = JSON.parse(schedule.Target?.Input ?? '{}') as { provider?: string };
      return { at: Date.parse(`${time}Z`), provider: input.provider ?? '' };
    },
    close: async () => client.destroy(),
  };
});
