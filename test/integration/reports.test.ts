import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runner } from '../../src/workers/runner.js';
import { queueNames } from '../../src/domain/queue-names.js';
import type { DailyReport, WeeklyReport } from '../../src/domain/support-mode/review-view.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { plantedOperations, plantedRecords } from '../helpers/executions.js';
import { eventually, startTestRunner } from '../helpers/fleet.js';

const admin = '/admin/bedrock-support';
const minute = 60_000;
const hour = 60 * minute;
const day = 24 * hour;

let t: TestApp;
let runner: Runner;
const t0 = Date.now();

const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

async function ingest(records: unknown[]): Promise<void> {
  for (let i = 0; i < records.length; i += 1_000) {
    const res = await t.call('POST', `${admin}/meta-monitor/executions`, { role: 'ingest', body: records.slice(i, i + 1_000) });
    expect(res.status).toBe(200);
  }
}

async function analyse(body: unknown): Promise<{ analysisId: string; window: { from: string; to: string } }> {
  const res = await t.call('POST', `${admin}/meta-monitor/analyze`, { role: 'operator', body });
  expect(res.status).toBe(202);
  const { resultUrl } = await json<{ resultUrl: string }>(res);
  return eventually(async () => {
    const r = await t.call('GET', resultUrl, { role: 'viewer' });
    return r.status === 200 ? json<{ analysisId: string; window: { from: string; to: string } }>(r) : null;
  }, 30_000);
}

/** Runs a report through the API (a bare POST) and waits for it. */
async function runReport<T>(kind: 'daily' | 'weekly'): Promise<T & { reportId: string }> {
  const res = await t.call('POST', `${admin}/reports/${kind}`, { role: 'operator' });
  expect(res.status).toBe(202);
  const accepted = await json<{ reportId: string; statusUrl: string; state: string }>(res);
  expect(accepted.reportId).toMatch(/^report-/);
  expect(accepted.state).toBe('queued');
  return eventually(async () => {
    const r = await t.call('GET', accepted.statusUrl, { role: 'viewer' });
    if (r.status === 202) {
      return null;
    }
    expect(r.status).toBe(200);
    return json<T & { reportId: string }>(r);
  }, 30_000);
}

let firstAnalysis: { analysisId: string; window: { from: string; to: string } };
let auditId: string;

beforeAll(async () => {
  t = await makeTestApp('reports');
  runner = startTestRunner(t, queueNames);
  expect((await t.call('POST', `${admin}/enable`)).status).toBe(200);
  expect((await t.call('POST', `${admin}/activate`, { body: { components: ['all'] } })).status).toBe(200);
  // The agent's executions: an hour before, then 40 minutes in which one operation got twice as slow.
  await ingest([
    ...plantedRecords({ seed: 21, count: 1_200, from: t0 - 2 * hour, to: t0 - hour, degradedMs: 200, idPrefix: 'p' }),
    ...plantedRecords({ seed: 22, count: 1_200, from: t0 - hour, to: t0 - 20 * minute, degradedMs: 400, idPrefix: 'c' }),
  ]);
  firstAnalysis = await analyse({ from: new Date(t0 - hour).toISOString(), to: new Date(t0 - 20 * minute).toISOString() });
  const trigger = await t.call('POST', `${admin}/audit/trigger`, { role: 'operator' });
  expect(trigger.status).toBe(202);
  auditId = (await json<{ auditId: string }>(trigger)).auditId;
  await eventually(async () => (await t.call('GET', `${admin}/audit/${auditId}/details`, { role: 'viewer' })).status === 200, 30_000);
}, 60_000);

afterAll(async () => {
  await runner.close();
  await t.close();
});

