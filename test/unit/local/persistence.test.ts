import { mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCAL_STATE_FILE, preparePrivateDirectory } from '../../../functions/local/persistence.js';

const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe('Function: preparePrivateDirectory', () => {
  it('creates the directory with mode 0700', () => {
    // Prepare
    const dir = join(mkdtempSync(join(tmpdir(), 'private-')), 'a', '.token-refresher');

    // Act
    preparePrivateDirectory(dir);

    // Assess
    expect(modeOf(dir)).toBe(0o700);
  });

  it('brings an existing directory to 0700 and its files to 0600, leaving subdirectories alone', () => {
    // Prepare: as left by an older version under a permissive umask.
    const dir = mkdtempSync(join(tmpdir(), 'private-'));
    for (const name of ['config.json', 'local.log', 'emulator-state.json']) {
      writeFileSync(join(dir, name), '{}', { mode: 0o644 });
    }
    mkdirSync(join(dir, 'sub'), { mode: 0o755 });

    // Act
    preparePrivateDirectory(dir);

    // Assess
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(join(dir, 'config.json'))).toBe(0o600);
    expect(modeOf(join(dir, 'local.log'))).toBe(0o600);
    expect(modeOf(join(dir, 'emulator-state.json'))).toBe(0o600);
    expect(modeOf(join(dir, 'sub'))).toBe(0o755);
  });
});

describe('Constant: LOCAL_STATE_FILE', () => {
  it('lives in .token-refresher/, next to the session file', () => {
    // Assess
    expect(LOCAL_STATE_FILE).toBe(join('.token-refresher', 'emulator-state.json'));
  });
});
