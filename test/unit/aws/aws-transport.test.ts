import { describe, expect, it } from 'vitest';
import {
  AWS_TRANSPORT_VARIABLE,
  awsTransportFromEnvironment,
  planAwsTransport,
} from '../../../functions/aws/aws-transport.js';

const LAMBDA_ENVIRONMENT = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret-of-the-role',
  AWS_SESSION_TOKEN: 'session-of-the-role',
};

describe('Function: awsTransportFromEnvironment', () => {
  it('reads fetch, sdk, or nothing (the default)', () => {
    expect(awsTransportFromEnvironment({ [AWS_TRANSPORT_VARIABLE]: 'sdk' })).toBe('sdk');
    expect(awsTransportFromEnvironment({ [AWS_TRANSPORT_VARIABLE]: ' fetch ' })).toBe('fetch');
    expect(awsTransportFromEnvironment({ [AWS_TRANSPORT_VARIABLE]: '' })).toBeUndefined();
    expect(awsTransportFromEnvironment({})).toBeUndefined();
  });

  it('refuses any other value at cold start, naming the variable and its values', () => {
    expect(() => awsTransportFromEnvironment({ [AWS_TRANSPORT_VARIABLE]: 'SDK' })).toThrow(
      /^TOKEN_REFRESHER_AWS_TRANSPORT must be "fetch" .* or "sdk" .*, not "SDK"/,
    );
  });
});

describe('Function: planAwsTransport', () => {
  it('plans fetch on Lambda: regional endpoints, the role credentials of the environment, 3 attempts', async () => {
    // Act
    const plan = planAwsTransport({
      transport: undefined,
      clientConfig: {},
      environment: LAMBDA_ENVIRONMENT,
    });

    // Assess
    expect(plan).toMatchObject({
      kind: 'fetch',
      region: 'eu-west-1',
      maxAttempts: 3,
      endpoints: {
        secretsManager: new URL('https://secretsmanager.eu-west-1.amazonaws.com'),
        dynamodb: new URL('https://dynamodb.eu-west-1.amazonaws.com'),
        lambda: new URL('https://lambda.eu-west-1.amazonaws.com'),
      },
    });
    const credentials = plan.kind === 'fetch' ? plan.credentials : undefined;
    expect(typeof credentials === 'function' ? await credentials() : credentials).toEqual({
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'secret-of-the-role',
      sessionToken: 'session-of-the-role',
    });
  });

  it('takes endpoints as the SDK does: AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL; the client config wins', () => {
    // Act
    const fromEnvironment = planAwsTransport({
      transport: 'fetch',
      clientConfig: {},
      environment: {
        ...LAMBDA_ENVIRONMENT,
        AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
        AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:6000',
      },
    });
    const fromConfig = planAwsTransport({
      transport: undefined,
      clientConfig: { region: 'us-east-1', endpoint: 'http://127.0.0.1:7000', maxAttempts: 1 },
      environment: { AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:6000' },
    });

    // Assess
    expect(fromEnvironment).toMatchObject({
      kind: 'fetch',
      endpoints: {
        secretsManager: new URL('http://127.0.0.1:5000'),
        dynamodb: new URL('http://127.0.0.1:5000'),
        lambda: new URL('http://127.0.0.1:6000'),
      },
    });
    expect(fromConfig).toMatchObject({
      kind: 'fetch',
      region: 'us-east-1',
      maxAttempts: 1,
      endpoints: { lambda: new URL('http://127.0.0.1:7000') },
    });
  });

  it('plans sdk when asked, and by default where fetch cannot do what the SDK would (no region, FIPS)', () => {
    expect(planAwsTransport({ transport: 'sdk', clientConfig: {}, environment: LAMBDA_ENVIRONMENT })).toEqual(
      { kind: 'sdk', reason: 'TOKEN_REFRESHER_AWS_TRANSPORT=sdk' },
    );
    expect(planAwsTransport({ transport: undefined, clientConfig: {}, environment: {} })).toEqual({
      kind: 'sdk',
      reason: 'no region is set (AWS_REGION)',
    });
    expect(
      planAwsTransport({
        transport: undefined,
        clientConfig: {},
        environment: { ...LAMBDA_ENVIRONMENT, AWS_USE_FIPS_ENDPOINT: 'true' },
      }),
    ).toEqual({ kind: 'sdk', reason: 'AWS_USE_FIPS_ENDPOINT is set' });
  });

  it('refuses an explicit fetch that cannot be used, saying why and what to set', () => {
    expect(() => planAwsTransport({ transport: 'fetch', clientConfig: {}, environment: {} })).toThrow(
      'TOKEN_REFRESHER_AWS_TRANSPORT=fetch cannot be used: no region is set (AWS_REGION); set it to "sdk" or unset it',
    );
  });
});
