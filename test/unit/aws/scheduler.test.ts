import {
  CreateScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { atExpression, nextRunScheduleName, SchedulerNextRun } from '../../../functions/aws/scheduler.js';
import { StoreError } from '../../../functions/core/errors.js';

const schedulerMock = mockClient(SchedulerClient);
const AT = Date.parse('2026-03-01T10:15:30.200Z');

const expectedInput = {
  Name: 'next-github',
  GroupName: 'token-refresher',
  ScheduleExpression: 'at(2026-03-01T10:15:31)',
  ScheduleExpressionTimezone: 'UTC',
  FlexibleTimeWindow: { Mode: 'OFF' },
  ActionAfterCompletion: 'DELETE',
  Target: {
    Arn: 'arn:aws:lambda:us-east-1:123456789012:function:refresh',
    RoleArn: 'arn:aws:iam::123456789012:role/scheduler',
    Input: '{"provider":"github","trigger":"precise"}',
    RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
  },
};

describe('Class: SchedulerNextRun', () => {
  let scheduler: SchedulerNextRun;

  beforeEach(() => {
    schedulerMock.reset();
    scheduler = new SchedulerNextRun({
      client: new SchedulerClient({}),
      group: 'token-refresher',
      roleArn: 'arn:aws:iam::123456789012:role/scheduler',
      targetArn: 'arn:aws:lambda:us-east-1:123456789012:function:refresh',
    });
  });

  describe('Method: scheduleAt', () => {
    it('moves the existing one-time schedule to the new time', async () => {
      // Prepare
      schedulerMock.on(UpdateScheduleCommand).resolves({});

      // Act
      await scheduler.scheduleAt('github', AT);

      // Assess
      expect(
        schedulerMock.commandCalls(UpdateScheduleCommand).map((call) => call.args[0].input),
      ).toStrictEqual([expectedInput]);
      expect(schedulerMock.commandCalls(CreateScheduleCommand)).toHaveLength(0);
    });

    it('creates the schedule when none exists (first run, or it fired and was deleted)', async () => {
      // Prepare
      schedulerMock
        .on(UpdateScheduleCommand)
        .rejects(
          new ResourceNotFoundException({ message: 'not found', Message: 'not found', $metadata: {} }),
        );
      schedulerMock.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn' });

      // Act
      await scheduler.scheduleAt('github', AT);

      // Assess
      expect(
        schedulerMock.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input),
      ).toStrictEqual([expectedInput]);
    });

    it('translates other failures into a transient StoreError', async () => {
      // Prepare
      const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
      schedulerMock.on(UpdateScheduleCommand).rejects(throttled);

      // Act / Assess
      await expect(scheduler.scheduleAt('github', AT)).rejects.toMatchObject({
        constructor: StoreError,
        code: 'scheduler_unavailable',
        kind: 'transient',
      });
    });
  });
});

describe('Function: nextRunScheduleName', () => {
  it('keeps names within the 64-character limit, distinct per provider', () => {
    const long = 'a'.repeat(64);
    expect(nextRunScheduleName('github')).toBe('next-github');
    expect(nextRunScheduleName(long)).toHaveLength(64);
    expect(nextRunScheduleName(long)).not.toBe(nextRunScheduleName(`${'a'.repeat(63)}b`));
  });
});

describe('Function: atExpression', () => {
  it('rounds up to the next whole second in UTC', () => {
    expect(atExpression(Date.parse('2026-03-01T10:15:30.000Z'))).toBe('at(2026-03-01T10:15:30)');
    expect(atExpression(Date.parse('2026-03-01T10:15:30.001Z'))).toBe('at(2026-03-01T10:15:31)');
  });
});
