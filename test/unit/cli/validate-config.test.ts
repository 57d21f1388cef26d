import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../../functions/cli/main.js';
import { ConfigError } from '../../../functions/core/config.js';
import { firstJsonErrorOffset } from '../../../functions/core/config-text.js';
import { loadConfigFile } from '../../../functions/runtime/config-file.js';

const EXAMPLE = resolve('config/example.json');

/** Run the CLI in-process and keep what it printed. */
async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    cwd: process.cwd(),
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: {},
  });
  return { code, stdout, stderr };
}

function file(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cli-config-'));
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

describe('Command: validate-config', () => {
  it('accepts config/example.json and names its providers', async () => {
    // Act
    const result = await cli(['validate-config', EXAMPLE]);

    // Assess
    expect(result).toEqual({
      code: 0,
      stdout:
        'OK: 3 providers (github-app, salesforce, billing-api)\n' +
        'deploy check (cdk synth and cdk deploy only): OK\n',
      stderr: '',
    });
  });

  it('lists every schema problem on its own line, naming provider and field, with exit code 1', async () => {
    // Prepare
    const path = file(
      'broken.json',
      JSON.stringify({
        providers: [
          { name: 'github', grant: 'client_credentials', tokenUrl: 'https://auth.example.com/token' },
          {
            name: 'crm',
            grant: 'refresh_token',
            tokenUrl: 'http://crm.example.com/token',
            refreshBefore: 30,
          },
          { name: 'Bad_Name', grant: 'password' },
        ],
      }),
    );

    // Act
    const result = await cli(['validate-config', path]);

    // Assess
    expect(result.code).toBe(1);
    expect(result.stdout.split('\n')).toEqual([
      `${path}: 3 problems`,
      '  - providers[1] (crm).tokenUrl: must use https (plain http is allowed only for 127.0.0.1/localhost)',
      '  - providers[1] (crm).refreshBefore: is 30 s; it must be at least 60 s',
      '  - providers[2] (Bad_Name).grant: must be one of "client_credentials", "refresh_token", "http", "jwt_bearer", "github_app"',
      '',
    ]);
  });

  it('reports the write rate apart, as the deploy check, with exit code 3 and a fix that works', async () => {
    // Prepare: 15-minute tokens refreshed 10 minutes early: a write every 7.5 minutes.
    const path = file(
      'fast.json',
      JSON.stringify({
        providers: [
          {
            name: 'fast',
            grant: 'client_credentials',
            tokenUrl: 'https://auth.example.com/token',
            expectedLifetime: '15m',
            refreshBefore: '10m',
          },
        ],
      }),
    );

    // Act
    const result = await cli(['validate-config', path]);

    // Assess
    expect(result.code).toBe(3);
    const lines = result.stdout.split('\n');
    expect(lines.slice(0, 2)).toEqual([
      'OK: 1 provider (fast); valid for npm start, the CLI and the functions',
      'deploy check (cdk synth and cdk deploy only): 1 problem; cdk synth refuses this configuration',
    ]);
    expect(lines[2]).toMatch(
      /^ {2}- providers\[0\] \(fast\): tokens would be written every 450 s .*Fix: set refreshBefore to at most 300 s/,
    );
  });

  it('accepts 60-second tokens as npm start does, and never suggests a refreshBefore below 60 s', async () => {
    // Prepare: a provider without expires_in whose tokens live 60 s.
    const path = file(
      'short.json',
      JSON.stringify({
        providers: [
          {
            name: 'short',
            grant: 'refresh_token',
            tokenUrl: 'https://auth.example.com/token',
            expectedLifetime: '60s',
            refreshBefore: '1m',
          },
        ],
      }),
    );

    // Act
    const result = await cli(['validate-config', path]);

    // Assess: valid (exit 3, not 1); the hints are ones the user can apply.
    expect(result.code).toBe(3);
    expect(loadConfigFile(path).providers[0]?.expectedLifetime).toBe(60);
    expect(result.stdout).toContain('tokens would be written every 30 s');
    expect(result.stdout).not.toMatch(/lower refreshBefore|refreshBefore to at most/);
    expect(result.stdout).toContain('request longer-lived tokens from the provider');
    // A refresh_token grant writes its rotated refresh tokens to the credentials secret: no store helps.
    expect(result.stdout).toContain('tokenStore: "dynamodb" does not help a refresh_token grant');
  });

  it('applies the rules of npm start: a file is valid for one exactly when it is for the other, with the same problems', async () => {
    // Prepare: files that npm start's loader (loadConfigFile) accepts and refuses.
    const provider = { name: 'p', grant: 'client_credentials', tokenUrl: 'https://a.example.com/t' };
    const files = [
      { providers: [provider] },
      { providers: [{ ...provider, expectedLifetime: 60 }] },
      { providers: [{ ...provider, expectedLifetime: 59 }] },
      { providers: [{ ...provider, refreshBefore: 30, requestTimeout: 90 }] },
      { providers: [{ ...provider, grant: 'refresh_token', expectedLifetime: '2m' }] },
      { providers: [] },
    ].map((config, index) => file(`rules-${index}.json`, JSON.stringify(config)));

    // Act
    const verdicts = await Promise.all(
      files.map(async (path) => {
        let startProblems: readonly string[] = [];
        try {
          loadConfigFile(path);
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          startProblems = error.problems;
        }
        const result = await cli(['validate-config', path, '--json']);
        const outcome = JSON.parse(result.stdout) as { ok: boolean; problems?: string[] };
        return { startProblems, validateProblems: outcome.problems ?? [], code: result.code };
      }),
    );

    // Assess
    expect(verdicts.map((verdict) => verdict.code)).toEqual([0, 3, 1, 1, 3, 1]);
    for (const verdict of verdicts) expect(verdict.validateProblems).toEqual(verdict.startProblems);
  });

  it('prints machine-readable outcomes with --json', async () => {
    // Act
    const ok = await cli(['validate-config', EXAMPLE, '--json']);
    const bad = await cli(['validate-config', file('empty.json', '{"providers":[]}'), '--json']);

    // Assess
    expect(JSON.parse(ok.stdout)).toEqual({
      ok: true,
      file: EXAMPLE,
      providers: ['github-app', 'salesforce', 'billing-api'],
      deployCheck: { ok: true, problems: [] },
    });
    expect(JSON.parse(bad.stdout)).toMatchObject({
      ok: false,
      problems: ['providers: must list at least one provider'],
    });
    expect(bad.code).toBe(1);
  });

  it('exits 2 with the line and column of the first JSON error', async () => {
    // Prepare: a trailing comma on line 3.
    const path = file('comma.json', '{\n  "providers": [],\n  "secretPrefix": "x",\n}\n');

    // Act
    const result = await cli(['validate-config', path]);

    // Assess
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(
      new RegExp(`^token-refresher: ${path} is not valid JSON: line 4, column 1 \\(offset 44\\): .+\\n$`),
    );
  });

  it('exits 2 naming the file when it cannot be read', async () => {
    // Act
    const missing = await cli(['validate-config', '/nonexistent/config.json']);
    const directory = await cli(['validate-config', tmpdir()]);

    // Assess
    expect(missing).toEqual({
      code: 2,
      stdout: '',
      stderr: 'token-refresher: cannot read /nonexistent/config.json: no such file\n',
    });
    expect(directory.code).toBe(2);
    expect(directory.stderr).toBe(`token-refresher: cannot read ${tmpdir()}: it is a directory\n`);
  });
});

describe('Function: firstJsonErrorOffset', () => {
  it.each([
    ['{"a": }', 6],
    ['{"a": 1,}', 8],
    ['[1, 2', 5],
    ['', 0],
    ['{"a": tru}', 9],
    ['{"a": 01}', 7],
    ['"\\x"', 2],
    ['"\\u12G4"', 5],
    ['{"a": 1} x', 9],
    ['{"a":\n  "b\u0001"}', 10],
  ])('finds the first bad character of %j at %i', (text, offset) => {
    expect(firstJsonErrorOffset(text)).toBe(offset);
  });

  it('agrees with JSON.parse on validity for 2,000 mutations of the example configuration', async () => {
    // Prepare: a deterministic generator, so a failure reproduces.
    const { readFileSync } = await import('node:fs');
    const source = readFileSync(EXAMPLE, 'utf8');
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = '{}[],:"\\ 0-1e.tnfu\n';
    let disagreements = 0;
    let invalid = 0;

    // Act
    for (let i = 0; i < 2000; i += 1) {
      const at = Math.floor(random() * source.length);
      const insert = alphabet.charAt(Math.floor(random() * alphabet.length));
      const mutated =
        random() < 0.5
          ? source.slice(0, at) + source.slice(at + 1)
          : source.slice(0, at) + insert + source.slice(at);
      let parses = true;
      try {
        JSON.parse(mutated);
      } catch {
        parses = false;
        invalid += 1;
      }
      if ((firstJsonErrorOffset(mutated) === undefined) !== parses) disagreements += 1;
    }

    // Assess
    expect(invalid).toBeGreaterThan(100);
    expect(disagreements).toBe(0);
  });
});
