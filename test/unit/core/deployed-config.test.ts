/**
 * The functions' configuration check (issue 17): the JSON Schema the Lambda bundles apply is the one
 * generated from the zod schema, every keyword in it is one the checker interprets, and what the
 * construct delivers (`parseRefresherConfig`'s output) passes it and parses to itself again.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../functions/core/config.js';
import { parseRefresherConfig } from '../../../functions/core/config-schema.js';
import { parseDeployedConfig } from '../../../functions/core/deployed-config.js';
import { DEPLOYED_CONFIG_SCHEMA } from '../../../functions/core/deployed-config-schema.generated.js';
import { type JsonShape, SHAPE_KEYWORDS } from '../../../functions/core/json-shape.js';
import { deployedConfigShape, GENERATE_COMMAND } from '../../../infra/packaging/schemas.js';
import { RUNTIME_SCHEMAS } from './runtime-schemas.js';

const EXAMPLE = JSON.parse(readFileSync(new URL('../../../config/example.json', import.meta.url), 'utf8'));

/** One provider of every grant, with every optional field set somewhere. */
const EVERY_GRANT = {
  secretPrefix: 'prod/tokens',
  trustDirectInvoke: true,
  providers: [
    {
      name: 'cc',
      grant: 'client_credentials',
      tokenUrl: 'https://idp.example.com/token',
      scope: 'a b',
      audience: 'api',
      resource: 'https://api.example.com/',
      credentialsSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:cc-AbCdEf',
      consumers: ['arn:aws:iam::123456789012:role/reader'],
      tokenStore: 'dynamodb',
      refreshBefore: '2m',
      expectedLifetime: '1h',
      onDemandRefreshInterval: '30s',
    },
    {
      name: 'rt',
      grant: 'refresh_token',
      tokenUrl: 'https://idp.example.com/token',
      clientAuth: 'client_secret_post',
    },
    {
      name: 'custom',
      grant: 'http',
      request: {
        method: 'PUT',
        url: 'https://x.example.com/login',
        headers: { 'X-Key': '{{credentials.key}}' },
        body: { a: [1, { b: null }] },
      },
      response: {
        tokenPath: 'data.token',
        expiresInPath: 'data.ttl',
        expiresAtPath: 'data.exp',
        tokenTypePath: 'data.type',
      },
    },
    {
      name: 'google',
      grant: 'jwt_bearer',
      tokenUrl: 'https://oauth2.googleapis.com/token',
      preset: 'google_service_account',
      scope: 's',
    },
    {
      name: 'jwt',
      grant: 'jwt_bearer',
      tokenUrl: 'https://idp.example.com/token',
      assertion: { issuer: 'me', subject: 'you', audience: 'it', lifetime: '10m' },
    },
    {
      name: 'gh',
      grant: 'github_app',
      appId: 12345,
      installationId: 678,
      repositories: ['r'],
      permissions: { contents: 'read' },
    },
  ],
};

function problemsOf(input: unknown): readonly string[] {
  try {
    parseDeployedConfig(input, 'PROVIDERS_CONFIG');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

/** The keywords a schema uses, with where. */
function keywordsOf(schema: unknown, at: string): { keyword: string; at: string }[] {
  if (typeof schema !== 'object' || schema === null) return [];
  return Object.entries(schema).flatMap(([keyword, value]) => {
    const here = { keyword, at };
    if (keyword === 'properties') {
      return [
        here,
        ...Object.entries(value as object).flatMap(([name, field]) =>
          keywordsOf(field, `${at}.properties.${name}`),
        ),
      ];
    }
    if (keyword === 'anyOf' || keyword === 'oneOf') {
      return [
        here,
        ...(value as unknown[]).flatMap((branch, index) => keywordsOf(branch, `${at}.${keyword}[${index}]`)),
      ];
    }
    if (['items', 'additionalProperties', 'propertyNames'].includes(keyword))
      return [here, ...keywordsOf(value, `${at}.${keyword}`)];
    return [here];
  });
}

describe('Module: deployed-config-schema.generated', () => {
  it(`is what the zod schema generates today (else run \`${GENERATE_COMMAND}\`)`, () => {
    expect(
      DEPLOYED_CONFIG_SCHEMA,
      `functions/core/deployed-config-schema.generated.ts is stale: run \`${GENERATE_COMMAND}\` and commit it`,
    ).toEqual(deployedConfigShape());
  });
});

describe('Runtime schemas', () => {
  const schemas: Record<string, JsonShape> = { DEPLOYED_CONFIG_SCHEMA, ...RUNTIME_SCHEMAS };

  it.each(Object.keys(schemas))('%s uses only keywords the checker interprets', (name) => {
    const unsupported = keywordsOf(schemas[name], name).filter(
      ({ keyword }) => !(SHAPE_KEYWORDS as readonly string[]).includes(keyword),
    );
    expect(
      unsupported,
      `functions/core/json-shape.ts does not interpret these keywords; support them or change the schema`,
    ).toEqual([]);
  });

  it('notices a keyword the checker does not interpret', () => {
    expect(keywordsOf({ type: 'object', properties: { a: { not: {} } } }, 'x')).toContainEqual({
      keyword: 'not',
      at: 'x.properties.a',
    });
  });
});

describe('Function: parseDeployedConfig', () => {
  it.each([
    ['config/example.json', EXAMPLE],
    ['a provider of every grant', EVERY_GRANT],
  ])('accepts what the construct delivers for %s, which parses to itself again', (_name, input) => {
    // Prepare: what infra/bundling.ts puts in PROVIDERS_CONFIG
    const delivered = JSON.parse(JSON.stringify(parseRefresherConfig(input)));

    // Act
    const checked = parseDeployedConfig(delivered, 'PROVIDERS_CONFIG');

    // Assess: local mode and the CLI hand the same JSON to the full schema
    expect(checked).toEqual(delivered);
    expect(parseRefresherConfig(delivered)).toEqual(delivered);
  });

  it('names the path of every problem of a tampered configuration, never a value', () => {
    // Prepare
    const delivered = JSON.parse(JSON.stringify(parseRefresherConfig(EVERY_GRANT)));
    delivered.providers[0].tokenUrl = 'sk-secret-1';
    delivered.providers[1].refreshBefore = '5m';
    delete delivered.providers[2].response;
    delivered.providers[3].grant = 'sk-secret-2';
    delivered.providers[5].permissions = { contents: 'sk-secret-3' };

    // Act
    const problems = problemsOf(delivered);

    // Assess
    expect(problems).toEqual([
      'providers[0].tokenUrl: must be a URL',
      'providers[1].refreshBefore: must be a whole number (got a string)',
      'providers[2].response: is required',
      'providers[3].grant: must be one of "client_credentials", "refresh_token", "http", "jwt_bearer", "github_app"',
      'providers[5].permissions.contents: must be one of "read", "write", "admin"',
    ]);
    expect(problems.join('\n')).not.toMatch(/sk-secret/);
  });

  it('refuses a hand-written configuration, whose defaults are not applied yet', () => {
    expect(problemsOf({ providers: [{ name: 'x', grant: 'http' }] })).toContain(
      'providers[0].request: is required',
    );
    expect(() => parseDeployedConfig({ providers: [] }, 'PROVIDERS_CONFIG')).toThrow(
      /^Invalid PROVIDERS_CONFIG \(the construct delivers it normalized, as parseRefresherConfig returns it\):\n {2}- secretPrefix: is required/,
    );
  });
});
