/**
 * The command line of `npm run bench`. Pure: no I/O, so the parsing is unit-tested.
 *
 * - `--quick`: fewer processes and iterations (a try-out; RESULTS.md says so).
 * - `--only <list>` or `--only=<list>`: run some benchmarks, named by number or by key
 *   (`--only consumer-cold-start`, `--only=1,refresh-cost`); RESULTS.md is then not written.
 */

/** A benchmark as the command line names it. */
export interface BenchmarkName {
  readonly number: number;
  /** e.g. `consumer-cold-start` */
  readonly key: string;
}

export interface BenchOptions {
  readonly quick: boolean;
  /** The numbers of the benchmarks to run; `undefined` = all of them. */
  readonly only: ReadonlySet<number> | undefined;
}

/** @throws Error naming the argument and the accepted forms */
export function parseBenchArguments(args: readonly string[], known: readonly BenchmarkName[]): BenchOptions {
  let quick = false;
  let only: Set<number> | undefined;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index] ?? '';
    if (arg === '--quick') {
      quick = true;
    } else if (arg === '--only' || arg.startsWith('--only=')) {
      const list = arg === '--only' ? args[++index] : arg.slice('--only='.length);
      only = new Set([...(only ?? []), ...resolveBenchmarks(list, known)]);
    } else {
      throw new Error(
        `Unknown argument ${JSON.stringify(arg)}; use --quick and/or --only <list> (${describeKnown(known)})`,
      );
    }
  }
  return { quick, only };
}

/** `1,consumer-cold-start` → the numbers of those benchmarks. */
function resolveBenchmarks(list: string | undefined, known: readonly BenchmarkName[]): number[] {
  if (list === undefined || list.trim() === '') {
    throw new Error(`--only needs a list of benchmarks: ${describeKnown(known)}`);
  }
  const numbers: number[] = [];
  const unknown: string[] = [];
  for (const part of list.split(',').map((each) => each.trim())) {
    if (part === '') continue;
    const found = known.find((benchmark) => benchmark.key === part || String(benchmark.number) === part);
    if (found === undefined) unknown.push(part);
    else numbers.push(found.number);
  }
  if (unknown.length > 0) {
    throw new Error(`--only: no benchmark ${unknown.join(', ')}; they are ${describeKnown(known)}`);
  }
  return numbers;
}

function describeKnown(known: readonly BenchmarkName[]): string {
  return known.map((benchmark) => `${benchmark.number} ${benchmark.key}`).join(', ');
}
