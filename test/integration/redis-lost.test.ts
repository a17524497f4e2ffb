import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type OwnRedis } from '../../src/redis-server.js';
import { eventually, spawnBsm, waitForExit } from '../helpers/fleet.js';
import { uniquePrefix } from '../helpers/redis.js';

const token = 'lost-redis-admin-token-0123456789';

/** `npm start` through a Redis that restarts empty (no persistence): the process heals what was lost. */
describe('a Redis that comes back empty', () => {
  let redis: OwnRedis | undefined;
  let child: ReturnType<typeof spawnBsm> | undefined;
  let dataDir: string | undefined;

  afterAll(async () => {
    child?.kill('SIGKILL');
    await redis?.stop();
    if (dataDir !== undefined) {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('gets the schedulers and the queue states back, with one line for the outage and one for the recovery', async () => {
    const redisPort = await freePort();
    const apiPort = await freePort();
    redis = await startRedisServer({ port: redisPort });
    // Its own data directory and archive: the keys `all` generates and the checkpoints stay out of the checkout's ./data.
    dataDir = await mkdtemp(join(tmpdir(), 'bsm-redis-lost-'));
    child = spawnBsm(['all'], {
      BSM_DATA_DIR: dataDir,
      BSM_ARCHIVE_URL: `file://${join(dataDir, 'archive')}`,
      REDIS_URL: redis.url,
      PORT: String(apiPort),
      BSM_PREFIX: uniquePrefix('redis-lost'),
      BSM_API_KEYS: `admin:admin:${token}`,
    });
    const api = (path: string, method = 'GET', body?: unknown) =>
      fetch(`http://127.0.0.1:${apiPort}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const c = child;
    await eventually(() => Promise.resolve(c.output().includes('api listening') && c.output().includes('job schedulers applied')), 20_000);
    expect((await api('/admin/bedrock-support/enable', 'POST', { active: true })).status).toBe(200);

    // Redis restarts without its data: schedulers, support-mode state and paused flags are gone.
    await redis.stop();
    // Back once the process has noticed the outage.
    await eventually(() => Promise.resolve(c.output().includes('redis unreachable')), 20_000);
    redis = await startRedisServer({ port: redisPort });

    const schedules = await eventually(async () => {
      const r = await api('/admin/bedrock-support/schedules').catch(() => null);
      const body = r?.status === 200 ? ((await r.json()) as { schedules: { id: string }[] }) : null;
      // The eight of a default install (CloudWatch publishing off): alert evaluation, daily check, weekly review, audit, analysis, compliance check, archive, checkpoint.
      return body && body.schedules.length === 9 ? body.schedules : null;
    }, 20_000, 200);
    expect(schedules).toHaveLength(9);
    // The state Redis holds now is the initial one, disabled: the queues follow it again.
    const status = (await (await api('/admin/bedrock-support/status')).json()) as { status: string; queues: Record<string, { paused: boolean }> };
    expect(status.status).toBe('disabled');
    expect(Object.fromEntries(Object.entries(status.queues).map(([q, s]) => [q, s.paused]))).toEqual({
      'bedrock-support': true,
      'infrastructure-auditor': true,
      'meta-monitor': true,
      'implementation-support': true,
      compliance: false,
    });

    // The schedulers can be visible a moment before the re-apply logs that it is done.
    await eventually(() => Promise.resolve(c.output().includes('reconnected to redis: support-mode queue states and job schedulers re-applied')), 10_000);
    const lines = c.output().split('\n');
    expect(lines.filter((l) => l.includes('redis unreachable'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('"level":"ERROR"'))).toEqual([]);
    expect(lines.some((l) => l.includes('redis reachable again'))).toBe(true);
    expect(lines.some((l) => l.includes('reconnected to redis: support-mode queue states and job schedulers re-applied'))).toBe(true);

    c.kill('SIGTERM');
    expect(await waitForExit(c)).toBe(0);
  });
});
