import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

/**
 * The fault suite (`npm run test:faults`): real worker processes killed, Redis stopped and
 * restarted. One file at a time (they load the machine on purpose); every wait inside is
 * bounded, and these timeouts bound each test again. It lives here rather than beside
 * vitest.config.ts so that tsconfig.json (and with it the typed lint) covers it.
 */
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 150_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    maxWorkers: 1,
    // The default config's `test/**/*.test.ts` also finds these files: they run only when this is set.
    env: { BSM_FAULT_TESTS: '1' },
  },
});
