/**
 * The core does no I/O and imports no AWS SDK (docs/contributing.md, "Dependencies point inward"):
 * no file of functions/core imports a file-system, path, OS or process module, reads `process.env` or
 * the working directory, or imports `@aws-sdk/*` or `@smithy/*`; and none imports from outside
 * functions/core (zod and node:crypto excepted).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CORE = fileURLToPath(new URL('../../../functions/core', import.meta.url));
const ALLOWED_PACKAGES = new Set(['zod', 'node:crypto']);

function coreFiles(): { name: string; text: string }[] {
  return readdirSync(CORE)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => ({ name, text: readFileSync(join(CORE, name), 'utf8') }));
}

/** The module specifiers of static imports, re-exports and dynamic imports. */
function specifiers(text: string): string[] {
  const found = [...text.matchAll(/\bfrom\s+['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)];
  return found.map((match) => match[1] ?? match[2] ?? '');
}

describe('functions/core', () => {
  it('imports only its own modules, zod and node:crypto', () => {
    // Act
    const files = coreFiles();
    const outside = files.flatMap(({ name, text }) =>
      specifiers(text)
        .filter((specifier) => !specifier.startsWith('./') && !ALLOWED_PACKAGES.has(specifier))
        .map((specifier) => `${name}: ${specifier}`),
    );

    // Assess
    expect(files.length).toBeGreaterThan(10);
    expect(outside).toEqual([]);
  });

  it('reads neither the process environment nor the working directory', () => {
    const readers = coreFiles().filter(({ text }) => /\bprocess\s*\.\s*(env|cwd|argv)\b/.test(text));
    expect(readers.map(({ name }) => name)).toEqual([]);
  });

  it('notices a forbidden import', () => {
    expect(
      specifiers("import { readFileSync } from 'node:fs';\nconst m = await import('@aws-sdk/x');"),
    ).toEqual(['node:fs', '@aws-sdk/x']);
  });
});
