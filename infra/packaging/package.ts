/**
 * `npm run package`: builds the two published packages into `dist/packages/` with the version of the
 * repository's package.json, and prints each tarball's path and size:
 *
 * - `token-refresher-cdk-<version>.tgz`: `@token-refresher/cdk`, the construct library with its
 *   prebuilt Lambda bundles and the compiled `token-refresher` CLI (`cdk.ts`);
 * - `token-refresher-client-<version>.tgz`: `@token-refresher/client`, the consumer client
 *   (`client.ts`).
 *
 * Both are built in staging directories under the system's temporary directory; only the tarballs
 * land in the repository (`dist/` is git-ignored).
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildCdkPackage } from './cdk.js';
import { buildClientPackage } from './client.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Where `npm run package` writes the tarballs. */
const PACKAGES_DIR = join(REPO_ROOT, 'dist', 'packages');

const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  version: string;
};
const tarballs = [
  await buildCdkPackage({ outDir: PACKAGES_DIR, version }),
  await buildClientPackage({ outDir: PACKAGES_DIR, version }),
];
for (const tarball of tarballs) {
  const { size } = await stat(tarball);
  process.stdout.write(`${relative(process.cwd(), tarball)}  ${size.toLocaleString('en')} bytes\n`);
}
