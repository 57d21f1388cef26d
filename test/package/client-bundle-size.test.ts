/**
 * Issue 13, test 4: what esbuild with its defaults (`--bundle --platform=node --format=esm`, plus
 * `--minify`; no `--main-fields`, no conditions) makes of a tiny consumer of each entry point of the
 * installed client tarball, with `@aws-sdk/*` external (as on Lambda's Node.js runtime, which ships
 * AWS SDK v3) and with everything bundled. Each size is asserted against the budget that
 * functions/client/README.md states, so the stated figure and the asserted one cannot drift apart.
 *
 * The consumer lives in the scratch app, so esbuild resolves the client and the SDK from that app's
 * node_modules only, as in a user's project.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { type InstalledClient, installClient, REPO_ROOT } from './client-install.js';

/** Budgets in bytes (1 KB = 1,000 B), minified, esbuild defaults; functions/client/README.md states them. */
const BUDGETS = {
  // All bundled, the index holds the DynamoDB source's SDK client too (issue 16); with the SDK external it
  // holds the DynamoDB source's fetch transport (issue 17).
  '@token-refresher/client': { sdkExternal: 44_000, bundled: 650_000 },
  '@token-refresher/client/secrets-manager': { sdkExternal: 31_000, bundled: 530_000 },
  '@token-refresher/client/read-function': { sdkExternal: 29_000, bundled: 450_000 },
  // The signer of its SDK-free transport (issue 17), as the Secrets Manager entry point's.
  '@token-refresher/client/dynamodb': { sdkExternal: 31_000, bundled: 600_000 },
} as const;
type EntryPoint = keyof typeof BUDGETS;

const CONSUMERS: Record<EntryPoint, string> = {
  '@token-refresher/client': `
    import { createTokenClient } from '@token-refresher/client';
    const tokens = createTokenClient({ source: 'secrets-manager' });
    export const handler = async () => (await tokens.getToken('github')).expiresAt;`,
  '@token-refresher/client/secrets-manager': `
    import { createSecretsManagerTokenClient } from '@token-refresher/client/secrets-manager';
    const tokens = createSecretsManagerTokenClient();
    export const handler = async () => (await tokens.getToken('github')).expiresAt;`,
  '@token-refresher/client/read-function': `
    import { createReadFunctionTokenClient } from '@token-refresher/client/read-function';
    const tokens = createReadFunctionTokenClient({ url: process.env.TOKEN_URL ?? '', functionName: 'reader' });
    export const handler = async () => (await tokens.getToken('github')).expiresAt;`,
  '@token-refresher/client/dynamodb': `
    import { createDynamoDbTokenClient } from '@token-refresher/client/dynamodb';
    const tokens = createDynamoDbTokenClient({ tableName: 'token-refresher-tokens' });
    export const handler = async () => (await tokens.getToken('github')).expiresAt;`,
};

/** Strings only one source's code contains (they survive minification). */
const SECRETS_MANAGER_MARKER = 'AWSCURRENT';
const READ_FUNCTION_MARKER = 'rejectedTokenSha256';

interface Bundle {
  readonly text: string;
  readonly bytes: number;
  /** Packages left as static imports, loaded with the bundle (Node.js built-ins aside). */
  readonly externals: string[];
  /** Packages left as `import()`, loaded when that code first runs. */
  readonly dynamicExternals: string[];
  /** The input files, relative to the scratch app. */
  readonly inputs: string[];
}

type Variant = 'sdkExternal' | 'bundled';

