/**
 * A token secret as the stack creates it (the placeholder), then a valid 1-hour token written with
 * the token store's compare-and-swap: what the read handlers of benchmarks 2 and 3 serve. And the
 * same token in a token table (`tokenStore: "dynamodb"`), for the DynamoDB source of benchmark 6.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDbTokenStore } from '../../functions/aws/dynamodb-token-store.js';
import { PLACEHOLDER_SECRET_STRING } from '../../functions/aws/secrets.js';
import { SecretsManagerTokenStore, tokenSecretName } from '../../functions/aws/token-store.js';
import type { TokenRecord } from '../../functions/core/types.js';
import type { AwsClientConfig } from '../../functions/local/moto.js';
import { providerTableInput } from '../../functions/local/resources.js';

export async function seedValidToken(input: {
  readonly clientConfig: AwsClientConfig;
  readonly secretPrefix: string;
  readonly provider: string;
  readonly accessToken: string;
}): Promise<void> {
  const { clientConfig, secretPrefix, provider } = input;
  const admin = new SecretsManagerClient(clientConfig);
  const created = await admin.send(
    new CreateSecretCommand({
      Name: tokenSecretName(secretPrefix, provider),
      SecretString: PLACEHOLDER_SECRET_STRING,
    }),
  );
  admin.destroy();
  await new SecretsManagerTokenStore({ clientConfig, secretPrefix }).write({
    provider,
    fence: 1,
    token: validToken(provider, input.accessToken),
    expectedVersionId: created.VersionId,
  });
}

/**
 * The token table as the stack creates it (keyed by `provider`, as `functions/local/resources.ts`
 * provisions it), then a valid 1-hour token item written with the DynamoDB token store's
 * compare-and-swap (the first write of a provider: no item yet).
 */
export async function seedValidTokenItem(input: {
  readonly clientConfig: AwsClientConfig;
  readonly tableName: string;
  readonly provider: string;
  readonly accessToken: string;
}): Promise<void> {
  const { clientConfig, tableName, provider } = input;
  const admin = new DynamoDBClient(clientConfig);
  await admin.send(new CreateTableCommand(providerTableInput(tableName)));
  admin.destroy();
  await new DynamoDbTokenStore({ clientConfig, tableName }).write({
    provider,
    fence: 1,
    token: validToken(provider, input.accessToken),
    expectedVersionId: undefined,
  });
}

function validToken(provider: string, accessToken: string): TokenRecord {
  const now = Date.now();
  return {
    provider,
    accessToken,
    tokenType: 'Bearer',
    issuedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 3_600_000).toISOString(),
    generation: 1,
  };
}
