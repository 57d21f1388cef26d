import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployedConfigJson, parseRefresherConfig } from '../../../functions/core/config-schema.js';
import { EnvironmentError, readRefreshEnvironment } from '../../../functions/core/env.js';
import { loadReadEnvironment, loadRefreshEnvironment } from '../../../functions/runtime/environment.js';

const CONFIG = {
  providers: [{ name: 'acme', grant: 'client_credentials', tokenUrl: 'https://a.example.com/t' }],
};
const HTTP_PROVIDER = { name: 'x', grant: 'http', request: { url: 'https://x.example.com/t' }, response: {} };

describe('Function: readRefreshEnvironment', () => {
  it('reads the table name and the inline configuration as the construct delivers it', () => {
    // Act
    const environment = readRefreshEnvironment({
      TABLE_NAME: 'state',
      PROVIDERS_CONFIG: deployedConfigJson(CONFIG),
    });

    // Assess
    expect(environment.tableName).toBe('state');
    expect(environment.config.providers[0]).toMatchObject({ name: 'acme', refreshBefore: 300 });
    expect(environment.precise).toBeUndefined();
    expect(environment.eventBusName).toBeUndefined();
  });

  it('reads TOKEN_TABLE_NAME, and requires it when a provider keeps its token in DynamoDB, naming the providers', () => {
    // Prepare
    const dynamodb = {
      providers: [...CONFIG.providers, { ...CONFIG.providers[0], name: 'short', tokenStore: 'dynamodb' }],
    };

    // Act
    const withTable = readRefreshEnvironment({
      TABLE_NAME: 'state',
      TOKEN_TABLE_NAME: ' tokens ',
      PROVIDERS_CONFIG: deployedConfigJson(dynamodb),
    });
    const without = () =>
      readRefreshEnvironment({ TABLE_NAME: 'state', PROVIDERS_CONFIG: deployedConfigJson(dynamodb) });

    // Assess
    expect(withTable.tokenTableName).toBe('tokens');
    expect(without).toThrow(EnvironmentError);
    expect(without).toThrow(
      'TOKEN_TABLE_NAME is not set; it must name the DynamoDB token table of the providers with tokenStore "dynamodb" (short)',
    );
    expect(
      readRefreshEnvironment({ TABLE_NAME: 'state', PROVIDERS_CONFIG: deployedConfigJson(CONFIG) })
        .tokenTableName,
    ).toBe(undefined);
  });

  it('reads the event bus for state-change events when EVENT_BUS_NAME is set', () => {
    // Act
    const environment = readRefreshEnvironment({
      TABLE_NAME: 'state',
      PROVIDERS_CONFIG: deployedConfigJson(CONFIG),
      EVENT_BUS_NAME: ' default ',
    });

    // Assess
    expect(environment.eventBusName).toBe('default');
  });

  it('reads the configuration file through the reader it is given, and reads no file itself', () => {
    // Prepare
    const env = { TABLE_NAME: 't', PROVIDERS_CONFIG_FILE: 'providers.json' };
    const asked: string[] = [];

    // Act
    const environment = readRefreshEnvironment(env, {
      readConfigFile: (file) => {
        asked.push(file);
        return deployedConfigJson(CONFIG);
      },
    });

    // Assess
    expect(asked).toEqual(['providers.json']);
    expect(environment.config.providers).toHaveLength(1);
    expect(() => readRefreshEnvironment(env)).toThrow(
      /PROVIDERS_CONFIG_FILE \(providers\.json\) is set, but this caller reads no files/,
    );
  });

  it('names every missing variable in one error', () => {
    expect(() => readRefreshEnvironment({})).toThrow(
      new EnvironmentError(
        'Invalid environment:\n' +
          '  - TABLE_NAME is not set; it must name the state/lock DynamoDB table\n' +
          '  - PROVIDERS_CONFIG (JSON) or PROVIDERS_CONFIG_FILE (path) must be set',
      ),
    );
  });

  it('names the variable and the field path when the configuration is not JSON or not valid', () => {
    // Prepare: a delivered configuration whose provider lost a required field
    const broken = JSON.parse(deployedConfigJson({ providers: [HTTP_PROVIDER] }));
    delete broken.providers[0].request;

    // Act / Assess
    expect(() => readRefreshEnvironment({ TABLE_NAME: 't', PROVIDERS_CONFIG: '{oops' })).toThrow(
      /PROVIDERS_CONFIG is not valid JSON/,
    );
    expect(() =>
      readRefreshEnvironment({ TABLE_NAME: 't', PROVIDERS_CONFIG: JSON.stringify(broken) }),
    ).toThrow(
      new EnvironmentError('Invalid environment:\n  - PROVIDERS_CONFIG: providers[0].request: is required'),
    );
  });

  it('checks only the shape of the delivered configuration unless the caller passes the full schema', () => {
    // Prepare: a configuration as a person writes it, defaults not applied
    const env = {
      TABLE_NAME: 't',
      PROVIDERS_CONFIG: JSON.stringify({ providers: [{ name: 'x', grant: 'http' }] }),
    };

    // Act / Assess: the functions' check names what the construct would have filled in ...
    expect(() => readRefreshEnvironment(env)).toThrow(
      /PROVIDERS_CONFIG: providers\[0\]\.tokenStore: is required/,
    );
    // ... the full schema (the CLI's --config) what the person must write
    expect(() => readRefreshEnvironment(env, { parseConfig: parseRefresherConfig })).toThrow(
      /PROVIDERS_CONFIG: providers\[0\] \(x\)\.request: /,
    );
    expect(
      readRefreshEnvironment(
        { TABLE_NAME: 't', PROVIDERS_CONFIG: JSON.stringify(CONFIG) },
        { parseConfig: parseRefresherConfig },
      ).config.providers[0],
    ).toMatchObject({ name: 'acme', refreshBefore: 300 });
  });

  it('requires the precise-scheduling variables together', () => {
    expect(() =>
      readRefreshEnvironment({
        TABLE_NAME: 't',
        PROVIDERS_CONFIG: deployedConfigJson(CONFIG),
        SCHEDULER_GROUP: 'g',
      }),
    ).toThrow(/SCHEDULER_GROUP, SCHEDULER_ROLE_ARN and REFRESH_FUNCTION_ARN must be set together/);
  });
});

