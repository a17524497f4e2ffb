import { execFile, spawn } from 'node:child_process';
import { copyFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis-server.js';
import { eventually, waitForExit } from '../helpers/fleet.js';
import { deleteKeys, testRedis, testRedisUrl, uniquePrefix } from '../helpers/redis.js';

const run = promisify(execFile);

// A production install takes a minute or two: CI (CI=true) runs it; elsewhere BSM_DIST_TEST=1 does.
const enabled = process.env.CI === 'true' || process.env.BSM_DIST_TEST === '1';
if (!enabled) {
  process.stderr.write('dist test skipped: it runs npm ci --omit=dev in a temporary directory; set BSM_DIST_TEST=1 (CI sets CI=true)\n');
}

/**
 * What the image does, without Docker: the compiled program with production dependencies only
 * (`npm ci --omit=dev`, so no tsx, no TypeScript), started as `node dist/main.js all`.
 */
describe.runIf(enabled)('node dist/main.js after npm ci --omit=dev', () => {
  const bsmPrefix = uniquePrefix('dist');
  let dir: string | undefined;

  afterAll(async () => {
    const redis = testRedis();
    await deleteKeys(redis, `{${bsmPrefix}}`);
    await redis.quit();
    if (dir) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serves health, passes its container healthchecks and stops on SIGTERM', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bsm-dist-'));
    await run(process.execPath, [resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', join(dir, 'dist')]);
    for (const f of ['package.json', 'package-lock.json']) {
      await copyFile(f, join(dir, f));
    }
    // The dashboard's page, script and styles, served as they are (the Dockerfile copies them too).
    await cp('public', join(dir, 'public'), { recursive: true });
    await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: dir, env: { ...process.env, npm_config_update_notifier: 'false' } });
    await expect(run('node', ['-e', "import('tsx').then(() => process.exit(1), () => process.exit(0))"], { cwd: dir })).resolves.toBeDefined();

    const port = await freePort();
    const env = { PATH: process.env.PATH ?? '', REDIS_URL: testRedisUrl, BSM_PREFIX: bsmPrefix, PORT: String(port), BSM_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn' };
    const child = spawn(process.execPath, ['dist/main.js', 'all'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health`).catch(() => null))?.status === 200, 30_000, 200);
      await expect(run(process.execPath, ['dist/healthcheck.js', 'api'], { cwd: dir, env })).resolves.toBeDefined();
      await expect(run(process.execPath, ['dist/healthcheck.js', 'worker'], { cwd: dir, env })).resolves.toBeDefined();
      // A worker whose Redis does not answer is unhealthy.
      await expect(run(process.execPath, ['dist/healthcheck.js', 'worker'], { cwd: dir, env: { ...env, REDIS_URL: `redis://127.0.0.1:${await freePort()}` } })).rejects.toMatchObject({ code: 1 });
      child.kill('SIGTERM');
      expect(await waitForExit(child, 30_000)).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    expect(output).not.toMatch(/"level":(50|60|"ERROR"|"FATAL")/);
  }, 240_000);
});
