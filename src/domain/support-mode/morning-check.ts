import { z } from 'zod';
import type { AlertThresholds } from '../alerts/rules.js';
import type { AuditReport } from '../audit/report.js';
import type { Activities } from '../implementation/remediation-service.js';
import type { RoutingEfficiency } from '../llm/routing-metrics.js';
import type { AnalysisBody } from '../meta-monitor/analysis.js';
import { supportOperations } from '../metrics/operations.js';
import type { PerformanceReport } from '../metrics/performance.js';
import type { QueueName } from '../queue-names.js';
import { round } from '../stats.js';
import type { ComponentHealth } from './health.js';
import { statusOf, type SupportModeState } from './state.js';

const healthStatus = z.enum(['healthy', 'degraded', 'unhealthy']);

/**
 * The runbook's whole Morning Support Mode Check: step 1 (support mode and each component's
 * health), step 2 (the last 24 h of audits, the latest meta-monitor insights, implementation
 * support's activities), step 3 (operation latencies and routing efficiency against their
 * thresholds), and a verdict. Every figure is read from a store; a section with nothing to read
 * says so (`noData`) rather than showing a zero.
 */
export const morningCheckSchema = z.object({
  /** `fail` when any reason is listed; warnings do not fail the check. */
  verdict: z.object({ result: z.enum(['pass', 'fail']), reasons: z.array(z.string()), warnings: z.array(z.string()) }),
  components: z.record(z.string(), z.object({ status: healthStatus, active: z.boolean(), reasons: z.array(z.string()) })),
  audits: z.object({
    since: z.string(),
    count: z.number(),
    totals: z.object({ gaps: z.number(), newGaps: z.number(), resolvedGaps: z.number() }),
    items: z.array(z.object({ auditId: z.string(), type: z.string(), status: healthStatus, score: z.number(), startedAt: z.string(), gaps: z.number(), newGaps: z.number(), resolvedGaps: z.number() })),
    noData: z.string().nullable(),
  }),
  insights: z.object({
    analysisId: z.string().nullable(),
    finishedAt: z.string().nullable(),
    window: z.object({ from: z.string(), to: z.string() }).nullable(),
    executions: z.number().nullable(),
    healthScore: z.number().nullable(),
    clusters: z.array(z.object({ id: z.string(), count: z.number(), share: z.number(), template: z.string() })),
    bottlenecks: z.array(z.object({ operation: z.string(), kind: z.string(), measured: z.number(), limit: z.number() })),
    degradations: z.array(z.object({ scope: z.string(), metric: z.string(), previous: z.number(), current: z.number(), changePercent: z.number().nullable(), level: z.string() })),
    noData: z.string().nullable(),
  }),
  implementation: z.object({
    since: z.string(),
    counts: z.record(z.string(), z.number()),
    awaitingApproval: z.number(),
    autoResolution24h: z.object({ attempted: z.number(), verified: z.number(), failed: z.number(), rate: z.number().nullable(), target: z.number() }),
    noData: z.string().nullable(),
  }),
  performance: z.object({
    window: z.literal('24h'),
    baseline: z.literal('7d'),
    thresholds: z.object({ errorRatePct: z.number(), degradationP1Pct: z.number(), degradationP2Pct: z.number(), minP95Ms: z.number(), minSamples: z.number() }),
    operations: z.array(
      z.object({
        operation: z.string(),
        count: z.number(),
        errors: z.number(),
        errorRatePct: z.number().nullable(),
        p50Ms: z.number().nullable(),
        p95Ms: z.number().nullable(),
        baselineP95Ms: z.number().nullable(),
        /** The 24 h p95 against the 7 d one, percent; null when either is missing. */
        p95ChangePct: z.number().nullable(),
      }),
    ),
    noData: z.string().nullable(),
  }),
  routing: z.object({
    decisions: z.number(),
    /** Percent of decisions served by their primary path, successfully, within budget; null without decisions. */
    efficiencyPct: z.number().nullable(),
    thresholds: z.object({ p1Pct: z.number(), p2Pct: z.number() }),
    noData: z.string().nullable(),
  }),
});
export type MorningCheck = z.infer<typeof morningCheckSchema>;

/** A stored analysis as the daily check reads it (the `analyze-executions` job's result). */
export type AnalysisForReview = AnalysisBody & { analysisId: string; finishedAt: string };

