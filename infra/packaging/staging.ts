/**
 * What both package builders share: the repository root, a staging directory outside the repository
 * that is always removed, `npm pack` into the output directory, and a dependency range taken from the
 * root package.json (one version policy for the repository and its packages).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** What a builder puts into its staging directory besides the manifest, README and LICENSE. */
export interface StagedPackage {
  /** `token-refresher-cdk-`: the staging directory's name prefix under `os.tmpdir()`. */
  readonly stagingPrefix: string;
  /** Fills the staging directory (compiled code, bundles, notices). */
  readonly build: (staging: string) => Promise<void>;
  /** The package.json to write. */
  readonly manifest: () => Promise<Record<string, unknown>>;
  /** The README the package ships. */
  readonly readme: string;
}

/**
 * Build a package in a fresh staging directory, write its tarball into `outDir` (created if
 * missing) and remove the staging directory, whatever happens.
 * @returns the tarball's absolute path
 */
export async function packStaged(pkg: StagedPackage, outDirOption: string): Promise<string> {
  const outDir = resolve(outDirOption);
  const staging = await mkdtemp(join(tmpdir(), pkg.stagingPrefix));
  try {
    await pkg.build(staging);
    await writeFile(join(staging, 'package.json'), `${JSON.stringify(await pkg.manifest(), null, 2)}\n`);
    await copyFile(pkg.readme, join(staging, 'README.md'));
    await copyFile(join(REPO_ROOT, 'LICENSE'), join(staging, 'LICENSE'));
    await mkdir(outDir, { recursive: true });
    return await pack(staging, outDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** `npm pack` of the staging directory into `outDir`; the tarball's absolute path. */
async function pack(staging: string, outDir: string): Promise<string> {
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', outDir], {
    cwd: staging,
  });
  const [packed] = JSON.parse(stdout) as { filename: string }[];
  if (packed === undefined) throw new Error('npm pack reported no tarball');
  return join(outDir, packed.filename);
}

/** The root package.json's range for a dependency a package's code imports. */
export function rangeOf(
  root: { readonly dependencies: Record<string, string> },
  name: string,
  importer: string,
): string {
  const range = root.dependencies[name];
  if (range === undefined)
    throw new Error(`package.json has no dependency ${name}, which ${importer} imports`);
  return range;
}
