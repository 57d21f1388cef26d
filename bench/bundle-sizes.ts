/**
 * Benchmark 7 (issue #17): bundle sizes, SDK external, each built twice with esbuild:
 *
 * - **esbuild defaults**: `--bundle --platform=node --format=esm --minify` and `--external:@aws-sdk/*`,
 *   nothing else (what a user's own esbuild call gives);
 * - **the construct's settings**: `BUNDLING` of `infra/bundling.ts` as `NodejsFunction` applies it
 *   (target from the runtime, `mainFields` module first, the `createRequire` banner, source map in its
 *   own file), which is what the deployed functions are.
 *
 * For the read and refresh handlers, the Powertools read handler of benchmark 2 (for reference) and
 * the client package's entry points (a one-token consumer of each, from the package as published),
 * with the bytes of zod in each output (esbuild's metafile).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { BUNDLING, FUNCTION_BUNDLES } from '../infra/bundling.js';
import { bytesByPackage, externalImports, mainOutput, zodBytes } from './lib/bundle-contents.js';
import { type ClientEntryPoint, clientConsumerFile, installClientPackage } from './lib/client-package.js';
import type { BenchContext } from './lib/context.js';
import { printTable, type Section, say, type Table } from './lib/report.js';
import { int } from './lib/stats.js';
import { atMostVerdict, BUNDLE_BYTES_TARGETS } from './lib/targets.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Outputs are kept in memory; this only names them (and the source map). */
const OUT_FILE = join(REPO_ROOT, 'node_modules', '.cache', 'token-refresher-bench-sizes', 'index.mjs');

interface Subject {
  readonly label: string;
  readonly entry: () => Promise<string>;
  /** Issue #17's target, SDK external and minified (construct settings, as deployed). */
  readonly targetBytes?: number;
}

interface Measured {
  readonly subject: Subject;
  readonly defaults: Metafile;
  readonly construct: Metafile;
}

const functionEntry = (name: 'read' | 'refresh') => async () => {
  const found = FUNCTION_BUNDLES.find((bundle) => bundle.name === name);
  if (found === undefined) throw new Error(`infra/bundling.ts has no ${name} function bundle`);
  return found.entry;
};
const clientEntry = (entry: ClientEntryPoint) => async () =>
  clientConsumerFile(await installClientPackage(), entry);

const SUBJECTS: readonly Subject[] = [
  {
    label: 'read handler (`functions/read/handler.ts`)',
    entry: functionEntry('read'),
    targetBytes: BUNDLE_BYTES_TARGETS.read,
  },
  {
    label: 'refresh handler (`functions/refresh/handler.ts`)',
    entry: functionEntry('refresh'),
    targetBytes: BUNDLE_BYTES_TARGETS.refresh,
  },
  {
    label: 'Powertools read handler (benchmark 2, for reference)',
    entry: async () => join(REPO_ROOT, 'bench', 'powertools-read-handler.ts'),
  },
  {
    label: 'client `@token-refresher/client` (index, one token)',
    entry: clientEntry('@token-refresher/client'),
  },
  {
    label: 'client `@token-refresher/client/secrets-manager` (one token)',
    entry: clientEntry('@token-refresher/client/secrets-manager'),
  },
  {
    label: 'client `@token-refresher/client/read-function` (one token)',
    entry: clientEntry('@token-refresher/client/read-function'),
  },
  {
    label: 'client `@token-refresher/client/dynamodb` (one token)',
    entry: clientEntry('@token-refresher/client/dynamodb'),
  },
];

/** `--bundle --platform=node --format=esm --minify`, the SDK external. */
const ESBUILD_DEFAULTS: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  minify: true,
  external: ['@aws-sdk/*'],
};

