/**
 * The TokenStore contract against the in-memory fake and against `SecretsManagerTokenStore` on moto.
 */
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { PLACEHOLDER_SECRET_STRING } from '../../functions/aws/secrets.js';
import { SecretsManagerTokenStore, tokenSecretName } from '../../functions/aws/token-store.js';
import { FakeSecrets, FakeTokenStore } from '../unit/core/fakes.js';
import { useMoto } from './support.js';
import { describeTokenStoreContract } from './token-store.contract.js';

const PREFIX = 'contract';

describeTokenStoreContract('FakeTokenStore', async () => {
  const secrets = new FakeSecrets();
  return {
    store: new FakeTokenStore(secrets),
    seedPlaceholder: async (provider) => {
      secrets.seed(FakeTokenStore.secretId(provider), JSON.parse(PLACEHOLDER_SECRET_STRING));
    },
    seedValue: async (provider, value) => {
      secrets.seed(FakeTokenStore.secretId(provider), value);
    },
    missingCode: 'secret_not_found',
  };
});

const moto = useMoto();

describeTokenStoreContract('SecretsManagerTokenStore on moto', async () => {
  const clientConfig = await moto.fresh();
  const client = new SecretsManagerClient(clientConfig);
  return {
    store: new SecretsManagerTokenStore({ client, secretPrefix: PREFIX }),
    // As the stack creates it.
    seedPlaceholder: async (provider) => {
      await client.send(
        new CreateSecretCommand({
          Name: tokenSecretName(PREFIX, provider),
          SecretString: PLACEHOLDER_SECRET_STRING,
        }),
      );
    },
    // A plain PutSecretValue moves AWSCURRENT, as an operator's `put-secret-value` does.
    seedValue: async (provider, value) => {
      await client.send(
        new PutSecretValueCommand({
          SecretId: tokenSecretName(PREFIX, provider),
          SecretString: JSON.stringify(value),
        }),
      );
    },
    missingCode: 'secret_not_found',
    close: async () => client.destroy(),
  };
});