describe('the daily check', () => {
  let report: DailyReport & { reportId: string; kind: string };

  beforeAll(async () => {
    // The workers' operation samples reach Redis within a second of the run (the recorder buffers them).
    await eventually(async () => {
      const perf = await json<{ operations: { audit: { count: number } } }>(await t.call('GET', `${admin}/metrics/performance?window=24h`, { role: 'viewer' }));
      return perf.operations.audit.count >= 1;
    });
    report = await runReport<DailyReport & { kind: string }>('daily');
  }, 40_000);

  it('carries the overnight audits, the insights and the activities as the API shows them', async () => {
    expect(report.kind).toBe('daily');
    const audits = await json<{ audits: { auditId: string }[]; totals: { gaps: number } }>(await t.call('GET', `${admin}/audits/last-24h`, { role: 'viewer' }));
    expect(report.audits.items.map((a) => a.auditId)).toEqual(audits.audits.map((a) => a.auditId));
    expect(report.audits.items.map((a) => a.auditId)).toContain(auditId);
    expect(report.audits.totals.gaps).toBe(audits.totals.gaps);
    expect(report.audits.noData).toBeNull();

    const insights = await json<{ analysisId: string; healthScore: number | null; insights: { type: string }[] }>(await t.call('GET', `${admin}/meta-monitor/insights`, { role: 'viewer' }));
    expect(report.insights.analysisId).toBe(firstAnalysis.analysisId);
    expect(report.insights.analysisId).toBe(insights.analysisId);
    expect(report.insights.healthScore).toBe(insights.healthScore);
    expect(report.insights.clusters).toHaveLength(insights.insights.filter((i) => i.type === 'failure_cluster').length);
    expect(report.insights.degradations.map((d) => d.scope)).toContain(plantedOperations.degraded);

    const activities = await json<{ counts: Record<string, number>; awaitingApproval: number }>(await t.call('GET', `${admin}/implementation/activities`, { role: 'viewer' }));
    expect(report.implementation.counts).toEqual(activities.counts);
    expect(report.implementation.awaitingApproval).toBe(activities.awaitingApproval);
  });

  it('measures the support operations and the routing as the metrics routes do', async () => {
    const perf = await json<{ operations: Record<string, { count: number; p95Ms: number | null }> }>(await t.call('GET', `${admin}/metrics/performance?window=24h`, { role: 'viewer' }));
    for (const op of ['audit', 'analysis'] as const) {
      const row = report.performance.operations.find((o) => o.operation === op);
      expect(row?.count).toBe(perf.operations[op]?.count);
      expect(row?.p95Ms).toBe(perf.operations[op]?.p95Ms);
    }
    expect(report.performance.operations.find((o) => o.operation === 'audit')?.count).toBeGreaterThanOrEqual(1);
    const routing = await json<{ decisions: number }>(await t.call('GET', `${admin}/routing/efficiency?window=24h`, { role: 'viewer' }));
    expect(report.routing.decisions).toBe(routing.decisions);
    // No remote model is configured: no decision to judge, said as such.
    expect(report.routing.noData).toBe('no LLM routing decision in the last 24 h');
    expect(report.routing.efficiencyPct).toBeNull();
  });

  it('fails with the reasons it found: the P1 degradation the analysis measured', () => {
    expect(report.verdict.result).toBe('fail');
    const reason = report.verdict.reasons.find((r) => r.includes(plantedOperations.degraded));
    expect(reason).toMatch(new RegExp(`^meta-monitor ${firstAnalysis.analysisId}: ${plantedOperations.degraded} latency_p95 .*, P1$`));
    for (const [name, c] of Object.entries(report.components)) {
      expect(report.verdict.reasons.some((r) => r.startsWith(`component ${name} `))).toBe(c.status !== 'healthy');
    }
  });

  it('is the latest, and reads in Markdown and HTML', async () => {
    const latest = await json<{ reportId: string }>(await t.call('GET', `${admin}/reports/daily/latest`, { role: 'viewer' }));
    expect(latest.reportId).toBe(report.reportId);
    const md = await t.call('GET', `${admin}/reports/daily/latest?format=markdown`, { role: 'viewer' });
    expect(md.headers.get('content-type')).toContain('text/markdown');
    const text = await md.text();
    expect(text).toMatch(/^# Morning Support Mode Check .*: FAIL\n/);
    expect(text).toContain(`| ${auditId} |`);
    const html = await t.call('GET', `${admin}/reports/daily/${report.reportId}?format=html`, { role: 'viewer' });
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(html.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await html.text();
    expect(page).toContain('<h2>Step 3: performance validation</h2>');
    expect(page).toContain('class="tone-bad">FAIL</dd>');
  });

  it('refuses what it cannot answer, naming it', async () => {
    expect((await t.call('GET', `${admin}/reports/daily/report-nope`, { role: 'viewer' })).status).toBe(404);
    expect((await t.call('GET', `${admin}/reports/daily/audit-1`, { role: 'viewer' })).status).toBe(404);
    expect((await t.call('GET', `${admin}/reports/monthly/latest`, { role: 'viewer' })).status).toBe(400);
    const bad = await t.call('GET', `${admin}/reports/daily/latest?format=pdf`, { role: 'viewer' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { details: { field: string } } }).error.details.field).toBe('format');
    expect((await t.call('POST', `${admin}/reports/daily`, { role: 'viewer' })).status).toBe(403);
    expect((await t.call('POST', `${admin}/reports/daily`, { role: 'operator', body: { reason: 'x', extra: 1 } })).status).toBe(400);
    expect((await t.call('GET', `${admin}/reports/weekly/latest`, { role: 'viewer' })).status).toBe(404);
  });

  it('records who ran it in the audit trail', async () => {
    const trail = await t.auditTrail.range();
    expect(trail.some((e) => e.event?.action === 'report.run' && e.event.actor === 'operator-key' && e.event.target === report.reportId)).toBe(true);
  });
});

describe('the weekly review', () => {
  let report: WeeklyReport & { reportId: string };
  let secondAnalysis: { analysisId: string };
  const appliedAt = new Date(t0 - 19 * minute).toISOString();

  beforeAll(async () => {
    // An optimization applied between the two analysed windows.
    await t.adapters.metaMonitor.optimizations.put({
      id: 'opt-0123456789abcdef',
      analysisId: firstAnalysis.analysisId,
      title: 'Limit the rate of implementation-support',
      actionId: 'act-0123456789abcdef',
      action: { kind: 'queue.rate-limit', queue: 'implementation-support', limit: { max: 5, durationMs: 1000 } },
      state: 'applied',
      appliedBy: 'approver-key',
      appliedAt,
      revertedBy: null,
      revertedAt: null,
    });
    await ingest(plantedRecords({ seed: 23, count: 600, from: t0 - 18 * minute, to: t0 - minute, degradedMs: 200, idPrefix: 'd' }));
    secondAnalysis = await analyse({ from: new Date(t0 - 18 * minute).toISOString(), to: new Date(t0).toISOString() });
    // Gaps with a history: one first seen ten days ago and seen again yesterday, one resolved two days ago.
    const gap = (subject: string) => ({
      source: 'manual' as const,
      subject,
      check: 'planted',
      type: 'incomplete_feature' as const,
      severity: 'medium' as const,
      title: `planted ${subject}`,
      components: ['implementation-support'],
      evidence: { expected: 'done', observed: 'not done' },
    });
    await t.adapters.gaps.observe({ source: 'manual', runId: 'run-a', at: new Date(t0 - 10 * day), scope: ['old-open', 'old-fixed'] }, [gap('old-open'), gap('old-fixed')]);
    await t.adapters.gaps.observe({ source: 'manual', runId: 'run-b', at: new Date(t0 - 2 * day), scope: ['old-fixed'] }, []);
    await t.adapters.gaps.observe({ source: 'manual', runId: 'run-c', at: new Date(t0 - day), scope: ['old-open'] }, [gap('old-open')]);
    report = await runReport<WeeklyReport>('weekly');
  }, 60_000);

  it('counts the gap trend and the backlog movement from the gap store', async () => {
    const all = await t.adapters.gaps.list({ limit: 1_000 });
    const since = new Date(t0 - 7 * day).toISOString();
    const openedThisWeek = all.filter((g) => g.firstSeenAt >= since).length;
    expect(report.gaps.opened).toBe(openedThisWeek);
    expect(report.gaps.resolved).toBe(all.filter((g) => g.status === 'resolved' && (g.resolvedAt ?? '') >= since).length);
    expect(report.gaps.resolved).toBeGreaterThanOrEqual(1);
    expect(report.gaps.recurring).toBe(1);
    expect(report.gaps.topRecurring.map((g) => g.title)).toEqual(['planted old-open']);
    // Ten days ago both planted gaps were open; now old-open and every gap of this week's audit are.
    expect(report.backlog.openAtStart).toBe(2);
    expect(report.backlog.openNow).toBe(all.filter((g) => !['resolved', 'dismissed'].includes(g.status)).length);
    expect(report.backlog.net).toBe(report.backlog.openNow - 2);
  });

  it('compares the applied optimization before and after, and finds the recurring failure clusters', () => {
    expect(report.executions.analyses).toBe(2);
    expect(report.executions.last?.analysisId).toBe(secondAnalysis.analysisId);
    expect(report.executions.first?.analysisId).toBe(firstAnalysis.analysisId);
    expect(report.executions.recurringClusters).toHaveLength(3);
    const opt = report.optimizations.find((o) => o.id === 'opt-0123456789abcdef');
    expect(opt?.before?.analysisId).toBe(firstAnalysis.analysisId);
    expect(opt?.after?.analysisId).toBe(secondAnalysis.analysisId);
    expect(opt?.noData).toBeNull();
  });

  it('carries remediation, cost and verdict figures as the API reports them', async () => {
    const activities = await json<{ counts: Record<string, number> }>(await t.call('GET', `${admin}/implementation/activities?since=7d`, { role: 'viewer' }));
    expect(report.remediation.verified).toBe(activities.counts.verified);
    expect(report.remediation.failed).toBe(activities.counts.failed);
    const costs = await json<{ month: { costUsd: number } }>(await t.call('GET', `${admin}/costs?days=8`, { role: 'viewer' }));
    expect(report.llmCost.monthUsd).toBe(costs.month.costUsd);
    expect(report.verdicts).toMatchObject({ passed: 0, failed: 1 });
  });

  it('suggests threshold changes, each with the measured evidence', () => {
    // plan-task has no latency budget and enough executions: a budget from its measured p95.
    const budget = report.suggestions.find((s) => s.target === `meta-monitor latencyBudgetsMs["${plantedOperations.fast}"]`);
    expect(budget?.kind).toBe('threshold');
    expect(budget?.evidence[0]).toMatch(new RegExp(`^${plantedOperations.fast}: p95 [0-9.]+ ms over [0-9]+ executions in analysis ${secondAnalysis.analysisId}`));
    expect(report.suggestions.filter((s) => s.kind === 'investigation' && s.target.startsWith('failure cluster '))).toHaveLength(3);
    for (const s of report.suggestions) {
      expect(s.evidence.length).toBeGreaterThan(0);
    }
  });

  it('reads as Markdown and HTML', async () => {
    const md = await (await t.call('GET', `${admin}/reports/weekly/latest?format=markdown`, { role: 'viewer' })).text();
    expect(md).toMatch(/^# Weekly Support Mode Review /);
    expect(md).toContain('## Suggested changes');
    const html = await (await t.call('GET', `${admin}/reports/weekly/${report.reportId}?format=html`, { role: 'viewer' })).text();
    expect(html).toContain('<table id="suggestions">');
  });
});
