import { QueueEvents, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CanaryResult } from '../../src/jobs/canary.job.js';
import { eventually, makeTestFleet, waitForExit, type TestFleet } from '../helpers/fleet.js';
import { testRedis } from '../helpers/redis.js';
import { type BsmProcess, canaries, faultRun, processes, quickComplianceWorkers, report, untilFinished } from './processes.js';

const total = 360;
const graceMs = 1_000;
const cancelWaitMs = 3_000;
/** Every 12th job holds 5 s, longer than the grace period: a worker stopped while it runs one must cancel it. */
const holdMs = (i: number) => (i % 12 === 0 ? 5_000 : 50 + (i % 5) * 25);

/** What the test saw of one worker process it sent SIGTERM to. */
interface Stopped {
  pid: number;
  signalledAt: number;
  exitedAt: number;
  code: number | null;
  /** Jobs it was running when the signal went out. */
  activeAtSignal: string[];
  output: string;
}

/**
 * SIGTERM to worker processes busy with jobs, Redis up: first one of three, then the other two at
 * once. Each stops taking work, lets its running jobs finish for BSM_SHUTDOWN_GRACE_MS, cancels the
 * rest back to waiting (no attempt spent) and exits 0 within the grace period plus BSM_CANCEL_WAIT_MS.
 * Workers started afterwards finish the rest: every job completes once, none fails.
 */
