import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import { createLogger } from '../../src/observability/logger.js';
import { startWorkers, type Runner } from '../../src/workers/runner.js';
import { eventually, makeTestFleet, spawnBsm, waitForExit, type TestFleet } from '../helpers/fleet.js';
import { startTestRunner } from '../helpers/fleet.js';

describe('queues and workers', () => {
  let t: TestFleet;
  const runners: Runner[] = [];

  beforeAll(async () => {
    t = await makeTestFleet('fleet');
  });

  afterAll(async () => {
    await Promise.all(runners.map((r) => r.close()));
    await t.cleanup();
  });

  it('rejects a payload that does not match its schema, naming the field', async () => {
    await expect(t.fleet.add('implementation-support', 'canary', { holdMs: -5 })).rejects.toThrow(/^holdMs: /);
    await expect(t.fleet.add('implementation-support', 'canary', { holdMs: 'x' } as never)).rejects.toMatchObject({ field: 'holdMs' });
    expect((await t.queueState('implementation-support')).counts.waiting).toBe(0);
  });

  it('runs high priority jobs before low ones waiting in the same queue', async () => {
    const low: Job[] = [];
    for (let i = 0; i < 3; i++) {
      low.push(await t.fleet.add('implementation-support', 'canary', { requestedBy: `low-${i}`, holdMs: 20 }, { priority: 'low' }));
    }
    // A job added without a priority is `medium`: after `high`, before `low` (not ahead of all, as BullMQ's own default would be).
    const plain = await t.fleet.add('implementation-support', 'canary', { requestedBy: 'plain', holdMs: 20 });
    expect(plain.opts.priority).toBe(5);
    const high: Job[] = [];
    for (let i = 0; i < 3; i++) {
      high.push(await t.fleet.add('implementation-support', 'canary', { requestedBy: `high-${i}`, holdMs: 20 }, { priority: 'high' }));
    }
    const runner = startWorkers({
      queues: ['implementation-support'],
      deps: t.adapters.jobDeps,
      connection: t.blocking,
      fleet: t.fleet,
      prefix: t.prefix,
      settings: { ...t.config.queues, 'implementation-support': { concurrency: 1, rateLimit: { max: 1000, durationMs: 1000 } } },
      graceMs: 1000,
      logger: t.logger,
    });
    runners.push(runner);
    const queue = t.fleet.queue('implementation-support');
    const done = await eventually(async () => {
      const jobs = (await Promise.all([...low, plain, ...high].map((j) => queue.getJob(j.id as string)))) as Job[];
      return jobs.every((j) => j.finishedOn !== undefined) ? jobs : null;
    });
    const order = [...done].sort((a, b) => (a.processedOn ?? 0) - (b.processedOn ?? 0)).map((j) => (j.data as { requestedBy: string }).requestedBy);
    expect(order.slice(0, 3).sort()).toEqual(['high-0', 'high-1', 'high-2']);
    expect(order[3]).toBe('plain');
    expect(order.slice(4).sort()).toEqual(['low-0', 'low-1', 'low-2']);
    await runner.close();
  });
});

describe('a job whose data Redis lost while it ran', () => {
  let t: TestFleet;
  let runner: Runner | undefined;

  beforeAll(async () => {
    t = await makeTestFleet('fleet-lost-job');
  });

  afterAll(async () => {
    await runner?.close();
    await t.cleanup();
  });

  it("BullMQ's missing-key answer is logged as a worker error, never handed to the outage log as a connection error", async () => {
    const lines: { level: string; msg: string; err?: string }[] = [];
    const logger = createLogger('info', {}, { write: (l: string) => lines.push(JSON.parse(l) as { level: string; msg: string; err?: string }) });
    const handedOn: string[] = [];
    runner = startTestRunner(t, ['implementation-support'], {
      logger,
      onWorkerError: (_queue, err) => handedOn.push(err.message),
      // As after a Redis that came back empty: the job's own key is gone when the worker finishes it.
      handlers: { 'implementation-support': { canary: async (job) => t.client.del(`${t.prefix}:implementation-support:${job.id ?? ''}`) } },
    });
    const job = await t.fleet.add('implementation-support', 'canary', { holdMs: 0 });
    const logged = await eventually(() => Promise.resolve(lines.find((l) => l.msg === 'worker error' && l.err?.startsWith(`Missing key for job ${job.id ?? ''}.`))), 10_000);
    expect(logged.level).toBe('ERROR');
    expect(handedOn).toEqual([]);
  });
});

