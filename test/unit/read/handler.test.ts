import { beforeEach, describe, expect, it } from 'vitest';
import { AccessPolicy } from '../../../functions/core/access.js';
import { providerConfigSchema } from '../../../functions/core/config-schema.js';
import { RefreshEngine } from '../../../functions/core/engine.js';
import { TokenReader } from '../../../functions/core/read.js';
import { sha256Hex } from '../../../functions/core/token-hash.js';
import { createReadHandler, type ReadHandler, type UrlResponse } from '../../../functions/read/app.js';
import {
  FakeClock,
  FakeCredentialsStore,
  FakeSecrets,
  FakeStateTable,
  FakeTokenStore,
  RecordingLogger,
  RecordingMetrics,
  ScriptedProvider,
} from '../core/fakes.js';

const ROLE_A = 'arn:aws:iam::123456789012:role/consumer-a';
const ROLE_B = 'arn:aws:iam::123456789012:role/consumer-b';
const CALLER_A = 'arn:aws:sts::123456789012:assumed-role/consumer-a/session-a';
const CALLER_B = 'arn:aws:sts::123456789012:assumed-role/consumer-b/session-b';
const CLIENT_SECRET = 'client-secret-never-served-5d4c';

interface UrlEventInput {
  method?: string;
  path?: string;
  body?: string;
  base64?: boolean;
  caller?: string | null;
  headers?: Record<string, string>;
}

function urlEvent(input: UrlEventInput = {}): Record<string, unknown> {
  const caller = input.caller === undefined ? CALLER_A : input.caller;
  return {
    version: '2.0',
    rawPath: input.path ?? '/tokens/alpha',
    rawQueryString: '',
    headers: input.headers ?? { 'content-type': 'application/json' },
    isBase64Encoded: input.base64 ?? false,
    ...(input.body === undefined ? {} : { body: input.body }),
    requestContext: {
      http: { method: input.method ?? 'GET', path: input.path ?? '/tokens/alpha' },
      ...(caller === null ? {} : { authorizer: { iam: { userArn: caller, accountId: '123456789012' } } }),
    },
  };
}

const refresh = (body: string | undefined, extra: UrlEventInput = {}): Record<string, unknown> =>
  urlEvent({
    method: 'POST',
    path: '/tokens/alpha/refresh',
    ...(body === undefined ? {} : { body }),
    ...extra,
  });

