import type { AlertThresholds } from '../alerts/rules.js';
import type { AuditReport } from '../audit/report.js';
import type { Gap, GapStatus } from '../gaps/gap.js';
import { isOpenGap } from '../gaps/lifecycle.js';
import type { Activities } from '../implementation/remediation-service.js';
import { autoResolutionTarget } from '../implementation/remediation.js';
import type { CostReport } from '../llm/budget.js';
import type { RoutingEfficiency } from '../llm/routing-metrics.js';
import type { MetaMonitorSettings } from '../meta-monitor/config.js';
import type { Optimization } from '../meta-monitor/optimizations.js';
import { round } from '../stats.js';
import type { DailyCheckResult } from './daily-check.js';
import type { AnalysisForReview, MorningCheck } from './morning-check.js';

export interface QueueWeekTotals {
  completed: number;
  failed: number;
}

export { suggestionSchema, weeklyReviewResultSchema, type Suggestion, type WeeklyReviewResult } from './weekly-review-result.js';
import type { Suggestion, WeeklyReviewResult } from './weekly-review-result.js';

/** What the review reads, each from its store, the router or BullMQ. */
export interface WeeklyReviewInputs {
  from: Date;
  to: Date;
  /** The week's daily checks, newest first; `morning` when the check carried the full procedure. */
  dailyChecks: (DailyCheckResult & Partial<MorningCheck>)[];
  /** Daily checks of the week that could not be read (an older shape). */
  unreadableChecks: number;
  totals: Record<string, QueueWeekTotals>;
  /** Audits finished in the week, newest first. */
  audits: AuditReport[];
  /** Every stored gap (newest seen first). */
  gaps: Gap[];
  /** Implementation support's activities since `from`. */
  activities: Activities;
  /** Analyses of the agent's executions over the last two weeks, newest first (before/after of optimizations need the week before). */
  analyses: AnalysisForReview[];
  optimizations: Optimization[];
  costs: CostReport;
  routing: RoutingEfficiency;
  thresholds: AlertThresholds;
  metaMonitor: MetaMonitorSettings;
}

const pct = (n: number) => round(n * 100, 1);
const figuresOf = (a: AnalysisForReview) => ({
  analysisId: a.analysisId,
  finishedAt: a.finishedAt,
  healthScore: a.healthScore.score,
  successRate: a.successRate,
  p95Ms: a.latencyMs.p95,
  executions: a.executions,
});

/** A gap's status at `at`, from its history (the status it had before its first change, or its current one). */
function statusAt(g: Gap, at: string): GapStatus | null {
  if (g.firstSeenAt > at) {
    return null;
  }
  let status: GapStatus | null = null;
  for (const h of g.history) {
    if (h.at <= at) {
      status = h.to;
    }
  }
  return status ?? g.history[0]?.from ?? g.status;
}

function countBy<T>(items: readonly T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) {
    out[key(i)] = (out[key(i)] ?? 0) + 1;
  }
  return out;
}

/**
 * Weekly Support Mode Review: the week's daily checks and each queue's completed/failed job
 * totals (BullMQ metrics, per minute, summed over the week), the audits and the gaps' trend,
 * remediation outcomes, execution patterns, applied optimizations before and after, backlog
 * movement, LLM spend against budget, and suggested changes each with its evidence.
 */
