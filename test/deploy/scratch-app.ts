/**
 * The app the rehearsal deploys: a CDK app in a scratch directory outside the repository, as a user
 * writes one, with the `@token-refresher/cdk` tarball (built, or reused, by the package tests'
 * helpers) and its peers `aws-cdk-lib` and `constructs` installed from the npm registry and cache,
 * pinned to this repository's lockfile so that they come from the cache. The app is one ES module
 * (no TypeScript to compile): the package's `TokenRefresherStack` built from `config.json`.
 *
 * The package's Lambda bundles leave the AWS SDK v3 out (the Lambda runtime provides it): the SDK
 * clients they import are installed next to the app too, so that the deployed bundles, run from
 * `cdk.out`, find them as they would in the runtime.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { npmInstall, packedTarballs, pinned, REPO_ROOT, scratchDir } from '../package/support.js';

const run = promisify(execFile);

export const STACK_NAME = 'TokenRefresher';

const APP_MJS = `import { App } from 'aws-cdk-lib';
import { readConfigFile, TokenRefresherStack } from '@token-refresher/cdk';

const app = new App();
new TokenRefresherStack(app, '${STACK_NAME}', {
  description: 'token-refresher deploy rehearsal',
  config: readConfigFile('config.json'),
});
`;

export interface ScratchCdkApp {
  /** The app's directory (its `cdk.out` is where `cdk deploy` synthesizes). */
  readonly dir: string;
  /** The installed package (`node_modules/@token-refresher/cdk`), with its prebuilt `assets/`. */
  readonly packageDir: string;
  /** Replace the app's configuration file (`secretPrefix`, `providers`). */
  writeConfig(config: object): Promise<void>;
}

/** The `@aws-sdk/*` packages a bundle imports (static or dynamic), as the Lambda runtime would provide them. */
async function sdkImportsOf(tarball: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-xzOf', tarball, '--wildcards', 'package/assets/*/index.mjs'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return [
    ...new Set([...stdout.matchAll(/["'`](@aws-sdk\/[a-z0-9-]+)["'`]/g)].map((match) => match[1] as string)),
  ];
}

/**
 * Create and install the app (the tarball is built first, unless the current sources' one exists);
 * its configuration is written with `writeConfig`.
 */
export async function createScratchCdkApp(): Promise<ScratchCdkApp> {
  const { cdk: tarball } = await packedTarballs();
  const dir = scratchDir('token-refresher-deploy-rehearsal');
  const repoCdkJson = JSON.parse(await readFile(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: object };
  const writeConfig = (value: object) => writeFile(join(dir, 'config.json'), JSON.stringify(value));
  await Promise.all([
    writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'rehearsal-app', private: true, type: 'module' }),
    ),
    // The repository's feature flags, so that the stack is the one its infra tests check.
    writeFile(join(dir, 'cdk.json'), JSON.stringify({ app: 'node app.mjs', context: repoCdkJson.context })),
    writeFile(join(dir, 'app.mjs'), APP_MJS),
  ]);
  const peers = await Promise.all(
    ['aws-cdk-lib', 'constructs', ...(await sdkImportsOf(tarball))].map(pinned),
  );
  await npmInstall(dir, [tarball, ...peers]);
  return { dir, packageDir: join(dir, 'node_modules', '@token-refresher', 'cdk'), writeConfig };
}
