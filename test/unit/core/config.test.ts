import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  effectiveRefreshBefore,
  secretsManagerWriteRateProblems,
} from '../../../functions/core/config.js';
import { parseRefresherConfig } from '../../../functions/core/config-schema.js';

const valid = {
  providers: [
    {
      name: 'github',
      grant: 'client_credentials',
      tokenUrl: 'https://github.example.com/token',
      scope: 'read',
    },
    {
      name: 'crm',
      grant: 'refresh_token',
      tokenUrl: 'https://crm.example.com/oauth/token',
      refreshBefore: '10m',
    },
    {
      name: 'legacy',
      grant: 'http',
      request: { url: 'https://legacy.example.com/login', body: { user: '{{credentials.clientId}}' } },
      response: { tokenPath: 'data.token', expiresInPath: 'data.ttl' },
    },
  ],
};

function problemsOf(input: unknown): readonly string[] {
  try {
    parseRefresherConfig(input);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('Function: parseRefresherConfig', () => {
  it('applies the documented defaults', () => {
    // Act
    const config = parseRefresherConfig(valid);

    // Assess
    expect(config.secretPrefix).toBe('token-refresher');
    expect(config.providers[0]).toMatchObject({
      clientAuth: 'client_secret_basic',
      refreshBefore: 300,
      expectedLifetime: 3600,
      schedule: 'rate(5 minutes)',
      requestTimeout: 10,
      consumers: [],
      onDemandRefreshInterval: 60,
      tokenStore: 'secrets-manager',
    });
    expect(config.providers[1]?.refreshBefore).toBe(600);
    expect(config.providers[2]).toMatchObject({ request: { method: 'POST', headers: {} } });
  });

  it('takes tokenStore "dynamodb" for every grant and refuses any other store, naming the choices', () => {
    // Act
    const config = parseRefresherConfig({
      providers: valid.providers.map((provider) => ({ ...provider, tokenStore: 'dynamodb' })),
    });
    const problems = problemsOf({ providers: [{ ...valid.providers[0], tokenStore: 'ssm' }] });

    // Assess
    expect(config.providers.map((provider) => provider.tokenStore)).toEqual([
      'dynamodb',
      'dynamodb',
      'dynamodb',
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^providers\[0\] \(github\)\.tokenStore: .*"secrets-manager".*"dynamodb"/);
  });

  it('gives refresh_token grants a 30 s request timeout by default, the other grants 10 s', () => {
    // Act
    const config = parseRefresherConfig(valid);
    const explicit = parseRefresherConfig({
      providers: [{ ...valid.providers[1], requestTimeout: '5s' }],
    });

    // Assess: a timed-out rotating call cannot be repeated safely, so it waits longer.
    expect(config.providers.map((provider) => [provider.grant, provider.requestTimeout])).toEqual([
      ['client_credentials', 10],
      ['refresh_token', 30],
      ['http', 10],
    ]);
    expect(explicit.providers[0]?.requestTimeout).toBe(5);
    expect(problemsOf({ providers: [{ ...valid.providers[1], requestTimeout: '61s' }] })).toEqual([
      'providers[0] (crm).requestTimeout: is 61 s; it must be between 1 s and 60 s',
    ]);
  });

  it('accepts an expectedLifetime of 60 s (refreshed 30 s before expiry) and rejects less', () => {
    // Act
    const config = parseRefresherConfig({ providers: [{ ...valid.providers[0], expectedLifetime: '1m' }] });

    // Assess
    expect(config.providers[0]?.expectedLifetime).toBe(60);
    expect(effectiveRefreshBefore(config.providers[0]?.refreshBefore ?? 0, 60)).toBe(30);
    expect(problemsOf({ providers: [{ ...valid.providers[0], expectedLifetime: 59 }] })).toEqual([
      'providers[0] (github).expectedLifetime: is 59 s; it must be at least 60 s',
    ]);
  });

  it('names the provider and field of every problem in one error', () => {
    // Prepare
    const input = {
      providers: [
        { name: 'ok', grant: 'client_credentials', tokenUrl: 'https://a.example.com/t' },
        { name: 'bad', grant: 'client_credentials', tokenUrl: 'http://a.example.com/t', refreshBefore: 30 },
        { name: 'Bad Name', grant: 'magic' },
      ],
    };

    // Act
    const problems = problemsOf(input);

    // Assess
    expect(problems).toEqual([
      'providers[1] (bad).tokenUrl: must use https (plain http is allowed only for 127.0.0.1/localhost)',
      'providers[1] (bad).refreshBefore: is 30 s; it must be at least 60 s',
      'providers[2] (Bad Name).grant: must be one of "client_credentials", "refresh_token", "http", "jwt_bearer", "github_app"',
    ]);
  });

  it('allows plain http for a loopback token endpoint', () => {
    expect(() =>
      parseRefresherConfig({
        providers: [{ name: 'local', grant: 'client_credentials', tokenUrl: 'http://127.0.0.1:9000/token' }],
      }),
    ).not.toThrow();
  });

  it('rejects a duplicate provider name', () => {
    const problems = problemsOf({ providers: [valid.providers[0], valid.providers[0]] });
    expect(problems).toEqual(['providers[1] (github).name: "github" is used twice; names must be unique']);
  });

  it('rejects an empty provider list, a bad schedule and a bad consumer ARN', () => {
    expect(problemsOf({ providers: [] })).toEqual(['providers: must list at least one provider']);
    const problems = problemsOf({
      providers: [
        { ...valid.providers[0], schedule: 'every 5 minutes', consumers: ['arn:aws:iam::1:user/x'] },
      ],
    });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(
      /^providers\[0\] \(github\)\.schedule: must be an EventBridge Scheduler expression/,
    );
    expect(problems[1]).toMatch(/^providers\[0\] \(github\)\.consumers\[0\]: must be an IAM role ARN/);
  });

  it('bounds onDemandRefreshInterval to 10 s – 1 h', () => {
    expect(problemsOf({ providers: [{ ...valid.providers[0], onDemandRefreshInterval: '5s' }] })).toEqual([
      'providers[0] (github).onDemandRefreshInterval: is 5 s; it must be between 10 s and 1 h (3600 s)',
    ]);
    expect(
      parseRefresherConfig({ providers: [{ ...valid.providers[0], onDemandRefreshInterval: '2m' }] })
        .providers[0]?.onDemandRefreshInterval,
    ).toBe(120);
  });

  it('says which field and what fix in the thrown message', () => {
    expect(() =>
      parseRefresherConfig({ providers: [{ name: 'x', grant: 'refresh_token' }] }, 'config.json'),
    ).toThrow(/Invalid config.json:\n {2}- providers\[0\] \(x\)\.tokenUrl: /);
  });
});

describe('Function: secretsManagerWriteRateProblems', () => {
  it('accepts hour-long tokens refreshed 5 minutes early', () => {
    expect(secretsManagerWriteRateProblems(parseRefresherConfig(valid))).toEqual([]);
  });

  it('names the provider, the computed write interval and the fix for short-lived tokens', () => {
    // Prepare
    const config = parseRefresherConfig({
      providers: [{ ...valid.providers[0], expectedLifetime: '14m', refreshBefore: '5m' }],
    });

    // Act
    const problems = secretsManagerWriteRateProblems(config);

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('providers[0] (github): tokens would be written every 540 s');
    expect(
      secretsManagerWriteRateProblems(
        parseRefresherConfig({
          providers: [{ ...valid.providers[0], expectedLifetime: '12m' }],
        }),
      )[0],
    ).toContain('written every 420 s');
  });

  it('offers a lower refreshBefore only when it can fix the interval, with the largest value that does', () => {
    // Prepare
    const problemFor = (expectedLifetime: number, refreshBefore: number) =>
      secretsManagerWriteRateProblems(
        parseRefresherConfig({ providers: [{ ...valid.providers[0], expectedLifetime, refreshBefore }] }),
      )[0] ?? '';

    // Act
    const fourteenMinutes = problemFor(840, 300);
    const elevenMinutes = problemFor(660, 300);
    const justUnder = problemFor(659, 60);
    const oneMinute = problemFor(60, 60);

    // Assess
    expect(fourteenMinutes).toContain('set refreshBefore to at most 240 s (it is 300 s;');
    expect(elevenMinutes).toContain('set refreshBefore to at most 60 s');
    for (const problem of [justUnder, oneMinute]) {
      expect(problem).not.toContain('refreshBefore to');
      expect(problem).toContain('request longer-lived tokens from the provider (at least 660 s');
      expect(problem).toContain('set expectedLifetime to their real lifetime');
      expect(problem).toContain('Fix: set tokenStore: "dynamodb"');
    }
    expect(oneMinute).toContain(
      'tokens would be written every 30 s (expectedLifetime 60 s − effective refreshBefore 30 s)',
    );
  });

  it('names tokenStore: "dynamodb" as the fix when refreshBefore cannot help, and checks no provider whose token is in DynamoDB', () => {
    // Prepare: 2-minute and 1-minute tokens of a grant that writes no credentials.
    const short = { ...valid.providers[0], expectedLifetime: '2m' };

    // Act
    const inSecretsManager = secretsManagerWriteRateProblems(parseRefresherConfig({ providers: [short] }));
    const inDynamoDb = secretsManagerWriteRateProblems(
      parseRefresherConfig({
        providers: [
          { ...short, tokenStore: 'dynamodb' },
          {
            ...short,
            name: 'minute',
            expectedLifetime: 60,
            tokenStore: 'dynamodb',
            onDemandRefreshesPerHour: 60,
          },
        ],
      }),
    );

    // Assess
    expect(inSecretsManager).toEqual([
      'providers[0] (github): tokens would be written every 60 s (expectedLifetime 120 s − effective refreshBefore ' +
        '60 s); Secrets Manager allows about one write every 600 s per secret. Fix: set tokenStore: "dynamodb" (the ' +
        'token in a DynamoDB item, written as often as needed); or request longer-lived tokens from the provider ' +
        "(at least 660 s with refreshBefore 60 s); or if the provider's tokens really live longer than 120 s, set " +
        'expectedLifetime to their real lifetime.',
    ]);
    expect(inDynamoDb).toEqual([]);
  });

  it('still checks a rotating grant in DynamoDB (its refresh tokens go to the credentials secret), without offering the store', () => {
    // Prepare
    const config = parseRefresherConfig({
      providers: [{ ...valid.providers[1], expectedLifetime: '5m', tokenStore: 'dynamodb' }],
    });

    // Act
    const problems = secretsManagerWriteRateProblems(config);

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(
      'providers[0] (crm): rotated refresh tokens would be written to the credentials secret every 150 s',
    );
    expect(problems[0]).not.toContain('Fix: set tokenStore');
    expect(problems[0]).toContain('tokenStore: "dynamodb" does not help a refresh_token grant');
  });

  it('never offers a refreshBefore that leaves the problem in place', () => {
    // Prepare: every lifetime from 1 to 12 minutes, with a lead of 1 to 10 minutes.
    const offered: [lifetime: number, suggested: number][] = [];
    for (let lifetime = 60; lifetime <= 720; lifetime += 1) {
      for (const refreshBefore of [60, 120, 300, 600]) {
        const problem = secretsManagerWriteRateProblems(
          parseRefresherConfig({
            providers: [{ ...valid.providers[0], expectedLifetime: lifetime, refreshBefore }],
          }),
        )[0];
        const suggested = problem?.match(/set refreshBefore to at most (\d+) s/)?.[1];
        if (suggested !== undefined) offered.push([lifetime, Number(suggested)]);
      }
    }

    // Act: apply each suggestion.
    const stillFailing = offered.filter(
      ([lifetime, refreshBefore]) =>
        secretsManagerWriteRateProblems(
          parseRefresherConfig({
            providers: [{ ...valid.providers[0], expectedLifetime: lifetime, refreshBefore }],
          }),
        ).length > 0,
    );

    // Assess
    expect(offered.length).toBeGreaterThan(100);
    expect(stillFailing).toEqual([]);
  });
});