export function buildWeeklyReview(i: WeeklyReviewInputs): WeeklyReviewResult {
  const fromIso = i.from.toISOString();
  const toIso = i.to.toISOString();
  const inWeek = (at: string | undefined) => at !== undefined && at >= fromIso && at <= toIso;

  const problemDays = new Map<string, number>();
  const reasonDays = new Map<string, number>();
  let passed = 0;
  let failed = 0;
  for (const check of i.dailyChecks) {
    for (const p of new Set(check.problems)) {
      problemDays.set(p, (problemDays.get(p) ?? 0) + 1);
    }
    if (check.verdict) {
      if (check.verdict.result === 'pass') {
        passed += 1;
      } else {
        failed += 1;
      }
      for (const r of new Set(check.verdict.reasons)) {
        reasonDays.set(r, (reasonDays.get(r) ?? 0) + 1);
      }
    }
  }
  const recurring = <K extends string>(m: Map<string, number>, key: K) =>
    [...m.entries()]
      .filter(([, days]) => days > 1)
      .sort((a, b) => b[1] - a[1])
      .map(([text, days]) => ({ [key]: text, days }) as Record<K, string> & { days: number });

  // Audits.
  const scores = i.audits.map((a) => a.score);
  const audits = {
    count: i.audits.length,
    byStatus: countBy(i.audits, (a) => a.status),
    firstScore: i.audits.at(-1)?.score ?? null,
    lastScore: i.audits[0]?.score ?? null,
    averageScore: scores.length === 0 ? null : round(scores.reduce((s, x) => s + x, 0) / scores.length, 1),
    gapsReported: i.audits.reduce((s, a) => s + a.summary.gaps, 0),
    noData: i.audits.length === 0 ? 'no audit finished this week' : null,
  };

  // Gaps and backlog.
  const opened = i.gaps.filter((g) => inWeek(g.firstSeenAt));
  const resolved = i.gaps.filter((g) => g.status === 'resolved' && inWeek(g.resolvedAt));
  const recurringGaps = i.gaps.filter((g) => isOpenGap(g.status) && g.firstSeenAt < fromIso && inWeek(g.lastSeenAt));
  const reopened = i.gaps.filter((g) => g.history.some((h) => h.from === 'resolved' && inWeek(h.at)));
  const openAtStart = i.gaps.filter((g) => {
    const s = statusAt(g, fromIso);
    return s !== null && isOpenGap(s);
  }).length;
  const openNow = i.gaps.filter((g) => isOpenGap(g.status)).length;
  const closed = i.gaps.filter((g) => !isOpenGap(g.status) && g.history.some((h) => !isOpenGap(h.to) && inWeek(h.at))).length;

  // Remediation.
  const c = i.activities.counts;
  const finished = c.verified + c.failed;
  const auto = i.activities.autoResolution['7d'];
  const remediation = {
    applied: c.applied,
    verified: c.verified,
    failed: c.failed,
    rolledBack: c.rolled_back,
    successRate: finished === 0 ? null : round(c.verified / finished, 4),
    autoResolution7d: { attempted: auto.attempted, verified: auto.verified, failed: auto.failed, rate: auto.rate, target: i.activities.autoResolution.target },
    noData: Object.values(c).every((n) => n === 0) ? 'no remediation activity this week' : null,
  };

  // Execution patterns.
  const weekAnalyses = i.analyses.filter((a) => inWeek(a.finishedAt));
  const clusterSeen = new Map<string, { template: string; analyses: number; failures: number }>();
  for (const a of weekAnalyses) {
    for (const cl of a.clusters) {
      const e = clusterSeen.get(cl.id) ?? { template: cl.template, analyses: 0, failures: 0 };
      e.analyses += 1;
      e.failures += cl.count;
      clusterSeen.set(cl.id, e);
    }
  }
  const recurringClusters = [...clusterSeen.entries()]
    .filter(([, e]) => e.analyses > 1)
    .sort((a, b) => b[1].failures - a[1].failures)
    .slice(0, 10)
    .map(([id, e]) => ({ id, ...e }));
  const firstAnalysis = weekAnalyses.at(-1);
  const lastAnalysis = weekAnalyses[0];

  // Optimizations: the analysis before and the one after each application.
  const optimizations = i.optimizations
    .filter((o) => inWeek(o.appliedAt) || (o.state === 'applied' && o.appliedAt <= toIso) || inWeek(o.revertedAt ?? undefined))
    .map((o) => {
      // The newest analysis of a window that ended before it was applied, and the newest of one that began after.
      const before = i.analyses.find((a) => a.window.to <= o.appliedAt) ?? null;
      const after = i.analyses.find((a) => a.window.from >= o.appliedAt) ?? null;
      const noData = before === null && after === null ? 'no analysis before or after it' : before === null ? 'no analysis before it' : after === null ? 'no analysis of a window after it yet' : null;
      return { id: o.id, title: o.title, state: o.state, appliedAt: o.appliedAt, appliedBy: o.appliedBy, before: before && figuresOf(before), after: after && figuresOf(after), noData };
    });

  // LLM cost.
  const weekDays = i.costs.days.filter((d) => d.day >= fromIso.slice(0, 10) && d.day <= toIso.slice(0, 10));
  const status = i.costs.status;
  const dayOfMonth = i.to.getUTCDate();
  const daysInMonth = new Date(Date.UTC(i.to.getUTCFullYear(), i.to.getUTCMonth() + 1, 0)).getUTCDate();
  const monthUsd = i.costs.month.costUsd;
  const llmCost = {
    weekUsd: round(weekDays.reduce((s, d) => s + d.totals.costUsd, 0), 4),
    calls: weekDays.reduce((s, d) => s + d.totals.calls, 0),
    monthUsd: round(monthUsd, 4),
    monthBudgetUsd: status.month.budgetUsd,
    dailyBudgetUsd: status.day.budgetUsd,
    monthProjectedUsd: monthUsd === 0 ? null : round((monthUsd / dayOfMonth) * daysInMonth, 2),
    routingEfficiencyPct: i.routing.efficiency === null ? null : pct(i.routing.efficiency),
    routingDecisions: i.routing.decisions,
  };

  const result = {
    from: fromIso,
    to: toIso,
    dailyChecks: { count: i.dailyChecks.length + i.unreadableChecks, degraded: i.dailyChecks.filter((ch) => ch.status !== 'healthy').length, recurringProblems: recurring(problemDays, 'problem') },
    queues: Object.entries(i.totals).map(([name, t]) => ({
      name,
      completed: t.completed,
      failed: t.failed,
      failureRate: t.completed + t.failed === 0 ? null : round(t.failed / (t.completed + t.failed), 4),
    })),
    verdicts: { passed, failed, withoutVerdict: i.dailyChecks.filter((ch) => !ch.verdict).length + i.unreadableChecks, recurringReasons: recurring(reasonDays, 'reason') },
    audits,
    gaps: {
      opened: opened.length,
      resolved: resolved.length,
      recurring: recurringGaps.length,
      reopened: reopened.length,
      openedByType: countBy(opened, (g) => g.type),
      topRecurring: [...recurringGaps]
        .sort((a, b) => b.count - a.count)
        .slice(0, 10)
        .map((g) => ({ id: g.id, title: g.title, count: g.count, firstSeenAt: g.firstSeenAt })),
    },
    remediation,
    executions: {
      analyses: weekAnalyses.length,
      first: firstAnalysis ? figuresOf(firstAnalysis) : null,
      last: lastAnalysis ? figuresOf(lastAnalysis) : null,
      recurringClusters,
      noData: weekAnalyses.length === 0 ? 'no meta-monitor analysis finished this week' : null,
    },
    optimizations,
    backlog: { openAtStart, openNow, opened: opened.length, closed, net: openNow - openAtStart },
    llmCost,
    suggestions: [] as Suggestion[],
  };
  result.suggestions = suggestionsOf(i, result, lastAnalysis ?? null);
  return result;
}

