/**
 * `npm run bench`: runs the benchmarks (1–5 of issue #6, 6–7 of issue #17) one after another against
 * one moto server, prints their figures as they go, and writes `bench/RESULTS.md` (date, machine,
 * Node and moto versions, one section per benchmark).
 *
 * `npm run bench -- --quick`: fewer processes and iterations (for a try-out; RESULTS.md says so).
 * `npm run bench -- --only consumer-cold-start` (or `--only=1,4`, numbers or keys): run some
 * benchmarks and print them; RESULTS.md is not written.
 *
 * Benchmarks print figures; they never fail on a time. They are not part of `npm test`.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, type as osType, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMoto } from '../functions/local/moto.js';
import { bundleSizes } from './bundle-sizes.js';
import { coldStart } from './cold-start.js';
import { consumerColdStart } from './consumer-cold-start.js';
import { consumerFetches } from './consumer-fetches.js';
import { type BenchOptions, parseBenchArguments } from './lib/arguments.js';
import type { BenchContext, Benchmark } from './lib/context.js';
import { markdownTable, type Section, say } from './lib/report.js';
import { refreshCost } from './refresh-cost.js';
import { scale } from './scale.js';
import { warmRead } from './warm-read.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const RESULTS_PATH = join(BENCH_DIR, 'RESULTS.md');

interface Registered {
  readonly number: number;
  /** What `--only` accepts besides the number. */
  readonly key: string;
  readonly run: Benchmark;
}

/** In the issues' order; 5 uses the call counts and durations measured by 4. */
const BENCHMARKS: readonly Registered[] = [
  { number: 1, key: 'consumer-fetches', run: consumerFetches },
  { number: 2, key: 'read-cold-start', run: coldStart },
  { number: 3, key: 'warm-read', run: warmRead },
  { number: 4, key: 'refresh-cost', run: refreshCost },
  { number: 5, key: 'scale', run: scale },
  { number: 6, key: 'consumer-cold-start', run: consumerColdStart },
  { number: 7, key: 'bundle-sizes', run: bundleSizes },
];

function motoVersion(): string {
  try {
    return execFileSync('python3', ['-c', 'import moto; print(moto.__version__)'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    return 'unknown';
  }
}

function gitCommit(): string | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      cwd: BENCH_DIR,
    }).trim();
    // RESULTS.md itself is rewritten by every run: it does not make the code dirty.
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '.', ':!RESULTS.md'], {
      encoding: 'utf8',
      cwd: BENCH_DIR,
    });
    const files = dirty
      .split('\n')
      .map((line) => line.slice(3).trim())
      .filter((file) => file !== '');
    return files.length === 0 ? commit : `${commit} + uncommitted changes to ${files.slice(0, 3).join(', ')}`;
  } catch {
    return undefined;
  }
}

function machine(): { readonly rows: readonly (readonly [string, string])[] } {
  const cpu = cpus();
  const commit = gitCommit();
  return {
    rows: [
      ['CPU', `${cpu[0]?.model.trim() ?? 'unknown'} × ${cpu.length} cores`],
      ['Memory', `${(totalmem() / 1024 ** 3).toFixed(1)} GiB`],
      ['OS', `${osType()} ${release()} (${process.platform}/${process.arch})`],
      ['Node.js', process.version],
      ['moto', motoVersion()],
      ...(commit === undefined ? [] : ([['Commit', commit]] as const)),
    ],
  };
}

function renderResults(sections: readonly Section[], options: BenchOptions, totalSeconds: number): string {
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench${options.quick ? ' -- --quick' : ''}\` (bench/run.ts) on ${date}; do not edit by hand. ` +
      'Benchmarks print figures and never fail on a time; every count below is taken at the emulator or the OAuth server, ' +
      'never from a mock.',
    '',
    ...(options.quick
      ? [
          '> **Quick mode**: fewer processes and iterations than the issue asks for. Run `npm run bench` for the real figures.',
          '',
        ]
      : []),
    markdownTable({ head: ['Machine', ''], rows: machine().rows }),
    '',
    `Total run time: ${totalSeconds.toFixed(0)} s.`,
    '',
  ];
  for (const section of sections) {
    lines.push(`## ${section.title}`, '');
    for (const paragraph of section.method) lines.push(paragraph, '');
    for (const table of section.tables) lines.push(markdownTable(table), '');
    for (const paragraph of section.notes) lines.push(paragraph, '');
    if (section.seconds !== undefined) lines.push(`_Run time: ${section.seconds.toFixed(0)} s._`, '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

async function main(): Promise<void> {
  const options = parseBenchArguments(process.argv.slice(2), BENCHMARKS);
  const started = performance.now();
  say(`token-refresher benchmarks${options.quick ? ' (quick mode)' : ''}: starting moto server…`);
  const moto = await startMoto();
  // The default SDK chain (Powertools' default providers, child processes) finds moto through these.
  Object.assign(process.env, moto.env);
  const context: BenchContext = { moto, quick: options.quick, shared: {} };
  const sections: Section[] = [];
  try {
    for (const { number, run } of BENCHMARKS) {
      if (options.only !== undefined && !options.only.has(number)) continue;
      await moto.reset();
      const benchStarted = performance.now();
      const section = await run(context);
      const seconds = (performance.now() - benchStarted) / 1000;
      say(`  (benchmark ${number}: ${seconds.toFixed(1)} s)`);
      say();
      sections.push({ ...section, seconds });
    }
  } finally {
    await moto.stop();
  }
  const totalSeconds = (performance.now() - started) / 1000;
  if (options.only === undefined) {
    writeFileSync(RESULTS_PATH, renderResults(sections, options, totalSeconds));
    say(`Wrote ${RESULTS_PATH} (${totalSeconds.toFixed(0)} s in total).`);
  } else {
    say(`Done in ${totalSeconds.toFixed(0)} s; --only given, so ${RESULTS_PATH} was not written.`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `Benchmark run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
