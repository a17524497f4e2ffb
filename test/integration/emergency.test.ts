import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queueNames, type QueueName } from '../../src/domain/queue-names.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { eventually, spawnBsm, waitForExit } from '../helpers/fleet.js';

const components: QueueName[] = ['infrastructure-auditor', 'meta-monitor', 'implementation-support'];

describe('emergency shutdown under load, across worker processes', () => {
  let t: TestApp;
  const workers: ReturnType<typeof spawnBsm>[] = [];
  const jobs: Job[] = [];

  beforeAll(async () => {
    t = await makeTestApp('emergency');
    const env = {
      BSM_PREFIX: t.bsmPrefix,
      BSM_INFRASTRUCTURE_AUDITOR_CONCURRENCY: '3',
      BSM_META_MONITOR_CONCURRENCY: '3',
      BSM_IMPLEMENTATION_SUPPORT_CONCURRENCY: '3',
      BSM_SHUTDOWN_GRACE_MS: '500',
    };
    workers.push(spawnBsm(['worker'], env), spawnBsm(['worker'], env));
    await eventually(async () => (await t.queueState('meta-monitor')).workers.count === 2, 20_000);
  });

  afterAll(async () => {
    for (const w of workers) {
      w.kill('SIGKILL');
    }
    await t.close();
  });

  it('after the call returns no job starts anywhere; running jobs go back to waiting; recovery completes them all', async () => {
    expect((await t.call('POST', '/admin/bedrock-support/enable', { body: { active: true, reason: 'load test' } })).status).toBe(200);
    // The first 18 jobs fill every slot (3 queues x 2 processes x 3) and would run for 30 s:
    // far longer than the shutdown waits, so only cancelling them lets the call return quickly.
    for (let i = 0; i < 60; i++) {
      jobs.push(await t.fleet.add(components[i % 3] as 'meta-monitor', 'canary', { holdMs: i < 18 ? 30_000 : 400 + (i % 5) * 100 }));
    }
    const long = new Set(jobs.slice(0, 18).map((j) => `${j.queueName}:${j.id}`));
    // Wait until both processes are busy with the long jobs.
    await eventually(async () => {
      const active = await Promise.all(components.map((q) => t.fleet.queue(q).getActive()));
      const pids = new Set(active.flat().map((j) => j.processedBy));
      return active.flat().length === 18 && pids.size === 2;
    });

    const calledAt = Date.now();
    const r = await t.call('POST', '/admin/bedrock-support/emergency/shutdown', {
      role: 'operator',
      body: { reason: 'Emergency shutdown - load test', initiated_by: 'ops-engineer', immediate: true },
    });
    const returnedAt = Date.now();
    expect(r.status).toBe(200);
    expect(returnedAt - calledAt).toBeLessThan(4_000);
    const body = (await r.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ to: 'emergency', processesNotified: 2, activeJobsAfter: 0 });
    expect(body.activeJobsBefore).toBe(18);
    expect(body.emergency).toMatchObject({ reason: 'Emergency shutdown - load test', initiatedBy: 'ops-engineer', requestedBy: 'operator-key', immediate: true });

    const readJobs = () => Promise.all(jobs.map((j) => t.fleet.queue(j.queueName as QueueName).getJob(j.id as string)));
    const snapshot = await readJobs();
    const states = await Promise.all(snapshot.map((j) => (j ? j.getState() : Promise.resolve('missing'))));
    // Every job waits, in priority order (BullMQ calls a waiting job with a priority `prioritized`):
    // the 18 that were running were cancelled back to waiting, not left to finish, and the 42 behind
    // them never got a slot. None completed, none failed.
    expect(states).toEqual(Array.from({ length: 60 }, () => 'prioritized'));
    expect(snapshot.filter((j) => j !== undefined && j.processedOn !== undefined).map((j) => `${j?.queueName}:${j?.id}`).sort()).toEqual([...long].sort());
    // Recovery should not wait 30 s per job: shorten the holds of the cancelled jobs.
    const cancelled = snapshot.filter((j): j is Job => j !== undefined && long.has(`${j.queueName}:${j.id}`));
    await Promise.all(cancelled.map((j) => j.updateData({ holdMs: 100 })));
    for (const q of ['bedrock-support', 'compliance', ...components] as QueueName[]) {
      expect(await t.fleet.queue(q).isPaused()).toBe(true);
    }
    const status = (await (await t.call('GET', '/admin/bedrock-support/status')).json()) as { status: string; featureFlag: { enabled: boolean } };
    expect(status).toMatchObject({ status: 'emergency', featureFlag: { enabled: false } });
    // Health says so: every queue is stopped by the shutdown, with who and why.
    const health = (await (await t.call('GET', '/health/bedrock-support', { role: null })).json()) as { status: string; components: Record<string, { status: string; reasons: string[] }> };
    expect(health.status).toBe('unhealthy');
    for (const q of queueNames) {
      expect(health.components[q]?.status, q).toBe('unhealthy');
      expect(health.components[q]?.reasons.join(' '), q).toContain('stopped by the emergency shutdown');
    }
    // A component test says the emergency is why, and how to recover (compliance is no component to activate).
    const canary = await t.call('POST', '/test/bedrock-support/compliance');
    expect(canary.status).toBe(409);
    expect(((await canary.json()) as { error: { message: string } }).error.message).toMatch(
      /^cannot test compliance: stopped by the emergency shutdown at .* recover with POST \/admin\/feature-flags\/bedrock-support\/enable/,
    );
    // A component cannot be activated while the flag is off.
    const refused = await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component: 'meta-monitor' } });
    expect(refused.status).toBe(409);
    // Nor all of them at once through enable: recovery goes one component at a time, and nothing moves.
    const version = ((await (await t.call('GET', '/admin/bedrock-support/status')).json()) as { version: number }).version;
    const allAtOnce = await t.call('POST', '/admin/bedrock-support/enable', { body: { active: true, reason: 'skip the gradual step' } });
    expect(allAtOnce.status).toBe(409);
    expect(((await allAtOnce.json()) as { error: { message: string } }).error.message).toContain('one at a time');
    // The runbook's follow-up flag disable finds it off already: the emergency's reason is kept.
    expect((await t.call('POST', '/admin/feature-flags/bedrock-support/disable')).status).toBe(200);
    const unchanged = (await (await t.call('GET', '/admin/bedrock-support/status')).json()) as { status: string; version: number; featureFlag: { reason: string | null } };
    expect(unchanged).toMatchObject({ status: 'emergency', version });
    expect(unchanged.featureFlag.reason).toBe('Emergency shutdown - load test');
    for (const q of ['bedrock-support', 'compliance', ...components] as QueueName[]) {
      expect(await t.fleet.queue(q).isPaused()).toBe(true);
    }
    // Through everything above, the whole time the fleet was in the emergency, no job started anywhere.
    const startedAfter = (await readJobs()).filter((j) => (j?.processedOn ?? 0) > returnedAt);
    expect(startedAfter.map((j) => j?.id)).toEqual([]);

    // Recovery: enable the flag, reactivate components one at a time.
    expect((await t.call('POST', '/admin/feature-flags/bedrock-support/enable')).status).toBe(200);
    // With the flag back, "all" at once is still refused until every component has been reactivated.
    const allAgain = await t.call('POST', '/admin/bedrock-support/activate', { body: { components: ['all'] } });
    expect(allAgain.status).toBe(409);
    expect(((await allAgain.json()) as { error: { message: string } }).error.message).toContain('activate one component at a time');
    for (const component of components) {
      const res = await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component } });
      expect(res.status).toBe(200);
    }
    const finished = await eventually(
      async () => {
        const all = await Promise.all(jobs.map((j) => t.fleet.queue(j.queueName as QueueName).getJob(j.id as string)));
        return all.every((j) => j?.finishedOn !== undefined) ? all : null;
      },
      30_000,
      200,
    );
    expect(finished.filter((j) => j?.failedReason)).toEqual([]);
    // Cancelled jobs did not spend an attempt.
    expect(finished.every((j) => j?.attemptsMade === 1 || j?.attemptsMade === 0)).toBe(true);

    for (const w of workers) {
      w.kill('SIGTERM');
      expect(await waitForExit(w)).toBe(0);
    }
  });
});
