import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { eventually, spawnBsm, waitForExit } from '../helpers/fleet.js';
import { testRedisUrl } from '../helpers/redis.js';
import { startRedisProxy, type RedisProxy } from '../helpers/redis-proxy.js';

/** Subscribers of the control channel, as Redis counts them. */
async function subscribers(redis: Redis, channel: string): Promise<number> {
  const [, count] = (await redis.pubsub('NUMSUB', channel)) as [string, number];
  return Number(count);
}

describe('an emergency shutdown published while a worker process was reconnecting', () => {
  let t: TestApp;
  let proxy: RedisProxy;
  let child: ReturnType<typeof spawnBsm> | undefined;

  beforeAll(async () => {
    t = await makeTestApp('emergency-reconnect');
    // The worker process reaches Redis through a proxy that can hold its control connection back.
    proxy = await startRedisProxy(testRedisUrl);
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await proxy.close();
    await t.close();
  });

  it('is acted on when the control connection is back: the running job is cancelled back to waiting', { timeout: 60_000 }, async () => {
    const controlName = 'bsm:worker:control';
    const channel = `${t.prefix}:control`;
    const c = spawnBsm(['worker', '--queues', 'meta-monitor'], { REDIS_URL: proxy.url, BSM_PREFIX: t.bsmPrefix });
    child = c;
    await eventually(async () => (await t.queueState('meta-monitor')).workers.count === 1 && (await subscribers(t.client, channel)) === 1, 20_000);
    expect((await t.call('POST', '/admin/bedrock-support/enable', { body: { active: true } })).status).toBe(200);
    const job = await t.fleet.add('meta-monitor', 'canary', { holdMs: 60_000 });
    const queue = t.fleet.queue('meta-monitor');
    await eventually(async () => (await queue.getJobState(job.id as string)) === 'active');

    // Redis drops the process' control connection (found by its name, through the proxy's side of
    // it); its reconnect is held back.
    proxy.hold(controlName);
    const [addr] = proxy.addressesOf(controlName);
    const list = (await t.client.client('LIST')) as string;
    const entry = list.split('\n').find((line) => line.includes(` addr=${addr} `) && line.includes(` name=${controlName} `));
    const id = /^id=(\d+) /.exec(entry ?? '')?.[1];
    expect(id, list).toMatch(/^\d+$/);
    await t.client.client('KILL', 'ID', id as string);
    await eventually(async () => (await subscribers(t.client, channel)) === 0);

    // The shutdown's cancellation reaches nobody: the job keeps running.
    const r = await t.call('POST', '/admin/bedrock-support/emergency/shutdown', { body: { reason: 'reconnect drill', initiated_by: 'oncall', immediate: true } });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ to: 'emergency', processesNotified: 0, activeJobsBefore: 1, activeJobsAfter: 1 });
    expect(await queue.getJobState(job.id as string)).toBe('active');

    // Back on Redis, the process finds the emergency and cancels what it runs.
    proxy.release();
    await eventually(async () => (await queue.getJobState(job.id as string)) === 'prioritized');
    expect((await queue.getJob(job.id as string))?.attemptsMade).toBe(0);
    expect(await subscribers(t.client, channel)).toBe(1);
    expect(c.output()).toContain('reconnected during an emergency shutdown: cancelling running jobs');

    c.kill('SIGTERM');
    expect(await waitForExit(c)).toBe(0);
  });
});
