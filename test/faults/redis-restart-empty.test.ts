import type { Job } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { queueNames } from '../../src/domain/queue-names.js';
import { freePort, startRedisServer, type OwnRedis } from '../../src/redis-server.js';
import { listSchedules } from '../../src/scheduler/reconcile.js';
import { eventually, makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { apiOf, type BsmProcess, canaries, faultRun, missingOrRepeated, processes, quickComplianceWorkers, report, untilFinished } from './processes.js';

const token = 'fault-empty-admin-token-0123456789a';
const before = 300;
const after = 100;
const reapplied = 'reconnected to redis: support-mode queue states and job schedulers re-applied';

/** The queues support mode pauses while it is disabled, its initial state (as test/integration/redis-lost.test.ts reads them). */
const pausedWhileDisabled = { 'bedrock-support': true, 'infrastructure-auditor': true, 'meta-monitor': true, 'implementation-support': true, compliance: false };

/** A process's ERROR lines, counted by their error with job ids left out. */
function errorsOf(p: BsmProcess): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of p.output().split('\n').filter((l) => l.includes('"level":"ERROR"'))) {
    const err = (/"err":"([^"]*)"/.exec(line)?.[1] ?? line).replace(/job \d+/g, 'job N');
    counts[err] = (counts[err] ?? 0) + 1;
  }
  return counts;
}

/**
 * A Redis without persistence killed (SIGKILL) under load and started again, empty, on the same
 * port, under an api, a scheduler and two worker processes. What lived only in Redis is gone: the
 * jobs accepted before the loss (waiting, running or done), the support-mode state and the paused
 * flags, the job schedulers. The jobs cannot come back, and this test checks that they are indeed
 * gone rather than pretending otherwise. What the processes declare comes back by itself
 * (src/runtime/reconnect.ts): the schedulers, and the queue states of the support-mode state Redis
 * now holds, the initial one (disabled), since the `active` state set before the loss was lost with
 * it. The API answers 503 at once while Redis is away, and new jobs run once it is back.
 */
