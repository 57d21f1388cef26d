/**
 * Small readers of Markdown as GitHub renders it, for the documentation tests: headings and code
 * blocks outside fences, `## ` sections, GitHub heading anchors, and the relative links of a file
 * checked against the files and headings of this repository. Pure functions of the text (plus
 * `existsSync` for link targets), so the tests can also prove that a broken link is reported.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A file of the repository, read as UTF-8 (path relative to the root). */
export function readDoc(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

/** `README.md` and every `docs/*.md`, relative to the root. */
export function documentationFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

/** The lines of the document that are not inside a fenced code block (fence lines excluded). */
export function outsideFences(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').filter((line) => {
    if (line.trimStart().startsWith('```')) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** The text of the headings of one level (`## x` → `x`), outside code fences. */
export function headings(markdown: string, level: 1 | 2 | 3): string[] {
  const marker = `${'#'.repeat(level)} `;
  return outsideFences(markdown)
    .filter((line) => line.startsWith(marker))
    .map((line) => line.slice(marker.length).trim());
}

/** Fenced code blocks: the info string (`sh`, `mermaid`, ...) and the body. */
export function codeBlocks(markdown: string): { info: string; body: string }[] {
  return [...markdown.matchAll(/^[ \t]*```([^\n`]*)\n([\s\S]*?)^[ \t]*```[ \t]*$/gm)].map((match) => ({
    info: (match[1] ?? '').trim(),
    body: match[2] ?? '',
  }));
}

/** The text of a `## heading` section, up to the next `## ` heading. */
export function section(markdown: string, heading: string): string | undefined {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${heading}`);
  if (start === -1) return undefined;
  const end = lines.findIndex((line, index) => index > start && line.startsWith('## '));
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n');
}

/**
 * The anchor GitHub gives a heading (github-slugger): the rendered text (inline code, emphasis and
 * link markup removed, their text kept), lower case, every character that is not a letter, a digit,
 * a space, `-` or `_` dropped, spaces turned into `-`. `` `invalid_client` / `credentials_not_set` ``
 * → `invalid_client--credentials_not_set`.
 */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // [text](url) → text
    .replace(/`([^`]*)`/g, '$1')
    .replace(/<[^>]+>/g, '');
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** The anchors of a document's headings (any level), with GitHub's `-1`, `-2` for repeats. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of outsideFences(markdown)) {
    const match = /^#{1,6} +(.+?)\s*#*\s*$/.exec(line);
    if (match === null) continue;
    const slug = githubSlug(match[1] ?? '');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** An inline link of a document: `[text](target)`, outside code fences and code spans. */
export interface Link {
  readonly text: string;
  readonly target: string;
  readonly line: number;
}

/** Every inline link (and image) outside code fences and inline code. */
export function links(markdown: string): Link[] {
  const result: Link[] = [];
  let fenced = false;
  markdown.split('\n').forEach((raw, index) => {
    if (raw.trimStart().startsWith('```')) {
      fenced = !fenced;
      return;
    }
    if (fenced) return;
    const line = raw.replace(/`[^`]*`/g, (code) => ' '.repeat(code.length));
    for (const match of line.matchAll(/!?\[((?:[^\]]|\][^(])*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      result.push({ text: match[1] ?? '', target: match[2] ?? '', line: index + 1 });
    }
  });
  return result;
}

/** Whether a link leaves the repository (a URL with a scheme, or protocol-relative). */
function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//');
}

/**
 * Every relative link of `file` (a path from the root) that points at nothing: a file or folder that
 * does not exist, a link outside the repository, or an `#anchor` that no heading of the target
 * Markdown file produces. `read` gives the text of another Markdown file of the repository (the
 * tests pass a variant to prove a broken link is reported).
 */
export function brokenLinks(
  file: string,
  markdown: string,
  read: (path: string) => string = readDoc,
): string[] {
  return links(markdown)
    .filter(({ target }) => !isExternal(target))
    .flatMap(({ target, line }) => {
      const problem = linkProblem(file, markdown, target, read);
      return problem === undefined ? [] : [`${file}:${line} (${target}): ${problem}`];
    });
}

/** What is wrong with one relative link of `file`, if anything. */
function linkProblem(
  file: string,
  markdown: string,
  target: string,
  read: (path: string) => string,
): string | undefined {
  const [pathPart = '', anchor] = target.split('#', 2) as [string, string | undefined];
  const resolved =
    pathPart === '' ? join(ROOT, file) : resolve(join(ROOT, dirname(file)), decodeURI(pathPart));
  const fromRoot = relative(ROOT, resolved);
  if (fromRoot.startsWith('..')) return 'points outside the repository';
  if (!existsSync(resolved)) return `${fromRoot} does not exist`;
  if (anchor === undefined) return undefined;
  if (!fromRoot.endsWith('.md')) return 'an anchor into a file that is not Markdown';
  const text = fromRoot === file ? markdown : read(fromRoot);
  return anchors(text).has(anchor) ? undefined : `${fromRoot} has no heading with the anchor #${anchor}`;
}
