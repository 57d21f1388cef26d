import { defineConfig } from 'vitest/config';

/**
 * The deploy rehearsal (issue 14, `npm run test:deploy`): `cdk bootstrap` + `cdk deploy` on moto (with
 * functions/local/moto_cfn.py) of a scratch app that installs the @token-refresher/cdk tarball, every
 * deployed resource read back against the template, the deployed bundles run; and moto_cfn.py's models
 * on their own. Kept out of vitest.config.ts, so `npm test` does not run it.
 */
export default defineConfig({
  test: {
    name: 'deploy',
    include: ['test/deploy/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
