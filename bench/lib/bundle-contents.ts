/**
 * What an esbuild bundle holds, from its metafile: the output's bytes grouped by npm package (or by
 * `functions/<folder>`, `bench/`), and how many of them are zod. Pure: no I/O.
 */
import type { Metafile } from 'esbuild';

/** The group zod's locales are counted in: worth seeing apart from the rest of zod. */
export const ZOD_LOCALES = 'zod (locales)';

/** The group of the benchmark's generated entry files (under `node_modules/.cache/`). */
export const GENERATED_ENTRY = 'generated entry';

/**
 * The group of one metafile input path (relative to esbuild's working directory): the npm package
 * after the last `node_modules/`, else `functions/<folder>`, else the first path segment. Files in a
 * hidden folder of node_modules (the benchmarks' scratch files in `node_modules/.cache/`) are
 * {@link GENERATED_ENTRY}.
 */
export function packageOf(path: string): string {
  const normalised = path.replaceAll('\\', '/');
  const match = /^(?:.*\/)?node_modules\/((?:@[^/]+\/)?[^/]+)(\/.*)?$/.exec(normalised);
  if (match?.[1] !== undefined) {
    if (match[1].startsWith('.')) return GENERATED_ENTRY;
    if (match[1] === 'zod' && match[2]?.includes('/locales/')) return ZOD_LOCALES;
    return match[1];
  }
  const segments = normalised.split('/').filter((segment) => segment !== '' && segment !== '..');
  if (segments[0] === 'functions' && segments[1] !== undefined) return `functions/${segments[1]}`;
  return segments[0] ?? normalised;
}

/** The JavaScript output of a metafile: the one whose name does not end with `.map`. */
export function mainOutput(metafile: Metafile): Metafile['outputs'][string] | undefined {
  return Object.entries(metafile.outputs).find(([name]) => !name.endsWith('.map'))?.[1];
}

/**
 * Bytes in the output per group, largest first; beyond `limit` groups the rest are summed into
 * one `<n> others` entry.
 */
export function bytesByPackage(metafile: Metafile, limit = Number.POSITIVE_INFINITY): [string, number][] {
  const groups = new Map<string, number>();
  for (const [path, input] of Object.entries(mainOutput(metafile)?.inputs ?? {})) {
    const group = packageOf(path);
    groups.set(group, (groups.get(group) ?? 0) + input.bytesInOutput);
  }
  const sorted = [...groups.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (sorted.length <= limit) return sorted;
  const rest = sorted.slice(limit).reduce((total, [, size]) => total + size, 0);
  return [...sorted.slice(0, limit), [`${sorted.length - limit} others`, rest]];
}

/** Bytes of zod (its locales included) in the output. */
export function zodBytes(metafile: Metafile): number {
  return bytesByPackage(metafile)
    .filter(([name]) => name === 'zod' || name === ZOD_LOCALES)
    .reduce((total, [, size]) => total + size, 0);
}

/** External packages (Node.js built-ins aside) the output loads at start and on first use. */
export interface ExternalImports {
  /** `import` statements: loaded when the bundle is. */
  readonly atLoad: readonly string[];
  /** Only `import()` expressions: loaded when that code first runs. */
  readonly onFirstUse: readonly string[];
}

/** What the output imports of the packages left external (the SDK on Lambda), by when it loads them. */
export function externalImports(metafile: Metafile): ExternalImports {
  const atLoad = new Set<string>();
  const dynamic = new Set<string>();
  for (const imported of mainOutput(metafile)?.imports ?? []) {
    if (imported.external !== true || imported.path.startsWith('node:')) continue;
    (imported.kind === 'dynamic-import' ? dynamic : atLoad).add(imported.path);
  }
  return {
    atLoad: [...atLoad].sort(),
    onFirstUse: [...dynamic].filter((path) => !atLoad.has(path)).sort(),
  };
}
