import { defineConfig } from 'vitest/config';

/**
 * The deploy rehearsal (issue 14, `npm run test:deploy`): `cdk bootstrap` + `cdk deploy` of the app on
 * moto with functions/local/moto_cfn.py, then the deployed resources and bundles are checked. Kept out of
 * vitest.config.ts, so `npm test` does not run it.
 */
export default defineConfig({
  test: {
    name: 'deploy',
    include: ['test/deploy/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
