import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listSchedules, reconcileSchedules } from '../../src/scheduler/reconcile.js';
import { declaredSchedules } from '../../src/jobs/registry.js';
import { eventually, makeTestFleet, spawnBsm, waitForExit, type TestFleet } from '../helpers/fleet.js';

const minute = 60_000;
const day = 24 * 60 * minute;

/** The next UTC instant strictly after `now` at hh:mm, on `weekday` (0 = Sunday) if given. */
function nextAt(now: Date, hh: number, mm: number, weekday?: number): Date {
  let t = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hh, mm);
  while (t <= now.getTime() || (weekday !== undefined && new Date(t).getUTCDay() !== weekday)) {
    t += day;
  }
  return new Date(t);
}

describe('job schedulers', () => {
  let t: TestFleet;
  const children: ReturnType<typeof spawnBsm>[] = [];

  // Each test gets a fleet of its own and applies the schedulers it needs.
  beforeEach(async () => {
    t = await makeTestFleet('scheduler');
  });

  afterEach(async () => {
    await t.cleanup();
  });

  afterAll(() => {
    for (const c of children) {
      c.kill('SIGKILL');
    }
  });

  it('two scheduler processes at once create each scheduler once, with the right next runs in UTC', async () => {
    // A scheduler that is no longer declared must be removed.
    await t.fleet.queue('compliance').upsertJobScheduler('retired-job', { every: 3_600_000 }, { name: 'compliance-check', data: {} });

    const env = { BSM_PREFIX: t.bsmPrefix };
    const started = Date.now();
    const a = spawnBsm(['scheduler'], env);
    const b = spawnBsm(['scheduler'], env);
    children.push(a, b);
    await eventually(() => Promise.resolve(a.output().includes('job schedulers applied') && b.output().includes('job schedulers applied')), 20_000);
    const now = new Date();

    const schedules = await listSchedules(t.fleet);
    expect(schedules.map((s) => `${s.queue}/${s.id}`).sort()).toEqual(
      [
        'bedrock-support/alert-evaluation',
        'bedrock-support/daily-support-check',
        'bedrock-support/weekly-support-review',
        'compliance/audit-trail-archive',
        'compliance/audit-trail-checkpoint',
        'compliance/daily-compliance-check',
        'compliance/weekly-compliance-report',
        'infrastructure-auditor/infrastructure-audit',
        'meta-monitor/meta-monitor-analysis',
      ].sort(),
    );
    const byId = Object.fromEntries(schedules.map((s) => [s.id, s]));
    expect(byId['daily-support-check']?.tz).toBe('UTC');
    expect(byId['daily-support-check']?.nextRunAt).toBe(nextAt(now, 8, 15).toISOString());
    expect(byId['weekly-support-review']?.nextRunAt).toBe(nextAt(now, 10, 30, 0).toISOString());
    expect(byId['daily-compliance-check']?.nextRunAt).toBe(nextAt(now, 6, 0).toISOString());
    expect(byId['audit-trail-archive']?.nextRunAt).toBe(nextAt(now, 2, 30).toISOString());
    expect(byId['weekly-compliance-report']?.nextRunAt).toBe(nextAt(now, 7, 0, 0).toISOString());
    expect(Object.fromEntries(schedules.map((s) => [s.id, s.pattern]))).toEqual({
      'daily-support-check': '15 8 * * *',
      'weekly-support-review': '30 10 * * 0',
      'infrastructure-audit': '*/30 * * * *',
      'meta-monitor-analysis': '*/5 * * * *',
      'daily-compliance-check': '0 6 * * *',
      'weekly-compliance-report': '0 7 * * 0',
      'audit-trail-archive': '30 2 * * *',
      'audit-trail-checkpoint': '0 * * * *',
      'alert-evaluation': '* * * * *',
    });
    // Every 30, 5 and 1 minutes: the next run is on that grid, after the schedulers started, and at
    // most one period ahead.
    for (const [id, every] of [
      ['audit-trail-checkpoint', 60],
      ['infrastructure-audit', 30],
      ['meta-monitor-analysis', 5],
      ['alert-evaluation', 1],
    ] as const) {
      const next = Date.parse(byId[id]?.nextRunAt ?? '');
      expect(next % (every * minute), id).toBe(0);
      expect(next, id).toBeGreaterThan(started);
      expect(next - now.getTime(), id).toBeLessThanOrEqual(every * minute);
    }

    // One pending job per scheduler, not one per process.
    for (const queue of ['bedrock-support', 'infrastructure-auditor', 'meta-monitor', 'compliance'] as const) {
      const delayed = await t.fleet.queue(queue).getJobs(['delayed', 'waiting', 'prioritized']);
      const perScheduler = new Map<string, number>();
      for (const j of delayed) {
        const key = j.repeatJobKey ?? 'none';
        perScheduler.set(key, (perScheduler.get(key) ?? 0) + 1);
      }
      for (const count of perScheduler.values()) {
        expect(count).toBe(1);
      }
    }
    for (const c of [a, b]) {
      c.kill('SIGTERM');
      expect(await waitForExit(c)).toBe(0);
    }
  });

  it('applying the same declarations again changes nothing', async () => {
    expect((await reconcileSchedules(t.fleet, declaredSchedules(t.config))).upserted).toHaveLength(9);
    const before = await listSchedules(t.fleet);
    const result = await reconcileSchedules(t.fleet, declaredSchedules(t.config));
    expect(result).toMatchObject({ upserted: [], removed: [] });
    expect(result.unchanged).toHaveLength(9);
    expect(await listSchedules(t.fleet)).toEqual(before);
  });

  it('a run that is due but waits in a paused queue survives a restart', async () => {
    await reconcileSchedules(t.fleet, declaredSchedules(t.config));
    const queue = t.fleet.queue('meta-monitor');
    await queue.pause();
    const slot = (await listSchedules(t.fleet)).find((s) => s.id === 'meta-monitor-analysis')?.nextRunAt;
    const due = await queue.getJob(`repeat:meta-monitor-analysis:${Date.parse(slot ?? '')}`);
    expect(due?.name).toBe('analyze-executions');
    expect(await due?.getState()).toBe('delayed');
    // Its slot has come while the queue is paused: the job waits.
    await due?.promote();
    expect(await due?.getState()).toBe('prioritized');

    // What start-up does: apply the declarations again. The waiting run stays.
    const again = await reconcileSchedules(t.fleet, declaredSchedules(t.config));
    expect(again.unchanged).toContain('meta-monitor/meta-monitor-analysis');
    expect(await queue.getJobState(due?.id ?? '')).toBe('prioritized');
    // The listing says the queue holds it back.
    expect((await listSchedules(t.fleet)).find((s) => s.id === 'meta-monitor-analysis')).toMatchObject({ nextRunAt: slot, queuePaused: true });

    await queue.resume();
  });

  it('changed job settings (attempts, retention) reach the scheduled jobs', async () => {
    const changed = await makeTestFleet('scheduler-opts', { BSM_PREFIX: t.bsmPrefix, BSM_ATTEMPTS: '7', BSM_KEEP_COMPLETED_HOURS: '1' });
    try {
      const result = await reconcileSchedules(changed.fleet, declaredSchedules(changed.config));
      expect(result.unchanged).toEqual([]);
      expect(result.upserted).toHaveLength(9);
      const template = (await changed.fleet.queue('bedrock-support').getJobScheduler('daily-support-check'))?.template?.opts;
      expect(template).toMatchObject({ attempts: 7, removeOnComplete: { age: 3600 }, priority: 1 });
      // Applied once, they are current.
      expect((await reconcileSchedules(changed.fleet, declaredSchedules(changed.config))).unchanged).toHaveLength(9);
    } finally {
      await changed.fleet.close();
      changed.client.disconnect();
      changed.blocking.disconnect();
      rmSync(changed.archiveDir, { recursive: true, force: true });
    }
  });

  it('a changed pattern from configuration is applied', async () => {
    await reconcileSchedules(t.fleet, declaredSchedules(t.config));
    const config = { ...t.config, BSM_SCHEDULE_DAILY_CHECK: '45 7 * * *' };
    expect((await reconcileSchedules(t.fleet, declaredSchedules(config))).upserted).toEqual(['bedrock-support/daily-support-check']);
    const daily = (await listSchedules(t.fleet)).find((s) => s.id === 'daily-support-check');
    expect(daily?.pattern).toBe('45 7 * * *');
    expect(daily?.nextRunAt).toBe(nextAt(new Date(), 7, 45).toISOString());
  });
});