async function bundle(dir: string, entry: EntryPoint, variant: Variant, minify: boolean): Promise<Bundle> {
  const file = join(dir, `${entry.replaceAll('/', '_')}.mjs`);
  await writeFile(file, CONSUMERS[entry]);
  const result = await build({
    entryPoints: [file],
    absWorkingDir: dir,
    // esbuild's defaults otherwise: these three are what `--bundle --platform=node --format=esm` sets.
    bundle: true,
    platform: 'node',
    format: 'esm',
    minify,
    external: variant === 'sdkExternal' ? ['@aws-sdk/*'] : [],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error('esbuild produced no output');
  return {
    text: output.text,
    bytes: output.contents.byteLength,
    externals: externalsOf(result.metafile, 'import-statement'),
    dynamicExternals: externalsOf(result.metafile, 'dynamic-import'),
    inputs: Object.keys(result.metafile.inputs),
  };
}

function externalsOf(metafile: Metafile, kind: 'import-statement' | 'dynamic-import'): string[] {
  const names = Object.values(metafile.inputs)
    .flatMap((input) => input.imports)
    .filter((imported) => imported.external && imported.kind === kind && !imported.path.startsWith('node:'))
    .map((imported) => imported.path);
  return [...new Set(names)].sort();
}

const bytes = (value: number): string => `${value.toLocaleString('en')} B`;

describe('Bundle sizes of the client package (esbuild defaults, from the installed tarball)', () => {
  let installed: InstalledClient;
  const minified = new Map<string, Bundle>();

  beforeAll(async () => {
    installed = await installClient('client-bundle-size-');
    const rows: string[] = [];
    for (const entry of Object.keys(BUDGETS) as EntryPoint[]) {
      const cells: string[] = [];
      for (const variant of ['sdkExternal', 'bundled'] as const) {
        const small = await bundle(installed.dir, entry, variant, true);
        const plain = await bundle(installed.dir, entry, variant, false);
        minified.set(`${entry} ${variant}`, small);
        cells.push(`${bytes(small.bytes)} (not minified ${bytes(plain.bytes)})`);
      }
      rows.push(`| \`${entry}\` | ${cells.join(' | ')} |`);
    }
    console.log(
      [
        '| entry point | @aws-sdk/* external, minified | all bundled, minified |',
        '|---|---|---|',
        ...rows,
      ].join('\n'),
    );
  }, 180_000);

  const get = (entry: EntryPoint, variant: Variant): Bundle => {
    const found = minified.get(`${entry} ${variant}`);
    if (found === undefined) throw new Error(`no bundle for ${entry} ${variant}`);
    return found;
  };

  describe.each(Object.keys(BUDGETS) as EntryPoint[])('Entry point %s', (entry) => {
    it.each(['sdkExternal', 'bundled'] as const)('is within its budget (%s)', async (variant) => {
      // Prepare
      const budget = BUDGETS[entry][variant];
      const readme = await readFile(join(REPO_ROOT, 'functions/client/README.md'), 'utf8');

      // Act
      const { bytes: size } = get(entry, variant);

      // Assess: the README states the budget, and the bundle keeps to it.
      expect(readme).toContain(`${budget.toLocaleString('en')} B`);
      expect(
        size,
        `${entry} (${variant}) is ${bytes(size)}; its budget is ${bytes(budget)}`,
      ).toBeLessThanOrEqual(budget);
    });
  });

  it('takes the ESM build of @smithy/signature-v4 through the package imports map', () => {
    // Act
    const inputs = get('@token-refresher/client/read-function', 'sdkExternal').inputs.filter((input) =>
      input.includes('@smithy/signature-v4/'),
    );

    // Assess: the CommonJS build (which pulls all of @smithy/core in) is not there.
    expect(inputs.length).toBeGreaterThan(0);
    expect(inputs.every((input) => input.includes('/dist-es/'))).toBe(true);
  });

  it('imports no AWS SDK package at load, and the fallbacks an entry point may need on first use only', () => {
    // Act
    const sm = get('@token-refresher/client/secrets-manager', 'sdkExternal');
    const rf = get('@token-refresher/client/read-function', 'sdkExternal');
    const index = get('@token-refresher/client', 'sdkExternal');

    // Assess: a static import of an external package loads with the bundle; import() when it runs.
    const ddb = get('@token-refresher/client/dynamodb', 'sdkExternal');
    expect([sm.externals, rf.externals, index.externals, ddb.externals]).toStrictEqual([[], [], [], []]);
    expect(ddb.dynamicExternals).toStrictEqual([
      '@aws-sdk/client-dynamodb',
      '@aws-sdk/credential-provider-node',
    ]);
    expect(sm.dynamicExternals).toStrictEqual([
      '@aws-sdk/client-secrets-manager',
      '@aws-sdk/credential-provider-node',
    ]);
    expect(rf.dynamicExternals).toStrictEqual(['@aws-sdk/credential-provider-node']);
    // The index reaches every source (and the SDK packages of their fallbacks), each on first use.
    expect(index.dynamicExternals).toStrictEqual(
      expect.arrayContaining(['@aws-sdk/client-secrets-manager', '@aws-sdk/credential-provider-node']),
    );
  });

  it.each(['sdkExternal', 'bundled'] as const)(
    'holds only the chosen source from a per-source entry point (%s)',
    (variant) => {
      // Act
      const sm = get('@token-refresher/client/secrets-manager', variant);
      const rf = get('@token-refresher/client/read-function', variant);
      const index = get('@token-refresher/client', variant);

      // Assess
      expect(sm.text).toContain(SECRETS_MANAGER_MARKER);
      expect(sm.text).not.toContain(READ_FUNCTION_MARKER);
      expect(rf.text).toContain(READ_FUNCTION_MARKER);
      expect(rf.text).not.toContain(SECRETS_MANAGER_MARKER);
      expect(rf.text).not.toContain('GetSecretValue');
      const ddb = get('@token-refresher/client/dynamodb', variant);
      expect(ddb.text).not.toContain(SECRETS_MANAGER_MARKER);
      expect(ddb.text).not.toContain(READ_FUNCTION_MARKER);
      // The index reaches both sources through its dynamic imports: the documented trade-off.
      expect(index.text).toContain(SECRETS_MANAGER_MARKER);
      expect(index.text).toContain(READ_FUNCTION_MARKER);
    },
  );
});