describe('Function: createReadHandler', () => {
  let clock: FakeClock;
  let secrets: FakeSecrets;
  let provider: ScriptedProvider;
  let logger: RecordingLogger;
  let handler: ReadHandler;
  let alphaToken: string;
  let betaToken: string;

  beforeEach(async () => {
    clock = new FakeClock();
    secrets = new FakeSecrets();
    provider = new ScriptedProvider();
    logger = new RecordingLogger();
    const tokens = new FakeTokenStore(secrets);
    const configs = ['alpha', 'beta'].map((name) =>
      providerConfigSchema.parse({
        name,
        grant: 'client_credentials',
        tokenUrl: 'https://auth.example.com/t',
      }),
    );
    for (const { name } of configs) {
      secrets.seed(FakeTokenStore.secretId(name), { status: 'pending' });
      secrets.seed(FakeCredentialsStore.secretId(name), { clientId: name, clientSecret: CLIENT_SECRET });
    }
    const engine = new RefreshEngine({
      tokens,
      credentials: new FakeCredentialsStore(secrets),
      state: new FakeStateTable(),
      providerFor: () => provider,
      clock,
      metrics: new RecordingMetrics(),
      logger,
    });
    for (const config of configs) await engine.refresh({ config, remainingTimeMs: 60_000 });
    alphaToken = (await tokens.readCurrent('alpha')).token?.accessToken ?? '';
    betaToken = (await tokens.readCurrent('beta')).token?.accessToken ?? '';
    const reader = new TokenReader({
      tokens,
      trigger: {
        refresh: ({ provider: name, onDemand }) => {
          const config = configs.find((candidate) => candidate.name === name);
          if (config === undefined) throw new Error(`unknown ${name}`);
          return engine.refresh({ config, onDemand, remainingTimeMs: 60_000 });
        },
      },
      clock,
      logger,
      sleep: async (ms) => clock.advance(ms),
    });
    handler = createReadHandler({
      reader,
      policy: new AccessPolicy(
        new Map([
          ['alpha', [ROLE_A]],
          ['beta', [ROLE_B]],
        ]),
      ),
      providers: new Set(['alpha', 'beta']),
      // The pre-proof behaviour, as an operator opts in to it: the event's userArn is believed and a
      // direct Invoke reads every provider. Caller proofs: caller-identity.test.ts.
      trustDirectInvoke: true,
      proofs: {
        identify: async () => ({ ok: false, status: 401, code: 'invalid_caller_proof', message: 'no' }),
      },
      logger,
      clock,
    });
  });

  const asUrl = (response: unknown): UrlResponse => response as UrlResponse;

  describe('Function URL', () => {
    it('serves the token, with exactly the documented fields and no-store', async () => {
      // Act
      const response = asUrl(await handler(urlEvent()));

      // Assess
      expect(response.statusCode).toBe(200);
      expect(response.headers).toMatchObject({
        'content-type': 'application/json',
        'cache-control': 'no-store',
      });
      expect(JSON.parse(response.body)).toEqual({
        provider: 'alpha',
        accessToken: alphaToken,
        tokenType: 'Bearer',
        expiresAt: new Date(clock.now() + 3600_000).toISOString(),
        expiresIn: 3600,
      });
    });

    it('refreshes on a reported refused token (by hash or by value) and answers with the new token', async () => {
      // Prepare
      clock.advance(120_000);

      // Act
      const byHash = asUrl(
        await handler(refresh(JSON.stringify({ rejectedTokenSha256: sha256Hex(alphaToken) }))),
      );
      const replaced = asUrl(await handler(refresh(JSON.stringify({ rejectedToken: alphaToken }))));

      // Assess: the second report names a token that is no longer current: no second refresh.
      expect(byHash.statusCode).toBe(200);
      const fresh = JSON.parse(byHash.body) as { accessToken: string };
      expect(fresh.accessToken).not.toBe(alphaToken);
      expect(JSON.parse(replaced.body)).toMatchObject({ accessToken: fresh.accessToken });
      expect(provider.requests).toHaveLength(3);
    });

    it('answers 429 with Retry-After when the refused token is too young to be replaced again', async () => {
      // Act
      const response = asUrl(await handler(refresh(JSON.stringify({ rejectedToken: alphaToken }))));

      // Assess
      expect(response.statusCode).toBe(429);
      expect(response.headers['retry-after']).toBe('60');
      expect(JSON.parse(response.body)).toMatchObject({ code: 'refresh_rate_limited' });
    });

    it('gives a caller of another provider the same 403 for an existing and an unknown provider', async () => {
      // Act
      const other = asUrl(await handler(urlEvent({ path: '/tokens/beta' })));
      const unknown = asUrl(await handler(urlEvent({ path: '/tokens/gamma' })));

      // Assess
      expect(other.statusCode).toBe(403);
      expect(unknown.statusCode).toBe(403);
      expect(JSON.parse(other.body).message.replace('beta', 'X')).toBe(
        JSON.parse(unknown.body).message.replace('gamma', 'X'),
      );
      expect(other.body).not.toContain(betaToken);
    });
  });

  describe('Invoke', () => {
    it('serves any configured provider (IAM on the function decides) and reports errors as { error }', async () => {
      // Act
      const served = await handler({ provider: 'beta', action: 'get' });
      const unknown = await handler({ provider: 'gamma' });

      // Assess
      expect(served).toMatchObject({ provider: 'beta', accessToken: betaToken, expiresIn: 3600 });
      expect(unknown).toEqual({
        error: { status: 404, code: 'unknown_provider', message: 'No provider named "gamma" is configured' },
      });
    });
  });

  const big = JSON.stringify({ rejectedToken: 'x'.repeat(17_000) });
  const malformed: [string, unknown, number, string][] = [
    ['root path', urlEvent({ path: '/' }), 404, 'not_found'],
    ['collection path', urlEvent({ path: '/tokens' }), 404, 'not_found'],
    ['empty provider segment', urlEvent({ path: '/tokens/' }), 404, 'not_found'],
    ['trailing slash', urlEvent({ path: '/tokens/alpha/' }), 404, 'not_found'],
    ['unknown sub-route', urlEvent({ path: '/tokens/alpha/extra' }), 404, 'not_found'],
    ['misspelt route', urlEvent({ path: '/token/alpha' }), 404, 'not_found'],
    ['POST on the get route', urlEvent({ method: 'POST' }), 405, 'method_not_allowed'],
    ['PUT on the get route', urlEvent({ method: 'PUT' }), 405, 'method_not_allowed'],
    ['DELETE on the get route', urlEvent({ method: 'DELETE' }), 405, 'method_not_allowed'],
    ['GET on the refresh route', urlEvent({ path: '/tokens/alpha/refresh' }), 405, 'method_not_allowed'],
    ['OPTIONS on the refresh route', refresh(undefined, { method: 'OPTIONS' }), 405, 'method_not_allowed'],
    ['upper-case provider', urlEvent({ path: '/tokens/Alpha' }), 400, 'invalid_provider_name'],
    ['underscore in provider', urlEvent({ path: '/tokens/al_pha' }), 400, 'invalid_provider_name'],
    ['65-character provider', urlEvent({ path: `/tokens/${'a'.repeat(65)}` }), 400, 'invalid_provider_name'],
    ['broken percent-encoding', urlEvent({ path: '/tokens/%ZZ' }), 400, 'invalid_provider_name'],
    ['encoded path traversal', urlEvent({ path: '/tokens/..%2F..%2Fetc' }), 400, 'invalid_provider_name'],
    ['encoded NUL', urlEvent({ path: '/tokens/alpha%00' }), 400, 'invalid_provider_name'],
    ['refresh without body', refresh(undefined), 400, 'missing_body'],
    ['refresh with empty body', refresh(''), 400, 'missing_body'],
    ['truncated JSON', refresh('{"rejectedToken":'), 400, 'invalid_json'],
    ['JSON array', refresh('[]'), 400, 'invalid_body'],
    ['JSON string', refresh('"token"'), 400, 'invalid_body'],
    ['JSON null', refresh('null'), 400, 'invalid_body'],
    ['empty object', refresh('{}'), 400, 'missing_rejected_token'],
    ['short hash', refresh('{"rejectedTokenSha256":"abc"}'), 400, 'invalid_body'],
    [
      'upper-case hash',
      refresh(JSON.stringify({ rejectedTokenSha256: 'A'.repeat(64) })),
      400,
      'invalid_body',
    ],
    ['empty token', refresh('{"rejectedToken":""}'), 400, 'invalid_body'],
    ['numeric token', refresh('{"rejectedToken":123}'), 400, 'invalid_body'],
    [
      'token and hash',
      refresh(JSON.stringify({ rejectedToken: 'x', rejectedTokenSha256: 'a'.repeat(64) })),
      400,
      'invalid_body',
    ],
    ['unknown field', refresh('{"rejectedToken":"x","force":true}'), 400, 'invalid_body'],
    ['17 KB body', refresh(big), 413, 'body_too_large'],
    [
      '17 KB base64 body',
      refresh(Buffer.from(big).toString('base64'), { base64: true }),
      413,
      'body_too_large',
    ],
    [
      'text/plain body',
      refresh('{"rejectedToken":"x"}', { headers: { 'content-type': 'text/plain' } }),
      415,
      'unsupported_media_type',
    ],
    [
      'base64 body that is not JSON',
      refresh(Buffer.from('not json').toString('base64'), { base64: true }),
      400,
      'invalid_json',
    ],
    ['no http context', { requestContext: {}, rawPath: '/tokens/alpha' }, 400, 'invalid_request'],
    ['no rawPath', { requestContext: { http: { method: 'GET' } } }, 400, 'invalid_request'],
    ['no identity', urlEvent({ caller: null }), 401, 'missing_identity'],
    ['empty identity', urlEvent({ caller: '' }), 401, 'missing_identity'],
    ['malformed caller ARN', urlEvent({ caller: 'arn:aws:sts::1:assumed-role' }), 403, 'forbidden'],
    ['IAM user caller', urlEvent({ caller: 'arn:aws:iam::123456789012:user/consumer-a' }), 403, 'forbidden'],
    ['caller of another provider', urlEvent({ caller: CALLER_B }), 403, 'forbidden'],
    ['unknown provider', urlEvent({ path: '/tokens/gamma' }), 403, 'forbidden'],
    ['invoke: null', null, 400, 'invalid_event'],
    ['invoke: a string', 'alpha', 400, 'invalid_event'],
    ['invoke: an array', ['alpha'], 400, 'invalid_event'],
    ['invoke: empty object', {}, 400, 'invalid_event'],
    ['invoke: numeric provider', { provider: 1 }, 400, 'invalid_event'],
    ['invoke: bad provider name', { provider: 'Alpha' }, 400, 'invalid_provider_name'],
    ['invoke: unknown action', { provider: 'alpha', action: 'delete' }, 400, 'invalid_event'],
    ['invoke: extra field on get', { provider: 'alpha', action: 'get', force: true }, 400, 'invalid_event'],
    [
      'invoke: refresh without token',
      { provider: 'alpha', action: 'refresh' },
      400,
      'missing_rejected_token',
    ],
    [
      'invoke: refresh with bad hash',
      { provider: 'alpha', action: 'refresh', rejectedTokenSha256: 'x' },
      400,
      'invalid_event',
    ],
    ['invoke: unknown provider', { provider: 'gamma' }, 404, 'unknown_provider'],
  ];

  it(`answers each of ${malformed.length} malformed requests with its 4xx status and code, and no token`, async () => {
    // Act
    const answers = await Promise.all(
      malformed.map(async ([name, event]) => {
        const response = await handler(event);
        if (typeof response === 'object' && response !== null && 'statusCode' in response) {
          const body = JSON.parse(response.body) as { code: string; message: string };
          expect(Object.keys(body).sort(), name).toEqual(['code', 'message']);
          return [name, response.statusCode, body.code, response.body] as const;
        }
        const { error } = response as { error: { status: number; code: string } };
        return [name, error.status, error.code, JSON.stringify(response)] as const;
      }),
    );

    // Assess
    expect(malformed.length).toBeGreaterThanOrEqual(30);
    expect(answers.map(([name, status, code]) => [name, status, code])).toEqual(
      malformed.map(([name, , status, code]) => [name, status, code]),
    );
    for (const [, , , body] of answers) {
      expect(body).not.toContain(alphaToken);
      expect(body).not.toContain(betaToken);
      expect(body).not.toMatch(/\n\s+at /);
    }
    expect(provider.requests).toHaveLength(2);
  });

  it('never answers 5xx, never serves a provider the caller may not read and never leaks a secret, over 1,500 random inputs', async () => {
    // Prepare: a seeded generator so that a failure can be replayed.
    const seed = 20261123;
    const inputs = new RandomReadInputs(seed, { alphaToken, betaToken });
    const allowed = new Map<string | null | undefined, string>([
      [CALLER_A, 'alpha'],
      [ROLE_A, 'alpha'],
      [CALLER_B, 'beta'],
    ]);
    const counts = { total: 0, ok: 0, byStatus: new Map<number, number>() };

    // Act + Assess
    for (let i = 0; i < 1500; i += 1) {
      if (inputs.random() < 0.05) clock.advance(Math.floor(inputs.random() * 120_000));
      const { event, caller, via } = inputs.next();
      const { status, body } = answerOf(await handler(event), via);
      const context = `seed ${seed}, input ${i}: ${JSON.stringify(event).slice(0, 300)}`;
      expectSafeAnswer({ status, body, via, context }, allowed.get(caller), betaToken);
      counts.total += 1;
      if (status === 200) counts.ok += 1;
      counts.byStatus.set(status, (counts.byStatus.get(status) ?? 0) + 1);
    }

    // The generator must reach the interesting answers, or this test proves little.
    expect(counts.ok).toBeGreaterThan(100);
    for (const status of [400, 401, 403, 404, 405, 413, 415, 429])
      expect(counts.byStatus.get(status) ?? 0).toBeGreaterThan(0);
    const logged = JSON.stringify(logger.lines);
    expect(logged).not.toContain(CLIENT_SECRET);
    expect(logged).not.toContain('access-token-');
  });
});

