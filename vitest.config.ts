import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Each test file in its own process: libtorch's global state (threads, seeds, grad mode) stays per file.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // After the default report: how many tests were skipped, and why (CI's log shows what went untested).
    reporters: ['default', './test/helpers/skip-reporter.ts'],
  },
});
