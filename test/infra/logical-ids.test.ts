/**
 * The logical IDs and physical names of the stateful resources are a public contract
 * (docs/architecture.md, "Infrastructure"): CloudFormation replaces a resource whose logical ID or
 * explicit name changes, so a refactor of the construct, or a new package version, that moved one
 * would delete or orphan a user's table, key or secrets. The expected values below are literals on
 * purpose: if this test fails, the change is breaking; do not update the values, restore the id.
 */
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { readConfigFile, TokenRefresherStack } from '../../infra/stack.js';
import { TokenRefresher } from '../../infra/token-refresher.js';
import { PROVIDERS } from './support.js';

/** The stateful resource types, each with the property that holds its explicit physical name. */
const NAME_PROPERTY: Readonly<Record<string, string | undefined>> = {
  'AWS::KMS::Key': undefined, // a key has no name: its id is generated
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::Scheduler::ScheduleGroup': 'Name',
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
};

interface Pinned {
  readonly type: string;
  /** The explicit physical name; `undefined`: CloudFormation generates it from the logical ID. */
  readonly name: string | undefined;
  readonly deletionPolicy: string | undefined;
}

type Resources = Record<
  string,
  { Type: string; DeletionPolicy?: string; Properties?: Record<string, unknown> }
>;

/** The stateful resources of a template by logical ID. */
function statefulResources(template: Template): Record<string, Pinned> {
  const resources = template.toJSON().Resources as Resources;
  return Object.fromEntries(
    Object.entries(resources)
      .filter(([, resource]) => resource.Type in NAME_PROPERTY)
      .map(([logicalId, resource]) => {
        const property = NAME_PROPERTY[resource.Type];
        return [
          logicalId,
          {
            type: resource.Type,
            name:
              property === undefined ? undefined : (resource.Properties?.[property] as string | undefined),
            deletionPolicy: resource.DeletionPolicy,
          },
        ];
      }),
  );
}

/** The refresh function's explicit name (one-time `next-<provider>` schedules target it by ARN). */
function refreshFunctionName(template: Template): unknown {
  const functions = template.toJSON().Resources as Resources;
  return Object.values(functions)
    .filter((resource) => resource.Type === 'AWS::Lambda::Function')
    .map((resource) => resource.Properties?.FunctionName)
    .filter((name) => name !== undefined);
}

const noBundling = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