/** One random input of the fuzz test: a Function URL event (with its caller) or an Invoke payload. */
interface RandomInput {
  readonly event: unknown;
  readonly caller: string | null | undefined;
  readonly via: 'url' | 'invoke';
}

const FUZZ_NAMES = [
  'alpha',
  'alpha',
  'alpha',
  'beta',
  'beta',
  'gamma',
  'Alpha',
  '',
  'a'.repeat(64),
  'a'.repeat(65),
  '%61lpha',
];
const FUZZ_CALLERS = [
  CALLER_A,
  CALLER_A,
  CALLER_B,
  CALLER_B,
  ROLE_A,
  null,
  '',
  'arn:aws:iam::123456789012:user/u',
  'garbage',
  'arn:aws:sts::123456789012:assumed-role/consumer-c/s',
];

/** Seeded random inputs for the read handler (mulberry32), so that a failure can be replayed. */
class RandomReadInputs {
  #state: number;
  readonly #tokens: { readonly alphaToken: string; readonly betaToken: string };

  constructor(seed: number, tokens: { readonly alphaToken: string; readonly betaToken: string }) {
    this.#state = seed;
    this.#tokens = tokens;
  }

  random(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.#state ^ (this.#state >>> 15), 1 | this.#state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }

  junk(): string {
    return Array.from({ length: Math.floor(this.random() * 12) }, () =>
      this.pick([
        'a',
        'Z',
        '-',
        '_',
        '/',
        '%',
        '%2F',
        '..',
        '0',
        ' ',
        '\u00e9',
        '\u0000',
        '?',
        '#',
        '{',
        '"',
      ]),
    ).join('');
  }

  /** 70 % Function URL events, the rest Invoke payloads. */
  next(): RandomInput {
    return this.random() < 0.7
      ? this.#urlInput()
      : { via: 'invoke', caller: undefined, event: this.#payload() };
  }

  #body(): string | undefined {
    const { alphaToken, betaToken } = this.#tokens;
    return this.pick([
      undefined,
      '',
      this.junk(),
      '{}',
      JSON.stringify({ rejectedToken: alphaToken }),
      JSON.stringify({ rejectedToken: betaToken }),
      JSON.stringify({ rejectedTokenSha256: sha256Hex(alphaToken) }),
      JSON.stringify({ rejectedTokenSha256: sha256Hex(this.junk()) }),
      JSON.stringify({ rejectedToken: this.junk(), extra: this.random() }),
      JSON.stringify([this.random(), this.junk()]),
      'x'.repeat(Math.floor(this.random() * 40_000)),
      JSON.stringify({ rejectedTokenSha256: sha256Hex(alphaToken) }),
      JSON.stringify({ rejectedToken: alphaToken }),
    ]);
  }

  #urlInput(): RandomInput {
    const caller = this.pick(FUZZ_CALLERS);
    const roll = this.random();
    const name = this.pick(FUZZ_NAMES);
    const [path, method] = this.#routeFromRoll(roll, name);
    const body = this.#body();
    return {
      via: 'url',
      caller,
      event: urlEvent({
        method,
        path,
        caller,
        ...(body === undefined ? {} : { body }),
        base64: this.random() < 0.1,
        headers: this.pick<Record<string, string>>([
          {},
          { 'content-type': 'application/json' },
          { 'content-type': 'application/json' },
          { 'Content-Type': this.junk() },
        ]),
      }),
    };
  }

