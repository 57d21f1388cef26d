/**
 * The client's half of the caller proof: what it signs, how long it reuses a proof, where it sends
 * it, and that it agrees with the read function on the wire format (the two sides keep their own
 * constants: the client package ships without the read function's code).
 */
import { describe, expect, it } from 'vitest';
import * as client from '../../../functions/client/caller-proof.js';
import { CallerProofSigner, PROOF_REUSE_MS } from '../../../functions/client/caller-proof.js';
import { resolveReadFunctionEndpoint } from '../../../functions/client/options.js';
import * as server from '../../../functions/read/caller-proof.js';
import { regionalStsEndpoint as serverRegionalStsEndpoint } from '../../../functions/read/proof-composition.js';
import { T0 } from './fakes.js';

const URL_BASE = 'https://abcdefghij0123456789.lambda-url.eu-west-1.on.aws/';
const FUNCTION_NAME = 'prod-TokensReadFunction-Q1w2E3';

describe('Class: CallerProofSigner', () => {
  const build = () => {
    let now = T0;
    const signed: { request: client.ProofHttpRequest; date: Date }[] = [];
    const signer = new CallerProofSigner({
      stsEndpoint: new URL('https://sts.eu-west-1.amazonaws.com/'),
      serverId: FUNCTION_NAME,
      sign: async (request, { signingDate }) => {
        signed.push({ request, date: signingDate });
        await new Promise((resolve) => setTimeout(resolve, 5));
        return {
          headers: { ...request.headers, Authorization: `signature-${signed.length}`, 'X-Amz-Date': 'd' },
        };
      },
      now: () => now,
    });
    return { signer, signed, advance: (ms: number) => (now += ms) };
  };

  it('signs a POST of GetCallerIdentity to the endpoint, naming the read function, dated now', async () => {
    // Prepare
    const { signer, signed } = build();

    // Act
    const { proof, reused } = await signer.proof();

    // Assess
    expect(reused).toBe(false);
    expect(signed[0]?.date).toEqual(new Date(T0));
    expect(signed[0]?.request).toMatchObject({
      method: 'POST',
      protocol: 'https:',
      hostname: 'sts.eu-west-1.amazonaws.com',
      path: '/',
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
      headers: {
        host: 'sts.eu-west-1.amazonaws.com',
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        'x-token-refresher-server-id': FUNCTION_NAME,
      },
    });
    expect(JSON.parse(Buffer.from(proof, 'base64').toString('utf8'))).toStrictEqual({
      method: 'POST',
      url: 'https://sts.eu-west-1.amazonaws.com/',
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
      headers: {
        host: 'sts.eu-west-1.amazonaws.com',
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        'x-token-refresher-server-id': FUNCTION_NAME,
        authorization: 'signature-1',
        'x-amz-date': 'd',
      },
    });
  });

  it('reuses a proof for 4 minutes, shares one signing among concurrent requests, and signs again when told', async () => {
    // Prepare
    const { signer, signed, advance } = build();

    // Act
    const concurrent = await Promise.all(Array.from({ length: 20 }, () => signer.proof()));
    advance(PROOF_REUSE_MS - 1);
    const reused = await signer.proof();
    advance(1);
    const renewed = await signer.proof();
    signer.forget(renewed.proof);
    const afterRefusal = await signer.proof();

    // Assess
    expect(new Set(concurrent.map((each) => each.proof)).size).toBe(1);
    expect(reused).toStrictEqual({ proof: concurrent[0]?.proof, reused: true });
    expect(renewed.reused).toBe(false);
    expect(renewed.proof).not.toBe(reused.proof);
    expect(afterRefusal.reused).toBe(false);
    expect(signed).toHaveLength(3);
  });
});

describe('Function: resolveReadFunctionEndpoint (caller proof)', () => {
  it.each([
    [
      'the option first',
      { stsEndpoint: 'http://127.0.0.1:5000' },
      { AWS_ENDPOINT_URL_STS: 'https://a.example' },
      'http://127.0.0.1:5000/',
    ],
    [
      'AWS_ENDPOINT_URL_STS next',
      {},
      { AWS_ENDPOINT_URL_STS: 'https://sts.example.com', AWS_ENDPOINT_URL: 'https://b.example' },
      'https://sts.example.com/',
    ],
    ['AWS_ENDPOINT_URL next', {}, { AWS_ENDPOINT_URL: 'http://localhost:4566/' }, 'http://localhost:4566/'],
    ['STS in the read function’s region last', {}, {}, 'https://sts.eu-west-1.amazonaws.com/'],
    [
      'the China partition’s domain',
      { region: 'cn-north-1' },
      {},
      'https://sts.cn-north-1.amazonaws.com.cn/',
    ],
  ])('sends the proof to %s', (_case, options, environment, expected) => {
    // Act
    const endpoint = resolveReadFunctionEndpoint(
      { url: URL_BASE, functionName: FUNCTION_NAME, ...options },
      environment,
    );

    // Assess
    expect(endpoint.stsEndpoint.href).toBe(expected);
    expect(endpoint.functionName).toBe(FUNCTION_NAME);
  });

  it.each([
    ['no functionName', { functionName: undefined }, 'functionName must be the read function'],
    [
      'a functionName that is an ARN',
      { functionName: 'arn:aws:lambda:eu-west-1:1:function:x' },
      'ReadFunctionName',
    ],
    [
      'a plain-http STS endpoint',
      { stsEndpoint: 'http://sts.eu-west-1.amazonaws.com' },
      'stsEndpoint must be an https origin',
    ],
    [
      'an STS endpoint with a path',
      { stsEndpoint: 'https://sts.eu-west-1.amazonaws.com/x' },
      'stsEndpoint must be',
    ],
    ['an STS endpoint that is no URL', { stsEndpoint: 'sts' }, 'stsEndpoint must be'],
  ])('refuses %s with invalid_options naming the option', (_case, options, fragment) => {
    // Act
    const resolving = () =>
      resolveReadFunctionEndpoint({ url: URL_BASE, functionName: FUNCTION_NAME, ...options }, {});

    // Assess
    expect(resolving).toThrow(
      expect.objectContaining({ code: 'invalid_options', message: expect.stringContaining(fragment) }),
    );
  });
});

describe('Wire format: client and read function agree', () => {
  it('on the header, the server-id header, the body, the reuse within the age limit, and the regional endpoint', () => {
    expect(client.CALLER_PROOF_HEADER).toBe(server.CALLER_PROOF_HEADER);
    expect(client.SERVER_ID_HEADER).toBe(server.SERVER_ID_HEADER);
    expect(client.GET_CALLER_IDENTITY_BODY).toBe(server.GET_CALLER_IDENTITY_BODY);
    expect(client.PROOF_REUSE_MS).toBeLessThan(server.PROOF_MAX_AGE_MS);
    for (const region of ['eu-west-1', 'us-gov-west-1', 'cn-northwest-1']) {
      expect(client.regionalStsEndpoint(region)).toBe(serverRegionalStsEndpoint(region));
    }
  });
});
