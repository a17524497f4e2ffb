import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentJobError } from '../../src/jobs/define.js';
import type { Runner } from '../../src/workers/runner.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { plantedBudgetMs, plantedOperations, plantedRecords, plantedTemplates } from '../helpers/executions.js';
import { eventually, startTestRunner } from '../helpers/fleet.js';
import { dumpKeys } from '../helpers/redis.js';

const base = '/admin/bedrock-support/meta-monitor';
const hour = 3_600_000;

interface Result {
  analysisId: string;
  executions: number;
  clusters: { id: string; template: string; count: number; errorTypes: string[] }[];
  bottlenecks: { operation: string; kind: string }[];
  degradations: { scope: string; metric: string; level: string }[];
  recommendations: { id: string; rule: string; action: Record<string, unknown> | null }[];
  healthScore: { score: number | null };
  performance: { records: number; recordsPerSecond: number | null; peakHeapBytes: number };
}

let t: TestApp;
let runner: Runner;

/** Throttled like a remote model: every third canary of implementation-support fails for good. */
let canaries = 0;
const throttlingCanary = (): Promise<unknown> => {
  canaries += 1;
  if (canaries % 3 === 0) {
    throw new PermanentJobError(`ThrottlingException: Rate exceeded for request ${canaries * 7919}`);
  }
  return Promise.resolve({ queue: 'implementation-support', waitedMs: 0, heldMs: 0, workerPid: process.pid });
};

const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

async function analysis(body: unknown): Promise<Result> {
  const res = await t.call('POST', `${base}/analyze`, { role: 'operator', body });
  expect(res.status).toBe(202);
  const { analysisId, resultUrl } = await json<{ analysisId: string; resultUrl: string }>(res);
  expect(analysisId).toMatch(/^analysis-/);
  return eventually(async () => {
    const r = await t.call('GET', resultUrl, { role: 'viewer' });
    return r.status === 200 ? json<Result>(r) : null;
  }, 30_000);
}

beforeAll(async () => {
  t = await makeTestApp('meta-monitor');
  runner = startTestRunner(t, ['meta-monitor', 'implementation-support'], {
    handlers: { 'implementation-support': { canary: throttlingCanary } },
    settings: { 'implementation-support': { concurrency: 4, rateLimit: { max: 10_000, durationMs: 1_000 } } },
  });
  expect((await t.call('POST', '/admin/bedrock-support/enable')).status).toBe(200);
  for (const component of ['meta-monitor', 'implementation-support']) {
    expect((await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component } })).status).toBe(200);
  }
});

afterAll(async () => {
  await runner.close();
  await t.close();
});