  /** Mostly well-routed requests, so that authorization and bodies are exercised, not only routing. */
  #routeFromRoll(roll: number, name: string): [string, string] {
    if (roll < 0.45)
      return [`/tokens/${name}`, this.random() < 0.85 ? 'GET' : this.pick(['POST', 'PUT', 'get'])];
    if (roll < 0.8) {
      return [
        `/tokens/${name}/refresh`,
        this.random() < 0.85 ? 'POST' : this.pick(['GET', 'DELETE', 'OPTIONS']),
      ];
    }
    return [
      this.pick([`/${this.junk()}`, `/tokens/${this.junk()}`, `/tokens/${name}/${this.junk()}`]),
      this.pick(['GET', 'POST', 'PATCH', 'HEAD']),
    ];
  }

  #payload(): unknown {
    const { alphaToken, betaToken } = this.#tokens;
    return this.pick([
      () => ({ provider: this.pick(FUZZ_NAMES) }),
      () => ({ provider: this.pick(FUZZ_NAMES), action: this.pick(['get', 'refresh', this.junk()]) }),
      () => ({
        provider: this.pick(FUZZ_NAMES),
        action: 'refresh',
        rejectedToken: this.pick([alphaToken, betaToken, this.junk()]),
      }),
      () => ({
        provider: this.pick(FUZZ_NAMES),
        action: 'refresh',
        rejectedTokenSha256: this.pick([sha256Hex(alphaToken), this.junk()]),
      }),
      () => this.pick([null, 0, this.junk(), [], { [this.junk()]: this.junk() }]),
    ])();
  }
}

