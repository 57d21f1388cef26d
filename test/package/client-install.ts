/**
 * The client tarball installed as a user installs it: into an empty scratch directory outside the
 * repository, from the npm registry and the local npm cache (`--prefer-offline`), first alone, then
 * with its optional peer dependencies (the AWS SDK clients), pinned to the versions this repository's
 * lockfile installs so that they come from the cache.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildClientPackage, CLIENT_PEER_DEPENDENCIES } from '../../infra/packaging/client.js';

const run = promisify(execFile);
export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

// Stand-ins for test/package/support.ts (packedTarballs, scratchDir) until it lands.
const scratchDirs: string[] = [];
process.once('exit', () => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});
function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}
let packing: Promise<{ client: string }> | undefined;
function packedTarballs(): Promise<{ client: string }> {
  packing ??= (async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    return { client: await buildClientPackage({ outDir: scratchDir('client-tarball-'), version }) };
  })();
  return packing;
}

/** `npm install` as the tests run it: registry plus local cache, no audit, no funding notice. */
const NPM_INSTALL = ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

export interface InstalledClient {
  /** The scratch app's directory (its node_modules holds the client). */
  readonly dir: string;
  readonly tarball: string;
  /** The tarball's size in bytes. */
  readonly tarballBytes: number;
  /** `node_modules` of the client alone, and with its peers. */
  readonly alone: NodeModulesSize;
  readonly withPeers: NodeModulesSize;
  /** The top-level packages of `node_modules` of the client alone (scoped ones as `@scope/name`). */
  readonly packagesAlone: readonly string[];
}

export interface NodeModulesSize {
  /** What `du -sh node_modules` prints (disk usage, in blocks of this file system). */
  readonly duSh: string;
  /** The sum of the file sizes: independent of the file system. */
  readonly bytes: number;
}

/** `<name>@<version>` of each peer dependency, as this repository's lockfile installed it. */
export async function pinnedPeers(): Promise<string[]> {
  return Promise.all(
    Object.keys(CLIENT_PEER_DEPENDENCIES).map(async (name) => {
      const manifest = JSON.parse(
        await readFile(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8'),
      ) as { version: string };
      return `${name}@${manifest.version}`;
    }),
  );
}

/** Install the client tarball into a new scratch app, measuring `node_modules` before and after its peers. */
export async function installClient(prefix: string): Promise<InstalledClient> {
  const { client: tarball } = await packedTarballs();
  const dir = scratchDir(prefix);
  await writeFile(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'scratch-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  await run('npm', [...NPM_INSTALL, tarball], { cwd: dir });
  const alone = await nodeModulesSize(dir);
  const packagesAlone = await topLevelPackages(join(dir, 'node_modules'));
  await run('npm', [...NPM_INSTALL, ...(await pinnedPeers())], { cwd: dir });
  const withPeers = await nodeModulesSize(dir);
  return { dir, tarball, tarballBytes: (await stat(tarball)).size, alone, withPeers, packagesAlone };
}

async function nodeModulesSize(dir: string): Promise<NodeModulesSize> {
  const { stdout } = await run('du', ['-sh', 'node_modules'], { cwd: dir });
  return { duSh: stdout.split(/\s/)[0] ?? '', bytes: await treeBytes(join(dir, 'node_modules')) };
}

async function treeBytes(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) total += await treeBytes(child);
    else if (entry.isFile()) total += (await stat(child)).size;
  }
  return total;
}

async function topLevelPackages(nodeModules: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(nodeModules, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    if (entry.name.startsWith('@')) {
      for (const scoped of await readdir(join(nodeModules, entry.name)))
        names.push(`${entry.name}/${scoped}`);
    } else {
      names.push(entry.name);
    }
  }
  return names.sort();
}
