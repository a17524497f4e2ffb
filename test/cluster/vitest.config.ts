import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The cluster suite (`npm run test:cluster`): the service on a local Redis Cluster the test
 * starts itself (three masters and a replica, on free ports). One file at a time; beside the
 * fault suite's config so that tsconfig.json (and the typed lint) covers it.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/cluster/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 150_000,
    fileParallelism: false,
    maxWorkers: 1,
  },
});
