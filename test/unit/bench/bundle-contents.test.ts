import type { Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';
import {
  bytesByPackage,
  externalImports,
  GENERATED_ENTRY,
  mainOutput,
  packageOf,
  ZOD_LOCALES,
  zodBytes,
} from '../../../bench/lib/bundle-contents.js';

/** A metafile whose one JavaScript output holds the given inputs (and a source map beside it). */
function metafile(inputs: Record<string, number>): Metafile {
  const total = Object.values(inputs).reduce((sum, size) => sum + size, 0);
  return {
    inputs: {},
    outputs: {
      'out/index.mjs.map': { bytes: 999_999, inputs: {}, imports: [], exports: [] },
      'out/index.mjs': {
        bytes: total + 100,
        inputs: Object.fromEntries(
          Object.entries(inputs).map(([path, size]) => [path, { bytesInOutput: size }]),
        ),
        imports: [],
        exports: [],
      },
    },
  };
}

describe('Function: packageOf', () => {
  it.each([
    ['node_modules/zod/v4/classic/schemas.js', 'zod'],
    ['node_modules/zod/v4/locales/en.js', ZOD_LOCALES],
    ['node_modules/@aws-lambda-powertools/logger/lib/esm/Logger.js', '@aws-lambda-powertools/logger'],
    // The client package unpacked in the scratch app under node_modules/.cache: the last node_modules wins.
    [
      'node_modules/.cache/token-refresher-bench-client/node_modules/@token-refresher/client/dist/token.js',
      '@token-refresher/client',
    ],
    [
      'node_modules/.cache/token-refresher-bench-client/token-refresher_client_secrets-manager.mjs',
      GENERATED_ENTRY,
    ],
    ['../../../work/main/node_modules/@smithy/signature-v4/dist-es/index.js', '@smithy/signature-v4'],
    ['functions/read/handler.ts', 'functions/read'],
    ['bench/consumers/plain-sdk.ts', 'bench'],
  ])('groups %s under %s', (path, group) => {
    // Act + Assess
    expect(packageOf(path)).toBe(group);
  });
});

describe('Function: bytesByPackage', () => {
  it('sums the bytes of the JavaScript output per group, largest first, and folds the rest', () => {
    // Prepare
    const meta = metafile({
      'node_modules/zod/v4/a.js': 600,
      'node_modules/zod/v4/b.js': 400,
      'functions/core/engine.ts': 300,
      'functions/core/timing.ts': 100,
      'functions/read/app.ts': 50,
      'node_modules/oauth4webapi/build/index.js': 20,
    });

    // Act
    const groups = bytesByPackage(meta, 2);

    // Assess: the source map's inputs are not counted.
    expect(groups).toStrictEqual([
      ['zod', 1_000],
      ['functions/core', 400],
      ['2 others', 70],
    ]);
  });

  it('lists every group when they fit the limit', () => {
    // Act
    const groups = bytesByPackage(metafile({ 'functions/read/app.ts': 5, 'bench/x.ts': 5 }), 2);

    // Assess: equal sizes in name order.
    expect(groups).toStrictEqual([
      ['bench', 5],
      ['functions/read', 5],
    ]);
  });
});

describe('Function: zodBytes', () => {
  it('counts zod with its locales, and nothing else', () => {
    // Prepare
    const meta = metafile({
      'node_modules/zod/v4/core/core.js': 900,
      'node_modules/zod/v4/locales/en.js': 90,
      'node_modules/zod-to-json-schema/index.js': 9,
      'functions/core/config.ts': 1,
    });

    // Act + Assess
    expect(zodBytes(meta)).toBe(990);
  });
});

describe('Function: mainOutput', () => {
  it('picks the JavaScript output, not the source map', () => {
    // Act + Assess
    expect(mainOutput(metafile({ 'a.ts': 1 }))?.bytes).toBe(101);
  });
});

describe('Function: externalImports', () => {
  it('tells the SDK packages loaded at start from those loaded on first use, Node built-ins aside', () => {
    // Prepare: as esbuild lists the read bundle's imports.
    const meta = metafile({ 'functions/read/handler.ts': 1 });
    const output = meta.outputs['out/index.mjs'];
    if (output === undefined) throw new Error('no output');
    output.imports = [
      { path: 'node:crypto', kind: 'import-statement', external: true },
      { path: '@aws-sdk/client-lambda', kind: 'dynamic-import', external: true },
      { path: '@aws-sdk/client-lambda', kind: 'dynamic-import', external: true },
      { path: '@aws-sdk/client-secrets-manager', kind: 'import-statement', external: true },
      { path: '@aws-sdk/client-scheduler', kind: 'dynamic-import', external: true },
      { path: '@aws-sdk/client-scheduler', kind: 'import-statement', external: true },
      { path: 'functions/core/engine.ts', kind: 'import-statement' },
    ];

    // Act
    const imports = externalImports(meta);

    // Assess: a package imported both ways is loaded at start.
    expect(imports).toStrictEqual({
      atLoad: ['@aws-sdk/client-scheduler', '@aws-sdk/client-secrets-manager'],
      onFirstUse: ['@aws-sdk/client-lambda'],
    });
  });
});
