import type { Job } from 'bullmq';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type OwnRedis } from '../../src/redis-server.js';
import { listSchedules } from '../../src/scheduler/reconcile.js';
import { eventually, makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { apiOf, canaries, faultRun, missingOrRepeated, processes, quickComplianceWorkers, report, untilFinished } from './processes.js';

const token = 'fault-aof-admin-token-0123456789ab';
const total = 300;

/** A redis-server keeping its data in `dataDir` with AOF, every write fsync'ed before it is acknowledged. */
async function aofRedis(port: number, dataDir: string): Promise<OwnRedis> {
  const redis = await startRedisServer({ port, dataDir });
  const t = await makeTestFleet('fault-aof-config', {}, redis.url);
  try {
    await t.client.config('SET', 'appendfsync', 'always');
  } finally {
    t.client.disconnect();
    t.blocking.disconnect();
  }
  return redis;
}

/** `bsm all` through a Redis that is stopped (SIGTERM) under load and restarted from its AOF. */
describe.runIf(faultRun)('Redis restarted with AOF under load', () => {
  let redis: OwnRedis | undefined;
  let t: TestFleet | undefined;
  let dataDir: string | undefined;
  const fleet = processes();

  afterAll(async () => {
    fleet.killAll();
    await t?.cleanup();
    await redis?.stop();
    if (dataDir) {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('health answers 503 at once; after the restart the process reconnects, every accepted job completes, state and schedulers are intact', async () => {
    const redisPort = await freePort();
    const apiPort = await freePort();
    dataDir = await mkdtemp(join(tmpdir(), 'bsm-fault-aof-'));
    redis = await aofRedis(redisPort, dataDir);
    t = await makeTestFleet('fault-aof', {}, redis.url);
    // This test stops the server under these connections on purpose.
    for (const c of [t.client, t.blocking]) {
      c.on('error', () => undefined);
    }
    const child = fleet.start(['all'], {
      REDIS_URL: redis.url,
      PORT: String(apiPort),
      BSM_PREFIX: t.bsmPrefix,
      BSM_API_KEYS: `admin:admin:${token}`,
      ...quickComplianceWorkers,
    });
    const api = apiOf(apiPort, token);
    await eventually(() => Promise.resolve(child.output().includes('api listening') && child.output().includes('job schedulers applied')), 30_000, 100);
    // A state only the AOF can bring back: a Redis that came back empty would say `disabled`.
    expect((await api('/admin/bedrock-support/enable', 'POST', { active: true, reason: 'fault test' })).status).toBe(200);
    const schedulesBefore = (await listSchedules(t.fleet)).map((s) => `${s.queue}/${s.id}`).sort();
    expect(schedulesBefore).toHaveLength(9); // a default install's schedules, the audit-trail checkpoint among them

    const queue = t.fleet.queue('compliance');
    const added: Job[] = await queue.addBulk(canaries(total, 'fault-aof', (i) => 40 + (i % 21)));
    await eventually(async () => (await queue.getCompletedCount()) >= total / 5, 60_000, 50);
    const completedAtStop = await queue.getCompletedCount();

    await redis.stop();
    const stoppedAt = Date.now();
    // The first 503, and how long that request took.
    const down = await eventually(
      async () => {
        const asked = Date.now();
        const r = await api('/health');
        return r.status === 503 ? { firstAfterMs: Date.now() - stoppedAt, requestMs: Date.now() - asked } : null;
      },
      10_000,
      20,
    );
    await eventually(() => Promise.resolve(child.output().includes('redis unreachable')), 20_000, 100);
    // Jobs that were running when Redis went away: handed back by the stalled check if their result could not be written.
    await new Promise((r) => setTimeout(r, 2_000));

    redis = await aofRedis(redisPort, dataDir);
    const restartedAt = Date.now();
    const reconnectMs = await eventually(async () => ((await api('/health').catch(() => null))?.status === 200 ? Date.now() - restartedAt : null), 30_000, 50);

    const finished = await untilFinished(queue, total, 90_000);
    const completed: Job[] = await queue.getJobs(['completed'], 0, -1);
    const { missing, repeated } = missingOrRepeated(added, completed);
    const status = (await (await api('/admin/bedrock-support/status')).json()) as { status: string };
    const schedules = (await (await api('/admin/bedrock-support/schedules')).json()) as { schedules: { queue: string; id: string }[] };
    report('redis-aof-restart', {
      jobs: total,
      completedAtStop,
      health503AfterMs: down.firstAfterMs,
      health503RequestMs: down.requestMs,
      reconnectMs,
      completed: finished.completed,
      failed: finished.failed,
      ranTwice: completed.filter((j) => (j.stalledCounter ?? 0) > 0).length,
      status: status.status,
      schedulers: schedules.schedules.length,
    });

    // Redis went away in the middle of the work.
    expect(completedAtStop).toBeLessThan(total);
    expect(down.firstAfterMs).toBeLessThan(1_000);
    expect(finished.failed).toBe(0);
    expect(missing).toEqual([]);
    expect(repeated).toEqual([]);
    expect(completed).toHaveLength(total);
    expect(status.status).toBe('active');
    expect(schedules.schedules.map((s) => `${s.queue}/${s.id}`).sort()).toEqual(schedulesBefore);
    const lines = child.output().split('\n');
    expect(lines.filter((l) => l.includes('redis unreachable'))).toHaveLength(1);
    expect(lines.some((l) => l.includes('redis reachable again'))).toBe(true);
  });
});
