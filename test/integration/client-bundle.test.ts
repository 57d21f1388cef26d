/**
 * What a bundler (esbuild) includes for a tiny consumer of each entry point: once with `@aws-sdk/*`
 * external, as on the Lambda Node.js runtime that ships SDK v3, and once with everything bundled.
 * Sizes are printed, not asserted (they move with every SDK release); what is asserted is that a
 * per-source entry pulls in nothing of the other source.
 *
 * Settings as the stack bundles its own functions (infra: ESM, minified, `mainFields: ['module',
 * 'main']`). With esbuild's default for platform node (`main` first), `@smithy/signature-v4` comes in
 * as CommonJS, which pulls all of `@smithy/core` in un-tree-shaken; that size is printed too. The
 * published package avoids it (its own `#smithy/signature-v4` import); its sizes with esbuild's
 * defaults are asserted against budgets in test/package/client-bundle-size.test.ts.
 */
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Strings only one source's code contains (they survive minification). */
const SECRETS_MANAGER_MARKER = 'AWSCURRENT';
const READ_FUNCTION_MARKER = 'rejectedTokenSha256';

const CONSUMERS = {
  'createTokenClient (index)': `
    import { createTokenClient } from './functions/client/index.js';
    const tokens = createTokenClient({ source: 'secrets-manager' });
    export const handler = async () => (await tokens.getToken('github')).expiresAt;`,
  'token-refresher/client/secrets-manager': `
    import { createSecretsManagerTokenClient } from './functions/client/secrets-manager.js';
    const tokens = createSecretsManagerTokenClient();
    export const handler = async () => (await tokens.getToken('github')).expiresAt;`,
  'token-refresher/client/read-function': `
    import { createReadFunctionTokenClient } from './functions/client/read-function.js';
    const tokens = createReadFunctionTokenClient({ url: process.env.TOKEN_URL ?? '' });
    export const handler = async () => (await tokens.getToken('github')).expiresAt;`,
} as const;

interface Bundle {
  readonly text: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Packages left as imports (Node built-ins excluded). */
  readonly externals: string[];
}

async function bundle(contents: string, sdkExternal: boolean, mainFirst = false): Promise<Bundle> {
  const result = await build({
    stdin: { contents, resolveDir: ROOT, sourcefile: 'consumer.ts', loader: 'ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
    external: sdkExternal ? ['@aws-sdk/*'] : [],
    mainFields: mainFirst ? ['main', 'module'] : ['module', 'main'],
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('esbuild produced no output');
  return {
    text: output.text,
    bytes: output.contents.byteLength,
    gzipBytes: gzipSync(output.contents).byteLength,
    externals: externalsOf(result.metafile),
  };
}

function externalsOf(metafile: Metafile): string[] {
  const names = Object.values(metafile.inputs)
    .flatMap((input) => input.imports)
    .filter((imported) => imported.external && !imported.path.startsWith('node:'))
    .map((imported) => imported.path);
  return [...new Set(names)].sort();
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

describe('Bundles of a tiny consumer (esbuild, minified, ESM, node20)', () => {
  it('include only the chosen source from a per-source entry point; sizes are reported', async () => {
    // Act
    const rows: string[] = [];
    const bundles: Record<string, { external: Bundle; bundled: Bundle }> = {};
    for (const [name, contents] of Object.entries(CONSUMERS)) {
      const external = await bundle(contents, true);
      const bundled = await bundle(contents, false);
      bundles[name] = { external, bundled };
      rows.push(
        `| ${name} | ${kib(external.bytes)} (gzip ${kib(external.gzipBytes)}) | ${external.externals.join(', ')} | ` +
          `${kib(bundled.bytes)} (gzip ${kib(bundled.gzipBytes)}) |`,
      );
    }
    const mainFirst = await bundle(CONSUMERS['token-refresher/client/read-function'], true, true);
    console.log(
      [
        '| entry point | @aws-sdk/* external | left as imports | all bundled |',
        '|---|---|---|---|',
        ...rows,
        '',
        `read-function, @aws-sdk/* external, mainFields main first (esbuild's default): ${kib(mainFirst.bytes)}`,
      ].join('\n'),
    );

    // Assess
    const sm = bundles['token-refresher/client/secrets-manager'];
    const rf = bundles['token-refresher/client/read-function'];
    const index = bundles['createTokenClient (index)'];
    expect(sm?.external.externals).toStrictEqual(['@aws-sdk/client-secrets-manager']);
    expect(rf?.external.externals).toStrictEqual(['@aws-sdk/credential-provider-node']);
    for (const variant of ['external', 'bundled'] as const) {
      expect(sm?.[variant].text).toContain(SECRETS_MANAGER_MARKER);
      expect(sm?.[variant].text).not.toContain(READ_FUNCTION_MARKER);
      expect(rf?.[variant].text).toContain(READ_FUNCTION_MARKER);
      expect(rf?.[variant].text).not.toContain(SECRETS_MANAGER_MARKER);
      expect(rf?.[variant].text).not.toContain('GetSecretValue');
      // The index reaches both sources through its dynamic imports: the documented trade-off.
      expect(index?.[variant].text).toContain(SECRETS_MANAGER_MARKER);
      expect(index?.[variant].text).toContain(READ_FUNCTION_MARKER);
    }
  });
});
