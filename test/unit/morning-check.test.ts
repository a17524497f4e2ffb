import { describe, expect, it } from 'vitest';
import type { AlertThresholds } from '../../src/domain/alerts/rules.js';
import type { Activities } from '../../src/domain/implementation/remediation-service.js';
import { rateOf, remediationEvents } from '../../src/domain/implementation/remediation.js';
import { supportOperations, type SupportOperation } from '../../src/domain/metrics/operations.js';
import type { OperationPerformance, PerformanceReport } from '../../src/domain/metrics/performance.js';
import type { ComponentHealth } from '../../src/domain/support-mode/health.js';
import { buildMorningCheck, type MorningCheckInputs } from '../../src/domain/support-mode/morning-check.js';
import { componentNames, initialState } from '../../src/domain/support-mode/state.js';
import { queueNames } from '../../src/domain/queue-names.js';

const at = new Date('2026-12-01T08:15:00Z');
const thresholds: AlertThresholds = {
  minSamples: 20,
  errorRatePct: 5,
  consecutiveFailures: 5,
  degradation: { p1Pct: 50, p2Pct: 20, minP95Ms: 100 },
  routing: { p1Pct: 60, p2Pct: 80 },
  llmHourlySpendUsd: null,
};

const op = (count: number, errors: number, p95Ms: number | null): OperationPerformance => ({
  count,
  success: count - errors,
  errors,
  successRate: count === 0 ? null : (count - errors) / count,
  meanMs: p95Ms,
  p50Ms: p95Ms,
  p90Ms: p95Ms,
  p95Ms,
  p99Ms: p95Ms,
});
const report = (ops: Partial<Record<SupportOperation, OperationPerformance>>): PerformanceReport => ({
  window: '24h',
  resolution: 'hour',
  from: at.toISOString(),
  to: at.toISOString(),
  computedAt: at.toISOString(),
  relativeError: 0.01,
  operations: Object.fromEntries(supportOperations.map((o) => [o, ops[o] ?? op(0, 0, null)])) as PerformanceReport['operations'],
});
const healthy = (): ComponentHealth => ({
  status: 'healthy',
  active: true,
  reasons: [],
  signals: { name: 'x', expectedRunning: true, paused: false, workers: 1, waiting: 0, active: 0, failedKept: 0, recent: { windowMinutes: 15, completed: 0, failed: 0 }, stalled: 0, lastCompletedAt: null, failedRatio: null, lastCompletedAgeSeconds: null },
});
const activities = (verified = 0, failed = 0): Activities => ({
  since: new Date(at.getTime() - 86_400_000).toISOString(),
  counts: Object.fromEntries(remediationEvents.map((e) => [e, 0])) as Activities['counts'],
  events: [],
  awaitingApproval: 0,
  autoResolution: { '24h': rateOf(verified, failed), '7d': rateOf(verified, failed), '30d': rateOf(verified, failed), target: 0.7 },
});

function inputs(over: Partial<MorningCheckInputs> = {}): MorningCheckInputs {
  const mode = initialState();
  mode.flag.enabled = true;
  for (const c of componentNames) {
    mode.components[c].active = true;
  }
  return {
    at,
    health: Object.fromEntries(queueNames.map((q) => [q, healthy()])) as MorningCheckInputs['health'],
    mode,
    audits: [],
    analysis: null,
    activities: activities(),
    performance: { day: report({ audit: op(30, 0, 200) }), week: report({ audit: op(200, 0, 190) }) },
    routing: { windowStart: at.toISOString(), windowEnd: at.toISOString(), decisions: 0, notCounted: { aborted: 0, noRemotePath: 0 }, servedByPrimaryWithinBudget: 0, efficiency: null },
    thresholds,
    ...over,
  };
}

const noAudit = 'no audit finished in the last 24 h (the schedule runs one every 30 min: is infrastructure-auditor active and its worker running?)';
const noAnalysis = 'no meta-monitor analysis stored (the schedule runs one every 5 min: is meta-monitor active?)';

describe('the morning check verdict', () => {
  it('fails when no audit and no analysis ran (the overnight work did not happen), and says what it had no data for', () => {
    const r = buildMorningCheck(inputs());
    expect(r.verdict).toEqual({ result: 'fail', reasons: [noAudit, noAnalysis], warnings: [] });
    expect(r.audits.noData).toBe('no audit finished in the last 24 h');
    expect(r.routing.noData).toBe('no LLM routing decision in the last 24 h');
    expect(r.performance.operations.find((o) => o.operation === 'audit')).toMatchObject({ count: 30, errorRatePct: 0, p95Ms: 200, baselineP95Ms: 190, p95ChangePct: 5.3 });
  });

  it('fails on an error rate, a p95 degradation and a routing efficiency past their thresholds, naming each figure', () => {
    const r = buildMorningCheck(
      inputs({
        performance: { day: report({ audit: op(40, 4, 400), analysis: op(10, 5, 900) }), week: report({ audit: op(300, 4, 200), analysis: op(50, 5, 100) }) },
        routing: { windowStart: '', windowEnd: '', decisions: 40, notCounted: { aborted: 0, noRemotePath: 0 }, servedByPrimaryWithinBudget: 20, efficiency: 0.5 },
      }),
    );
    expect(r.verdict.result).toBe('fail');
    expect(r.verdict.reasons).toEqual([
      noAudit,
      noAnalysis,
      'operation audit: error rate 10 % (4 of 40) above the 5 % threshold',
      "operation audit: p95 400 ms over 24 h, 100 % above the week's 200 ms (P1 above 50 %)",
      'routing efficiency 50 % over 24 h (20 of 40) below the 60 % threshold (P1)',
    ]);
    // analysis had too few samples to judge.
    expect(r.verdict.reasons.join(' ')).not.toContain('operation analysis');
  });

  it('fails on an unhealthy component and support mode not active; warns on a P2 figure and a low auto-resolution rate', () => {
    const health = inputs().health;
    health['meta-monitor'] = { ...healthy(), status: 'unhealthy', reasons: ['no live worker'] };
    const mode = initialState();
    mode.flag.enabled = true;
    const r = buildMorningCheck(
      inputs({
        health,
        mode,
        routing: { windowStart: '', windowEnd: '', decisions: 40, notCounted: { aborted: 0, noRemotePath: 0 }, servedByPrimaryWithinBudget: 28, efficiency: 0.7 },
        activities: activities(1, 3),
      }),
    );
    expect(r.verdict.reasons).toEqual([
      'support mode is inactive, not active',
      'component meta-monitor is unhealthy: no live worker',
      noAudit,
      noAnalysis,
    ]);
    expect(r.verdict.warnings).toContain('routing efficiency 70 % over 24 h (28 of 40) below the 80 % threshold (P2)');
    expect(r.verdict.warnings).toContain('auto-resolution success 25 % over 24 h (1 of 4) is not above the 70 % target');
  });
});
