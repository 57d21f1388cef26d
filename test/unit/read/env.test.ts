import { describe, expect, it } from 'vitest';
import { deployedConfigJson } from '../../../functions/core/config-schema.js';
import { EnvironmentError, readReadEnvironment } from '../../../functions/core/env.js';

const ROLE_A = 'arn:aws:iam::123456789012:role/consumer-a';
const ROLE_B = 'arn:aws:iam::123456789012:role/consumer-b';
const CONFIG = {
  providers: [
    { name: 'acme', grant: 'client_credentials', tokenUrl: 'https://a.example.com/t', consumers: [ROLE_A] },
    { name: 'beta', grant: 'client_credentials', tokenUrl: 'https://b.example.com/t' },
  ],
};

describe('Function: readReadEnvironment', () => {
  it('merges the config consumers with the consumers granted in code', () => {
    // Act
    const environment = readReadEnvironment({
      PROVIDERS_CONFIG: deployedConfigJson(CONFIG),
      REFRESH_FUNCTION_NAME: 'refresh',
      EXTRA_CONSUMERS: JSON.stringify({ acme: [ROLE_B], beta: [ROLE_B] }),
    });

    // Assess
    expect(environment.refreshFunctionName).toBe('refresh');
    expect([...environment.consumers]).toEqual([
      ['acme', [ROLE_A, ROLE_B]],
      ['beta', [ROLE_B]],
    ]);
  });

  it('reads TOKEN_TABLE_NAME, and requires it when a provider keeps its token in DynamoDB', () => {
    // Prepare
    const base = {
      PROVIDERS_CONFIG: deployedConfigJson({
        providers: [CONFIG.providers[0], { ...CONFIG.providers[1], tokenStore: 'dynamodb' }],
      }),
      REFRESH_FUNCTION_NAME: 'refresh',
    };

    // Act
    const environment = readReadEnvironment({ ...base, TOKEN_TABLE_NAME: 'tokens' });

    // Assess
    expect(environment.tokenTableName).toBe('tokens');
    expect(() => readReadEnvironment(base)).toThrow(EnvironmentError);
    expect(() => readReadEnvironment(base)).toThrow(/TOKEN_TABLE_NAME is not set; .*\(beta\)/);
  });

  it('accepts an absent or empty EXTRA_CONSUMERS', () => {
    const base = { PROVIDERS_CONFIG: deployedConfigJson(CONFIG), REFRESH_FUNCTION_NAME: 'refresh' };
    expect(readReadEnvironment(base).consumers.get('beta')).toEqual([]);
    expect(readReadEnvironment({ ...base, EXTRA_CONSUMERS: '{}' }).consumers.get('acme')).toEqual([ROLE_A]);
  });

  it('names every bad variable at once', () => {
    // Act
    const failure = (() => {
      try {
        readReadEnvironment({
          PROVIDERS_CONFIG: deployedConfigJson(CONFIG),
          EXTRA_CONSUMERS: JSON.stringify({ gamma: [ROLE_A], beta: ['arn:aws:iam::123456789012:user/u'] }),
        });
      } catch (error) {
        return error;
      }
      return undefined;
    })();

    // Assess
    expect(failure).toBeInstanceOf(EnvironmentError);
    expect((failure as Error).message.split('\n').slice(1)).toEqual([
      '  - REFRESH_FUNCTION_NAME is not set; it must name the refresh function (on-demand refreshes)',
      '  - EXTRA_CONSUMERS.gamma: not a configured provider',
      '  - EXTRA_CONSUMERS.beta: must be a list of IAM role ARNs',
    ]);
  });

  it('rejects EXTRA_CONSUMERS that is not a JSON object', () => {
    const base = { PROVIDERS_CONFIG: deployedConfigJson(CONFIG), REFRESH_FUNCTION_NAME: 'refresh' };
    expect(() => readReadEnvironment({ ...base, EXTRA_CONSUMERS: '[' })).toThrow(
      'EXTRA_CONSUMERS is not valid JSON',
    );
    expect(() => readReadEnvironment({ ...base, EXTRA_CONSUMERS: '[]' })).toThrow(
      'EXTRA_CONSUMERS must be a JSON object',
    );
  });
});