describe('the meta-monitor over the agent executions', () => {
  let result: Result;

  beforeAll(async () => {
    const to = Date.now() - 1_000;
    const previous = plantedRecords({ seed: 11, count: 3_000, from: to - 2 * hour + 5_000, to: to - hour, degradedMs: 200, idPrefix: 'prev' });
    const current = plantedRecords({ seed: 12, count: 3_000, from: to - hour + 5_000, to, degradedMs: 400, idPrefix: 'cur' });
    const all = [...previous, ...current];
    for (let i = 0; i < all.length; i += 1_000) {
      const res = await t.call('POST', `${base}/executions`, { role: 'ingest', body: all.slice(i, i + 1_000) });
      expect(res.status).toBe(200);
    }
    const put = await t.call('PUT', `${base}/config`, { role: 'admin', body: { latencyBudgetsMs: { [plantedOperations.slow]: plantedBudgetMs } } });
    expect(put.status).toBe(200);
    result = await analysis({ timeframe: 'last-1h', focus: 'all', priority: 'high' });
  });

  it('finds exactly the three planted failure clusters, the slow operation and the degradation', () => {
    expect(result.executions).toBe(3_000);
    expect(result.clusters).toHaveLength(3);
    expect(result.clusters.map((c) => c.errorTypes[0]).sort()).toEqual(plantedTemplates.map((p) => p.type).sort());
    expect(result.bottlenecks.filter((b) => b.kind === 'over_budget').map((b) => b.operation)).toEqual([plantedOperations.slow]);
    expect(result.degradations).toEqual([expect.objectContaining({ scope: plantedOperations.degraded, metric: 'latency_p95', level: 'P1' })]);
    expect(result.performance.records).toBe(6_000);
    expect(result.performance.peakHeapBytes).toBeGreaterThan(0);
  });

  it('keeps no e-mail address: cluster templates come from redacted messages', async () => {
    expect(JSON.stringify(result)).not.toContain('@example.com');
    expect(await dumpKeys(t.client, t.prefix)).not.toContain('@example.com');
  });

  it('answers the runbook reads: GET analyze, results/latest, insights, recommendations, performance, config', async () => {
    const latest = await json<Result>(await t.call('GET', `${base}/results/latest`, { role: 'viewer' }));
    expect(latest.analysisId).toBe(result.analysisId);
    expect((await json<Result>(await t.call('GET', `${base}/analyze`, { role: 'viewer' }))).analysisId).toBe(result.analysisId);
    const insights = await json<{ insights: { type: string; at: string }[] }>(await t.call('GET', `${base}/insights`, { role: 'viewer' }));
    expect(insights.insights.filter((i) => i.type === 'failure_cluster')).toHaveLength(3);
    expect(insights.insights.some((i) => i.type === 'bottleneck')).toBe(true);
    expect(insights.insights.some((i) => i.type === 'degradation')).toBe(true);
    const times = insights.insights.map((i) => i.at);
    expect(times).toEqual([...times].sort().reverse());
    const recs = await json<{ recommendations: { id: string; executable: boolean }[] }>(await t.call('GET', `${base}/recommendations`, { role: 'viewer' }));
    expect(recs.recommendations.length).toBeGreaterThan(0);
    expect(recs.recommendations.every((r) => r.id.startsWith('opt-'))).toBe(true);
    const perf = await json<{ analyses: number; recordsPerSecond: { mean: number } }>(await t.call('GET', `${base}/performance`, { role: 'viewer' }));
    expect(perf.analyses).toBeGreaterThanOrEqual(1);
    expect(perf.recordsPerSecond.mean).toBeGreaterThan(0);
    const config = await json<{ version: number; settings: { latencyBudgetsMs: Record<string, number> } }>(await t.call('GET', `${base}/config`, { role: 'viewer' }));
    expect(config.settings.latencyBudgetsMs[plantedOperations.slow]).toBe(plantedBudgetMs);
  });

  it('refuses bad input with the field named, and roles that may not', async () => {
    const bad = await t.call('POST', `${base}/analyze`, { role: 'operator', body: { timeframe: 'last-3y' } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('timeframe');
    const both = await t.call('POST', `${base}/analyze`, { role: 'operator', body: { from: new Date(Date.now() - hour).toISOString() } });
    expect(both.status).toBe(400);
    expect((await t.call('POST', `${base}/analyze`, { role: 'ingest' })).status).toBe(403);
    expect((await t.call('POST', `${base}/analyze`, { role: 'viewer' })).status).toBe(403);
    const cfg = await t.call('PUT', `${base}/config`, { role: 'admin', body: { degradation: { p1Percent: 10, p2Percent: 20 } } });
    expect(cfg.status).toBe(400);
    expect(JSON.stringify(await cfg.json())).toContain('p1Percent');
    expect((await t.call('PUT', `${base}/config`, { role: 'operator', body: {} })).status).toBe(403);
    expect((await t.call('GET', `${base}/results/analysis-nope`, { role: 'viewer' })).status).toBe(404);
    expect((await t.call('GET', `${base}/results/audit-1`, { role: 'viewer' })).status).toBe(404);
  });

  it('reads past results an earlier version stored in another shape without failing: left out of lists, a 409 by id', async () => {
    await t.adapters.reports.save('analyze-executions', 'repeat:meta-monitor-analysis:1764000000000', { window: { from: 'x', to: 'y' }, focus: 'all', executions: 3, groups: [], failures: [], slowest: [] }, new Date(Date.now() - 60_000));
    const old = await t.call('GET', `${base}/results/analysis-repeat.meta-monitor-analysis.1764000000000`, { role: 'viewer' });
    expect(old.status).toBe(409);
    expect(JSON.stringify(await old.json())).toContain('earlier version');
    expect((await t.call('GET', `${base}/performance`, { role: 'viewer' })).status).toBe(200);
    expect((await json<Result>(await t.call('GET', `${base}/results/latest`, { role: 'viewer' }))).analysisId).toBe(result.analysisId);
  });

  it('a bare POST analyze analyses the last hour with the defaults', async () => {
    const res = await t.call('POST', `${base}/analyze`, { role: 'operator' });
    expect(res.status).toBe(202);
    const body = await json<{ focus: string; source: string; window: { from: string; to: string } }>(res);
    expect(body).toMatchObject({ focus: 'all', source: 'agent' });
    expect(Date.parse(body.window.to) - Date.parse(body.window.from)).toBe(hour);
    // Finished before the next test moves the workers' clock: it sees the same gaps again.
    const done = await eventually(async () => {
      const r = await t.call('GET', (body as unknown as { resultUrl: string }).resultUrl, { role: 'viewer' });
      return r.status === 200 ? json<Result & { gaps: { recurring: string[] } | null }>(r) : null;
    }, 30_000);
    expect(done.gaps?.recurring).toHaveLength(6);
  });

  it('records its findings in the shared gap store, and resolves them once a later window no longer shows them', async () => {
    const gaps = (result as unknown as { gaps: { opened: string[]; resolved: string[] } }).gaps;
    const stored = await t.adapters.gaps.list({ source: 'meta-monitor' });
    expect(stored.map((g) => g.id).sort()).toEqual([...gaps.opened].sort());
    expect(stored.filter((g) => g.check === 'failure_cluster')).toHaveLength(3);
    expect(stored.filter((g) => g.check === 'bottleneck:over_budget').map((g) => g.subject)).toEqual([`agent:operation:${plantedOperations.slow}`]);
    expect(stored.filter((g) => g.check === 'degradation:latency_p95').map((g) => g.subject)).toEqual([`agent:operation:${plantedOperations.degraded}`]);
    // The slow operation also takes 72 % of all execution time.
    expect(stored.filter((g) => g.check === 'bottleneck:time_share').map((g) => g.subject)).toEqual([`agent:operation:${plantedOperations.slow}`]);
    expect(stored).toHaveLength(6);
    // Seen by the first analysis and again by the bare POST's: open, counted twice.
    expect(stored.map((g) => [g.status, g.count])).toEqual(stored.map(() => ['detected', 2]));

    // Three hours on, an hour of healthy, fast executions: every one of those gaps is resolved by that analysis.
    const later = Date.now() + 3 * hour;
    const healthy = Array.from({ length: 600 }, (_, i) => ({ executionId: `later-${i}`, timestamp: later - hour + 1_000 + i * 5_000, operation: [plantedOperations.fast, plantedOperations.slow, plantedOperations.degraded][i % 3], status: 'success', latencyMs: 100 + (i % 50) }));
    expect((await t.call('POST', `${base}/executions`, { role: 'ingest', body: healthy })).status).toBe(200);
    const realClock = t.adapters.jobDeps.clock;
    t.adapters.jobDeps.clock = () => new Date(later);
    try {
      const job = await t.fleet.add('meta-monitor', 'analyze-executions', { timeframe: 'last-1h' });
      const finished = await t.fleet.waitForFinish('meta-monitor', job.id as string, 30_000);
      expect(await finished?.getState(), finished?.failedReason).toBe('completed');
      const after = await t.adapters.gaps.list({ source: 'meta-monitor' });
      expect(after.map((g) => g.status)).toEqual(after.map(() => 'resolved'));
      expect(after.map((g) => g.resolvedBy)).toEqual(after.map(() => `analysis-${String(job.id).replaceAll(':', '.')}`));
    } finally {
      t.adapters.jobDeps.clock = realClock;
    }
  });
});

describe('an optimization of the fleet, applied and reverted', () => {
  let recommendation: { id: string; rule: string; action: Record<string, unknown> | null };

  beforeAll(async () => {
    for (let i = 0; i < 90; i++) {
      await t.fleet.add('implementation-support', 'canary', {});
    }
    await eventually(async () => (await t.fleet.queue('implementation-support').getJobCounts('completed', 'failed')).failed === 30 || null, 30_000);
    const result = await analysis({ source: 'fleet', timeframe: 'last-1h' });
    const found = result.recommendations.find((r) => r.rule === 'rate-limit-throttled-queue');
    expect(found).toBeDefined();
    recommendation = found as typeof recommendation;
    expect(recommendation.action).toMatchObject({ kind: 'queue.rate-limit', queue: 'implementation-support', limit: { durationMs: 60_000 } });
  });

  it('a dry run says what would change and changes nothing', async () => {
    const res = await t.call('POST', `${base}/optimize`, { role: 'viewer', body: { recommendation_id: recommendation.id } });
    expect(res.status).toBe(200);
    const body = await json<{ dryRun: boolean; plan: { changes: unknown[] } }>(res);
    expect(body.dryRun).toBe(true);
    expect(body.plan.changes.length).toBeGreaterThan(0);
    expect(await t.fleet.queue('implementation-support').getGlobalRateLimit()).toBeNull();
  });

  it('refuses an apply without the approve permission, and an approval in someone else\'s name', async () => {
    expect((await t.call('POST', `${base}/optimize`, { role: 'operator', body: { recommendation_id: recommendation.id, approved_by: 'operator-key', apply: true } })).status).toBe(403);
    const other = await t.call('POST', `${base}/optimize`, { role: 'approver', body: { recommendation_id: recommendation.id, approved_by: 'ops-engineer', apply: true } });
    expect(other.status).toBe(403);
    expect(JSON.stringify(await other.json())).toContain('approved_by');
    expect(await t.fleet.queue('implementation-support').getGlobalRateLimit()).toBeNull();
    expect((await t.call('POST', `${base}/optimize`, { role: 'approver', body: { recommendation_id: 'opt-unknown', approved_by: 'approver-key', apply: true } })).status).toBe(404);
    expect((await t.call('POST', `${base}/optimize`, { role: 'approver' })).status).toBe(400);
  });

  it('applied by its approver, it changes the queue in BullMQ; reverted, the queue is as before', async () => {
    const action = (recommendation.action as { limit: { max: number; durationMs: number } }).limit;
    const res = await t.call('POST', `${base}/optimize`, { role: 'approver', body: { recommendation_id: recommendation.id, approved_by: 'approver-key', apply: true } });
    expect(res.status).toBe(200);
    expect(await t.fleet.queue('implementation-support').getGlobalRateLimit()).toEqual({ max: action.max, duration: action.durationMs });
    const again = await t.call('POST', `${base}/optimize`, { role: 'approver', body: { recommendation_id: recommendation.id, approved_by: 'approver-key', apply: true } });
    expect(again.status).toBe(409);
    const trail = await t.auditTrail.range();
    expect(trail.some((e) => e.event?.action === 'meta-monitor.optimize' && e.event.actor === 'approver-key' && e.event.target === recommendation.id)).toBe(true);

    const revert = await t.call('POST', `${base}/optimizations/${recommendation.id}/revert`, { role: 'approver' });
    expect(revert.status).toBe(200);
    expect(await t.fleet.queue('implementation-support').getGlobalRateLimit()).toBeNull();
    expect((await t.call('POST', `${base}/optimizations/${recommendation.id}/revert`, { role: 'approver' })).status).toBe(409);
    expect((await t.call('POST', `${base}/optimizations/opt-nope/revert`, { role: 'approver' })).status).toBe(404);
    const list = await json<{ optimizations: { id: string; state: string }[] }>(await t.call('GET', `${base}/optimizations`, { role: 'viewer' }));
    expect(list.optimizations).toEqual([expect.objectContaining({ id: recommendation.id, state: 'reverted' })]);
  });
});
