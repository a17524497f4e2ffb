import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault tests and the cluster tests run on their own: npm run test:faults, npm run test:cluster.
    exclude: ['test/faults/**', 'test/cluster/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration files share one redis-server but isolate themselves by key prefix.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