/** `BUNDLING` as `NodejsFunction` passes it to esbuild (`nodejs24.x` → target `node24`). */
function constructOptions(): BuildOptions {
  const runtimeVersion = /^nodejs(\d+)/.exec(BUNDLING.runtime.name)?.[1];
  if (runtimeVersion === undefined) throw new Error(`Unexpected runtime ${BUNDLING.runtime.name}`);
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${runtimeVersion}`,
    minify: BUNDLING.minify,
    sourcemap: BUNDLING.sourceMap,
    mainFields: [...BUNDLING.mainFields],
    external: [...BUNDLING.externalModules],
    banner: { js: BUNDLING.banner },
  };
}

export async function bundleSizes(_context: BenchContext): Promise<Section> {
  say('Benchmark 7: bundle sizes (esbuild defaults and the construct settings, SDK external)');
  const measured: Measured[] = [];
  for (const subject of SUBJECTS) {
    const entry = await subject.entry();
    measured.push({
      subject,
      defaults: await metafileOf(entry, ESBUILD_DEFAULTS),
      construct: await metafileOf(entry, constructOptions()),
    });
  }
  const sizes = sizesTable(measured);
  printTable(sizes);
  const contents = contentsTable(measured);
  printTable(contents);
  return {
    title: '7. Bundle sizes',
    method: [
      "Each bundle is built twice with `@aws-sdk/*` external (the Lambda runtime provides SDK v3): with esbuild's " +
        "defaults (`--bundle --platform=node --format=esm --minify`, nothing else) and with the construct's settings " +
        '(`BUNDLING` in `infra/bundling.ts` as `NodejsFunction` applies it: target from the runtime, `mainFields` module ' +
        'first, the `createRequire` banner; the source map is a separate file and not counted). The client rows bundle a ' +
        'one-token consumer of each entry point of the client package as published (`bench/lib/client-package.ts`). ' +
        '"zod" is the bytes esbuild\'s metafile attributes to zod (its locales included) in the output. 1 KB = 1,000 B.',
    ],
    tables: [sizes, contents],
    notes: [
      "Issue #17's targets apply to the deployed bundles (the construct's settings): read handler ≤ " +
        `${int(BUNDLE_BYTES_TARGETS.read)} B, refresh handler ≤ ${int(BUNDLE_BYTES_TARGETS.refresh)} B.`,
    ],
  };
}

async function metafileOf(entry: string, options: BuildOptions): Promise<Metafile> {
  const result = await build({
    ...options,
    absWorkingDir: REPO_ROOT,
    entryPoints: [entry],
    outfile: OUT_FILE,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return result.metafile;
}

function outputBytes(metafile: Metafile): number {
  return mainOutput(metafile)?.bytes ?? Number.NaN;
}

/** `12,345 (38 %)` */
function zodCell(metafile: Metafile): string {
  const zod = zodBytes(metafile);
  const total = outputBytes(metafile);
  return `${int(zod)} (${total > 0 ? Math.round((zod / total) * 100) : 0} %)`;
}

function sizesTable(measured: readonly Measured[]): Table {
  return {
    title: 'Bundle size in bytes, SDK external, minified',
    head: [
      'bundle',
      'esbuild defaults',
      'of which zod',
      "construct's settings (as deployed)",
      'of which zod',
      'target of issue #17',
    ],
    rows: measured.map(({ subject, defaults, construct }) => [
      subject.label,
      int(outputBytes(defaults)),
      zodCell(defaults),
      int(outputBytes(construct)),
      zodCell(construct),
      subject.targetBytes === undefined
        ? ''
        : atMostVerdict(outputBytes(construct), subject.targetBytes, (value) => `${int(value)} B`),
    ]),
  };
}

function contentsTable(measured: readonly Measured[]): Table {
  const list = (names: readonly string[]) =>
    names.length === 0 ? '–' : names.map((name) => `\`${name}\``).join(', ');
  return {
    title:
      'What the construct-settings bundles hold: the 5 largest groups (bytes in the output), and the SDK they load',
    head: ['bundle', 'largest groups', 'SDK loaded at start', 'SDK loaded on first use (`import()`)'],
    rows: measured.map(({ subject, construct }) => {
      const imports = externalImports(construct);
      return [
        subject.label,
        bytesByPackage(construct, 5)
          .map(([name, size]) => `${name} ${int(size)}`)
          .join('; '),
        list(imports.atLoad),
        list(imports.onFirstUse),
      ];
    }),
  };
}
