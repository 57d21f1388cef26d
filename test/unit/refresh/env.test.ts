import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EnvironmentError, readRefreshEnvironment } from '../../../functions/core/env.js';

const CONFIG = {
  providers: [{ name: 'acme', grant: 'client_credentials', tokenUrl: 'https://a.example.com/t' }],
};

describe('Function: readRefreshEnvironment', () => {
  it('reads the table name and the inline configuration with defaults applied', () => {
    // Act
    const environment = readRefreshEnvironment({
      TABLE_NAME: 'state',
      PROVIDERS_CONFIG: JSON.stringify(CONFIG),
    });

    // Assess
    expect(environment.tableName).toBe('state');
    expect(environment.config.providers[0]).toMatchObject({ name: 'acme', refreshBefore: 300 });
    expect(environment.precise).toBeUndefined();
    expect(environment.eventBusName).toBeUndefined();
  });

  it('reads the event bus for state-change events when EVENT_BUS_NAME is set', () => {
    // Act
    const environment = readRefreshEnvironment({
      TABLE_NAME: 'state',
      PROVIDERS_CONFIG: JSON.stringify(CONFIG),
      EVENT_BUS_NAME: ' default ',
    });

    // Assess
    expect(environment.eventBusName).toBe('default');
  });

  it('reads the configuration from a file relative to the task root', () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'env-'));
    writeFileSync(join(dir, 'providers.json'), JSON.stringify(CONFIG));

    // Act
    const environment = readRefreshEnvironment({
      TABLE_NAME: 't',
      PROVIDERS_CONFIG_FILE: 'providers.json',
      LAMBDA_TASK_ROOT: dir,
    });

    // Assess
    expect(environment.config.providers).toHaveLength(1);
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

  it('names the variable when the configuration is not JSON or not valid', () => {
    expect(() => readRefreshEnvironment({ TABLE_NAME: 't', PROVIDERS_CONFIG: '{oops' })).toThrow(
      /PROVIDERS_CONFIG is not valid JSON/,
    );
    expect(() =>
      readRefreshEnvironment({
        TABLE_NAME: 't',
        PROVIDERS_CONFIG: JSON.stringify({ providers: [{ name: 'x', grant: 'http' }] }),
      }),
    ).toThrow(/PROVIDERS_CONFIG: providers\[0\] \(x\)\.request: /);
  });

  it('requires the precise-scheduling variables together', () => {
    expect(() =>
      readRefreshEnvironment({
        TABLE_NAME: 't',
        PROVIDERS_CONFIG: JSON.stringify(CONFIG),
        SCHEDULER_GROUP: 'g',
      }),
    ).toThrow(/SCHEDULER_GROUP, SCHEDULER_ROLE_ARN and REFRESH_FUNCTION_ARN must be set together/);
  });
});
