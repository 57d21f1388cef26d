/**
 * `npm start`'s log file is private to its owner (issue 15, finding 14): the logger creates it 0600
 * and brings an existing one to 0600, whoever created it and whenever.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalLogger } from '../../../functions/local/local-logger.js';

const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe('Class: LocalLogger', () => {
  it('creates the log file with mode 0600', () => {
    // Prepare
    const file = join(mkdtempSync(join(tmpdir(), 'local-log-')), 'local.log');

    // Act
    new LocalLogger(file, () => {}).info('Refreshed', { provider: 'crm' });

    // Assess
    expect(modeOf(file)).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ level: 'INFO', provider: 'crm' });
  });

  it('brings an existing world-readable log file to 0600 and appends to it', () => {
    // Prepare: as left by an older version, or created after the directory was prepared.
    const file = join(mkdtempSync(join(tmpdir(), 'local-log-')), 'local.log');
    writeFileSync(file, '{"level":"INFO","message":"earlier"}\n', { mode: 0o644 });
    const problems: string[] = [];

    // Act
    const logger = new LocalLogger(file, (text) => problems.push(text));
    logger.warn('Refresh failed; the current token is kept', { provider: 'crm' });

    // Assess
    expect(modeOf(file)).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(2);
    expect(problems).toEqual(['Refresh failed; the current token is kept (crm)']);
  });
});
