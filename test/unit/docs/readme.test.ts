/**
 * The README is part of the product (issues #5 and #12): at most 25 KB, its configuration reference
 * must match the zod schema, its sections must be the ones a newcomer is promised, and its Quick
 * start must give the two commands that really run the service and the tests (the same test command
 * CI runs). The longer documents it links to are checked in `docs.test.ts` and `runbook.test.ts`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configurationReferenceProblems, render, schemaFields } from './config-reference.js';
import { codeBlocks, documentationFiles, headings, links, ROOT, readDoc, section } from './markdown.js';

const README = readDoc('README.md');

/** Issue #12: "README ≤ 25 KB". Bytes of UTF-8, 1 KB = 1,000 bytes (the stricter reading). */
const MAX_README_BYTES = 25_000;

/** The `##` sections issue #12 asks for, in this order (other sections may sit between them). */
const REQUIRED_SECTIONS = [
  'Quick start',
  'Install',
  'Configuration',
  'Consumer usage',
  'CLI',
  'Deploy',
  'Documentation',
] as const;

/** The commands of the first `sh` block of a text, comments and blank lines aside. */
function shellCommands(markdown: string): string[] {
  const [first] = codeBlocks(markdown).filter((block) => block.info === 'sh');
  return (first?.body ?? '')
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line !== '');
}

describe('README', () => {
  it(`is at most ${MAX_README_BYTES.toLocaleString('en')} bytes`, () => {
    // Act
    const bytes = Buffer.byteLength(README, 'utf8');

    // Assess
    expect(bytes, `README.md is ${bytes} bytes; move detail to docs/`).toBeLessThanOrEqual(MAX_README_BYTES);
  });

  describe('Configuration reference', () => {
    it('documents every schema field, and only schema fields, with the schema defaults', () => {
      // Act
      const problems = configurationReferenceProblems(README);

      // Assess: one message per disagreement, each naming the field.
      expect(problems).toEqual([]);
    });

    it('walks the schema into nested fields and sees its defaults', () => {
      // Act
      const fields = schemaFields();

      // Assess: the walk itself works (a walk that found nothing would make the check above vacuous).
      expect(fields.size).toBeGreaterThan(20);
      const defaults = Object.fromEntries(
        [
          'refreshBefore',
          'requestTimeout',
          'schedule',
          'onDemandRefreshInterval',
          'clientAuth',
          'request.method',
        ].map((path) => [path, render(fields.get(path)?.defaultValue)]),
      );
      expect(defaults).toEqual({
        refreshBefore: '300',
        requestTimeout: '10',
        schedule: 'rate(5 minutes)',
        onDemandRefreshInterval: '60',
        clientAuth: 'client_secret_basic',
        'request.method': 'POST',
      });
      expect(fields.get('response.tokenPath')?.appliesTo).toEqual(new Set(['http']));
      expect(fields.get('audience')?.appliesTo).toEqual(new Set(['client_credentials']));
      expect(fields.get('request.url')?.required).toBe(true);
      expect(fields.get('scope')?.required).toBe(false);
    });

    it('names the field when a row is deleted, invented or has a wrong default', () => {
      // Prepare
      const withoutRow = README.split('\n')
        .filter((line) => !line.startsWith('| `refreshBefore` |'))
        .join('\n');
      const withExtraRow = README.replace(
        '| `name` | all |',
        '| `refreshAfter` | all | `1` | not a field |\n| `name` | all |',
      );
      const withWrongDefault = README.replace(
        '| `requestTimeout` | all | `10` |',
        '| `requestTimeout` | all | `15` |',
      );
      const withWrongScope = README.replace('| `audience` | `client_credentials` |', '| `audience` | all |');
      const optionalAsRequired = README.replace(
        '| `scope` | `client_credentials`, `refresh_token`, `jwt_bearer` | none |',
        '| `scope` | `client_credentials`, `refresh_token`, `jwt_bearer` | — (required) |',
      );

      const baseline = new Set(configurationReferenceProblems(README));

      // Act: only the problems each change adds.
      const results = [withoutRow, withExtraRow, withWrongDefault, withWrongScope, optionalAsRequired].map(
        (markdown) => configurationReferenceProblems(markdown).filter((problem) => !baseline.has(problem)),
      );

      // Assess: each variant really differs from the README, and the problem names the field.
      expect(
        new Set([withoutRow, withExtraRow, withWrongDefault, withWrongScope, optionalAsRequired]).has(README),
      ).toBe(false);
      expect(results).toEqual([
        ["schema field `refreshBefore` is missing from the README's configuration table"],
        ["the README's configuration table documents `refreshAfter`, which is not a field of the schema"],
        [expect.stringContaining('`requestTimeout` defaults to `10` in the schema')],
        [expect.stringContaining('`audience` applies to `client_credentials` in the schema')],
        [expect.stringContaining('`scope` is optional in the schema')],
      ]);
    });
  });

  describe('Sections', () => {
    it('has every section issue #12 asks for, in order', () => {
      // Act
      const found = headings(README, 2);

      // Assess
      const missing = REQUIRED_SECTIONS.filter((heading) => !found.includes(heading));
      expect(missing, `missing "## " sections: ${missing.join(', ')}`).toEqual([]);
      const order = found.filter((heading) => (REQUIRED_SECTIONS as readonly string[]).includes(heading));
      expect(order).toEqual([...REQUIRED_SECTIONS]);
    });

    it('starts with the title and a paragraph saying what it is', () => {
      // Act
      const [title, blank, firstLine] = README.split('\n');

      // Assess
      expect(title).toBe('# token-refresher');
      expect(blank).toBe('');
      expect(firstLine).toMatch(/^A serverless service on AWS/);
    });

    it('gives exactly two Quick-start commands: npm install && npm start, and npm test', () => {
      // Act
      const commands = shellCommands(section(README, 'Quick start') ?? '');

      // Assess: and both commands exist in package.json.
      expect(commands).toEqual(['npm install && npm start', 'npm test']);
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      };
      expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(['start', 'test']));
    });

    it("ends CI (.ci/run) with the Quick start's test command", () => {
      // Prepare
      const [, testCommand] = shellCommands(section(README, 'Quick start') ?? '');

      // Act: the last command of the CI script, comments and blank lines aside.
      const ciCommands = readFileSync(join(ROOT, '.ci', 'run'), 'utf8')
        .split('\n')
        .map((line) => line.replace(/#.*$/, '').trim())
        .filter((line) => line !== '');

      // Assess
      expect(testCommand).toBe('npm test');
      expect(ciCommands.at(-1)).toBe(testCommand);
    });

    it('links every document of docs/ from its Documentation section', () => {
      // Prepare
      const documentation = section(README, 'Documentation') ?? '';
      const targets = new Set(links(documentation).map((link) => link.target.split('#')[0]));

      // Act
      const unlinked = documentationFiles()
        .filter((file) => file.startsWith('docs/'))
        .filter((file) => !targets.has(file));

      // Assess
      expect(documentationFiles().length).toBeGreaterThan(6);
      expect(unlinked, `docs not linked from "## Documentation": ${unlinked.join(', ')}`).toEqual([]);
    });
  });
});
