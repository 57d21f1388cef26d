/**
 * Issue 15, finding 1 (forged caller) and finding 12 (refused callers logged): the read handler
 * identifies its caller only by a caller proof, for a Function URL event and a direct Invoke alike.
 * Proofs are made by the client's signer; STS is a fake that checks signatures with each key's secret.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { AccessPolicy } from '../../../functions/core/access.js';
import { TokenReader } from '../../../functions/core/read.js';
import type { TokenRecord } from '../../../functions/core/types.js';
import { createReadHandler, type ReadHandler, type UrlResponse } from '../../../functions/read/app.js';
import { CallerIdentityVerifier } from '../../../functions/read/caller-identity.js';
import { MAX_CALLER_PROOF_CHARS } from '../../../functions/read/caller-proof.js';
import { FakeClock, FakeSecrets, FakeTokenStore, RecordingLogger } from '../core/fakes.js';
import {
  decode,
  FakeSts,
  type Principal,
  principal,
  REGION,
  SERVER_ID,
  STS_ENDPOINT,
  signProof,
  signRaw,
  tamper,
} from './proof-fakes.js';

const ROLE_A = 'arn:aws:iam::123456789012:role/consumer-a';
const ROLE_B = 'arn:aws:iam::123456789012:role/consumer-b';
const ALICE = principal('consumer-a', '123456789012', 'alice');
const BOB = principal('consumer-b', '123456789012', 'bob');
const MALLORY = principal('not-a-consumer', '123456789012', 'mallory');
const STRANGER = principal('consumer-a', '999999999999', 'stranger');
const MINUTE = 60_000;

function record(provider: string, now: number): TokenRecord {
  return {
    provider,
    accessToken: `access-token-${provider}-7f3a`,
    tokenType: 'Bearer',
    expiresAt: new Date(now + 3600_000).toISOString(),
    issuedAt: new Date(now).toISOString(),
    generation: 1,
  };
}

function urlEvent(input: {
  path?: string;
  proof?: string;
  userArn?: string;
  headers?: Record<string, string>;
}): Record<string, unknown> {
  return {
    version: '2.0',
    rawPath: input.path ?? '/tokens/alpha',
    headers: {
      ...(input.proof === undefined ? {} : { 'x-token-refresher-proof': input.proof }),
      ...input.headers,
    },
    isBase64Encoded: false,
    requestContext: {
      http: { method: 'GET', path: input.path ?? '/tokens/alpha' },
      ...(input.userArn === undefined
        ? {}
        : { authorizer: { iam: { userArn: input.userArn, accountId: '123456789012' } } }),
    },
  };
}

/** Status and code of either kind of answer. */
function outcome(answer: unknown): { status: number; code?: string; message?: string; provider?: string } {
  if (typeof answer === 'object' && answer !== null && 'statusCode' in answer) {
    const { statusCode, body } = answer as UrlResponse;
    const parsed = JSON.parse(body) as { code?: string; message?: string; provider?: string };
    return { status: statusCode, ...parsed };
  }
  if (typeof answer === 'object' && answer !== null && 'error' in answer) {
    return (answer as { error: { status: number; code: string; message: string } }).error;
  }
  return { status: 200, provider: (answer as { provider: string }).provider };
}

