/**
 * What the deployed bundles load at cold start (issue 17): built as the construct builds them
 * (`BUNDLING`, SDK external), the read function imports no AWS SDK module at start (its reads and the
 * on-demand Invoke are SDK-free by default; the SDK path imports its clients on first use), and the
 * refresh function imports only the DynamoDB client at start: a not-due tick reads only its state
 * item, so Secrets Manager, Scheduler and EventBridge are imported on first use (the Lambda client
 * never).
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { externalImports } from '../../bench/lib/bundle-contents.js';
import { BUNDLING, READ_ENTRY, REFRESH_ENTRY } from '../../infra/bundling.js';

async function importsOf(entry: string) {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: BUNDLING.minify,
    mainFields: [...BUNDLING.mainFields],
    external: [...BUNDLING.externalModules],
    banner: { js: BUNDLING.banner },
    outfile: 'index.mjs',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return externalImports(result.metafile);
}

describe('Function bundles (as the construct builds them, SDK external)', () => {
  it('the read function loads no AWS SDK module at start, its clients only on first use', async () => {
    // Act
    const imports = await importsOf(READ_ENTRY);

    // Assess
    expect(imports.atLoad).toEqual([]);
    expect(imports.onFirstUse).toEqual([
      '@aws-sdk/client-dynamodb',
      '@aws-sdk/client-lambda',
      '@aws-sdk/client-secrets-manager',
      '@aws-sdk/credential-provider-node',
    ]);
  });

  it('the refresh function loads only the DynamoDB client at start, Secrets Manager, Scheduler and EventBridge on first use', async () => {
    // Act
    const imports = await importsOf(REFRESH_ENTRY);

    // Assess
    expect(imports.atLoad).toEqual(['@aws-sdk/client-dynamodb']);
    expect(imports.onFirstUse).toEqual(
      expect.arrayContaining([
        '@aws-sdk/client-eventbridge',
        '@aws-sdk/client-scheduler',
        '@aws-sdk/client-secrets-manager',
      ]),
    );
    expect(imports.onFirstUse).not.toContain('@aws-sdk/client-lambda');
  });
});
