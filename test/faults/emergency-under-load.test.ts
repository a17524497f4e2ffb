import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis-server.js';
import { eventually, makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { canaries, faultRun, processes, report } from './processes.js';

const token = 'fault-emergency-admin-token-01234';
const total = 500;

/** An emergency shutdown through an api process while 500 jobs flow through three worker processes. */
describe.runIf(faultRun)('emergency shutdown under load', () => {
  let t: TestFleet;
  const fleet = processes();

  beforeAll(async () => {
    t = await makeTestFleet('fault-emergency');
  });

  afterAll(async () => {
    fleet.killAll();
    await t.cleanup();
  });

  it('no job starts anywhere after the call returns; none fails; the rest waits', async () => {
    const apiPort = await freePort();
    const env = {
      BSM_PREFIX: t.bsmPrefix,
      LOG_LEVEL: 'warn',
      BSM_SHUTDOWN_GRACE_MS: '500',
      BSM_META_MONITOR_CONCURRENCY: '4',
      BSM_META_MONITOR_RATE_MAX: '100000',
      BSM_META_MONITOR_RATE_DURATION_MS: '1000',
    };
    const apiProcess = fleet.start(['api'], { ...env, LOG_LEVEL: 'info', PORT: String(apiPort), BSM_API_KEYS: `admin:admin:${token}` });
    const api = async (path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${apiPort}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(20_000),
      });
    // One at a time: four processes compiling through tsx at once take long on a busy machine.
    await eventually(() => Promise.resolve(apiProcess.output().includes('api listening') || apiProcess.exitCode !== null), 60_000, 100);
    expect(apiProcess.output()).toContain('api listening');
    for (let i = 0; i < 3; i++) {
      fleet.start(['worker', '--queues', 'meta-monitor'], env);
    }
    await eventually(async () => (await t.queueState('meta-monitor')).workers.count === 3, 60_000, 200);
    // meta-monitor is one of the queues support mode pauses: enable it first.
    expect((await api('/admin/bedrock-support/enable', { active: true, reason: 'fault test' })).status).toBe(200);

    const queue = t.fleet.queue('meta-monitor');
    const added: Job[] = await queue.addBulk(canaries(total, 'fault-emergency', (i) => 100 + (i % 101)));
    await eventually(async () => (await queue.getCompletedCount()) >= total / 5, 60_000, 50);

    const calledAt = Date.now();
    const r = await api('/admin/bedrock-support/emergency/shutdown', { reason: 'fault test', initiated_by: 'ci', immediate: true });
    const returnedAt = Date.now();
    expect(r.status).toBe(200);
    const body = (await r.json()) as { processesNotified: number; activeJobsBefore: number; activeJobsAfter: number };
    // Long enough for a worker that missed the shutdown to take several more jobs (each holds 100-200 ms).
    await new Promise((done) => setTimeout(done, 3_000));

    const jobs = await Promise.all(added.map((j) => queue.getJob(j.id ?? '')));
    const states = await Promise.all(jobs.map((j) => (j ? j.getState() : Promise.resolve('missing'))));
    const byState: Record<string, number> = {};
    for (const s of states) {
      byState[s] = (byState[s] ?? 0) + 1;
    }
    const startedAfter = jobs.filter((j) => (j?.processedOn ?? 0) > returnedAt).map((j) => j?.id);
    report('emergency', {
      jobs: total,
      callMs: returnedAt - calledAt,
      processesNotified: body.processesNotified,
      activeJobsBefore: body.activeJobsBefore,
      activeJobsAfter: body.activeJobsAfter,
      states: byState,
      startedAfterReturn: startedAfter.length,
    });

    // The three worker processes heard it, and had jobs running that went back to waiting.
    expect(body).toMatchObject({ processesNotified: 3, activeJobsAfter: 0 });
    expect(body.activeJobsBefore).toBeGreaterThan(0);
    expect(startedAfter).toEqual([]);
    expect(byState.failed ?? 0).toBe(0);
    expect(byState.missing ?? 0).toBe(0);
    expect(byState.active ?? 0).toBe(0);
    // The shutdown came in the middle of the work: some jobs had finished, others still wait.
    expect(byState.completed ?? 0).toBeGreaterThan(0);
    expect(byState.prioritized ?? 0).toBeGreaterThan(0);
    expect((byState.completed ?? 0) + (byState.prioritized ?? 0)).toBe(total);
    expect(await queue.isPaused()).toBe(true);
  });
});
