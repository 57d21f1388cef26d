/**
 * A token secret as the stack creates it (the placeholder), then a valid 1-hour token written with
 * the token store's compare-and-swap: what the read handlers of benchmarks 2 and 3 serve.
 */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PLACEHOLDER_SECRET_STRING } from '../../functions/aws/secrets.js';
import { SecretsManagerTokenStore, tokenSecretName } from '../../functions/aws/token-store.js';
import type { AwsClientConfig } from '../../functions/local/moto.js';

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
  const now = Date.now();
  await new SecretsManagerTokenStore({ clientConfig, secretPrefix }).write({
    provider,
    fence: 1,
    token: {
      provider,
      accessToken: input.accessToken,
      tokenType: 'Bearer',
      issuedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 3_600_000).toISOString(),
      generation: 1,
    },
    expectedVersionId: created.VersionId,
  });
}
