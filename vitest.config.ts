import { defineConfig } from 'vitest/config';

/**
 * Projects: unit tests (fakes, mocks, fast, fully parallel), infra (template assertions), contract
 * tests (each port's suite against its fake and its adapter on moto), integration tests (each file
 * starts its own moto server and OAuth server on free 127.0.0.1 ports, so files may run in parallel
 * too), the published packages (installed from their tarballs outside the repository) and the
 * reliability drills.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 120_000,
        },
      },
      {
        // One suite per port (test/contract/*.contract.ts), each run against the in-memory fake and the
        // real adapter on moto (one server per file, reset before each case).
        test: {
          name: 'contract',
          include: ['test/contract/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Issue 13: the published packages, from their tarballs (test/package/support.ts builds them once
        // per content), installed into scratch directories outside the repository from the npm registry
        // and cache: a CDK app synthesizing the construct, the compiled CLI, the consumer client and its
        // bundle sizes. Installs and synths take seconds each, hence the timeouts.
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        // Reliability drills (issue #6): correctness under crashes, contention and faults, never a
        // duration. Bounded for CI (about 1.5 min); `DRILLS_LONG=1 npx vitest run --project drills` runs
        // the long mode (1,000 contention rounds per provider, about half an hour).
        test: {
          name: 'drills',
          include: ['test/drills/**/*.test.ts'],
          testTimeout: process.env.DRILLS_LONG === '1' ? 60 * 60_000 : 5 * 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