/**
 * No 5xx, no client secret; a token served on the URL path is the caller's own provider's, with only
 * the documented fields; beta's token reaches none but beta's callers.
 */
function expectSafeAnswer(
  answer: { status: number; body: string; via: 'url' | 'invoke'; context: string },
  callersProvider: string | undefined,
  betaToken: string,
): void {
  const { status, body, via, context } = answer;
  expect(status, context).toBeLessThan(500);
  expect(body, context).not.toContain(CLIENT_SECRET);
  if (via !== 'url') return;
  if (status === 200) {
    const served = JSON.parse(body) as { provider: string };
    expect(served.provider, context).toBe(callersProvider);
    expect(Object.keys(served).sort(), context).toEqual([
      'accessToken',
      'expiresAt',
      'expiresIn',
      'provider',
      'tokenType',
    ]);
  }
  if (callersProvider !== 'beta') expect(body, context).not.toContain(betaToken);
}

/** The status and the body text of an answer, whichever path it came by. */
function answerOf(response: unknown, via: 'url' | 'invoke'): { status: number; body: string } {
  if (via === 'url') {
    const { statusCode, body } = response as UrlResponse;
    return { status: statusCode, body };
  }
  if (typeof response === 'object' && response !== null && 'error' in response) {
    return {
      status: (response as { error: { status: number } }).error.status,
      body: JSON.stringify(response),
    };
  }
  return { status: 200, body: JSON.stringify(response) };
}
