/**
 * Where the read function takes what it checks proofs against: its name and region from Lambda's
 * variables, its STS endpoint from the region (or the emulator's, named by the SDK's variables).
 */
import { describe, expect, it } from 'vitest';
import { deployedConfigJson } from '../../../functions/core/config-schema.js';
import { readReadEnvironment } from '../../../functions/core/env.js';
import {
  callerProofVerifier,
  regionalStsEndpoint,
  trustedStsEndpoint,
} from '../../../functions/read/proof-composition.js';
import { FakeClock, RecordingLogger } from '../core/fakes.js';

const CONFIG = deployedConfigJson({
  providers: [{ name: 'acme', grant: 'client_credentials', tokenUrl: 'https://a.example.com/t' }],
});
const BASE = { PROVIDERS_CONFIG: CONFIG, REFRESH_FUNCTION_NAME: 'refresh' };

describe('Function: readReadEnvironment (caller proof variables)', () => {
  it('reads the function name, the region and the STS override, each only when set', () => {
    expect(
      readReadEnvironment({
        ...BASE,
        AWS_LAMBDA_FUNCTION_NAME: 'prod-Read-1',
        AWS_REGION: 'eu-west-1',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
        AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:5001',
      }),
    ).toMatchObject({
      functionName: 'prod-Read-1',
      region: 'eu-west-1',
      stsEndpoint: 'http://127.0.0.1:5001',
    });
    expect(readReadEnvironment({ ...BASE, AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' }).stsEndpoint).toBe(
      'http://127.0.0.1:5000',
    );
    const bare = readReadEnvironment(BASE);
    expect([bare.functionName, bare.region, bare.stsEndpoint, bare.config.trustDirectInvoke]).toEqual([
      undefined,
      undefined,
      undefined,
      false,
    ]);
  });
});

describe('Function: trustedStsEndpoint', () => {
  it('keeps an https origin or a loopback http one, as origin and "/"', () => {
    expect(trustedStsEndpoint('https://sts.eu-west-1.amazonaws.com').href).toBe(
      'https://sts.eu-west-1.amazonaws.com/',
    );
    expect(trustedStsEndpoint('http://127.0.0.1:5000/').href).toBe('http://127.0.0.1:5000/');
    expect(regionalStsEndpoint('ap-south-1')).toBe('https://sts.ap-south-1.amazonaws.com/');
  });

  it.each([
    'http://sts.eu-west-1.amazonaws.com',
    'https://sts.eu-west-1.amazonaws.com/x',
    'https://user@sts.eu-west-1.amazonaws.com',
    'https://sts.eu-west-1.amazonaws.com/?a=1',
    'sts.eu-west-1.amazonaws.com',
  ])('refuses %s at cold start, naming the variable', (value) => {
    expect(() => trustedStsEndpoint(value)).toThrow(
      /AWS_ENDPOINT_URL_STS \(or AWS_ENDPOINT_URL\) must be an https origin/,
    );
  });
});

describe('Function: callerProofVerifier', () => {
  it('without a function name (outside Lambda) refuses every proof with 503, and logs why once', async () => {
    // Prepare
    const logger = new RecordingLogger();

    // Act
    const proofs = callerProofVerifier({
      environment: readReadEnvironment({ ...BASE, AWS_REGION: 'eu-west-1' }),
      clientConfig: {},
      clock: new FakeClock(),
      logger,
    });
    const before = logger.lines.length;
    const answer = await proofs.identify('anything');
    await proofs.identify('anything else');

    // Assess
    expect(before).toBe(0);
    expect(answer).toMatchObject({ ok: false, status: 503, code: 'identity_unavailable' });
    expect(logger.lines).toMatchObject([
      {
        level: 'error',
        message: 'Caller proofs cannot be checked',
        attributes: { missing: 'AWS_LAMBDA_FUNCTION_NAME' },
      },
    ]);
  });
});
