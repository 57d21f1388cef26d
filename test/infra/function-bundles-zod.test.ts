/**
 * No zod in the deployed bundles (issue 17): built as the construct builds them (`BUNDLING`, target
 * from the runtime, SDK external), neither handler's bundle holds a module of the zod package. The
 * functions check the configuration the construct delivers with the JSON Schema generated from the
 * zod schema (functions/core/deployed-config.ts); synth, `npm start` and the CLI keep the zod schema.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { BUNDLING, FUNCTION_BUNDLES } from '../../infra/bundling.js';

/** The zod modules among a bundle's inputs (esbuild's metafile). */
async function zodInputsOf(entry: string): Promise<string[]> {
  const runtimeVersion = /^nodejs(\d+)/.exec(BUNDLING.runtime.name)?.[1];
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${runtimeVersion}`,
    minify: BUNDLING.minify,
    mainFields: [...BUNDLING.mainFields],
    external: [...BUNDLING.externalModules],
    banner: { js: BUNDLING.banner },
    outfile: 'index.mjs',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return Object.keys(result.metafile.inputs).filter((input) => /(^|\/)node_modules\/zod\//.test(input));
}

describe('Function bundles (as the construct builds them): no zod', () => {
  it.each(FUNCTION_BUNDLES.map((bundle) => [bundle.name, bundle.entry]))(
    'the %s function bundles no zod module',
    async (_name, entry) => {
      expect(await zodInputsOf(entry)).toEqual([]);
    },
  );

  it('finds zod in a bundle that has it (the synth-time schema)', async () => {
    const schemaModule = new URL('../../functions/core/config-schema.ts', import.meta.url).pathname;
    expect((await zodInputsOf(schemaModule)).length).toBeGreaterThan(0);
  });
});
