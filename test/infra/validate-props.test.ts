import { Duration, aws_logs as logs, RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, withDefaults } from '../../infra/props.js';
import { PROPS_RULES, ruleProblems } from '../../infra/validate-props.js';
import { PROVIDERS } from './support.js';

describe('Module: validate-props', () => {
  describe('Constant: PROPS_RULES', () => {
    it('reports every broken rule, in order, each naming its prop and value', () => {
      // Act
      const problems = ruleProblems(
        {
          providers: PROVIDERS,
          staleThreshold: 0,
          failureAlarmAttempts: 1.5,
          readLatencyAlarmThreshold: Duration.seconds(31),
        },
        PROPS_RULES,
      );

      // Assess
      expect(problems).toEqual([
        expect.stringMatching(/^staleThreshold: is 0;/),
        expect.stringMatching(/^failureAlarmAttempts: is 1.5;/),
        expect.stringMatching(/^readLatencyAlarmThreshold: is 31 seconds; .* \(30 seconds\)$/),
      ]);
    });

    it('reports nothing for valid or absent props', () => {
      expect(ruleProblems({ providers: PROVIDERS }, PROPS_RULES)).toEqual([]);
      expect(
        ruleProblems(
          {
            providers: PROVIDERS,
            staleThreshold: 60,
            failureAlarmAttempts: 1,
            readLatencyAlarmThreshold: Duration.seconds(30),
          },
          PROPS_RULES,
        ),
      ).toEqual([]);
    });
  });

  describe('Function: withDefaults', () => {
    it('applies the documented defaults', () => {
      // Act
      const resolved = withDefaults({ providers: PROVIDERS });

      // Assess
      expect(resolved).toMatchObject({
        removalPolicy: RemovalPolicy.RETAIN,
        logRetention: logs.RetentionDays.ONE_MONTH,
        failureAlarmAttempts: 2,
        staleThreshold: undefined,
        eventBus: undefined,
      });
      expect(resolved.readLatencyAlarmThreshold.toSeconds()).toBe(3);
      expect(resolved.scheduleTimeWindow.toSeconds()).toBe(60);
      expect(DEFAULTS.secretPrefix).toBe('token-refresher');
    });

    it('keeps what is given', () => {
      const resolved = withDefaults({
        providers: PROVIDERS,
        removalPolicy: RemovalPolicy.DESTROY,
        failureAlarmAttempts: 3,
        eventBus: false,
      });
      expect(resolved).toMatchObject({
        removalPolicy: RemovalPolicy.DESTROY,
        failureAlarmAttempts: 3,
        eventBus: false,
      });
    });
  });
});
