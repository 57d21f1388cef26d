/**
 * Creates, on the emulator, what the stack would create for a configuration: the state/lock table
 * and per provider a token secret (placeholder) and a credentials secret.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
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
}

export async function provision(input: ProvisionInput): Promise<void> {
  const dynamodb = new DynamoDBClient(input.clientConfig);
  const secrets = new SecretsManagerClient(input.clientConfig);
  await dynamodb.send(
    new CreateTableCommand({
      TableName: input.tableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'provider', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'provider', KeyType: 'HASH' }],
    }),
  );
  for (const [provider, credentials] of Object.entries(input.credentials)) {
    await secrets.send(
      new CreateSecretCommand({
        Name: tokenSecretName(input.secretPrefix, provider),
        SecretString: PLACEHOLDER_SECRET_STRING,
      }),
    );
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
