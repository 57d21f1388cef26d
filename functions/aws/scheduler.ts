/**
 * Precise scheduling: after each refresh the engine asks for the next run at
 * `expiresAt − refreshBefore` (or at the end of a backoff). This adapter upserts one one-time
 * EventBridge Scheduler schedule per provider (`at(...)`, deleted after it fires); the recurring
 * schedule stays as the safety net. The SDK client is loaded on the first schedule, not at cold start.
 */
// Types only: the SDK module is imported on the first schedule (`import()`), so a refresh container
// whose runs are not due (most scheduled ticks) never loads it at cold start.
import type {
  CreateScheduleCommandInput,
  SchedulerClient,
  SchedulerClientConfig,
} from '@aws-sdk/client-scheduler';
import { StoreError } from '../core/errors.js';
import { nextRunScheduleName } from '../core/names.js';
import type { NextRunScheduler } from '../core/ports.js';
import { DEFAULT_CLIENT_CONFIG } from './clients.js';
import { awsErrorName } from './sdk-errors.js';

export interface SchedulerNextRunOptions {
  readonly client?: SchedulerClient;
  readonly clientConfig?: SchedulerClientConfig;
  /** The schedule group of the one-time schedules. */
  readonly group: string;
  /** The role EventBridge Scheduler assumes to invoke the refresh function. */
  readonly roleArn: string;
  /** The refresh function's ARN. */
  readonly targetArn: string;
}

/** Re-exported for existing importers; its home is `core/names.ts`. */
export { nextRunScheduleName };

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the next whole second. */
export function atExpression(epochMs: number): string {
  return `at(${new Date(Math.ceil(epochMs / 1000) * 1000).toISOString().slice(0, 19)})`;
}

type SchedulerSdk = typeof import('@aws-sdk/client-scheduler');

export class SchedulerNextRun implements NextRunScheduler {
  readonly #options: SchedulerNextRunOptions;
  #sdk: Promise<{ readonly sdk: SchedulerSdk; readonly client: SchedulerClient }> | undefined;

  constructor(options: SchedulerNextRunOptions) {
    this.#options = options;
  }

  /** The SDK module, imported once (on the first schedule; a failed import is tried again), and the client. */
  #loadSdk(): Promise<{ readonly sdk: SchedulerSdk; readonly client: SchedulerClient }> {
    this.#sdk ??= import('@aws-sdk/client-scheduler').then(
      (sdk) => ({
        sdk,
        client:
          this.#options.client ??
          new sdk.SchedulerClient({ ...DEFAULT_CLIENT_CONFIG, ...this.#options.clientConfig }),
      }),
      (error: unknown) => {
        this.#sdk = undefined;
        throw error;
      },
    );
    return this.#sdk;
  }

  /** Create or move the provider's one-time schedule to `at`. */
  async scheduleAt(provider: string, at: number): Promise<void> {
    const input: CreateScheduleCommandInput = {
      Name: nextRunScheduleName(provider),
      GroupName: this.#options.group,
      ScheduleExpression: atExpression(at),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: this.#options.targetArn,
        RoleArn: this.#options.roleArn,
        // The trigger tells the run that this one-time schedule is used up (see RefreshInput.precise).
        Input: JSON.stringify({ provider, trigger: 'precise' }),
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
      },
    };
    let loaded: { readonly sdk: SchedulerSdk; readonly client: SchedulerClient };
    try {
      loaded = await this.#loadSdk();
    } catch (error) {
      throw translate(error);
    }
    const { sdk, client } = loaded;
    try {
      // Update first: after the first refresh the schedule usually exists (or was deleted on firing).
      await client.send(new sdk.UpdateScheduleCommand(input));
    } catch (error) {
      if (awsErrorName(error) !== 'ResourceNotFoundException') throw translate(error);
      try {
        await client.send(new sdk.CreateScheduleCommand(input));
      } catch (createError) {
        throw translate(createError);
      }
    }
  }
}

function translate(error: unknown): StoreError {
  const name = awsErrorName(error);
  const permanent = name === 'AccessDeniedException' || name === 'ValidationException';
  return new StoreError(
    `EventBridge Scheduler rejected the next-run schedule (${name})`,
    permanent ? 'scheduler_rejected' : 'scheduler_unavailable',
    permanent ? 'permanent' : 'transient',
    { cause: error },
  );
}
