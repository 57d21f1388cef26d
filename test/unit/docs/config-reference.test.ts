/**
 * The README check for fields whose default differs per grant (`requestTimeout`: 30 s for
 * `refresh_token`, 10 s for the others): the row must name each exception, and only real ones.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configurationReferenceProblems, render, schemaFields } from './config-reference.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const EXCEPTION = 'Default for `refresh_token`: `30`';

describe('Configuration reference: per-grant defaults', () => {
  it('sees the common default and the exceptions of a field', () => {
    // Act
    const requestTimeout = schemaFields().get('requestTimeout');

    // Assess
    expect(render(requestTimeout?.defaultValue)).toBe('10');
    expect(requestTimeout?.grantDefaults).toEqual(new Map([['refresh_token', '30']]));
    expect(schemaFields().get('refreshBefore')?.grantDefaults.size).toBe(0);
  });

  it('names the field and the grant when an exception is missing, wrong or invented', () => {
    // Prepare
    const baseline = new Set(configurationReferenceProblems(README));
    const variants = [
      README.replace(EXCEPTION, 'Default'),
      README.replace(EXCEPTION, 'Default for `refresh_token`: `20`'),
      README.replace(EXCEPTION, `${EXCEPTION}, for \`http\`: \`5\``),
    ];

    // Act
    const results = variants.map((markdown) =>
      configurationReferenceProblems(markdown).filter((problem) => !baseline.has(problem)),
    );

    // Assess: the README has the exception, and each variant changes it.
    expect(README).toContain(EXCEPTION);
    expect(variants.includes(README)).toBe(false);
    expect(results).toEqual([
      [
        '`requestTimeout` defaults to `30` for `refresh_token` in the schema; its row must say "`refresh_token`: `30`"',
      ],
      [
        '`requestTimeout` defaults to `30` for `refresh_token` in the schema; its row must say "`refresh_token`: `30`"',
      ],
      ['`requestTimeout` has no default of its own for `http` in the schema, but its row names one'],
    ]);
  });
});