describe.runIf(faultRun)('Redis restarted empty under load', () => {
  let redis: OwnRedis | undefined;
  let t: TestFleet | undefined;
  const fleet = processes();

  afterAll(async () => {
    fleet.killAll();
    await t?.cleanup();
    await redis?.stop();
  });

  it('the API answers 503 within a second during the outage; afterwards the processes reconnect, schedulers and queue states are re-applied, new jobs complete', async () => {
    const redisPort = await freePort();
    const apiPort = await freePort();
    redis = await startRedisServer({ port: redisPort });
    const tf = await makeTestFleet('fault-empty', {}, redis.url);
    t = tf;
    // This test kills the server under these connections on purpose.
    for (const c of [tf.client, tf.blocking]) {
      c.on('error', () => undefined);
    }
    const env = {
      REDIS_URL: redis.url,
      BSM_PREFIX: tf.bsmPrefix,
      LOG_LEVEL: 'info',
      ...quickComplianceWorkers,
    };
    const api = apiOf(apiPort, token);
    // One at a time: processes compiling through tsx at once take long on a busy machine.
    const apiProcess = fleet.start(['api'], { ...env, PORT: String(apiPort), BSM_API_KEYS: `admin:admin:${token}` });
    await eventually(() => Promise.resolve(apiProcess.output().includes('api listening') || apiProcess.exitCode !== null), 60_000, 100);
    const scheduler = fleet.start(['scheduler'], env);
    await eventually(() => Promise.resolve(scheduler.output().includes('job schedulers applied') || scheduler.exitCode !== null), 60_000, 100);
    const workers: BsmProcess[] = [fleet.start(['worker', '--queues', 'compliance'], env), fleet.start(['worker', '--queues', 'compliance'], env)];
    await eventually(async () => (await tf.queueState('compliance')).workers.count === 2, 60_000, 200);
    const all = [apiProcess, scheduler, ...workers];

    expect((await api('/admin/bedrock-support/enable', 'POST', { active: true, reason: 'fault test' })).status).toBe(200);
    const schedule = (s: { queue: string; id: string; pattern: string | null }) => `${s.queue}/${s.id} ${s.pattern ?? ''}`;
    const schedulesBefore = (await listSchedules(tf.fleet)).map(schedule).sort();
    expect(schedulesBefore).toHaveLength(9); // a default install's schedules, the audit-trail checkpoint among them
    const pausedOf = async () => Object.fromEntries(await Promise.all(queueNames.map(async (q) => [q, await tf.fleet.queue(q).isPaused()] as const)));
    // Active: every queue runs, so the flags the re-apply must set after the loss are not there before it.
    expect(Object.values(await pausedOf())).toEqual(queueNames.map(() => false));

    const queue = tf.fleet.queue('compliance');
    // Accepted before the loss, and lost with it: nothing but Redis held them, so nothing can bring them back.
    const lost: Job[] = await queue.addBulk(canaries(before, 'fault-empty-before', (i) => 40 + (i % 21)));
    await eventually(async () => (await queue.getCompletedCount()) >= before / 5, 60_000, 50);
    const completedAtLoss = await queue.getCompletedCount();

    const ownRedis = redis;
    const killed = new Promise((done) => ownRedis.process.once('exit', done));
    ownRedis.process.kill('SIGKILL');
    await killed;
    const killedAt = Date.now();

    // Every answer during the outage, health and an admin read, each timed.
    const probes: { path: string; atMs: number; status: number | string; ms: number }[] = [];
    const probe = async (path: string) => {
      const asked = Date.now();
      const status = await api(path).then(
        (r) => r.status,
        (err: unknown) => (err as Error).name,
      );
      probes.push({ path, atMs: asked - killedAt, status, ms: Date.now() - asked });
      return status;
    };
    await eventually(async () => (await probe('/health')) === 503 && (await probe('/admin/bedrock-support/status')) === 503, 10_000, 20);
    const firstAnswers = probes.length;
    // Every process noticed; then a few more seconds of outage, probed all along.
    await eventually(() => Promise.resolve(all.every((p) => p.output().includes('redis unreachable'))), 20_000, 100);
    const outageUntil = Date.now() + 2_000;
    while (Date.now() < outageUntil) {
      await probe('/health');
      await probe('/admin/bedrock-support/status');
      await new Promise((r) => setTimeout(r, 100));
    }
    const duringOutage = probes.slice(firstAnswers);

    redis = await startRedisServer({ port: redisPort });
    const restartedAt = Date.now();
    const healthBackMs = await eventually(async () => ((await api('/health').catch(() => null))?.status === 200 ? Date.now() - restartedAt : null), 30_000, 50);
    // Read in Redis itself: seven schedulers, each with its next run, and the queues paused as the (initial) state wants.
    let seen = '';
    const reappliedMs = await eventually(
      async () => {
        const schedules = await listSchedules(tf.fleet).catch(() => []);
        const paused = await pausedOf().catch(() => null);
        seen = `schedulers ${JSON.stringify(schedules.map(schedule).sort())}, paused ${JSON.stringify(paused)}`;
        const ok =
          JSON.stringify(schedules.map(schedule).sort()) === JSON.stringify(schedulesBefore) &&
          schedules.every((s) => s.nextRunAt !== null) &&
          JSON.stringify(paused) === JSON.stringify(pausedWhileDisabled);
        return ok ? Date.now() - restartedAt : null;
      },
      30_000,
      100,
    ).catch(() => {
      throw new Error(`schedulers and queue states not re-applied within 30 s of the restart; last seen: ${seen}`);
    });
    const workersBackMs = await eventually(async () => ((await tf.queueState('compliance').catch(() => null))?.workers.count === 2 ? Date.now() - restartedAt : null), 30_000, 100);
    // The schedulers can be visible a moment before the re-apply logs that it is done.
    await eventually(() => Promise.resolve(apiProcess.output().includes(reapplied) && scheduler.output().includes(reapplied)), 10_000, 100);

    // New work after the restart: a canary through the API, and a flow of jobs through the workers.
    const canaryThroughApi = await api('/test/bedrock-support/compliance', 'POST', {});
    const fresh: Job[] = await queue.addBulk(canaries(after, 'fault-empty-after', (i) => 40 + (i % 21)));
    const finished = await untilFinished(queue, after + 1, 60_000);
    const completed = (await queue.getJobs(['completed'], 0, -1)).filter((j) => j.name === 'canary');
    const failed = await queue.getJobs(['failed'], 0, -1);
    const { missing, repeated } = missingOrRepeated(fresh, completed);
    // Told apart by their payload, not their ids: an empty Redis numbers jobs from 1 again, so the new jobs reuse the lost ones' ids.
    const everyJob = await queue.getJobs(['completed', 'failed', 'active', 'waiting', 'prioritized', 'delayed'], 0, -1);
    const lostFound = everyJob.filter((j) => (j.data as { requestedBy?: string }).requestedBy === 'fault-empty-before').map((j) => j.id);
    const status = (await (await api('/admin/bedrock-support/status')).json()) as { status: string; queues: Record<string, { paused: boolean }> };

    report('redis-empty-restart', {
      jobsBefore: before,
      completedAtLoss,
      firstProbes: probes.slice(0, firstAnswers).map((p) => `${p.path}@${p.atMs}ms=${p.status}/${p.ms}ms`),
      outageProbes: duringOutage.length,
      outageSlowestMs: Math.max(...duringOutage.map((p) => p.ms)),
      healthBackMs,
      reappliedMs,
      workersBackMs,
      apiCanary: canaryThroughApi.status,
      jobsAfter: after,
      completed: finished.completed,
      failed: finished.failed,
      lostJobsFound: lostFound.length,
      idsReused: fresh.filter((j) => lost.some((l) => l.id === j.id)).length,
      status: status.status,
      errors: all.map((p) => errorsOf(p)),
    });

    // Redis went away in the middle of the work.
    expect(completedAtLoss).toBeLessThan(before);
    // 503 within a second of the loss, and every answer during the outage a 503 within a second.
    const firstHealth = probes.find((p) => p.path === '/health' && p.status === 503);
    expect(firstHealth?.atMs).toBeLessThan(1_000);
    expect(probes.slice(0, firstAnswers).every((p) => p.ms < 1_000)).toBe(true);
    expect(duringOutage.length).toBeGreaterThan(5);
    expect(duringOutage.filter((p) => p.status !== 503 || p.ms >= 1_000)).toEqual([]);
    // Back and re-applied within bounds.
    expect(healthBackMs).toBeLessThan(15_000);
    expect(reappliedMs).toBeLessThan(15_000);
    expect(workersBackMs).toBeLessThan(15_000);
    // Support mode's own state was in Redis: it reads as the initial one, and the queues follow it.
    expect(status.status).toBe('disabled');
    expect(Object.fromEntries(Object.entries(status.queues).map(([q, s]) => [q, s.paused]))).toEqual(pausedWhileDisabled);
    // New jobs run: none failed, each completed once.
    expect(canaryThroughApi.status).toBe(200);
    expect(failed.map((j) => `${j.id}: ${j.failedReason}`)).toEqual([]);
    expect(missing).toEqual([]);
    expect(repeated).toEqual([]);
    expect(completed).toHaveLength(after + 1);
    // The jobs accepted before the loss went with the data: none of them is anywhere.
    expect(lostFound).toEqual([]);
    // The only errors: a worker's running jobs, gone with the data, could not be finished ("Missing key for job 69. moveToFinished").
    for (const p of [apiProcess, scheduler]) {
      expect(errorsOf(p)).toEqual({});
    }
    for (const p of workers) {
      expect(Object.keys(errorsOf(p)).filter((e) => !/^Missing (key|lock) for job N\./.test(e))).toEqual([]);
    }
    // No process died; each logged the outage once and its end.
    for (const p of all) {
      expect(p.exitCode).toBeNull();
      const lines = p.output().split('\n');
      expect(lines.filter((l) => l.includes('redis unreachable'))).toHaveLength(1);
      expect(lines.some((l) => l.includes('redis reachable again'))).toBe(true);
    }
  });
});