/** Everything the morning check judges, each read from its store or the router just before. */
export interface MorningCheckInputs {
  at: Date;
  health: Record<QueueName, ComponentHealth>;
  mode: SupportModeState;
  /** Audits finished in the last 24 h, newest first. */
  audits: AuditReport[];
  /** The latest analysis of the agent's executions, or null. */
  analysis: AnalysisForReview | null;
  /** Implementation support's activities of the last 24 h. */
  activities: Activities;
  performance: { day: PerformanceReport; week: PerformanceReport };
  routing: RoutingEfficiency;
  thresholds: AlertThresholds;
}

const dayMs = 86_400_000;
const pct = (n: number) => round(n * 100, 1);

/** The morning check's sections and verdict from what was read. */
export function buildMorningCheck(i: MorningCheckInputs): MorningCheck {
  const reasons: string[] = [];
  const warnings: string[] = [];

  // Step 1: support mode and component health.
  const status = statusOf(i.mode);
  if (status !== 'active') {
    reasons.push(`support mode is ${status}, not active`);
  }
  const components = Object.fromEntries(Object.entries(i.health).map(([name, h]) => [name, { status: h.status, active: h.active, reasons: h.reasons }]));
  for (const [name, h] of Object.entries(i.health)) {
    if (h.status !== 'healthy') {
      reasons.push(`component ${name} is ${h.status}: ${h.reasons.join('; ')}`);
    }
  }

  // Step 2: overnight activity.
  const since = new Date(i.at.getTime() - dayMs).toISOString();
  const items = i.audits.map((a) => ({
    auditId: a.auditId,
    type: a.type,
    status: a.status,
    score: a.score,
    startedAt: a.startedAt,
    gaps: a.summary.gaps,
    newGaps: a.trend.newGaps,
    resolvedGaps: a.trend.resolvedGaps,
  }));
  const sum = (f: (x: (typeof items)[number]) => number) => items.reduce((s, x) => s + f(x), 0);
  // The check asks whether the components did their work overnight; what an audit found is its gaps' business (a warning here).
  // These rules are the ones `bsm daily-check` applies (src/cli/daily-check.ts): one verdict, whichever way it is asked.
  if (items.length === 0) {
    reasons.push('no audit finished in the last 24 h (the schedule runs one every 30 min: is infrastructure-auditor active and its worker running?)');
  }
  for (const a of items.filter((x) => x.status === 'unhealthy')) {
    warnings.push(`audit ${a.auditId} found the infrastructure unhealthy (score ${a.score}, ${a.gaps} gap(s))`);
  }
  for (const a of items.filter((x) => x.status === 'degraded')) {
    warnings.push(`audit ${a.auditId} found the infrastructure degraded (score ${a.score}, ${a.gaps} gap(s))`);
  }

  const an = i.analysis;
  if (an === null) {
    reasons.push('no meta-monitor analysis stored (the schedule runs one every 5 min: is meta-monitor active?)');
  } else {
    if (i.at.getTime() - new Date(an.finishedAt).getTime() > dayMs) {
      reasons.push(`the latest meta-monitor analysis ${an.analysisId} ended at ${an.finishedAt}, more than 24 h ago`);
    }
    for (const d of an.degradations) {
      const line = `meta-monitor ${an.analysisId}: ${d.scope} ${d.metric} ${d.previous} -> ${d.current}${d.changePercent === null ? '' : ` (${d.changePercent > 0 ? '+' : ''}${d.changePercent} %)`}`;
      (d.level === 'P1' ? reasons : warnings).push(`${line}, ${d.level}`);
    }
    for (const b of an.bottlenecks) {
      warnings.push(`meta-monitor ${an.analysisId}: bottleneck ${b.operation} (${b.kind}: ${b.measured} against ${b.limit})`);
    }
  }

  const act = i.activities;
  const auto = act.autoResolution['24h'];
  if (act.counts.failed > 0) {
    warnings.push(`${act.counts.failed} remediation(s) failed in the last 24 h`);
  }
  if (auto.rate !== null && auto.meetsTarget === false) {
    warnings.push(`auto-resolution success ${pct(auto.rate)} % over 24 h (${auto.verified} of ${auto.attempted}) is not above the ${pct(act.autoResolution.target)} % target`);
  }
  if (act.awaitingApproval > 0) {
    warnings.push(`${act.awaitingApproval} remediation(s) awaiting approval`);
  }
  const eventCount = Object.values(act.counts).reduce((s, n) => s + n, 0);

  // Step 3: performance against the thresholds.
  const t = i.thresholds;
  const operations = supportOperations.map((op) => {
    const d = i.performance.day.operations[op];
    const w = i.performance.week.operations[op];
    const errorRatePct = d.count === 0 ? null : pct(d.errors / d.count);
    const p95ChangePct = d.p95Ms === null || w.p95Ms === null || w.p95Ms === 0 ? null : round(((d.p95Ms - w.p95Ms) / w.p95Ms) * 100, 1);
    return { operation: op, count: d.count, errors: d.errors, errorRatePct, p50Ms: d.p50Ms, p95Ms: d.p95Ms, baselineP95Ms: w.p95Ms, p95ChangePct };
  });
  for (const o of operations) {
    if (o.count < t.minSamples) {
      continue;
    }
    if (o.errorRatePct !== null && o.errorRatePct > t.errorRatePct) {
      reasons.push(`operation ${o.operation}: error rate ${o.errorRatePct} % (${o.errors} of ${o.count}) above the ${t.errorRatePct} % threshold`);
    }
    if (o.p95ChangePct !== null && o.p95Ms !== null && o.p95Ms >= t.degradation.minP95Ms) {
      if (o.p95ChangePct > t.degradation.p1Pct) {
        reasons.push(`operation ${o.operation}: p95 ${o.p95Ms} ms over 24 h, ${o.p95ChangePct} % above the week's ${o.baselineP95Ms} ms (P1 above ${t.degradation.p1Pct} %)`);
      } else if (o.p95ChangePct > t.degradation.p2Pct) {
        warnings.push(`operation ${o.operation}: p95 ${o.p95Ms} ms over 24 h, ${o.p95ChangePct} % above the week's ${o.baselineP95Ms} ms (P2 above ${t.degradation.p2Pct} %)`);
      }
    }
  }
  const measured = operations.some((o) => o.count > 0);

  const r = i.routing;
  const efficiencyPct = r.efficiency === null ? null : pct(r.efficiency);
  if (efficiencyPct !== null && r.decisions >= t.minSamples) {
    if (efficiencyPct < t.routing.p1Pct) {
      reasons.push(`routing efficiency ${efficiencyPct} % over 24 h (${r.servedByPrimaryWithinBudget} of ${r.decisions}) below the ${t.routing.p1Pct} % threshold (P1)`);
    } else if (efficiencyPct < t.routing.p2Pct) {
      warnings.push(`routing efficiency ${efficiencyPct} % over 24 h (${r.servedByPrimaryWithinBudget} of ${r.decisions}) below the ${t.routing.p2Pct} % threshold (P2)`);
    }
  }

  return {
    verdict: { result: reasons.length === 0 ? 'pass' : 'fail', reasons, warnings },
    components,
    audits: { since, count: items.length, totals: { gaps: sum((x) => x.gaps), newGaps: sum((x) => x.newGaps), resolvedGaps: sum((x) => x.resolvedGaps) }, items, noData: items.length === 0 ? 'no audit finished in the last 24 h' : null },
    insights: {
      analysisId: an?.analysisId ?? null,
      finishedAt: an?.finishedAt ?? null,
      window: an?.window ?? null,
      executions: an?.executions ?? null,
      healthScore: an?.healthScore.score ?? null,
      clusters: (an?.clusters ?? []).slice(0, 10).map((c) => ({ id: c.id, count: c.count, share: c.share, template: c.template })),
      bottlenecks: (an?.bottlenecks ?? []).map((b) => ({ operation: b.operation, kind: b.kind, measured: b.measured, limit: b.limit })),
      degradations: (an?.degradations ?? []).map((d) => ({ scope: d.scope, metric: d.metric, previous: d.previous, current: d.current, changePercent: d.changePercent, level: d.level })),
      noData: an === null ? 'no meta-monitor analysis stored' : null,
    },
    implementation: {
      since: act.since,
      counts: act.counts,
      awaitingApproval: act.awaitingApproval,
      autoResolution24h: { attempted: auto.attempted, verified: auto.verified, failed: auto.failed, rate: auto.rate, target: act.autoResolution.target },
      noData: eventCount === 0 && act.awaitingApproval === 0 ? 'no remediation activity in the last 24 h' : null,
    },
    performance: {
      window: '24h',
      baseline: '7d',
      thresholds: { errorRatePct: t.errorRatePct, degradationP1Pct: t.degradation.p1Pct, degradationP2Pct: t.degradation.p2Pct, minP95Ms: t.degradation.minP95Ms, minSamples: t.minSamples },
      operations,
      noData: measured ? null : 'no support operation measured in the last 24 h',
    },
    routing: {
      decisions: r.decisions,
      efficiencyPct,
      thresholds: { p1Pct: t.routing.p1Pct, p2Pct: t.routing.p2Pct },
      noData: r.decisions === 0 ? 'no LLM routing decision in the last 24 h' : null,
    },
  };
}