describe.runIf(faultRun)('SIGTERM of worker processes under load', () => {
  let t: TestFleet;
  let events: { queueEvents: QueueEvents; connection: ReturnType<typeof testRedis> } | undefined;
  const fleet = processes();

  beforeAll(async () => {
    t = await makeTestFleet('fault-sigterm');
  });

  afterAll(async () => {
    fleet.killAll();
    await events?.queueEvents.close();
    events?.connection.disconnect();
    await t.cleanup();
  });

  it('each stopped worker exits 0 within the grace period plus the cancel wait; its jobs finish or go back to waiting; every job completes exactly once', async () => {
    const queue = t.fleet.queue('compliance');
    // Completions and starts as BullMQ records them, one event each: a job completed twice would show twice.
    const connection = testRedis();
    const queueEvents = new QueueEvents('compliance', { connection, prefix: t.prefix, lastEventId: '0-0' });
    events = { queueEvents, connection };
    const completions = new Map<string, number>();
    const starts = new Map<string, number>();
    const failures: string[] = [];
    queueEvents.on('completed', ({ jobId }) => completions.set(jobId, (completions.get(jobId) ?? 0) + 1));
    queueEvents.on('active', ({ jobId }) => starts.set(jobId, (starts.get(jobId) ?? 0) + 1));
    queueEvents.on('failed', ({ jobId, failedReason }) => failures.push(`${jobId}: ${failedReason}`));
    await queueEvents.waitUntilReady();

    const env = {
      BSM_PREFIX: t.bsmPrefix,
      LOG_LEVEL: 'info',
      BSM_SHUTDOWN_GRACE_MS: String(graceMs),
      BSM_CANCEL_WAIT_MS: String(cancelWaitMs),
      // Short, so that a job a stopped worker left active would come back (and show a stall) within the test.
      ...quickComplianceWorkers,
    };
    const startWorker = () => fleet.start(['worker', '--queues', 'compliance'], env);
    const workers: BsmProcess[] = [startWorker(), startWorker(), startWorker()];
    await eventually(async () => (await t.queueState('compliance')).workers.count === 3, 60_000, 200);

    const started = Date.now();
    const added: Job[] = await queue.addBulk(canaries(total, 'fault-sigterm', holdMs));
    const completedCount = () => queue.getCompletedCount();

    const stop = async (victims: BsmProcess[]): Promise<Stopped[]> => {
      const active = await queue.getActive();
      const signalledAt = Date.now();
      for (const v of victims) {
        v.kill('SIGTERM');
      }
      return Promise.all(
        victims.map(async (v) => {
          // Longer than the process's own hard stop (grace + cancel wait + 5 s, exit 1): the bound is asserted below.
          const code = await waitForExit(v, graceMs + cancelWaitMs + 15_000);
          return {
            pid: v.pid ?? 0,
            signalledAt,
            exitedAt: Date.now(),
            code,
            activeAtSignal: active.filter((j) => j.processedBy?.endsWith(`:${v.pid}`)).map((j) => j.id ?? ''),
            output: v.output(),
          };
        }),
      );
    };

    // One worker while the two others go on; then, later, both others at once.
    await eventually(async () => (await completedCount()) >= total / 4, 60_000, 50);
    const first = await stop([workers[0] as BsmProcess]);
    await eventually(async () => (await completedCount()) >= (3 * total) / 5, 60_000, 50);
    const rest = await stop([workers[1] as BsmProcess, workers[2] as BsmProcess]);
    const stopped = [...first, ...rest];

    // No worker is left: nothing may be active (handed back, not left to the stalled check), nothing lost.
    const between = await queue.getJobCounts('active', 'completed', 'failed', 'waiting', 'prioritized', 'delayed');
    workers.push(startWorker(), startWorker());

    const finished = await untilFinished(queue, total, 90_000);
    await eventually(() => Promise.resolve(completions.size + failures.length >= total), 10_000, 50);
    const elapsedMs = Date.now() - started;
    const completed: Job[] = await queue.getJobs(['completed'], 0, -1);
    const byId = new Map(completed.map((j) => [j.id ?? '', j]));
    const missing = added.map((j) => j.id ?? '').filter((id) => !completions.has(id));
    const repeated = [...completions].filter(([, n]) => n > 1).map(([id]) => id);
    const startedTwice = [...starts].filter(([, n]) => n > 1).map(([id]) => id);

    // Each job a stopped worker was running: finished there before it exited, or handed back and completed elsewhere.
    const fate = stopped.map((s) => {
      let finishedThere = 0;
      let handedBack = 0;
      for (const id of s.activeAtSignal) {
        const j = byId.get(id);
        if ((j?.returnvalue as CanaryResult | undefined)?.workerPid === s.pid && (j?.finishedOn ?? Infinity) <= s.exitedAt) {
          finishedThere += 1;
        } else if (j && (j.returnvalue as CanaryResult).workerPid !== s.pid) {
          handedBack += 1;
        }
      }
      return { pid: s.pid, active: s.activeAtSignal.length, finishedThere, handedBack };
    });
    const byPid = new Map<number, number>();
    for (const j of completed) {
      const pid = (j.returnvalue as CanaryResult).workerPid;
      byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
    }
    report('sigterm', {
      jobs: total,
      graceMs,
      cancelWaitMs,
      workerPids: workers.map((w) => w.pid),
      exitMs: stopped.map((s) => s.exitedAt - s.signalledAt),
      exitCodes: stopped.map((s) => s.code),
      stoppedJobs: fate,
      afterAllStopped: between,
      completed: finished.completed,
      failed: finished.failed,
      startedTwice: startedTwice.length,
      stalled: completed.filter((j) => (j.stalledCounter ?? 0) > 0).length,
      completionsByPid: Object.fromEntries(byPid),
      elapsedMs,
    });

    for (const s of stopped) {
      expect(s.code, `exit code of ${s.pid}`).toBe(0);
      expect(s.exitedAt - s.signalledAt, `time ${s.pid} took to exit`).toBeLessThan(graceMs + cancelWaitMs);
      expect(s.output).toContain('"msg":"stopped"');
      expect(s.activeAtSignal.length, `jobs running on ${s.pid} at SIGTERM`).toBeGreaterThan(0);
    }
    for (const f of fate) {
      expect(f.finishedThere + f.handedBack, `jobs of ${f.pid} neither finished there nor completed elsewhere`).toBe(f.active);
    }
    // Some stopped worker held a 5 s job past its grace period, cancelled it, and another worker ran it.
    expect(fate.reduce((n, f) => n + f.handedBack, 0)).toBeGreaterThan(0);
    expect(rest.some((s) => s.output.includes('jobs still running after the grace period: cancelling them'))).toBe(true);
    // Nothing was left running with every worker gone, nothing was lost.
    expect(between.active).toBe(0);
    expect(between.failed).toBe(0);
    expect((between.completed ?? 0) + (between.waiting ?? 0) + (between.prioritized ?? 0)).toBe(total);

    expect(failures).toEqual([]);
    expect(finished.failed).toBe(0);
    expect(missing).toEqual([]);
    expect(repeated).toEqual([]);
    expect(completed).toHaveLength(total);
    // A cancelled job went back to waiting without spending an attempt, and none waited for the stalled check.
    expect(completed.filter((j) => j.attemptsMade !== 1).map((j) => `${j.id}: ${j.attemptsMade}`)).toEqual([]);
    expect(completed.filter((j) => (j.stalledCounter ?? 0) > 0).map((j) => j.id)).toEqual([]);
    // Started twice: cancelled on a stopped worker and run again elsewhere (each job seen handed back is among them).
    expect(startedTwice.length).toBeGreaterThanOrEqual(fate.reduce((n, f) => n + f.handedBack, 0));
    expect(await queue.getJobCounts('active', 'waiting', 'prioritized', 'delayed')).toEqual({ active: 0, waiting: 0, prioritized: 0, delayed: 0 });
  });
});