describe('Function: loadRefreshEnvironment', () => {
  it('reads the configuration from a file relative to the task root', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'env-'));
    writeFileSync(join(dir, 'providers.json'), deployedConfigJson(CONFIG));

    // Act
    const environment = loadRefreshEnvironment({
      TABLE_NAME: 't',
      PROVIDERS_CONFIG_FILE: 'providers.json',
      LAMBDA_TASK_ROOT: dir,
    });

    // Assess
    expect(environment.config.providers).toHaveLength(1);
  });

  it('names the variable when the file cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'env-'));
    expect(() =>
      loadRefreshEnvironment({
        TABLE_NAME: 't',
        PROVIDERS_CONFIG_FILE: 'missing.json',
        LAMBDA_TASK_ROOT: dir,
      }),
    ).toThrow(/PROVIDERS_CONFIG_FILE \(missing\.json\) cannot be read; it must name a JSON file/);
  });
});

describe('Function: loadReadEnvironment', () => {
  it('reads the configuration from an absolute path', () => {
    // Prepare
    const file = join(mkdtempSync(join(tmpdir(), 'env-')), 'providers.json');
    writeFileSync(file, deployedConfigJson(CONFIG));

    // Act
    const environment = loadReadEnvironment({ PROVIDERS_CONFIG_FILE: file, REFRESH_FUNCTION_NAME: 'r' });

    // Assess
    expect(environment.config.providers.map((provider) => provider.name)).toEqual(['acme']);
  });
});
