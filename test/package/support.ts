/**
 * Shared by the `package` tests (issue 13): the two tarballs, built at most once per content of the
 * repository, and scratch directories outside the repository, where the tests install them as a
 * user would.
 *
 * The tarballs are built by the same functions as `npm run package`, into
 * `<tmp>/token-refresher-packages/<key>/`, where the key hashes every file of the repository that is
 * not a test (tracked or new, `git ls-files -co --exclude-standard`). The first worker to need them
 * takes a lock (a directory created atomically) and builds; the others wait for its `done.json`. A
 * later run with the same sources reuses them.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { buildCdkPackage } from '../../infra/packaging/cdk.js';
import { buildClientPackage } from '../../infra/packaging/client.js';

const run = promisify(execFile);

/** The repository's root, with a trailing separator. */
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface PackedTarballs {
  /** `token-refresher-cdk-<version>.tgz` (absolute path). */
  readonly cdk: string;
  /** `token-refresher-client-<version>.tgz` (absolute path). */
  readonly client: string;
  /** The version of the repository's package.json, which both packages carry. */
  readonly version: string;
}

/** A build that has not written `done.json` after this long is taken for dead, and its lock removed. */
const STALE_LOCK_MS = 10 * 60_000;
/** Builds of other contents are removed after a day. */
const OLD_BUILD_MS = 24 * 3_600_000;
const BUILDS_DIR = join(tmpdir(), 'token-refresher-packages');

let packing: Promise<PackedTarballs> | undefined;

/** Both tarballs of the current sources: built by the first caller (of any worker), then reused. */
export function packedTarballs(): Promise<PackedTarballs> {
  packing ??= packOnce();
  return packing;
}

async function packOnce(): Promise<PackedTarballs> {
  const dir = join(BUILDS_DIR, await sourcesKey());
  const done = join(dir, 'done.json');
  const lock = `${dir}.lock`;
  await mkdir(BUILDS_DIR, { recursive: true });
  for (;;) {
    const built = await readJson<PackedTarballs>(done);
    if (built !== undefined) return built;
    if (await takeLock(lock)) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  try {
    const ready = await readJson<PackedTarballs>(done);
    if (ready !== undefined) return ready;
    await removeOldBuilds(dir);
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    await rm(dir, { recursive: true, force: true });
    const [cdk, client] = await Promise.all([
      buildCdkPackage({ outDir: dir, version }),
      buildClientPackage({ outDir: dir, version }),
    ]);
    const tarballs: PackedTarballs = { cdk, client, version };
    // Written whole, then renamed: a waiting worker never reads half of it.
    await writeFile(`${done}.partial`, JSON.stringify(tarballs));
    await rename(`${done}.partial`, done);
    return tarballs;
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

/** Create the lock directory; `false` when another build holds it (a stale one is removed first). */
async function takeLock(lock: string): Promise<boolean> {
  try {
    await mkdir(lock);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const since = await stat(lock).then(
      (info) => Date.now() - info.mtimeMs,
      () => 0,
    );
    if (since > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true });
    return false;
  }
}

/**
 * SHA-256 of the path and content of every file that can go into a package: all that git lists
 * (tracked, and new files not ignored), tests aside. Without git, a key of its own per process.
 */
async function sourcesKey(): Promise<string> {
  let files: string[];
  try {
    const { stdout } = await run('git', ['ls-files', '-co', '--exclude-standard', '-z'], {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    files = stdout.split('\0').filter((file) => file !== '' && !file.startsWith('test/'));
  } catch {
    return `nogit-${process.pid}-${Date.now()}`;
  }
  const hash = createHash('sha256');
  for (const file of files.sort()) {
    const content = await readFile(join(REPO_ROOT, file)).catch(() => undefined);
    if (content === undefined) continue; // deleted in the working tree
    hash.update(file).update('\0').update(content).update('\0');
  }
  return hash.digest('hex').slice(0, 24);
}

async function removeOldBuilds(keep: string): Promise<void> {
  for (const name of await readdir(BUILDS_DIR)) {
    const path = join(BUILDS_DIR, name);
    if (path === keep || path === `${keep}.lock`) continue;
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && Date.now() - info.mtimeMs > OLD_BUILD_MS) {
      await rm(path, { recursive: true, force: true });
    }
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

const scratchDirs: string[] = [];

function removeScratchDirs(): void {
  for (const dir of scratchDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

process.once('exit', removeScratchDirs);
// Vitest stops its workers with SIGTERM, which runs no 'exit' handler: under Vitest, the directories
// go after the tests of the file that imported this module (each file evaluates it anew).
if (process.env.VITEST !== undefined) afterAll(removeScratchDirs);

/**
 * A new empty directory under the system's temporary directory (never inside the repository, so that
 * nothing installed there can shadow the repository's `node_modules`, or the reverse), removed after
 * the tests of the file (or when the process exits).
 */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(realpathSync(tmpdir()), `${prefix.replace(/-$/, '')}-`));
  const repo = realpathSync(REPO_ROOT);
  if (dir === repo || dir.startsWith(repo.endsWith(sep) ? repo : `${repo}${sep}`)) {
    throw new Error(`the temporary directory ${dir} is inside the repository`);
  }
  scratchDirs.push(dir);
  return dir;
}

/**
 * The environment of commands run in a scratch directory: this process's, without what `npm test`
 * (an npm script) adds for its own project (`npm_*`, `INIT_CWD`), so that a nested `npm` or `npx`
 * works on the scratch directory's package.json only.
 */
export function scratchEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'INIT_CWD'),
  );
  return { ...env, ...extra };
}

/** `npm install` in a scratch directory: the npm registry and the local npm cache, nothing else. */
export async function npmInstall(dir: string, specs: readonly string[]): Promise<void> {
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...specs], {
    cwd: dir,
    env: scratchEnv(),
    maxBuffer: 16 * 1024 * 1024,
  });
}

/** `<name>@<version>` as this repository's lockfile installed it (so the scratch install hits the cache). */
export async function pinned(name: string): Promise<string> {
  const manifest = JSON.parse(
    await readFile(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8'),
  ) as { version: string };
  return `${name}@${manifest.version}`;
}

/** What `du -sh` prints for a path (disk usage). */
export async function diskUsage(path: string): Promise<string> {
  const { stdout } = await run('du', ['-sh', path]);
  return stdout.split(/\s/)[0] ?? '';
}
