/**
 * Validation of the `TokenRefresher` props: the providers with the schema the Lambdas use, then a
 * table of rules for the other props; every problem is collected and thrown once, naming the
 * construct (as aws-cdk-lib's `validateAllProps` does).
 */
import type { Construct } from 'constructs';
import {
  ConfigError,
  type RefresherConfig,
  secretsManagerWriteRateProblems,
} from '../functions/core/config.js';
import { parseRefresherConfig } from '../functions/core/config-schema.js';
import { DEFAULT_FAILURE_ALARM_ATTEMPTS } from './alarm-windows.js';
import { BREAK_GLASS_RULES } from './credentials-protection.js';
import { DEFAULTS, type TokenRefresherProps } from './props.js';
import { READ_TIMEOUT } from './read-function.js';
import { RESERVED_CONCURRENCY_RULES } from './reserved-concurrency.js';

/** One rule of the props. */
export interface PropsRule {
  /** `true` when the props break the rule. */
  readonly condition: (props: TokenRefresherProps) => boolean;
  /** The problem, naming the prop, its value and what it must be. */
  readonly message: (props: TokenRefresherProps) => string;
}

/**
 * The most providers one stack holds: 31 shared resources, 5 per provider (token secret, credentials
 * secret and its resource policy, schedule, staleness alarm) and, above 20 providers, up to 8 managed
 * policies for the roles' secret statements stay under CloudFormation's 500 resources (measured with
 * 64-character names, every grant rotating, and `alarmEmail`: 495; test/infra/synth.test.ts). It was 92
 * before the credentials-change rule and its permission (issue 16), which made 92 providers exactly 500.
 */
export const MAX_PROVIDERS_PER_STACK = 91;

/** The rules of the props other than the providers, in the order their problems are listed. */
export const PROPS_RULES: readonly PropsRule[] = [
  {
    condition: ({ staleThreshold }) => staleThreshold !== undefined && !(staleThreshold > 0),
    message: ({ staleThreshold }) =>
      `staleThreshold: is ${staleThreshold}; it must be a positive number of seconds`,
  },
  {
    condition: ({ failureAlarmAttempts: attempts }) =>
      attempts !== undefined && !(Number.isInteger(attempts) && attempts >= 1),
    message: ({ failureAlarmAttempts }) =>
      `failureAlarmAttempts: is ${failureAlarmAttempts}; it must be a positive whole number of consecutive failed ` +
      `attempts (1 pages at every failure; the default ${DEFAULT_FAILURE_ALARM_ATTEMPTS} lets the retry fix a passing failure)`,
  },
  {
    condition: ({ readLatencyAlarmThreshold: latency }) =>
      latency !== undefined &&
      !(latency.toMilliseconds() > 0 && latency.toMilliseconds() <= READ_TIMEOUT.toMilliseconds()),
    message: ({ readLatencyAlarmThreshold }) =>
      `readLatencyAlarmThreshold: is ${readLatencyAlarmThreshold?.toHumanString()}; it must be above 0 and at most the read ` +
      `function's timeout (${READ_TIMEOUT.toHumanString()})`,
  },
  ...RESERVED_CONCURRENCY_RULES,
  ...BREAK_GLASS_RULES,
  {
    condition: ({ providers }) => providers.length > MAX_PROVIDERS_PER_STACK,
    message: ({ providers }) =>
      `providers: lists ${providers.length}; one stack holds at most ${MAX_PROVIDERS_PER_STACK} (CloudFormation's 500 ` +
      'resources: 5 per provider, 31 shared, and the managed policies the roles need above 20 providers): ' +
      'split the providers over two stacks, each with its own secretPrefix',
  },
];

/** The problems of `props` under `rules`, in the rules' order. */
export function ruleProblems(props: TokenRefresherProps, rules: readonly PropsRule[]): string[] {
  return rules.filter((rule) => rule.condition(props)).map((rule) => rule.message(props));
}

/** The providers parsed with the configuration schema, plus the Secrets Manager write-rate check. */
function parseProviders(props: TokenRefresherProps): { config?: RefresherConfig; problems: string[] } {
  try {
    const config = parseRefresherConfig(
      {
        secretPrefix: props.secretPrefix ?? DEFAULTS.secretPrefix,
        trustDirectInvoke: props.trustDirectInvoke ?? false,
        providers: props.providers,
      },
      'providers',
    );
    return { config, problems: secretsManagerWriteRateProblems(config) };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { problems: [...error.problems] };
  }
}

/**
 * Validate every prop of a construct: the providers first, then `rules`. Throws one
 * {@link ConfigError} that names the construct's path and lists every problem.
 */
export function validateAllProps(
  scope: Construct,
  className: string,
  props: TokenRefresherProps,
  rules: readonly PropsRule[] = PROPS_RULES,
): RefresherConfig {
  const { config, problems } = parseProviders(props);
  problems.push(...ruleProblems(props, rules));
  if (problems.length > 0 || config === undefined) {
    throw new ConfigError(
      `${scope.node.path}: invalid ${className} props:\n  - ${problems.join('\n  - ')}`,
      problems,
    );
  }
  return config;
}
