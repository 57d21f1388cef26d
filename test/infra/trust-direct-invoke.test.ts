/**
 * `trustDirectInvoke` (issue 15, finding 1) reaches the read function through the configuration it
 * already gets: from the construct's prop, and from the config file the app reads; absent, the read
 * function requires caller proofs.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { RefresherConfigInput } from '../../functions/core/config.js';
import { readReadEnvironment } from '../../functions/core/env.js';
import { TokenRefresherStack } from '../../infra/stack.js';
import { build, PROVIDERS } from './support.js';

/** Whether the read function, started with the environment the template gives it, trusts direct Invokes. */
function readFunctionTrusts(stack: TokenRefresherStack): boolean {
  const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
  const [read] = Object.entries(functions).filter(([id]) => id.includes('ReadFunction'));
  if (read === undefined) throw new Error('no read function in the template');
  const resource = read[1] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  const config = resource.Properties.Environment.Variables.PROVIDERS_CONFIG;
  if (typeof config !== 'string') throw new Error('the read function has no inline PROVIDERS_CONFIG');
  return readReadEnvironment({ PROVIDERS_CONFIG: config, REFRESH_FUNCTION_NAME: 'refresh' }).config
    .trustDirectInvoke;
}

/** The stack the CDK app builds from a configuration file's content. */
function fromConfigFile(config: RefresherConfigInput): TokenRefresherStack {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return new TokenRefresherStack(app, 'TokenRefresher', { config });
}

describe('Prop and configuration field: trustDirectInvoke', () => {
  it('is off unless set, and then reaches the read function in its configuration', () => {
    // Act
    const answers = {
      byDefault: readFunctionTrusts(build().stack),
      prop: readFunctionTrusts(build({ refresher: { trustDirectInvoke: true } }).stack),
      propFalse: readFunctionTrusts(build({ refresher: { trustDirectInvoke: false } }).stack),
      configFile: readFunctionTrusts(fromConfigFile({ providers: [...PROVIDERS], trustDirectInvoke: true })),
    };

    // Assess
    expect(answers).toStrictEqual({ byDefault: false, prop: true, propFalse: false, configFile: true });
  });
});
