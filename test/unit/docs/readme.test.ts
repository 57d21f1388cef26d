/**
 * The README is part of the product (issue #5): its configuration reference must match the zod
 * schema, its sections must be the ones a newcomer is promised, its runbook must cover every alarm
 * the construct creates, and its Mermaid blocks must be well-formed.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configurationReferenceProblems, render, schemaFields, section } from './config-reference.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The `##` sections issue #5 asks for, in this order (other sections may sit between them). */
const REQUIRED_SECTIONS = [
  'Quick start',
  'Architecture',
  'Configuration',
  'Deploy',
  'Consumer usage',
  'The read function',
  'CLI',
  'Alarms runbook',
  'Security model',
  'Limits',
  'Local development',
  'Troubleshooting',
  'Layout',
] as const;

/** Headings (`###`) the issue names inside "Troubleshooting", matched by a piece of their text. */
const TROUBLESHOOTING_TOPICS = [
  'invalid_grant',
  'invalid_client',
  'Provider outages',
  'Clock skew',
  'write_conflict',
];

function headings(markdown: string, level: 2 | 3): string[] {
  const marker = `${'#'.repeat(level)} `;
  return outsideFences(markdown)
    .filter((line) => line.startsWith(marker))
    .map((line) => line.slice(marker.length).trim());
}

/** The lines of the document that are not inside a fenced code block. */
function outsideFences(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').filter((line) => {
    if (line.trimStart().startsWith('```')) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** Fenced code blocks: the info string (`sh`, `mermaid`, ...) and the body. */
function codeBlocks(markdown: string): { info: string; body: string }[] {
  return [...markdown.matchAll(/^[ \t]*```([^\n`]*)\n([\s\S]*?)^[ \t]*```[ \t]*$/gm)].map((match) => ({
    info: (match[1] ?? '').trim(),
    body: match[2] ?? '',
  }));
}

describe('README', () => {
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
        '| `scope` | `client_credentials`, `refresh_token` | none |',
        '| `scope` | `client_credentials`, `refresh_token` | — (required) |',
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
    it('has every section issue #5 asks for, in order', () => {
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
      // Prepare
      const quickStart = section(README, 'Quick start') ?? '';

      // Act: the first shell block of the section, comments and blank lines aside.
      const [first] = codeBlocks(quickStart).filter((block) => block.info === 'sh');
      const commands = (first?.body ?? '')
        .split('\n')
        .map((line) => line.replace(/#.*$/, '').trim())
        .filter((line) => line !== '');

      // Assess: and both commands exist in package.json.
      expect(commands).toEqual(['npm install && npm start', 'npm test']);
      const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      };
      expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(['start', 'test']));
    });

    it('has the troubleshooting topics the issue names', () => {
      // Act
      const topics = headings(section(README, 'Troubleshooting') ?? '', 3);

      // Assess
      const missing = TROUBLESHOOTING_TOPICS.filter(
        (topic) => !topics.some((heading) => heading.includes(topic)),
      );
      expect(missing, `missing "### " topics under Troubleshooting: ${missing.join(', ')}`).toEqual([]);
    });
  });

  describe('Alarms runbook', () => {
    const source = readFileSync(join(ROOT, 'infra', 'token-refresher.ts'), 'utf8');
    const alarmIds = [
      ...source.matchAll(/(?:new cloudwatch\.Alarm|anyInPeriodAlarm)\(\s*(?:this|scope),\s*'(\w+)'/g),
    ].map((match) => match[1] ?? '');
    const runbook = section(README, 'Alarms runbook') ?? '';

    it('covers every alarm the construct creates, by its construct id', () => {
      // Assess: the source scan found the alarms (9 kinds: 8 shared, 1 per provider).
      expect(alarmIds.length).toBeGreaterThanOrEqual(9);
      const undocumented = alarmIds.filter(
        (id) => !new RegExp(`\`[^\`\\n]*\\b${id}\\b[^\`\\n]*\``).test(runbook),
      );
      expect(undocumented, `alarms without a runbook entry: ${undocumented.join(', ')}`).toEqual([]);
    });

    it('gives each alarm its meaning, three things to check first, and how to recover', () => {
      // Prepare
      const entries = runbook.split(/^### /m).slice(1);

      // Act
      const incomplete = entries.flatMap((entry) => {
        const title = entry.split('\n')[0] ?? '';
        const checks = (entry.split('**Check first.**')[1] ?? '').split('**Recover.**')[0] ?? '';
        const numbered = checks.split('\n').filter((line) => /^[1-3]\. /.test(line)).length;
        const complete = entry.includes('**Meaning.**') && entry.includes('**Recover.**') && numbered === 3;
        return complete ? [] : [title];
      });

      // Assess
      expect(entries.length).toBe(alarmIds.length);
      expect(
        incomplete,
        `runbook entries missing Meaning / three checks / Recover: ${incomplete.join(', ')}`,
      ).toEqual([]);
    });
  });

  describe('Mermaid diagrams', () => {
    const diagrams = codeBlocks(README).filter((block) => block.info === 'mermaid');

    it('has balanced code fences and both diagrams', () => {
      // Act
      const fences = README.split('\n').filter((line) => line.trimStart().startsWith('```')).length;

      // Assess: a flowchart of the components and the refresh protocol's sequence diagram.
      expect(fences % 2).toBe(0);
      expect(diagrams.map((diagram) => diagram.body.split('\n')[0]?.trim())).toEqual([
        'flowchart LR',
        'sequenceDiagram',
      ]);
    });

    it('quotes every flowchart label and keeps ";" and "#" out of sequence messages', () => {
      // Prepare: node shapes id[...], id(...), id[(...)], id{...}; edge labels -->|...|.
      const problems: string[] = [];
      for (const { body } of diagrams) {
        const [kind, ...lines] = body.split('\n');
        for (const line of lines.map((text) => text.trim()).filter((text) => text !== '')) {
          if (kind?.startsWith('flowchart')) {
            for (const match of line.matchAll(/\b\w+(\[\(|\(\[|\[\[|\(\(|\[|\(|\{)(.)/g)) {
              if (match[2] !== '"') problems.push(`unquoted node label: ${line}`);
            }
            for (const match of line.matchAll(/\|([^|]*)\|/g)) {
              if (!/^".*"$/.test(match[1] ?? '')) problems.push(`unquoted edge label: ${line}`);
            }
          } else if (
            /^\w+\s*-?-[>x)]{1,2}[+-]?\s*\w+\s*:/.test(line) &&
            /[;#]/.test(line.split(':').slice(1).join(':'))
          ) {
            // In a sequence diagram ";" ends a statement and "#" starts an entity code.
            problems.push(`";" or "#" in a sequence message: ${line}`);
          }
        }
      }

      // Assess
      expect(problems).toEqual([]);
    });
  });
});
