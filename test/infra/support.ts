/**
 * Builders shared by the infra tests. Bundling is skipped (`aws:cdk:bundling-stacks` = []: the Lambda
 * asset is staged empty) except where a test proves that bundling works.
 */
import { App, type Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { ProviderConfigInput } from '../../functions/core/config.js';
import { TokenRefresherStack } from '../../infra/stack.js';
import type { TokenRefresherProps } from '../../infra/token-refresher.js';

export const PROVIDERS: readonly ProviderConfigInput[] = [
  {
    name: 'github',
    grant: 'client_credentials',
    tokenUrl: 'https://auth.example.com/oauth2/token',
    scope: 'repo',
  },
  {
    name: 'salesforce',
    grant: 'refresh_token',
    tokenUrl: 'https://login.salesforce.com/services/oauth2/token',
    refreshBefore: '10m',
    expectedLifetime: '2h',
    requestTimeout: 45,
  },
  {
    name: 'billing',
    grant: 'http',
    credentialsSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:shared/billing-AbC123',
    request: {
      url: 'https://billing.example.com/session',
      headers: { 'X-Api-Key': '{{credentials.apiKey}}' },
    },
    response: { tokenPath: 'data.token', expiresInPath: 'data.expires_in' },
    schedule: 'rate(10 minutes)',
  },
];

export interface Built {
  readonly app: App;
  readonly stack: TokenRefresherStack;
  readonly template: Template;
}

export function build(
  options: {
    providers?: readonly ProviderConfigInput[];
    secretPrefix?: string;
    refresher?: Omit<TokenRefresherProps, 'providers' | 'secretPrefix'>;
    bundle?: boolean;
    nag?: boolean;
  } = {},
): Built {
  const app = new App({
    context: options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] },
  });
  if (options.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new TokenRefresherStack(app, 'TokenRefresher', {
    config: {
      providers: [...(options.providers ?? PROVIDERS)],
      ...(options.secretPrefix === undefined ? {} : { secretPrefix: options.secretPrefix }),
    },
    ...(options.refresher === undefined ? {} : { refresher: options.refresher }),
  });
  let template: Template | undefined;
  return {
    app,
    stack,
    // Lazy: Template.fromStack synthesises (and caches) the app, so tests that call app.synth()
    // themselves must do it first.
    get template() {
      template ??= Template.fromStack(stack);
      return template;
    },
  };
}

/** Logical ids of the resources of one type whose properties match `predicate`. */
export function logicalIds(
  template: Template,
  type: string,
  predicate: (properties: Record<string, unknown>) => boolean = () => true,
): string[] {
  return Object.entries(template.findResources(type))
    .filter(([, resource]) =>
      predicate((resource as { Properties?: Record<string, unknown> }).Properties ?? {}),
    )
    .map(([id]) => id);
}

export function resolve(stack: Stack, value: unknown): unknown {
  return stack.resolve(value);
}
