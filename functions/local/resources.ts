/**
 * Creates, on the emulator, what the stack would create for a configuration: the state/lock table,
 * the token table when a provider keeps its token in DynamoDB, and per provider a token secret
 * (placeholder; none for a provider in the token table) and a credentials secret.
 */
import { CreateTableCommand, type CreateTableCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { EmulatorClientConfig } from '../aws/client-config.js';
import { credentialsSecretName, PLACEHOLDER_SECRET_STRING, tokenSecretName } from '../core/names.js';
import type { Credentials } from '../core/types.js';

export interface ProvisionInput {
  readonly clientConfig: EmulatorClientConfig;
  readonly tableName: string;
  readonly secretPrefix: string;
  /** Provider name → the credentials JSON to store; `undefined`: the stack's placeholder (to be filled). */
  readonly credentials: Readonly<Record<string, Credentials | undefined>>;
  /** The token table (`tokenStore: "dynamodb"`), created when given; it needs no item per provider. */
  readonly tokenTableName?: string;
  /** Providers whose token is in the token table: they get no token secret. */
  readonly dynamodbProviders?: readonly string[];
}

/** The `CreateTable` input of a table keyed by `provider` (the state table and the token table). */
export function providerTableInput(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'provider', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'provider', KeyType: 'HASH' }],
  };
}

/** The tables of a provisioning: the state table, and the token table when asked for. */
export function tablesOf(input: ProvisionInput): string[] {
  return [input.tableName, ...(input.tokenTableName === undefined ? [] : [input.tokenTableName])];
}

/** Whether the provider gets a token secret (not when its token is in the token table). */
export function hasTokenSecret(input: ProvisionInput, provider: string): boolean {
  return !(input.dynamodbProviders ?? []).includes(provider);
}

export async function provision(input: ProvisionInput): Promise<void> {
  const dynamodb = new DynamoDBClient(input.clientConfig);
  const secrets = new SecretsManagerClient(input.clientConfig);
  for (const table of tablesOf(input)) await dynamodb.send(new CreateTableCommand(providerTableInput(table)));
  for (const [provider, credentials] of Object.entries(input.credentials)) {
    if (hasTokenSecret(input, provider)) {
      await secrets.send(
        new CreateSecretCommand({
          Name: tokenSecretName(input.secretPrefix, provider),
          SecretString: PLACEHOLDER_SECRET_STRING,
        }),
      );
    }
    await secrets.send(
      new CreateSecretCommand({
        Name: credentialsSecretName(input.secretPrefix, provider),
        SecretString: credentials === undefined ? PLACEHOLDER_SECRET_STRING : JSON.stringify(credentials),
      }),
    );
  }
  dynamodb.destroy();
  secrets.destroy();
}

/** Replace a credentials secret's value (an operator re-seeding it). */
export async function putCredentials(
  clientConfig: EmulatorClientConfig,
  secretId: string,
  credentials: Credentials,
): Promise<void> {
  const secrets = new SecretsManagerClient(clientConfig);
  await secrets.send(
    new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(credentials) }),
  );
  secrets.destroy();
}
