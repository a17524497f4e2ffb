import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type OwnRedis } from '../../src/redis-server.js';
import { eventually, makeTestFleet, spawnBsm, waitForExit, type TestFleet } from '../helpers/fleet.js';

/** SIGTERM while Redis is unreachable: the process exits within the grace period plus the cancel wait, whatever Redis does. */
describe('shutdown with Redis gone', () => {
  let redis: OwnRedis | undefined;
  let t: TestFleet | undefined;
  const children: ReturnType<typeof spawnBsm>[] = [];

  afterEach(async () => {
    for (const c of children.splice(0)) {
      c.kill('SIGKILL');
    }
    await t?.cleanup();
    await redis?.stop();
  });

  const graceMs = 1_000;
  const cancelWaitMs = 1_000;

  const workerOnOwnRedis = async () => {
    redis = await startRedisServer({ port: await freePort() });
    t = await makeTestFleet('shutdown-down', {}, redis.url);
    // This test stops the server under these connections on purpose.
    for (const c of [t.client, t.blocking]) {
      c.on('error', () => undefined);
    }
    const child = spawnBsm(['worker', '--queues', 'meta-monitor'], {
      REDIS_URL: redis.url,
      BSM_PREFIX: t.bsmPrefix,
      BSM_SHUTDOWN_GRACE_MS: String(graceMs),
      BSM_CANCEL_WAIT_MS: String(cancelWaitMs),
    });
    children.push(child);
    await eventually(async () => (await t!.queueState('meta-monitor')).workers.count === 1, 20_000);
    return child;
  };

  it('an idle worker exits at once and does not claim to cancel jobs it does not have', async () => {
    const child = await workerOnOwnRedis();
    await redis?.stop();
    redis = undefined;
    const signalled = Date.now();
    child.kill('SIGTERM');
    await waitForExit(child, 20_000);
    expect(Date.now() - signalled).toBeLessThan(graceMs + cancelWaitMs + 3_000);
    expect(child.output()).not.toContain('cancelling');
  });

  it('a busy worker exits within the grace period and the cancel wait, leaving its job to the stalled check', async () => {
    const child = await workerOnOwnRedis();
    const job = await t!.fleet.add('meta-monitor', 'canary', { holdMs: 60_000 });
    await eventually(async () => (await t!.fleet.queue('meta-monitor').getJobState(job.id as string)) === 'active');
    await redis?.stop();
    redis = undefined;
    const signalled = Date.now();
    child.kill('SIGTERM');
    await waitForExit(child, 30_000);
    expect(Date.now() - signalled).toBeLessThan(graceMs + cancelWaitMs + 3_000);
    expect(child.output()).toContain('jobs still running after the grace period: cancelling them');
  });
});
