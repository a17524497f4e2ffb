import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanaryResult } from '../../src/jobs/canary.job.js';
import { eventually, makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { type BsmProcess, canaries, faultRun, missingOrRepeated, processes, quickComplianceWorkers, report, untilFinished } from './processes.js';

const total = 1_000;

/**
 * Worker processes killed with SIGKILL in the middle of 1,000 jobs: their running jobs come back
 * through BullMQ's stalled check (lock 5 s, checked every 2 s) and run again elsewhere.
 */
describe.runIf(faultRun)('SIGKILL of worker processes under load', () => {
  let t: TestFleet;
  const fleet = processes();

  beforeAll(async () => {
    t = await makeTestFleet('fault-sigkill');
  });

  afterAll(async () => {
    fleet.killAll();
    await t.cleanup();
  });

  it('loses no job, fails none, completes each once; the killed workers\' jobs run again elsewhere', async () => {
    const queue = t.fleet.queue('compliance');
    const env = {
      BSM_PREFIX: t.bsmPrefix,
      LOG_LEVEL: 'warn',
      ...quickComplianceWorkers,
    };
    const startWorker = () => fleet.start(['worker', '--queues', 'compliance'], env);
    const workers: BsmProcess[] = [startWorker(), startWorker(), startWorker()];
    await eventually(async () => (await t.queueState('compliance')).workers.count === 3, 30_000, 200);

    const started = Date.now();
    const added = await queue.addBulk(canaries(total, 'fault-sigkill', (i) => 20 + (i % 31)));
    const completedCount = () => queue.getCompletedCount();

    // Kill a worker after about a third and another after about two thirds, each while it holds
    // running jobs, and start a replacement for each.
    const killed: { pid: number; at: number; activeAtKill: string[] }[] = [];
    for (const [index, threshold] of [
      [0, total / 3],
      [1, (2 * total) / 3],
    ] as const) {
      const victim = workers[index] as BsmProcess;
      await eventually(async () => (await completedCount()) >= threshold, 90_000, 50);
      const name = `:${victim.pid}`;
      const activeAtKill = (await queue.getActive()).filter((j) => j.processedBy?.endsWith(name)).map((j) => j.id ?? '');
      victim.kill('SIGKILL');
      killed.push({ pid: victim.pid ?? 0, at: Date.now(), activeAtKill });
      workers.push(startWorker());
    }

    const finished = await untilFinished(queue, total, 120_000);
    const elapsedMs = Date.now() - started;
    const completed: Job[] = await queue.getJobs(['completed'], 0, -1);
    const failed: Job[] = await queue.getJobs(['failed'], 0, -1);
    const { missing, repeated } = missingOrRepeated(added, completed);

    // Ran twice: started on a worker that was killed, returned by the stalled check, run again.
    const ranTwice = completed.filter((j) => (j.stalledCounter ?? 0) > 0);
    const killedPids = new Set(killed.map((k) => k.pid));
    const byPid = new Map<number, number>();
    for (const j of completed) {
      const pid = (j.returnvalue as CanaryResult).workerPid;
      byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
    }
    report('sigkill', {
      jobs: total,
      workerPids: workers.map((w) => w.pid),
      killedPids: killed.map((k) => k.pid),
      completed: finished.completed,
      failed: finished.failed,
      activeOnVictimsAtKill: killed.map((k) => k.activeAtKill.length),
      ranTwice: ranTwice.length,
      retried: completed.filter((j) => j.attemptsMade > 1).length,
      completionsByPid: Object.fromEntries(byPid),
      elapsedMs,
    });

    expect(failed.map((j) => `${j.id}: ${j.failedReason}`)).toEqual([]);
    expect(missing).toEqual([]);
    expect(repeated).toEqual([]);
    expect(completed).toHaveLength(total);
    // Each killed worker held running jobs, and each of those came back and completed on another worker.
    for (const k of killed) {
      expect(k.activeAtKill.length, `jobs running on ${k.pid} when it was killed`).toBeGreaterThan(0);
    }
    const rerunIds = new Set(ranTwice.map((j) => j.id));
    for (const j of completed.filter((c) => killed.some((k) => k.activeAtKill.includes(c.id ?? '')))) {
      const pid = (j.returnvalue as CanaryResult).workerPid;
      // Either it finished on the victim just before the kill landed, or it was run again elsewhere.
      if (killedPids.has(pid)) {
        expect(j.finishedOn ?? Infinity).toBeLessThanOrEqual(killed.find((k) => k.pid === pid)?.at ?? 0);
      } else {
        expect(rerunIds.has(j.id), `job ${j.id} left on a killed worker shows no stall`).toBe(true);
      }
    }
    expect(ranTwice.length).toBeGreaterThan(0);
    // Nothing is left running or waiting.
    expect(await queue.getJobCounts('active', 'waiting', 'prioritized', 'delayed')).toEqual({ active: 0, waiting: 0, prioritized: 0, delayed: 0 });
  });
});
