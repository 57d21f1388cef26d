/**
 * The CredentialsStore contract against the in-memory fake and against
 * `SecretsManagerCredentialsStore` on moto.
 */
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  credentialsSecretName,
  SecretsManagerCredentialsStore,
} from '../../functions/aws/credentials-store.js';
import { FakeCredentialsStore, FakeSecrets } from '../unit/core/fakes.js';
import { describeCredentialsStoreContract } from './credentials-store.contract.js';
import { useMoto } from './support.js';

const PREFIX = 'contract';

/** What a holder killed between the two steps of a write leaves its caller with. */
const interruption = () => Object.assign(new Error('Lambda timed out'), { name: 'TimeoutError' });

describeCredentialsStoreContract('FakeCredentialsStore', async () => {
  const secrets = new FakeSecrets();
  const store = new FakeCredentialsStore(secrets);
  return {
    store,
    seedValue: async (provider, value) => {
      secrets.seed(FakeCredentialsStore.secretId(provider), value);
    },
    interruptNextWrite: () => {
      store.interruptNextWrites.push(interruption());
    },
    missingCode: 'secret_not_found',
  };
});

const moto = useMoto();

describeCredentialsStoreContract('SecretsManagerCredentialsStore on moto', async () => {
  const clientConfig = await moto.fresh();
  const client = new SecretsManagerClient(clientConfig);
  // The stage move of the next write never reaches Secrets Manager: its PutSecretValue (AWSPENDING)
  // stays, as when the holder died right after it.
  let interruptNext = false;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (interruptNext && context.commandName === 'UpdateSecretVersionStageCommand') {
        interruptNext = false;
        throw interruption();
      }
      return next(args);
    },
    { step: 'initialize', name: 'contractInterruptStageMove' },
  );
  const operator = new SecretsManagerClient(clientConfig);
  return {
    store: new SecretsManagerCredentialsStore({ client, secretPrefix: PREFIX }),
    // The first value creates the secret (the stack, filled by the operator); later ones are the
    // operator's `put-secret-value`, which moves AWSCURRENT and leaves AWSPENDING where it is.
    seedValue: async (provider, value) => {
      const name = credentialsSecretName(PREFIX, provider);
      const secretString = JSON.stringify(value);
      try {
        await operator.send(new CreateSecretCommand({ Name: name, SecretString: secretString }));
      } catch (error) {
        if (!(error instanceof ResourceExistsException)) throw error;
        await operator.send(new PutSecretValueCommand({ SecretId: name, SecretString: secretString }));
      }
    },
    interruptNextWrite: () => {
      interruptNext = true;
    },
    missingCode: 'secret_not_found',
    close: async () => {
      client.destroy();
      operator.destroy();
    },
  };
});
