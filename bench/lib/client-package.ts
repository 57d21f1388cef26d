/**
 * The consumer client as a user gets it: the package built by `infra/packaging/client.ts` (tsc of
 * `functions/client`, its `#smithy/signature-v4` import pointing bundlers at the ESM build), its
 * tarball unpacked into `node_modules/@token-refresher/client` of a scratch app under
 * `node_modules/.cache/`, and a tiny consumer per entry point next to it. esbuild resolves the client
 * from the scratch app and its dependencies (`@smithy/signature-v4`, the SDK) from this repository's
 * node_modules, as a user's project would from its own.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { buildClientPackage, CLIENT_ENTRY_POINTS } from '../../infra/packaging/client.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const APP_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'token-refresher-bench-client');

/** The client's entry points as a consumer imports them. */
export type ClientEntryPoint =
  | '@token-refresher/client'
  | '@token-refresher/client/secrets-manager'
  | '@token-refresher/client/read-function'
  | '@token-refresher/client/dynamodb';

/**
 * Consumers that read one token through each entry point, configured from the environment
 * (`BENCH_SECRET_PREFIX`, `BENCH_PROVIDER`, `BENCH_READ_URL`, `BENCH_READ_FUNCTION_NAME`: the name the
 * read function's caller proofs are bound to, once the client sends them; `BENCH_TOKEN_TABLE`: the
 * token table); `handler()` answers the access token.
 * The same shape as the consumers of `test/package/client-bundle-size.test.ts`.
 */
export const CLIENT_CONSUMERS: Readonly<Record<ClientEntryPoint, string>> = {
  '@token-refresher/client': `
    import { createTokenClient } from '@token-refresher/client';
    const tokens = createTokenClient({ source: 'secrets-manager', secretPrefix: process.env.BENCH_SECRET_PREFIX });
    export const handler = async () => (await tokens.getToken(process.env.BENCH_PROVIDER)).accessToken;`,
  '@token-refresher/client/secrets-manager': `
    import { createSecretsManagerTokenClient } from '@token-refresher/client/secrets-manager';
    const tokens = createSecretsManagerTokenClient({ secretPrefix: process.env.BENCH_SECRET_PREFIX });
    export const handler = async () => (await tokens.getToken(process.env.BENCH_PROVIDER)).accessToken;`,
  '@token-refresher/client/read-function': `
    import { createReadFunctionTokenClient } from '@token-refresher/client/read-function';
    const tokens = createReadFunctionTokenClient({
      url: process.env.BENCH_READ_URL ?? '',
      functionName: process.env.BENCH_READ_FUNCTION_NAME ?? '',
    });
    export const handler = async () => (await tokens.getToken(process.env.BENCH_PROVIDER)).accessToken;`,
  '@token-refresher/client/dynamodb': `
    import { createDynamoDbTokenClient } from '@token-refresher/client/dynamodb';
    const tokens = createDynamoDbTokenClient({ tableName: process.env.BENCH_TOKEN_TABLE ?? '' });
    export const handler = async () => (await tokens.getToken(process.env.BENCH_PROVIDER)).accessToken;`,
};

/** Entry points the package has that the benchmarks do not know yet (e.g. a new source). */
export function unbenchedEntryPoints(): string[] {
  const known = new Set(
    Object.keys(CLIENT_CONSUMERS).map((name) => name.replace('@token-refresher/client', '.')),
  );
  return Object.keys(CLIENT_ENTRY_POINTS).filter((entry) => !known.has(entry));
}

let installed: Promise<string> | undefined;

/**
 * Build the package, unpack it into the scratch app and write one consumer per entry point (once per
 * process). @returns the scratch app's directory
 */
export function installClientPackage(): Promise<string> {
  installed ??= install();
  return installed;
}

/** The consumer file of an entry point in the scratch app. */
export function clientConsumerFile(appDir: string, entry: ClientEntryPoint): string {
  return join(appDir, `${entry.replaceAll('/', '_').replace('@', '')}.mjs`);
}

async function install(): Promise<string> {
  await rm(APP_DIR, { recursive: true, force: true });
  const tarball = await buildClientPackage({ outDir: join(APP_DIR, 'tarball'), version: '0.0.0-bench' });
  const packageDir = join(APP_DIR, 'node_modules', '@token-refresher', 'client');
  await mkdir(packageDir, { recursive: true });
  await promisify(execFile)('tar', ['-xzf', tarball, '-C', packageDir, '--strip-components=1']);
  for (const [entry, source] of Object.entries(CLIENT_CONSUMERS)) {
    await writeFile(clientConsumerFile(APP_DIR, entry as ClientEntryPoint), source);
  }
  return APP_DIR;
}
