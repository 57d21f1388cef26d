/**
 * What a benchmark hands back to the runner, and how it is printed: Markdown tables that go to the
 * terminal as they are produced and, collected, into `bench/RESULTS.md`.
 */

/** One Markdown table. */
export interface Table {
  readonly title?: string;
  readonly head: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** One benchmark's part of RESULTS.md. */
export interface Section {
  readonly title: string;
  /** Paragraphs before the tables: what was measured and how. */
  readonly method: readonly string[];
  readonly tables: readonly Table[];
  /** Paragraphs after the tables: what the figures say, caveats. */
  readonly notes: readonly string[];
  /** Wall time of the benchmark, filled in by the runner. */
  readonly seconds?: number;
}

/** Render a table as GitHub-flavoured Markdown (pipes in cells are escaped). */
export function markdownTable(table: Table): string {
  const cell = (text: string) => text.replaceAll('|', '\\|');
  const lines = [
    `| ${table.head.map(cell).join(' | ')} |`,
    `|${table.head.map((_, index) => (index === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...table.rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
  return table.title === undefined ? lines.join('\n') : `**${table.title}**\n\n${lines.join('\n')}`;
}

/**
 * Progress and figures go through this, bound to the real stdout at import time: some benchmarks
 * swap `process.stdout.write` for a sink while handlers run (their log lines are measured, not shown).
 */
const write = process.stdout.write.bind(process.stdout);

export function say(text = ''): void {
  write(`${text}\n`);
}

export function printTable(table: Table): void {
  say();
  say(markdownTable(table));
  say();
}
