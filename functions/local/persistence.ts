/**
 * What `npm start` keeps across restarts, in `.token-refresher/` of the working directory: with
 * real providers (`--config`), the emulator's secrets (token and credentials, every version with its
 * staging labels) and DynamoDB tables (the state/lock table) in `emulator-state.json`, written by the
 * emulator launcher after every change (`serialized_moto.py --state-file`). The directory is mode
 * 0700 and every file in it 0600: the state file holds refresh tokens and client secrets.
 *
 * The demo providers start from empty state every time: the demo OAuth server keeps its clients and
 * tokens in memory, so nothing it issued would be valid after a restart.
 */
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { isAwsError } from '../aws/sdk-errors.js';
import { credentialsSecretName, PLACEHOLDER_SECRET_STRING, tokenSecretName } from '../core/names.js';
import { hasTokenSecret, type ProvisionInput, providerTableInput, tablesOf } from './resources.js';

/** The local service's directory, relative to the working directory. */
export const LOCAL_DIRECTORY = '.token-refresher';
/** The emulator's state file, relative to the working directory. */
export const LOCAL_STATE_FILE = join(LOCAL_DIRECTORY, 'emulator-state.json');
/** Mode of the files in {@link LOCAL_DIRECTORY}. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of {@link LOCAL_DIRECTORY}. */
export const PRIVATE_DIRECTORY_MODE = 0o700;

/**
 * Creates `dir` (mode 0700), and brings an existing one and its files to 0700/0600 (a directory left
 * by an older version, or created under a permissive umask).
 */
export function preparePrivateDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIRECTORY_MODE });
  chmodSync(dir, PRIVATE_DIRECTORY_MODE);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isFile()) chmodSync(path, PRIVATE_FILE_MODE);
  }
}

/**
 * Creates what the stack would create for a configuration (see `provision` in `resources.ts`), but
 * only what is missing: a restored table, token secret or credentials secret is kept as it is, with
 * all its versions.
 */
export async function provisionMissing(input: ProvisionInput): Promise<void> {
  const dynamodb = new DynamoDBClient(input.clientConfig);
  const secrets = new SecretsManagerClient(input.clientConfig);
  const unlessExists = async (create: Promise<unknown>): Promise<void> => {
    try {
      await create;
    } catch (error) {
      if (!isAwsError(error, 'ResourceInUseException', 'ResourceExistsException')) throw error;
    }
  };
  try {
    for (const table of tablesOf(input)) {
      await unlessExists(dynamodb.send(new CreateTableCommand(providerTableInput(table))));
    }
    for (const [provider, credentials] of Object.entries(input.credentials)) {
      if (hasTokenSecret(input, provider)) {
        await unlessExists(
          secrets.send(
            new CreateSecretCommand({
              Name: tokenSecretName(input.secretPrefix, provider),
              SecretString: PLACEHOLDER_SECRET_STRING,
            }),
          ),
        );
      }
      await unlessExists(
        secrets.send(
          new CreateSecretCommand({
            Name: credentialsSecretName(input.secretPrefix, provider),
            SecretString: credentials === undefined ? PLACEHOLDER_SECRET_STRING : JSON.stringify(credentials),
          }),
        ),
      );
    }
  } finally {
    dynamodb.destroy();
    secrets.destroy();
  }
}
