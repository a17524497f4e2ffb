import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, makeTestFleet, spawnBsm, waitForExit, type TestFleet } from '../helpers/fleet.js';

describe('graceful shutdown of a worker process', () => {
  let t: TestFleet;
  const children: ReturnType<typeof spawnBsm>[] = [];

  beforeAll(async () => {
    t = await makeTestFleet('shutdown');
  });

  afterAll(async () => {
    for (const c of children) {
      c.kill('SIGKILL');
    }
    await t.cleanup();
  });

  const startWorker = async (graceMs: number) => {
    const child = spawnBsm(['worker', '--queues', 'meta-monitor'], { BSM_PREFIX: t.bsmPrefix, BSM_SHUTDOWN_GRACE_MS: String(graceMs) });
    children.push(child);
    await eventually(async () => (await t.queueState('meta-monitor')).workers.count === 1, 20_000);
    return child;
  };

  it('SIGTERM lets the running job complete, then exits cleanly; nothing stalls', async () => {
    const child = await startWorker(10_000);
    const job = await t.fleet.add('meta-monitor', 'canary', { holdMs: 2_000 });
    const queue = t.fleet.queue('meta-monitor');
    await eventually(async () => (await queue.getJobState(job.id as string)) === 'active');
    child.kill('SIGTERM');
    expect(await waitForExit(child)).toBe(0);

    const after = await queue.getJob(job.id as string);
    expect(await after?.getState()).toBe('completed');
    expect((after?.returnvalue as { heldMs: number }).heldMs).toBeGreaterThanOrEqual(2_000);
    expect(after?.stalledCounter ?? 0).toBe(0);
    const counts = await queue.getJobCounts('active', 'failed', 'waiting', 'prioritized');
    expect(counts).toEqual({ active: 0, failed: 0, waiting: 0, prioritized: 0 });
    expect(child.output()).toContain('"msg":"stopped"');
  });

  it('a job still running after the grace period is cancelled back to waiting, no attempt spent', async () => {
    const child = await startWorker(300);
    const job = await t.fleet.add('meta-monitor', 'canary', { holdMs: 30_000 });
    const queue = t.fleet.queue('meta-monitor');
    await eventually(async () => (await queue.getJobState(job.id as string)) === 'active');
    const signalled = Date.now();
    child.kill('SIGTERM');
    expect(await waitForExit(child)).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);

    const after = await queue.getJob(job.id as string);
    // Waiting again, in priority order (BullMQ's `prioritized`).
    expect(await after?.getState()).toBe('prioritized');
    expect(after?.attemptsMade).toBe(0);
    expect(await queue.getJobCounts('active', 'failed')).toEqual({ active: 0, failed: 0 });
    await after?.remove();
  });
});
