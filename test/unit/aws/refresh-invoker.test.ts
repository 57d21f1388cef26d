import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { LambdaRefreshTrigger } from '../../../functions/aws/refresh-invoker.js';

const lambdaMock = mockClient(LambdaClient);
const HASH = 'a'.repeat(64);
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('Class: LambdaRefreshTrigger', () => {
  let trigger: LambdaRefreshTrigger;
  const run = () =>
    trigger.refresh({
      provider: 'acme',
      onDemand: { rejectedTokenSha256: HASH },
      signal: AbortSignal.timeout(1000),
    });

  beforeEach(() => {
    lambdaMock.reset();
    trigger = new LambdaRefreshTrigger({
      client: new LambdaClient({ region: 'us-east-1' }),
      functionName: 'refresh-fn',
    });
  });

  describe('Method: refresh', () => {
    it('invokes the refresh function synchronously with the on-demand event and returns its result', async () => {
      // Prepare
      const result = {
        status: 'refreshed',
        provider: 'acme',
        expiresAt: '2026-01-01T01:00:00.000Z',
        generation: 3,
        refreshTokenRotated: false,
      };
      lambdaMock.on(InvokeCommand).resolves({ StatusCode: 200, Payload: encode(result) as never });

      // Act
      const answer = await run();

      // Assess
      expect(answer).toEqual(result);
      const call = lambdaMock.commandCalls(InvokeCommand)[0]?.args[0].input;
      expect(call?.FunctionName).toBe('refresh-fn');
      expect(call?.InvocationType).toBe('RequestResponse');
      expect(JSON.parse(new TextDecoder().decode(call?.Payload as Uint8Array))).toEqual({
        provider: 'acme',
        onDemand: { rejectedTokenSha256: HASH },
      });
    });

    it('turns a failed Invoke into a transient refresh_unavailable error', async () => {
      lambdaMock
        .on(InvokeCommand)
        .rejects(Object.assign(new Error('rate'), { name: 'TooManyRequestsException' }));
      await expect(run()).rejects.toMatchObject({ code: 'refresh_unavailable', kind: 'transient' });
    });

    it('turns a crashed refresh function into refresh_function_error', async () => {
      lambdaMock.on(InvokeCommand).resolves({
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: encode({ errorMessage: 'x' }) as never,
      });
      await expect(run()).rejects.toMatchObject({ code: 'refresh_function_error' });
    });

    it('turns a refused event (configs out of step) into refresh_rejected, and junk into refresh_function_error', async () => {
      lambdaMock.on(InvokeCommand).resolves({
        StatusCode: 200,
        Payload: encode({ status: 'rejected', code: 'unknown_provider' }) as never,
      });
      await expect(run()).rejects.toMatchObject({ code: 'refresh_rejected', kind: 'permanent' });
      lambdaMock.reset();
      lambdaMock
        .on(InvokeCommand)
        .resolves({ StatusCode: 200, Payload: encode({ status: 'maybe' }) as never });
      await expect(run()).rejects.toMatchObject({ code: 'refresh_function_error' });
    });
  });
});