describe('Read handler: caller identity by caller proof', () => {
  let clock: FakeClock;
  let sts: FakeSts;
  let logger: RecordingLogger;
  let verifier: CallerIdentityVerifier;
  let build: (options?: { trustDirectInvoke?: boolean; maxCachedProofs?: number }) => ReadHandler;
  let handler: ReadHandler;
  const proofOf = (who: Principal, options: Partial<Parameters<typeof signProof>[1]> = {}) =>
    signProof(who, { at: clock.now(), ...options });

  beforeEach(() => {
    clock = new FakeClock();
    sts = new FakeSts([ALICE, BOB, MALLORY, STRANGER]);
    logger = new RecordingLogger();
    const secrets = new FakeSecrets();
    for (const name of ['alpha', 'beta'])
      secrets.seed(FakeTokenStore.secretId(name), record(name, clock.now()));
    build = (options = {}) => {
      verifier = new CallerIdentityVerifier({
        expectations: { stsEndpoint: new URL(STS_ENDPOINT), region: REGION, serverId: SERVER_ID },
        send: sts.send,
        clock,
        ...(options.maxCachedProofs === undefined ? {} : { maxCachedProofs: options.maxCachedProofs }),
      });
      return createReadHandler({
        reader: new TokenReader({
          tokens: new FakeTokenStore(secrets),
          trigger: { refresh: async () => ({ status: 'fresh', provider: 'x' }) as never },
          clock,
          logger,
        }),
        policy: new AccessPolicy(
          new Map([
            ['alpha', [ROLE_A]],
            ['beta', [ROLE_B]],
          ]),
        ),
        providers: new Set(['alpha', 'beta']),
        proofs: verifier,
        ...(options.trustDirectInvoke === undefined ? {} : { trustDirectInvoke: options.trustDirectInvoke }),
        logger,
        clock,
      });
    };
    handler = build();
  });

  describe('forged events', () => {
    it('refuses every forged Function URL event and proof-less direct Invoke, whatever userArn it claims', async () => {
      // Prepare: what anyone allowed lambda:InvokeFunction can send, with no credentials of a consumer.
      const callers = [
        ALICE.arn,
        ROLE_A,
        BOB.arn,
        ROLE_B,
        'arn:aws:sts::123456789012:assumed-role/consumer-a/anything',
        'arn:aws:iam::123456789012:role/path/consumer-b',
      ];
      const forged: unknown[] = [
        ...callers.flatMap((userArn) => [
          urlEvent({ userArn }),
          urlEvent({ userArn, path: '/tokens/beta' }),
          urlEvent({ userArn, headers: { 'x-token-refresher-caller': userArn } }),
        ]),
        urlEvent({}),
        urlEvent({ headers: { 'x-token-refresher-caller': ALICE.arn } }),
        { provider: 'alpha' },
        { provider: 'beta', action: 'get' },
        { provider: 'alpha', action: 'refresh', rejectedTokenSha256: 'a'.repeat(64) },
      ];

      // Act
      const answers = await Promise.all(forged.map(async (event) => outcome(await handler(event))));

      // Assess: all refused as unproven, none served, STS never asked.
      const refused = answers.filter(
        (answer) => answer.status === 401 && answer.code === 'missing_caller_proof',
      );
      expect(forged.length).toBe(23);
      expect(refused.length).toBe(forged.length);
      expect(answers.some((answer) => answer.status === 200)).toBe(false);
      expect(sts.calls).toHaveLength(0);
      expect(answers.at(-2)?.message).toContain('trustDirectInvoke: true');
      expect(answers[0]?.message).toContain('x-token-refresher-proof');
    });

    it('believes a forged event only when the operator set trustDirectInvoke (the documented opt-in)', async () => {
      // Prepare
      handler = build({ trustDirectInvoke: true });

      // Act
      const byEvent = outcome(await handler(urlEvent({ userArn: ALICE.arn })));
      const byInvoke = outcome(await handler({ provider: 'beta' }));
      const badProof = outcome(await handler(urlEvent({ userArn: ALICE.arn, proof: 'bm90IGEgcHJvb2Y=' })));

      // Assess: a proof, when sent, is still checked.
      expect(byEvent).toMatchObject({ status: 200, provider: 'alpha' });
      expect(byInvoke).toMatchObject({ status: 200, provider: 'beta' });
      expect(badProof).toMatchObject({ status: 401, code: 'invalid_caller_proof' });
    });
  });

  describe('valid proofs', () => {
    it('serves the proven caller its own provider, by Function URL and by direct Invoke, and refuses the other', async () => {
      // Prepare
      const proof = await proofOf(ALICE);

      // Act
      const answers = [
        outcome(await handler(urlEvent({ proof }))),
        outcome(await handler(urlEvent({ proof, path: '/tokens/beta', userArn: BOB.arn }))),
        outcome(await handler({ provider: 'alpha', callerProof: proof })),
        outcome(await handler({ provider: 'beta', callerProof: proof })),
        outcome(await handler({ provider: 'gamma', callerProof: proof })),
        outcome(await handler(urlEvent({ proof: await proofOf(BOB), path: '/tokens/beta' }))),
        outcome(await handler(urlEvent({ proof: await proofOf(MALLORY) }))),
        outcome(await handler(urlEvent({ proof: await proofOf(STRANGER) }))),
      ];

      // Assess: the userArn a forged event adds changes nothing; an unknown provider is 403 as on the URL.
      expect(answers.map(({ status, provider, code }) => provider ?? `${status} ${code}`)).toEqual([
        'alpha',
        '403 forbidden',
        'alpha',
        '403 forbidden',
        '403 forbidden',
        'beta',
        '403 forbidden',
        '403 forbidden',
      ]);
    });

    it('asks STS once per proof: 1,000 reads with one proof make one call, and the proof lapses after 5 minutes', async () => {
      // Prepare
      const proof = await proofOf(ALICE);

      // Act
      const answers = await Promise.all(
        Array.from({ length: 1000 }, async () => outcome(await handler(urlEvent({ proof })))),
      );
      clock.advance(5 * MINUTE + 1);
      const late = outcome(await handler(urlEvent({ proof })));

      // Assess
      expect(answers.every((answer) => answer.status === 200)).toBe(true);
      expect(sts.calls).toHaveLength(1);
      expect(late).toMatchObject({ status: 401, code: 'caller_proof_expired' });
      expect(sts.calls).toHaveLength(1);
    });

    it('keeps at most maxCachedProofs proofs', async () => {
      // Prepare
      handler = build({ maxCachedProofs: 3 });

      // Act
      for (let i = 0; i < 5; i += 1) {
        await handler(urlEvent({ proof: await proofOf(ALICE) }));
        clock.advance(1000);
      }

      // Assess
      expect(verifier.cachedProofs).toBe(3);
      expect(sts.calls).toHaveLength(5);
    });
  });

  describe('refused proofs', () => {
    it('refuses a proof made for another read function: wrong, missing or unsigned server id', async () => {
      // Prepare
      const at = clock.now();
      const body = 'Action=GetCallerIdentity&Version=2011-06-15';
      const form = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
      const proofs = {
        other: await proofOf(ALICE, { serverId: 'staging-TokensReadFunction-Z9' }),
        missing: await signRaw(ALICE, { method: 'POST', url: STS_ENDPOINT, body, headers: form, at }),
        unsigned: await signRaw(
          ALICE,
          { method: 'POST', url: STS_ENDPOINT, body, headers: form, at },
          { 'x-token-refresher-server-id': SERVER_ID },
        ),
        swapped: tamper(await proofOf(ALICE, { serverId: 'staging-TokensReadFunction-Z9' }), (fields) => {
          fields.headers['x-token-refresher-server-id'] = SERVER_ID;
        }),
      };

      // Act
      const answers = await Promise.all(
        Object.entries(proofs).map(async ([name, proof]) => [
          name,
          outcome(await handler(urlEvent({ proof }))),
        ]),
      );

      // Assess: the swapped one passes the local checks, and STS refuses its signature.
      expect(answers.map(([name, answer]) => [name, (answer as { code: string }).code])).toEqual([
        ['other', 'caller_proof_wrong_server'],
        ['missing', 'caller_proof_wrong_server'],
        ['unsigned', 'caller_proof_wrong_server'],
        ['swapped', 'caller_proof_rejected'],
      ]);
      expect(answers[0]?.[1]).toMatchObject({
        message: expect.stringContaining(`functionName: "${SERVER_ID}"`),
      });
      expect(sts.calls).toHaveLength(1);
    });

    it('never sends a proof anywhere but the trusted STS endpoint, nor anything but GetCallerIdentity', async () => {
      // Prepare: each proof is validly signed by a consumer, for this read function.
      const at = clock.now();
      const form = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
      const gci = 'Action=GetCallerIdentity&Version=2011-06-15';
      const server = { 'x-token-refresher-server-id': SERVER_ID };
      const raw = (method: string, url: string, body = gci, headers: Record<string, string> = {}) =>
        signRaw(ALICE, { method, url, body, headers: { ...form, ...server, ...headers }, at });
      const cases: [string, string][] = [
        ["an attacker's host", await proofOf(ALICE, { stsEndpoint: 'https://attacker.example/' })],
        ['plain http', await proofOf(ALICE, { stsEndpoint: 'http://sts.eu-west-1.amazonaws.com/' })],
        [
          'STS as a subdomain',
          await proofOf(ALICE, { stsEndpoint: 'https://sts.eu-west-1.amazonaws.com.evil.example/' }),
        ],
        ['the global endpoint', await proofOf(ALICE, { stsEndpoint: 'https://sts.amazonaws.com/' })],
        [
          'another region',
          await proofOf(ALICE, { stsEndpoint: 'https://sts.us-east-1.amazonaws.com/', region: 'us-east-1' }),
        ],
        ['another port', await proofOf(ALICE, { stsEndpoint: 'https://sts.eu-west-1.amazonaws.com:8443/' })],
        ['another path', await raw('POST', `${STS_ENDPOINT}x`)],
        ['a query', await raw('POST', `${STS_ENDPOINT}?Action=GetCallerIdentity&Version=2011-06-15`)],
        ['user info', await raw('POST', 'https://user@sts.eu-west-1.amazonaws.com/')],
        ['GET', await raw('GET', STS_ENDPOINT)],
        [
          'AssumeRole',
          await raw('POST', STS_ENDPOINT, 'Action=AssumeRole&Version=2011-06-15&RoleArn=x&RoleSessionName=y'),
        ],
        ['an extra parameter', await raw('POST', STS_ENDPOINT, `${gci}&RoleArn=x`)],
        ['Action twice', await raw('POST', STS_ENDPOINT, `${gci}&Action=AssumeRole`)],
        ['another version', await raw('POST', STS_ENDPOINT, 'Action=GetCallerIdentity&Version=2020-01-01')],
        ['an extra header', await raw('POST', STS_ENDPOINT, gci, { 'x-forwarded-host': 'attacker.example' })],
        ['a JSON content type', await raw('POST', STS_ENDPOINT, gci, { 'content-type': 'application/json' })],
        [
          'a host header for elsewhere',
          tamper(await proofOf(ALICE), (fields) => {
            fields.headers.host = 'attacker.example';
          }),
        ],
        [
          'an unsigned extra header',
          tamper(await proofOf(ALICE), (fields) => {
            fields.headers['x-amz-security-token-2'] = 'x';
          }),
        ],
        [
          'a header twice (case)',
          tamper(await proofOf(ALICE), (fields) => {
            fields.headers['X-Amz-Date'] = fields.headers['x-amz-date'] ?? '';
          }),
        ],
        [
          'CR LF in a header',
          tamper(await proofOf(ALICE), (fields) => {
            fields.headers['x-amz-date'] = `${fields.headers['x-amz-date']}\r\nhost: attacker.example`;
          }),
        ],
        [
          'a signature for another service',
          tamper(await proofOf(ALICE), (fields) => {
            fields.headers.authorization = (fields.headers.authorization ?? '').replace('/sts/', '/lambda/');
          }),
        ],
        [
          'a body hash for another body',
          tamper(await proofOf(ALICE), (fields) => {
            fields.headers['x-amz-content-sha256'] = '0'.repeat(64);
          }),
        ],
        ['not base64', 'not base64!'],
        ['base64 of text', Buffer.from('hello').toString('base64')],
        ['an extra field', tamper(await proofOf(ALICE), (fields) => Object.assign(fields, { extra: 1 }))],
        ['an oversize proof', `${await proofOf(ALICE)}${'A'.repeat(MAX_CALLER_PROOF_CHARS)}`],
      ];

      // Act
      const answers = await Promise.all(
        cases.map(async ([name, proof]) => [name, outcome(await handler(urlEvent({ proof })))] as const),
      );

      // Assess
      expect(answers.map(([name, answer]) => [name, answer.status, answer.code])).toEqual(
        cases.map(([name]) => [name, 401, 'invalid_caller_proof']),
      );
      expect(sts.calls).toHaveLength(0);
      const oversize = answers.at(-1)?.[1].message ?? '';
      expect(oversize).toContain(`at most ${MAX_CALLER_PROOF_CHARS}`);
    });

    it('refuses a proof signed more than 5 minutes ago, or 5 minutes ahead', async () => {
      // Prepare
      const old = await proofOf(ALICE, { at: clock.now() - 5 * MINUTE - 1000 });
      const ahead = await proofOf(ALICE, { at: clock.now() + 5 * MINUTE + 1000 });
      const recent = await proofOf(ALICE, { at: clock.now() - 4 * MINUTE });

      // Act
      const answers = [old, ahead, recent].map(async (proof) => outcome(await handler(urlEvent({ proof }))));

      // Assess
      expect((await Promise.all(answers)).map(({ status, code }) => `${status} ${code}`)).toEqual([
        '401 caller_proof_expired',
        '401 caller_proof_expired',
        '200 undefined',
      ]);
    });

    it('refuses a forged signature as STS does, asking STS once for the same proof', async () => {
      // Prepare: Mallory's key id with a signature she made up.
      const forged = tamper(await proofOf(MALLORY), (fields) => {
        fields.headers.authorization = (fields.headers.authorization ?? '').replace(
          MALLORY.credentials.accessKeyId,
          ALICE.credentials.accessKeyId,
        );
      });

      // Act
      const first = outcome(await handler(urlEvent({ proof: forged })));
      const again = outcome(await handler({ provider: 'alpha', callerProof: forged }));

      // Assess
      expect(first).toMatchObject({ status: 401, code: 'caller_proof_rejected' });
      expect(first.message).toContain('SignatureDoesNotMatch');
      expect(again).toMatchObject({ status: 401, code: 'caller_proof_rejected' });
      expect(sts.calls).toHaveLength(1);
    });

    it('answers 503 with Retry-After while STS cannot answer, and asks again next time', async () => {
      // Prepare
      const proof = await proofOf(ALICE);
      sts.outage = { kind: 'unavailable', reason: 'Throttling' };

      // Act
      const during = (await handler(urlEvent({ proof }))) as UrlResponse;
      sts.outage = undefined;
      const after = outcome(await handler(urlEvent({ proof })));

      // Assess
      expect(during.statusCode).toBe(503);
      expect(during.headers['retry-after']).toBe('1');
      expect(JSON.parse(during.body)).toMatchObject({ code: 'identity_unavailable' });
      expect(after).toMatchObject({ status: 200, provider: 'alpha' });
      expect(sts.calls).toHaveLength(2);
    });
  });

  describe('the log line (finding 12)', () => {
    it('names every refused caller, or why none was identified, and never holds a proof or its secrets', async () => {
      // Prepare
      const malloryProof = await proofOf(MALLORY);
      const wrongServer = await proofOf(ALICE, { serverId: 'other' });

      // Act
      await handler(urlEvent({ userArn: ALICE.arn }));
      await handler({ provider: 'alpha' });
      await handler(urlEvent({ proof: malloryProof }));
      await handler({ provider: 'beta', callerProof: wrongServer });
      await handler(urlEvent({ proof: await proofOf(ALICE) }));

      // Assess
      const lines = logger.lines
        .filter((line) => line.message === 'Read request')
        .map((line) => line.attributes);
      expect(lines).toMatchObject([
        {
          via: 'url',
          status: 401,
          code: 'missing_caller_proof',
          caller: 'unidentified',
          callerRefused: 'no proof',
        },
        {
          via: 'invoke',
          status: 401,
          code: 'missing_caller_proof',
          caller: 'unidentified',
          callerRefused: 'no proof',
        },
        {
          via: 'url',
          status: 403,
          code: 'forbidden',
          caller: MALLORY.arn,
          identity: 'proof',
          denied: 'not_a_consumer',
        },
        { via: 'invoke', status: 401, caller: 'unidentified', callerRefused: 'caller_proof_wrong_server' },
        { via: 'url', status: 200, caller: ALICE.arn, identity: 'proof', proofCached: false },
      ]);
      const logged = logger.text();
      for (const secret of [
        malloryProof,
        decode(malloryProof).headers.authorization?.slice(-64) ?? '-',
        MALLORY.credentials.sessionToken,
        ALICE.credentials.sessionToken,
        MALLORY.credentials.secretAccessKey,
      ]) {
        expect(logged).not.toContain(secret);
      }
    });
  });
});