/** Changes the week's figures argue for; each names the figures it rests on. */
function suggestionsOf(i: WeeklyReviewInputs, r: Omit<WeeklyReviewResult, 'suggestions'>, latest: AnalysisForReview | null): Suggestion[] {
  const out: Suggestion[] = [];
  const t = i.thresholds;

  const auto = r.remediation.autoResolution7d;
  if (auto.rate !== null && auto.attempted >= t.minSamples && auto.rate <= autoResolutionTarget) {
    out.push({
      kind: 'configuration',
      target: 'feature flag auto-remediation',
      current: 'as set',
      suggested: 'off (POST /admin/feature-flags/auto-remediation/disable): remediations then wait for an approver until the failing actions are fixed',
      evidence: [`auto-resolution success ${pct(auto.rate)} % over 7 d (${auto.verified} verified, ${auto.failed} failed), target above ${pct(autoResolutionTarget)} %`],
    });
  }

  const eff = r.llmCost.routingEfficiencyPct;
  if (eff !== null && r.llmCost.routingDecisions >= t.minSamples && eff < t.routing.p2Pct) {
    out.push({
      kind: 'configuration',
      target: 'LLM routing (the routing matrix, or the llm.route action)',
      current: `efficiency ${eff} %`,
      suggested: 'route the operations whose primary path fails or exceeds its budget to the path that serves them (GET /admin/bedrock-support/metrics/routing names them)',
      evidence: [`routing efficiency ${eff} % over 7 d across ${r.llmCost.routingDecisions} decisions, below the ${t.routing.p2Pct} % P2 threshold`],
    });
  }

  if (latest !== null) {
    const budgets = i.metaMonitor.latencyBudgetsMs;
    for (const op of latest.operations) {
      const p95 = op.latencyMs.p95;
      if (p95 === null || op.executions < i.metaMonitor.minExecutions) {
        continue;
      }
      const current = budgets[op.operation] ?? i.metaMonitor.defaultLatencyBudgetMs;
      const suggested = Math.ceil((p95 * 1.2) / 10) * 10;
      if (current === null) {
        out.push({
          kind: 'threshold',
          target: `meta-monitor latencyBudgetsMs["${op.operation}"]`,
          current: null,
          suggested: `${suggested} ms (the measured p95 plus 20 %), so a slowdown shows as a bottleneck`,
          evidence: [`${op.operation}: p95 ${p95} ms over ${op.executions} executions in analysis ${latest.analysisId} (${latest.window.from} to ${latest.window.to}); no budget set`],
        });
      }
    }
    const overBudget = new Map<string, { count: number; measured: number; limit: number }>();
    for (const a of i.analyses.filter((x) => x.finishedAt >= r.from)) {
      for (const b of a.bottlenecks.filter((x) => x.kind === 'over_budget')) {
        const e = overBudget.get(b.operation) ?? { count: 0, measured: b.measured, limit: b.limit };
        e.count += 1;
        overBudget.set(b.operation, e);
      }
    }
    for (const [operation, e] of overBudget) {
      if (e.count > 1) {
        out.push({
          kind: 'threshold',
          target: `meta-monitor latencyBudgetsMs["${operation}"]`,
          current: `${e.limit} ms`,
          suggested: `keep ${e.limit} ms and speed the operation up, or raise the budget to ${Math.ceil((e.measured * 1.1) / 10) * 10} ms if that p95 is accepted`,
          evidence: [`${operation} over its budget in ${e.count} analyses this week (latest p95 ${e.measured} ms against ${e.limit} ms)`],
        });
      }
    }
  }

  for (const cl of r.executions.recurringClusters.slice(0, 3)) {
    out.push({
      kind: 'investigation',
      target: `failure cluster ${cl.id}`,
      current: null,
      suggested: 'find and fix the cause in the agent (the cluster recurs across analyses)',
      evidence: [`${cl.failures} failures over ${cl.analyses} analyses this week: ${cl.template}`],
    });
  }

  const projected = r.llmCost.monthProjectedUsd;
  const budget = r.llmCost.monthBudgetUsd;
  if (projected !== null && budget !== null && projected > budget) {
    out.push({
      kind: 'configuration',
      target: 'BSM_LLM_MONTHLY_BUDGET_USD',
      current: `${budget} USD`,
      suggested: `raise it to ${Math.ceil(projected)} USD, or move operations off the paid path before the budget refuses direct calls`,
      evidence: [`${r.llmCost.monthUsd} USD spent this month, ${projected} USD at this rate by its end; ${r.llmCost.weekUsd} USD this week over ${r.llmCost.calls} calls`],
    });
  } else if (projected !== null && budget === null) {
    out.push({
      kind: 'threshold',
      target: 'BSM_LLM_MONTHLY_BUDGET_USD',
      current: 'unlimited',
      suggested: `${Math.ceil(projected * 1.2)} USD (this month's projected spend plus 20 %), so a runaway shows as a budget alert`,
      evidence: [`${r.llmCost.monthUsd} USD spent this month, ${projected} USD projected; no monthly budget set`],
    });
  }

  for (const q of r.queues) {
    const finished = q.completed + q.failed;
    if (q.failureRate !== null && finished >= t.minSamples && q.failureRate * 100 > t.errorRatePct) {
      out.push({
        kind: 'investigation',
        target: `queue ${q.name}`,
        current: null,
        suggested: `look at its failed jobs (GET /admin/queues) before raising BSM_ALERT_ERROR_RATE_PCT (${t.errorRatePct} %)`,
        evidence: [`${q.failed} of ${finished} jobs failed this week (${pct(q.failureRate)} %)`],
      });
    }
  }
  return out;
}
