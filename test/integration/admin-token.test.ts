import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis-server.js';
import { eventually, spawnBsm, waitForExit } from '../helpers/fleet.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

describe('a newcomer without BSM_API_KEYS', () => {
  const redis = testRedis();
  const bsmPrefix = uniquePrefix('admin-token');
  let dataDir = '';

  afterAll(async () => {
    await deleteKeys(redis, `{${bsmPrefix}}`);
    await redis.quit();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('gets an admin token printed once, kept owner-only under the data directory, and still valid after a restart', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bsm-token-'));
    const port = await freePort();
    const env = { BSM_PREFIX: bsmPrefix, BSM_DATA_DIR: dataDir, BSM_API_KEYS: '', PORT: String(port) };
    const base = `http://127.0.0.1:${port}`;
    const status = (token: string) => fetch(`${base}/admin/bedrock-support/status`, { headers: { authorization: `Bearer ${token}` } });

    const first = spawnBsm(['api'], env);
    await eventually(async () => (await fetch(`${base}/health`).catch(() => null))?.status === 200, 20_000, 100);
    const tokenFile = join(dataDir, 'admin-token');
    const token = (await readFile(tokenFile, 'utf8')).trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{32,}$/);
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600);
    expect(first.output()).toContain(`\n  ${token}\n`);
    expect(first.output()).toContain(`${base}/admin/queues`);
    expect((await status(token)).status).toBe(200);
    expect((await status(`${token}x`)).status).toBe(401);
    first.kill('SIGTERM');
    expect(await waitForExit(first)).toBe(0);

    const second = spawnBsm(['api'], env);
    await eventually(async () => (await fetch(`${base}/health`).catch(() => null))?.status === 200, 20_000, 100);
    expect((await status(token)).status).toBe(200);
    expect(second.output()).not.toContain(token);
    second.kill('SIGTERM');
    expect(await waitForExit(second)).toBe(0);
  });
});
