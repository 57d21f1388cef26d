/** A consumer with the plain SDK: one `GetSecretValue` of the token secret, its JSON parsed. */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

const secretId = process.env.BENCH_SECRET_ID ?? '';
const client = new SecretsManagerClient({});

export async function handler(): Promise<string> {
  // The stage is explicit, as in the client: without it moto may answer another version.
  const output = await client.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }),
  );
  return (JSON.parse(output.SecretString ?? '{}') as { accessToken: string }).accessToken;
}