describe('Contract: logical IDs and physical names of stateful resources', () => {
  describe('the stack of infra/app.ts with config/example.json', () => {
    // Prepare: as `npx cdk synth` builds it (stack TokenRefresher, construct Refresher).
    const app = noBundling();
    const stack = new TokenRefresherStack(app, 'TokenRefresher', {
      config: readConfigFile(join(import.meta.dirname, '..', '..', 'config', 'example.json')),
    });

    // Act
    const template = Template.fromStack(stack);

    it('keeps every stateful resource at its logical ID and name', () => {
      // Assess
      expect(statefulResources(template)).toEqual({
        RefresherKey735B1D04: { type: 'AWS::KMS::Key', name: undefined, deletionPolicy: 'Retain' },
        // Added by issue 15 (finding 2): the credentials secrets' own key.
        RefresherCredentialsKeyC69E7139: { type: 'AWS::KMS::Key', name: undefined, deletionPolicy: 'Retain' },
        RefresherStateTable4F484AA0: {
          type: 'AWS::DynamoDB::Table',
          name: undefined,
          deletionPolicy: 'Retain',
        },
        RefresherScheduleDeadLetterQueue8B6E7CBC: {
          type: 'AWS::SQS::Queue',
          name: undefined,
          deletionPolicy: 'Delete',
        },
        RefresherScheduleGroupAAB6A98F: {
          type: 'AWS::Scheduler::ScheduleGroup',
          name: 'TokenRefresher-9A593E78-schedules',
          deletionPolicy: 'Delete',
        },
        RefresherAlarmTopicF4C75DE2: { type: 'AWS::SNS::Topic', name: undefined, deletionPolicy: undefined },
        RefresherProvidergithubappTokenSecretB8100CC1: {
          type: 'AWS::SecretsManager::Secret',
          name: 'token-refresher/github-app/token',
          deletionPolicy: 'Retain',
        },
        RefresherProvidergithubappCredentialsSecretA346D714: {
          type: 'AWS::SecretsManager::Secret',
          name: 'token-refresher/github-app/credentials',
          deletionPolicy: 'Retain',
        },
        RefresherProvidersalesforceTokenSecret2A158863: {
          type: 'AWS::SecretsManager::Secret',
          name: 'token-refresher/salesforce/token',
          deletionPolicy: 'Retain',
        },
        RefresherProvidersalesforceCredentialsSecretE10F17B1: {
          type: 'AWS::SecretsManager::Secret',
          name: 'token-refresher/salesforce/credentials',
          deletionPolicy: 'Retain',
        },
        RefresherProviderbillingapiTokenSecretA1CE3799: {
          type: 'AWS::SecretsManager::Secret',
          name: 'token-refresher/billing-api/token',
          deletionPolicy: 'Retain',
        },
        RefresherProviderbillingapiCredentialsSecretF8EBA6A4: {
          type: 'AWS::SecretsManager::Secret',
          name: 'token-refresher/billing-api/credentials',
          deletionPolicy: 'Retain',
        },
      });
    });

    it("keeps the refresh function's name", () => {
      expect(refreshFunctionName(template)).toEqual(['TokenRefresher-9A593E78-refresh']);
    });
  });

  describe('the construct in a user stack, three providers (one with an existing credentials secret)', () => {
    // Prepare: as a library user writes it, with a secret prefix of their own.
    const app = noBundling();
    const stack = new Stack(app, 'Consumers');
    new TokenRefresher(stack, 'Tokens', { providers: PROVIDERS, secretPrefix: 'prod/tokens' });

    // Act
    const template = Template.fromStack(stack);

    it('keeps every stateful resource at its logical ID and name', () => {
      // Assess: "billing" names an existing credentials secret, so the stack creates none for it.
      expect(statefulResources(template)).toEqual({
        TokensKey71DAB889: { type: 'AWS::KMS::Key', name: undefined, deletionPolicy: 'Retain' },
        // Added by issue 15 (finding 2): the credentials secrets' own key.
        TokensCredentialsKey30FE945C: { type: 'AWS::KMS::Key', name: undefined, deletionPolicy: 'Retain' },
        TokensStateTableE414E4FC: { type: 'AWS::DynamoDB::Table', name: undefined, deletionPolicy: 'Retain' },
        TokensScheduleDeadLetterQueue8392F42B: {
          type: 'AWS::SQS::Queue',
          name: undefined,
          deletionPolicy: 'Delete',
        },
        TokensScheduleGroupF4B8B19C: {
          type: 'AWS::Scheduler::ScheduleGroup',
          name: 'Consumers-Tokens-B9385405-schedules',
          deletionPolicy: 'Delete',
        },
        TokensAlarmTopic2831A143: { type: 'AWS::SNS::Topic', name: undefined, deletionPolicy: undefined },
        TokensProvidergithubTokenSecret68DC1726: {
          type: 'AWS::SecretsManager::Secret',
          name: 'prod/tokens/github/token',
          deletionPolicy: 'Retain',
        },
        TokensProvidergithubCredentialsSecret6D52A89F: {
          type: 'AWS::SecretsManager::Secret',
          name: 'prod/tokens/github/credentials',
          deletionPolicy: 'Retain',
        },
        TokensProvidersalesforceTokenSecret045288AE: {
          type: 'AWS::SecretsManager::Secret',
          name: 'prod/tokens/salesforce/token',
          deletionPolicy: 'Retain',
        },
        TokensProvidersalesforceCredentialsSecret9266B48D: {
          type: 'AWS::SecretsManager::Secret',
          name: 'prod/tokens/salesforce/credentials',
          deletionPolicy: 'Retain',
        },
        TokensProviderbillingTokenSecret1B4682C8: {
          type: 'AWS::SecretsManager::Secret',
          name: 'prod/tokens/billing/token',
          deletionPolicy: 'Retain',
        },
      });
    });

    it("keeps the refresh function's name", () => {
      expect(refreshFunctionName(template)).toEqual(['Consumers-Tokens-B9385405-refresh']);
    });
  });

  describe('the DynamoDB token table (issue 16), in the stack of infra/app.ts and in a user stack', () => {
    // Prepare: a provider with tokenStore "dynamodb" added to each.
    const provider = {
      name: 'keycloak',
      grant: 'client_credentials',
      tokenUrl: 'https://sso.example.com/token',
      expectedLifetime: '5m',
      tokenStore: 'dynamodb',
    } as const;
    const appStack = new TokenRefresherStack(noBundling(), 'TokenRefresher', {
      config: { providers: [provider] },
    });
    const userStack = new Stack(noBundling(), 'Consumers');
    new TokenRefresher(userStack, 'Tokens', {
      providers: [...PROVIDERS, provider],
      secretPrefix: 'prod/tokens',
    });

    // Act
    const tables = [appStack, userStack].map((stack) =>
      Object.fromEntries(
        Object.entries(statefulResources(Template.fromStack(stack))).filter(([id]) =>
          id.includes('TokenTable'),
        ),
      ),
    );

    it('keeps the token table at its logical ID and name, and creates no token secret for the provider', () => {
      // Assess
      expect(tables).toEqual([
        {
          RefresherTokenTableE87E117E: {
            type: 'AWS::DynamoDB::Table',
            name: 'TokenRefresher-9A593E78-tokens',
            deletionPolicy: 'Retain',
          },
        },
        {
          TokensTokenTableFD252802: {
            type: 'AWS::DynamoDB::Table',
            name: 'Consumers-Tokens-B9385405-tokens',
            deletionPolicy: 'Retain',
          },
        },
      ]);
      const ids = Object.keys(statefulResources(Template.fromStack(userStack)));
      expect(ids.filter((id) => id.includes('keycloak'))).toEqual([
        'TokensProviderkeycloakCredentialsSecretE8BCCCF0',
      ]);
    });
  });
});
