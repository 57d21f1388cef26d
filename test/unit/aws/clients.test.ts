import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSecretsManagerClient } from '../../../functions/aws/secrets.js';
import { createDynamoDbClient } from '../../../functions/aws/state-table.js';

describe('Function: createSecretsManagerClient', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('takes the region from AWS_REGION and retries at most 3 attempts', async () => {
    // Prepare
    vi.stubEnv('AWS_REGION', 'eu-west-1');

    // Act
    const client = createSecretsManagerClient();

    // Assess
    expect(await client.config.region()).toBe('eu-west-1');
    expect(await client.config.maxAttempts()).toBe(3);
    client.destroy();
  });

  it('lets the given config win over the defaults', async () => {
    // Act
    const client = createSecretsManagerClient({ region: 'us-east-1', maxAttempts: 5 });

    // Assess
    expect(await client.config.maxAttempts()).toBe(5);
    client.destroy();
  });
});

describe('Function: createDynamoDbClient', () => {
  it('retries at most 3 attempts', async () => {
    // Act
    const client = createDynamoDbClient({ region: 'us-east-1' });

    // Assess
    expect(await client.config.maxAttempts()).toBe(3);
    client.destroy();
  });
});
