import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    // One throwaway PostgreSQL (with a migrated template database) and one Redis for the whole run.
    globalSetup: ['test/support/global-setup.ts'],
    // Child processes, not threads: native modules (better-sqlite3) and process-wide state
    // (pg type parsers, env) stay isolated per worker.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
  },
});
