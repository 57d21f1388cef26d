/**
 * The documents of docs/ (issue #12 moved them out of the README): each holds the sections it is
 * promised, the architecture keeps its two well-formed Mermaid diagrams, and every relative link of
 * the README, docs/ and the drills README points at a file and a heading that exist (GitHub anchors).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  anchors,
  brokenLinks,
  codeBlocks,
  documentationFiles,
  githubSlug,
  headings,
  outsideFences,
  ROOT,
  readDoc,
  section,
} from './markdown.js';

/** Each document: its `# ` title and the `## ` sections it must have (matched by a piece of their text). */
const DOCUMENTS: Record<string, { title: string; sections: readonly string[] }> = {
  'docs/architecture.md': {
    title: 'Architecture',
    sections: [
      'Components',
      'The refresh protocol',
      'The refresh Lambda',
      'State/lock table item',
      'Events',
      'Infrastructure',
    ],
  },
  'docs/read-function.md': { title: 'The read function', sections: ['Granting access'] },
  'docs/events.md': { title: 'State-change events', sections: [] },
  'docs/cli.md': {
    title: 'CLI',
    sections: ['Commands', 'Which deployment', 'Output and exit codes'],
  },
  'docs/runbook.md': {
    title: 'Alarms runbook',
    sections: ['Permanent refresh failure', 'Persistent refresh failures'],
  },
  // The topics issue #5 named for troubleshooting.
  'docs/troubleshooting.md': {
    title: 'Troubleshooting',
    sections: ['invalid_grant', 'invalid_client', 'Provider outages', 'Clock skew', 'write_conflict'],
  },
  'docs/security.md': {
    title: 'Security model',
    sections: ['Who can read what', 'Where secrets live', 'What is never logged', 'Transport'],
  },
  'docs/limits.md': {
    title: 'Limits',
    sections: ['Resources per stack', 'Secrets Manager write rate', 'Lease', 'Refresh function timeout'],
  },
  'docs/local-development.md': {
    title: 'Local development',
    sections: ['Run locally', 'Tests', 'Known emulator differences'],
  },
  'docs/signed-assertions.md': {
    title: 'Signed assertions: private_key_jwt, jwt_bearer, github_app',
    sections: [
      'Configuration',
      'Private keys',
      'private_key_jwt',
      'jwt_bearer',
      'github_app',
      'What is never logged',
    ],
  },
  'docs/contributing.md': {
    title: 'Contributing',
    sections: ['House rules', 'Layout', 'Where to change what'],
  },
};

/** The "where to change what" topics issue #12 asks docs/contributing.md to cover (`### ` headings). */
const CONTRIBUTING_TOPICS = ['grant', 'metric', 'token store', 'consumer source', 'CLI command'];

/** Top-level entries that are not part of the repository (`.gitignore`, git itself). */
const NOT_IN_REPOSITORY = new Set([
  '.git',
  'node_modules',
  'cdk.out',
  'coverage',
  '.moto',
  'dist',
  '.token-refresher',
]);

/** The folders a layout must list: every top-level folder, and every folder of functions/ and test/. */
function repositoryFolders(): string[] {
  const folders = (path: string) =>
    readdirSync(join(ROOT, path), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !NOT_IN_REPOSITORY.has(entry.name))
      .map((entry) => (path === '' ? `${entry.name}/` : `${path}/${entry.name}/`));
  return [...folders(''), ...folders('functions'), ...folders('test')].sort();
}

/**
 * The folders of a layout block: `name/` at the start of a line is a top-level folder, an indented
 * `name/` a folder of the last top-level one.
 */
function layoutFolders(block: string): string[] {
  const found: string[] = [];
  let parent = '';
  for (const line of block.split('\n')) {
    const match = /^( *)(\.?[\w-]+\/)/.exec(line);
    if (match === null) continue;
    const [, indent = '', name = ''] = match;
    if (indent === '') {
      parent = name;
      found.push(name);
    } else {
      found.push(`${parent}${name}`);
    }
  }
  return found;
}