describe('retries and retention from configuration', () => {
  let t: TestFleet;
  let runner: Runner | undefined;

  beforeAll(async () => {
    t = await makeTestFleet('retention', { BSM_ATTEMPTS: '3', BSM_BACKOFF_MS: '200', BSM_KEEP_COMPLETED_COUNT: '2', BSM_KEEP_FAILED_COUNT: '1' });
  });

  afterAll(async () => {
    await runner?.close();
    await t.cleanup();
  });

  it('a failing job is tried BSM_ATTEMPTS times with doubling delays; only the newest jobs are kept', async () => {
    const attempts = new Map<string, number[]>();
    // The project's runner, with a canary that fails for some callers.
    runner = startTestRunner(t, ['implementation-support'], {
      handlers: {
        'implementation-support': {
          canary: (job) => {
            const key = typeof job.data.requestedBy === 'string' ? job.data.requestedBy : '';
            attempts.set(key, [...(attempts.get(key) ?? []), Date.now()]);
            if (key.startsWith('fail')) {
              throw new Error('always fails');
            }
            return Promise.resolve();
          },
        },
      },
    });
    const queue = t.fleet.queue('implementation-support');
    const ok = await Promise.all([0, 1, 2, 3, 4].map((i) => t.fleet.add('implementation-support', 'canary', { requestedBy: `ok-${i}` })));
    const failing = await Promise.all([0, 1].map((i) => t.fleet.add('implementation-support', 'canary', { requestedBy: `fail-${i}` })));
    await eventually(async () => (await queue.getFailedCount()) >= 1 && [0, 1].every((i) => attempts.get(`fail-${i}`)?.length === 3) && (await queue.getActiveCount()) === 0, 20_000);

    for (const i of [0, 1]) {
      const at = attempts.get(`fail-${i}`) ?? [];
      // Exponential backoff from 200 ms: about 200 ms before the second try, 400 ms before the third.
      expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(190);
      expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(390);
    }
    // Retention by count: 2 completed and 1 failed job are kept, the older ones removed.
    expect(await queue.getCompletedCount()).toBe(2);
    expect(await queue.getFailedCount()).toBe(1);
    const kept = await Promise.all([...ok, ...failing].map((j) => queue.getJob(j.id as string)));
    expect(kept.filter((j) => j !== undefined)).toHaveLength(3);
    expect(ok[0]?.opts.removeOnComplete).toEqual({ age: 72 * 3600, count: 2 });
  });
});

describe('a job the fleet would have refused', () => {
  let t: TestFleet;
  let runner: Runner;

  beforeAll(async () => {
    // Retries would be quick: a retried job would show all three attempts within the test.
    t = await makeTestFleet('invalid-payload', { BSM_ATTEMPTS: '3', BSM_BACKOFF_MS: '50' });
    runner = startTestRunner(t, ['implementation-support']);
  });

  afterAll(async () => {
    await runner.close();
    await t.cleanup();
  });

  it('added straight on the BullMQ queue with a payload off its schema, it fails once, without retries, naming the field', async () => {
    const job = await t.fleet.queue('implementation-support').add('canary', { holdMs: -5 });
    expect(job.opts.attempts).toBe(3);
    const done = await t.fleet.waitForFinish('implementation-support', job.id as string, 10_000);
    expect(await done?.getState()).toBe('failed');
    expect(done?.attemptsMade).toBe(1);
    expect(done?.failedReason).toBe('invalid payload: holdMs: Too small: expected number to be >=0');
  });

  it('a job name the queue does not declare fails once, without retries', async () => {
    const job = await t.fleet.queue('implementation-support').add('reticulate-splines', {});
    const done = await t.fleet.waitForFinish('implementation-support', job.id as string, 10_000);
    expect(await done?.getState()).toBe('failed');
    expect(done?.attemptsMade).toBe(1);
    expect(done?.failedReason).toBe('no job "reticulate-splines" is declared on implementation-support');
  });
});

describe('rate limit across worker processes', () => {
  let t: TestFleet;
  const children: ReturnType<typeof spawnBsm>[] = [];

  beforeAll(async () => {
    t = await makeTestFleet('ratelimit');
  });

  afterAll(async () => {
    for (const c of children) {
      c.kill('SIGKILL');
    }
    await t.cleanup();
  });

  it('starts at most `max` jobs per window although two processes work the queue', async () => {
    const env = {
      BSM_PREFIX: t.bsmPrefix,
      BSM_IMPLEMENTATION_SUPPORT_CONCURRENCY: '1',
      BSM_IMPLEMENTATION_SUPPORT_RATE_MAX: '2',
      BSM_IMPLEMENTATION_SUPPORT_RATE_DURATION_MS: '1000',
    };
    children.push(spawnBsm(['worker', '--queues', 'implementation-support'], env), spawnBsm(['worker', '--queues', 'implementation-support'], env));
    await eventually(async () => (await t.queueState('implementation-support')).workers.count === 2, 20_000);

    const jobs: Job[] = [];
    for (let i = 0; i < 8; i++) {
      jobs.push(await t.fleet.add('implementation-support', 'canary', { holdMs: 300 }));
    }
    const queue = t.fleet.queue('implementation-support');
    const finished = await eventually(async () => {
      const js = (await Promise.all(jobs.map((j) => queue.getJob(j.id as string)))) as Job[];
      return js.every((j) => j.finishedOn !== undefined) ? js : null;
    }, 20_000);

    const starts = finished.map((j) => j.processedOn ?? 0).sort((a, b) => a - b);
    // Two starts per 1 s window: 8 jobs need at least four windows.
    expect((starts.at(-1) ?? 0) - (starts[0] ?? 0)).toBeGreaterThanOrEqual(2_900);
    for (let i = 0; i + 2 < starts.length; i++) {
      expect((starts[i + 2] ?? 0) - (starts[i] ?? 0)).toBeGreaterThanOrEqual(900);
    }
    const pids = new Set(finished.map((j) => (j.returnvalue as { workerPid: number }).workerPid));
    expect(pids.size).toBe(2);
    for (const c of children) {
      c.kill('SIGTERM');
      await waitForExit(c);
    }
  });
});
