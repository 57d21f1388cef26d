import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import {
  DYNAMODB_SERVICE,
  resolveAwsEndpoint,
  SECRETS_MANAGER_SERVICE,
} from '../../../functions/client/aws-endpoint.js';

/** One region of each partition, and one of no known partition (the SDK takes `aws`'s then). */
const REGIONS = [
  'us-east-1',
  'eu-central-2',
  'mx-central-1',
  'cn-northwest-1',
  'us-gov-west-1',
  'us-iso-east-1',
  'us-isob-east-1',
  'eu-isoe-west-1',
  'us-isof-south-1',
  'eusc-de-east-1',
  'xx-unknown-1',
];

describe('Function: resolveAwsEndpoint', () => {
  describe.each([
    ['Secrets Manager', SECRETS_MANAGER_SERVICE, new SecretsManagerClient({ region: 'us-east-1' })],
    ['DynamoDB', DYNAMODB_SERVICE, new DynamoDBClient({ region: 'us-east-1' })],
  ])('%s', (_name, service, sdkClient) => {
    it.each(REGIONS)("answers the SDK's own regional endpoint in %s", (region) => {
      // Prepare: the SDK's endpoint rules, as its client resolves them
      const sdk = sdkClient.config.endpointProvider({ Region: region, UseFIPS: false, UseDualStack: false });

      // Act
      const resolved = resolveAwsEndpoint(service, region, undefined, {});

      // Assess
      expect(resolved).toStrictEqual({ endpoint: new URL(sdk.url.href) });
    });
  });

  it.each([
    [
      'the configured endpoint first',
      'http://127.0.0.1:1111',
      {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:2222',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:3333',
      },
      'http://127.0.0.1:1111/',
    ],
    [
      "then the service's variable",
      undefined,
      {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:2222',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:3333',
      },
      'http://127.0.0.1:2222/',
    ],
    [
      'then AWS_ENDPOINT_URL',
      undefined,
      { AWS_ENDPOINT_URL: 'http://127.0.0.1:3333' },
      'http://127.0.0.1:3333/',
    ],
    [
      'ignoring both variables with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true',
      undefined,
      { AWS_ENDPOINT_URL: 'http://127.0.0.1:3333', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' },
      'https://secretsmanager.eu-west-1.amazonaws.com/',
    ],
    [
      "ignoring another service's variable",
      undefined,
      { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4444' },
      'https://secretsmanager.eu-west-1.amazonaws.com/',
    ],
  ])('takes %s', (_case, configured, environment, expected) => {
    // Act
    const resolved = resolveAwsEndpoint(SECRETS_MANAGER_SERVICE, 'eu-west-1', configured, environment);

    // Assess
    expect(resolved).toStrictEqual({ endpoint: new URL(expected) });
  });

  it("reads DynamoDB's own variable, AWS_ENDPOINT_URL_DYNAMODB", () => {
    // Act
    const resolved = resolveAwsEndpoint(DYNAMODB_SERVICE, 'eu-west-1', undefined, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:2222',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4444',
    });

    // Assess
    expect(resolved).toStrictEqual({ endpoint: new URL('http://127.0.0.1:4444') });
  });

  it.each([
    ['FIPS endpoints', { AWS_USE_FIPS_ENDPOINT: 'true' }, 'AWS_USE_FIPS_ENDPOINT is set'],
    ['dual-stack endpoints', { AWS_USE_DUALSTACK_ENDPOINT: 'TRUE' }, 'AWS_USE_DUALSTACK_ENDPOINT is set'],
    ['an endpoint that is no URL', { AWS_ENDPOINT_URL: 'localhost:4566' }, 'is not an http(s) URL'],
  ])('leaves %s to the SDK', (_case, environment, reason) => {
    // Act
    const resolved = resolveAwsEndpoint(SECRETS_MANAGER_SERVICE, 'eu-west-1', undefined, environment);

    // Assess
    expect(resolved).toStrictEqual({ unsupported: expect.stringContaining(reason) });
  });

  it('leaves a region that is no host label to the SDK', () => {
    // Act
    const resolved = resolveAwsEndpoint(SECRETS_MANAGER_SERVICE, 'eu-west-1.evil.example', undefined, {});

    // Assess
    expect(resolved).toStrictEqual({ unsupported: expect.stringContaining('region') });
  });
});