/** Backticked repository paths of a text (no placeholders such as `<grant>` or globs). */
function namedPaths(markdown: string): string[] {
  return [...markdown.matchAll(/`((?:functions|infra|test|bench|docs|config|\.ci)\/[^`\s<>*{}]*)`/g)].map(
    (match) => match[1] ?? '',
  );
}

/** The design document outside the repository that comments used to cite (not spelled out here). */
const OUTSIDE_DOCUMENT = ['ARCHITECTURE', 'md'].join('.');

/** The folders whose comments are checked. */
const CITING_FOLDERS = ['functions', 'infra', 'bench', 'test'];

/** Source files of {@link CITING_FOLDERS} (not this folder, whose tests spell out bad citations). */
function sourceFiles(path = ''): string[] {
  return readdirSync(join(ROOT, path), { withFileTypes: true }).flatMap((entry) => {
    const child = path === '' ? entry.name : `${path}/${entry.name}`;
    if (entry.isDirectory()) {
      const top = child.split('/')[0] ?? '';
      const wanted = path !== '' || CITING_FOLDERS.includes(top);
      return wanted && child !== 'test/unit/docs' ? sourceFiles(child) : [];
    }
    return /\.(ts|mjs|py)$/.test(entry.name) ? [child] : [];
  });
}

/**
 * Problems of the document citations in a source text: a citation of the design document outside the
 * repository, of a docs/ file that does not exist, or of a section (`docs/x.md, "Section"`,
 * `README.md, "Section"`) that is not a heading of that file. A citation may wrap across comment lines.
 */
function citationProblems(file: string, text: string, read: (path: string) => string = readDoc): string[] {
  const flat = text.replace(/\n\s*(?:\*|\/\/|#)?\s*/g, ' ');
  const problems: string[] = [];
  if (flat.includes(OUTSIDE_DOCUMENT)) {
    problems.push(`${file}: cites ${OUTSIDE_DOCUMENT}, which is not in the repository (cite docs/*.md)`);
  }
  const headingTexts = (path: string) =>
    new Set(
      outsideFences(read(path))
        .map((line) => /^#{1,6} +(.+?)\s*$/.exec(line)?.[1])
        .filter((heading): heading is string => heading !== undefined)
        .map((heading) => heading.replace(/`/g, '')),
    );
  for (const match of flat.matchAll(/\b(docs\/[\w-]+\.md|README(?:\.md)?)(?:,\s*"([^"]+)")?/g)) {
    const [, cited = '', heading] = match;
    const path = cited.startsWith('README') ? 'README.md' : cited;
    if (!existsSync(join(ROOT, path))) {
      problems.push(`${file}: cites ${path}, which does not exist`);
    } else if (heading !== undefined && !headingTexts(path).has(heading)) {
      problems.push(`${file}: cites ${path}, "${heading}", which is not a heading of ${path}`);
    }
  }
  return problems;
}

/** Every relative link checked: the README, docs/*.md and the drills README. */
const LINKED_FILES = [...documentationFiles(), 'test/drills/README.md'];

describe('docs/', () => {
  describe('Sections', () => {
    it.each(Object.entries(DOCUMENTS))('%s has its title and sections', (file, { title, sections }) => {
      // Prepare
      const markdown = readDoc(file);

      // Act
      const found = headings(markdown, 2);
      const missing = sections.filter((wanted) => !found.some((heading) => heading.includes(wanted)));

      // Assess
      expect(markdown.split('\n')[0]).toBe(`# ${title}`);
      expect(missing, `missing "## " sections in ${file}: ${missing.join(', ')}`).toEqual([]);
    });

    it('has a test entry for every document of docs/', () => {
      // Act
      const unchecked = documentationFiles().filter(
        (file) => file.startsWith('docs/') && !(file in DOCUMENTS),
      );

      // Assess
      expect(unchecked).toEqual([]);
    });

    it('tells a contributor where to change what: a grant, a metric, a token store, a consumer source, a CLI command', () => {
      // Prepare
      const whereToChange = section(readDoc('docs/contributing.md'), 'Where to change what') ?? '';

      // Act
      const topics = headings(whereToChange, 3);
      const missing = CONTRIBUTING_TOPICS.filter(
        (topic) => !topics.some((heading) => heading.includes(topic)),
      );

      // Assess: and each topic names the files to touch and the tests to add.
      expect(missing, `missing "### " topics: ${missing.join(', ')}`).toEqual([]);
      for (const entry of whereToChange.split(/^### /m).slice(1)) {
        expect(entry, entry.split('\n')[0]).toMatch(/\*\*Files\.\*\*/);
        expect(entry, entry.split('\n')[0]).toMatch(/\*\*Tests\.\*\*/);
      }
    });
  });

  describe('docs/contributing.md', () => {
    const contributing = readDoc('docs/contributing.md');

    it('lists every folder of the repository, functions/ and test/ in its Layout', () => {
      // Prepare
      const [block] = codeBlocks(section(contributing, 'Layout') ?? '');

      // Act
      const listed = new Set(layoutFolders(block?.body ?? ''));
      const missing = repositoryFolders().filter((folder) => !listed.has(folder));

      // Assess
      expect(listed.size).toBeGreaterThan(15);
      expect(missing, `folders missing from the Layout: ${missing.join(', ')}`).toEqual([]);
    });

    it('names only files and folders that exist', () => {
      // Act
      const paths = namedPaths(contributing);
      const missing = paths.filter((path) => !existsSync(join(ROOT, path)));

      // Assess
      expect(paths.length).toBeGreaterThan(30);
      expect(missing, `paths named in docs/contributing.md that do not exist: ${missing.join(', ')}`).toEqual(
        [],
      );
    });

    it('notices a folder missing from a layout and a path that does not exist', () => {
      // Act
      const listed = layoutFolders('functions/   x\n  core/   y\ntest/\n  unit/\n.ci/run   z');
      const named = namedPaths('`functions/core/nowhere.ts` and `test/unit/providers/<grant>.test.ts`');

      // Assess
      expect(listed).toEqual(['functions/', 'functions/core/', 'test/', 'test/unit/', '.ci/']);
      expect(named).toEqual(['functions/core/nowhere.ts']);
      expect(existsSync(join(ROOT, named[0] ?? ''))).toBe(false);
    });
  });

  describe('Document citations in code comments', () => {
    it('cite files and sections of this repository only', () => {
      // Prepare
      const files = sourceFiles();

      // Act
      const problems = files.flatMap((file) => citationProblems(file, readDoc(file)));

      // Assess
      expect(files.length).toBeGreaterThan(100);
      expect(problems).toEqual([]);
    });

    it('reports the outside document, a missing file and a section that is not a heading', () => {
      // Prepare
      const text = [
        `/** The protocol (${OUTSIDE_DOCUMENT}, "The refresh protocol"). */`,
        '// see docs/nowhere.md',
        ' * step 5 (docs/architecture.md,',
        ' * "The refresh protocol"), and (docs/architecture.md, "Data")',
        '# (README, "Token secret") and (README.md, "Alarms runbook")',
      ].join('\n');

      // Act
      const problems = citationProblems('x.ts', text);

      // Assess: the wrapped citation and the README's own heading are fine.
      expect(problems).toEqual([
        `x.ts: cites ${OUTSIDE_DOCUMENT}, which is not in the repository (cite docs/*.md)`,
        'x.ts: cites docs/nowhere.md, which does not exist',
        'x.ts: cites docs/architecture.md, "Data", which is not a heading of docs/architecture.md',
        'x.ts: cites README.md, "Alarms runbook", which is not a heading of README.md',
      ]);
    });
  });

  describe('Mermaid diagrams', () => {
    const diagrams = codeBlocks(readDoc('docs/architecture.md')).filter((block) => block.info === 'mermaid');

    it('has balanced code fences in every document', () => {
      // Act
      const unbalanced = LINKED_FILES.filter(
        (file) =>
          readDoc(file)
            .split('\n')
            .filter((line) => line.trimStart().startsWith('```')).length %
            2 !==
          0,
      );

      // Assess
      expect(unbalanced).toEqual([]);
    });

    it('keeps both diagrams in docs/architecture.md', () => {
      // Assess: a flowchart of the components and the refresh protocol's sequence diagram.
      expect(diagrams.map((diagram) => diagram.body.split('\n')[0]?.trim())).toEqual([
        'flowchart LR',
        'sequenceDiagram',
      ]);
    });

    it('quotes every flowchart label and keeps ";" and "#" out of sequence messages', () => {
      // Prepare: node shapes id[...], id(...), id[(...)], id{...}; edge labels -->|...|; every
      // Mermaid block of every document.
      const everyDiagram = LINKED_FILES.flatMap((file) =>
        codeBlocks(readDoc(file)).filter((block) => block.info === 'mermaid'),
      );
      const problems = everyDiagram.flatMap(({ body }) => mermaidProblems(body));

      // Assess
      expect(everyDiagram.length).toBeGreaterThanOrEqual(2);
      expect(problems).toEqual([]);
    });
  });

  describe('Links', () => {
    it.each(LINKED_FILES)('every relative link of %s points at an existing file and heading', (file) => {
      // Act
      const problems = brokenLinks(file, readDoc(file));

      // Assess
      expect(problems).toEqual([]);
    });

    it('makes anchors as GitHub does', () => {
      // Assess
      expect(
        [
          '`invalid_client` / `credentials_not_set`',
          'Staleness (one per provider)',
          'State/lock table item',
          'Lambda environment: 4 KB',
          '`write_conflict` / `lease_lost` in logs',
          'Read function 5xx',
        ].map(githubSlug),
      ).toEqual([
        'invalid_client--credentials_not_set',
        'staleness-one-per-provider',
        'statelock-table-item',
        'lambda-environment-4-kb',
        'write_conflict--lease_lost-in-logs',
        'read-function-5xx',
      ]);
      expect([...anchors('# A\n## B\n```\n## C\n```\n## B\n')]).toEqual(['a', 'b', 'b-1']);
    });

    it('reports a missing file, a missing heading, a link out of the repository, and an anchor into code', () => {
      // Prepare
      const markdown = [
        '# Doc',
        '[gone](docs/nowhere.md) [anchor](docs/limits.md#no-such-limit) [here](#doc)',
        '[out](../../etc/passwd) [code](functions/core/config.ts#L1) [web](https://example.com/x.md#y)',
        '`[not a link](nowhere.md)`',
        '```',
        '[fenced](nowhere.md)',
        '```',
      ].join('\n');

      // Act
      const problems = brokenLinks('README.md', markdown);

      // Assess: one problem each for the four broken links; the same-file anchor, the external URL,
      // code spans and fenced code are fine.
      expect(problems).toEqual([
        'README.md:2 (docs/nowhere.md): docs/nowhere.md does not exist',
        'README.md:2 (docs/limits.md#no-such-limit): docs/limits.md has no heading with the anchor #no-such-limit',
        'README.md:3 (../../etc/passwd): points outside the repository',
        'README.md:3 (functions/core/config.ts#L1): an anchor into a file that is not Markdown',
      ]);
    });
  });
});

/** The label problems of one Mermaid diagram, line by line. */
function mermaidProblems(body: string): string[] {
  const [kind, ...lines] = body.split('\n');
  const flowchart = kind?.startsWith('flowchart') === true;
  return lines
    .map((text) => text.trim())
    .filter((text) => text !== '')
    .flatMap((line) => (flowchart ? flowchartLineProblems(line) : sequenceLineProblems(line)));
}

/** Flowchart node shapes id[...], id(...), id[(...)], id{...} and edge labels -->|...| must be quoted. */
function flowchartLineProblems(line: string): string[] {
  const problems: string[] = [];
  for (const match of line.matchAll(/\b\w+(\[\(|\(\[|\[\[|\(\(|\[|\(|\{)(.)/g)) {
    if (match[2] !== '"') problems.push(`unquoted node label: ${line}`);
  }
  for (const match of line.matchAll(/\|([^|]*)\|/g)) {
    if (!/^".*"$/.test(match[1] ?? '')) problems.push(`unquoted edge label: ${line}`);
  }
  return problems;
}

/** In a sequence diagram ";" ends a statement and "#" starts an entity code: neither in a message. */
function sequenceLineProblems(line: string): string[] {
  const message = /^\w+\s*-?-[>x)]{1,2}[+-]?\s*\w+\s*:/.test(line);
  return message && /[;#]/.test(line.split(':').slice(1).join(':'))
    ? [`";" or "#" in a sequence message: ${line}`]
    : [];
}
