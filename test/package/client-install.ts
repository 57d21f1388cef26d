/**
 * The client tarball installed as a user installs it: into an empty scratch directory outside the
 * repository, from the npm registry and the local npm cache (`--prefer-offline`), first alone, then
 * with its optional peer dependencies (the AWS SDK clients), pinned to the versions this repository's
 * lockfile installs so that they come from the cache.
 */
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLIENT_PEER_DEPENDENCIES } from '../../infra/packaging/client.js';
import { diskUsage, npmInstall, packedTarballs, pinned, scratchDir } from './support.js';

export { REPO_ROOT } from './support.js';

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
export function pinnedPeers(): Promise<string[]> {
  return Promise.all(Object.keys(CLIENT_PEER_DEPENDENCIES).map((name) => pinned(name)));
}

/** Install the client tarball into a new scratch app, measuring `node_modules` before and after its peers. */
export async function installClient(prefix: string): Promise<InstalledClient> {
  const { client: tarball } = await packedTarballs();
  const dir = scratchDir(prefix);
  await writeFile(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'scratch-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  await npmInstall(dir, [tarball]);
  const alone = await nodeModulesSize(dir);
  const packagesAlone = await topLevelPackages(join(dir, 'node_modules'));
  await npmInstall(dir, await pinnedPeers());
  const withPeers = await nodeModulesSize(dir);
  return { dir, tarball, tarballBytes: (await stat(tarball)).size, alone, withPeers, packagesAlone };
}

async function nodeModulesSize(dir: string): Promise<NodeModulesSize> {
  const nodeModules = join(dir, 'node_modules');
  return { duSh: await diskUsage(nodeModules), bytes: await treeBytes(nodeModules) };
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
