/**
 * The daily check and the weekly review as a reader sees them, in the blocks the audit export
 * renders (Markdown and HTML say the same things). Sections without data say "no data".
 */
import type { Block, Cell, ReportView, Tone } from '../audit/export-view.js';
import type { DailyCheckResult } from './daily-check.js';
import type { MorningCheck } from './morning-check.js';
import type { WeeklyReviewResult } from './weekly-review.js';

const noData = 'no data';
const num = (n: number | null | undefined, unit = '') => (n === null || n === undefined ? noData : `${n}${unit}`);
const pct = (rate: number | null) => (rate === null ? noData : `${Math.round(rate * 1000) / 10} %`);
const healthTone: Record<string, Tone> = { healthy: 'ok', degraded: 'warn', unhealthy: 'bad' };
const cell = (text: string, tone?: Tone): Cell => (tone === undefined ? { text } : { text, tone });
const table = (name: string, columns: string[], rows: Cell[][], empty: string): Block => (rows.length === 0 ? { kind: 'paragraph', text: empty } : { kind: 'table', name, columns, rows });

export type DailyReport = DailyCheckResult & MorningCheck & { narrative: { text: string } };
export type WeeklyReport = WeeklyReviewResult & { narrative: { text: string } };

export function dailyView(r: DailyReport): ReportView {
  const pass = r.verdict.result === 'pass';
  const blocks: Block[] = [
    {
      kind: 'facts',
      items: [
        { label: 'Checked at', value: r.checkedAt },
        { label: 'Verdict', value: pass ? 'PASS' : 'FAIL', tone: pass ? 'ok' : 'bad' },
        { label: 'Support mode', value: `${r.supportMode.status} (feature flag ${r.supportMode.featureFlag ? 'on' : 'off'})` },
        { label: 'Redis latency', value: `${r.redisLatencyMs} ms` },
        { label: 'Audit trail', value: `${r.auditTrail.entries} entries, head ${r.auditTrail.headSeq}` },
      ],
    },
    { kind: 'heading', level: 2, text: 'Verdict' },
    table('reasons', ['Reason the check fails'], r.verdict.reasons.map((x) => [cell(x, 'bad')]), 'No reason to fail.'),
    table('warnings', ['Warning'], r.verdict.warnings.map((x) => [cell(x, 'warn')]), 'No warnings.'),
    { kind: 'heading', level: 2, text: 'Step 1: support mode health' },
    table(
      'components',
      ['Component', 'Status', 'Active', 'Reasons'],
      Object.entries(r.components).map(([name, c]) => [cell(name), cell(c.status, healthTone[c.status]), cell(c.active ? 'yes' : 'no'), cell(c.reasons.join('; ') || '-')]),
      noData,
    ),
    table(
      'queues',
      ['Queue', 'State', 'Workers', 'Waiting', 'Active', 'Delayed', 'Failed kept'],
      r.queues.map((q) => [cell(q.name), cell(q.state), cell(String(q.workers), q.workers === 0 ? 'bad' : undefined), cell(String(q.waiting)), cell(String(q.active)), cell(String(q.delayed)), cell(String(q.failed))]),
      noData,
    ),
    { kind: 'heading', level: 2, text: 'Step 2: overnight activity' },
    { kind: 'heading', level: 3, text: `Audits since ${r.audits.since}` },
    table(
      'audits',
      ['Audit', 'Type', 'Status', 'Score', 'Gaps', 'New', 'Resolved'],
      r.audits.items.map((a) => [cell(a.auditId), cell(a.type), cell(a.status, healthTone[a.status]), cell(String(a.score)), cell(String(a.gaps)), cell(String(a.newGaps)), cell(String(a.resolvedGaps))]),
      r.audits.noData ?? noData,
    ),
    { kind: 'heading', level: 3, text: 'Meta-monitor insights' },
    r.insights.noData === null
      ? {
          kind: 'facts',
          items: [
            { label: 'Analysis', value: r.insights.analysisId ?? noData },
            { label: 'Window', value: r.insights.window ? `${r.insights.window.from} to ${r.insights.window.to}` : noData },
            { label: 'Executions', value: num(r.insights.executions) },
            { label: 'Health score', value: num(r.insights.healthScore) },
          ],
        }
      : { kind: 'paragraph', text: r.insights.noData },
    table('clusters', ['Failure cluster', 'Failures', 'Share', 'Template'], r.insights.clusters.map((c) => [cell(c.id), cell(String(c.count)), cell(pct(c.share)), cell(c.template)]), 'No failure clusters.'),
    table('bottlenecks', ['Bottleneck', 'Kind', 'Measured', 'Limit'], r.insights.bottlenecks.map((b) => [cell(b.operation), cell(b.kind), cell(String(b.measured)), cell(String(b.limit))]), 'No bottlenecks.'),
    table(
      'degradations',
      ['Degradation', 'Metric', 'Before', 'Now', 'Change', 'Level'],
      r.insights.degradations.map((d) => [cell(d.scope), cell(d.metric), cell(String(d.previous)), cell(String(d.current)), cell(num(d.changePercent, ' %')), cell(d.level, d.level === 'P1' ? 'bad' : 'warn')]),
      'No degradations.',
    ),
    { kind: 'heading', level: 3, text: 'Implementation support' },
    {
      kind: 'facts',
      items: [
        ...Object.entries(r.implementation.counts).map(([k, v]) => ({ label: k, value: String(v) })),
        { label: 'Awaiting approval', value: String(r.implementation.awaitingApproval), ...(r.implementation.awaitingApproval > 0 ? { tone: 'warn' as const } : {}) },
        { label: 'Auto-resolution (24 h)', value: `${pct(r.implementation.autoResolution24h.rate)} of ${r.implementation.autoResolution24h.attempted} (target ${pct(r.implementation.autoResolution24h.target)})` },
      ],
    },
    ...(r.implementation.noData === null ? [] : [{ kind: 'paragraph' as const, text: r.implementation.noData }]),
    { kind: 'heading', level: 2, text: 'Step 3: performance validation' },
    table(
      'performance',
      ['Operation', 'Count (24 h)', 'Errors', 'Error rate', 'p50', 'p95', 'p95 (7 d)', 'p95 change'],
      r.performance.operations.map((o) => [
        cell(o.operation),
        cell(String(o.count)),
        cell(String(o.errors)),
        cell(num(o.errorRatePct, ' %'), o.errorRatePct !== null && o.errorRatePct > r.performance.thresholds.errorRatePct ? 'bad' : undefined),
        cell(num(o.p50Ms, ' ms')),
        cell(num(o.p95Ms, ' ms')),
        cell(num(o.baselineP95Ms, ' ms')),
        cell(num(o.p95ChangePct, ' %')),
      ]),
      noData,
    ),
    {
      kind: 'paragraph',
      text: `Thresholds: error rate above ${r.performance.thresholds.errorRatePct} % fails; p95 more than ${r.performance.thresholds.degradationP1Pct} % above the week's fails, more than ${r.performance.thresholds.degradationP2Pct} % warns (p95 at least ${r.performance.thresholds.minP95Ms} ms, at least ${r.performance.thresholds.minSamples} samples).${r.performance.noData === null ? '' : ` ${r.performance.noData}.`}`,
    },
    {
      kind: 'facts',
      items: [
        { label: 'Routing efficiency (24 h)', value: num(r.routing.efficiencyPct, ' %') },
        { label: 'Routing decisions', value: String(r.routing.decisions) },
        { label: 'Thresholds', value: `below ${r.routing.thresholds.p1Pct} % fails, below ${r.routing.thresholds.p2Pct} % warns` },
      ],
    },
    { kind: 'heading', level: 2, text: 'Narrative' },
    { kind: 'quote', text: r.narrative.text },
  ];
  return { title: `Morning Support Mode Check ${r.checkedAt}: ${pass ? 'PASS' : 'FAIL'}`, blocks };
}

const figures = (f: WeeklyReport['executions']['first']) => (f === null ? noData : `health ${num(f.healthScore)}, success ${pct(f.successRate)}, p95 ${num(f.p95Ms, ' ms')} (${f.analysisId})`);

export function weeklyView(r: WeeklyReport): ReportView {
  const blocks: Block[] = [
    {
      kind: 'facts',
      items: [
        { label: 'Week', value: `${r.from} to ${r.to}` },
        { label: 'Daily checks', value: `${r.dailyChecks.count} (${r.verdicts.passed} passed, ${r.verdicts.failed} failed, ${r.verdicts.withoutVerdict} without verdict)` },
      ],
    },
    table('recurring-reasons', ['Recurring failure reason', 'Days'], r.verdicts.recurringReasons.map((x) => [cell(x.reason, 'bad'), cell(String(x.days))]), 'No failure reason recurred.'),
    { kind: 'heading', level: 2, text: 'Infrastructure audit analysis' },
    r.audits.noData === null
      ? {
          kind: 'facts',
          items: [
            { label: 'Audits', value: `${r.audits.count} (${Object.entries(r.audits.byStatus).map(([k, v]) => `${v} ${k}`).join(', ')})` },
            { label: 'Score', value: `${num(r.audits.firstScore)} -> ${num(r.audits.lastScore)} (average ${num(r.audits.averageScore)})` },
            { label: 'Gaps reported', value: String(r.audits.gapsReported) },
          ],
        }
      : { kind: 'paragraph', text: r.audits.noData },
    {
      kind: 'facts',
      items: [
        { label: 'Gaps opened', value: String(r.gaps.opened) },
        { label: 'Gaps resolved', value: String(r.gaps.resolved) },
        { label: 'Gaps recurring', value: String(r.gaps.recurring) },
        { label: 'Gaps reopened', value: String(r.gaps.reopened) },
      ],
    },
    table('recurring-gaps', ['Recurring gap', 'Title', 'Seen', 'First seen'], r.gaps.topRecurring.map((g) => [cell(g.id), cell(g.title), cell(String(g.count)), cell(g.firstSeenAt)]), 'No recurring gaps.'),
    {
      kind: 'facts',
      items: [
        { label: 'Remediations verified / failed', value: `${r.remediation.verified} / ${r.remediation.failed} (success ${pct(r.remediation.successRate)})` },
        { label: 'Rolled back', value: String(r.remediation.rolledBack) },
        { label: 'Auto-resolution (7 d)', value: `${pct(r.remediation.autoResolution7d.rate)} of ${r.remediation.autoResolution7d.attempted} (target ${pct(r.remediation.autoResolution7d.target)})` },
      ],
    },
    { kind: 'heading', level: 2, text: 'Meta-monitoring insights' },
    r.executions.noData === null
      ? {
          kind: 'facts',
          items: [
            { label: 'Analyses', value: String(r.executions.analyses) },
            { label: 'First of the week', value: figures(r.executions.first) },
            { label: 'Last of the week', value: figures(r.executions.last) },
          ],
        }
      : { kind: 'paragraph', text: r.executions.noData },
    table('recurring-clusters', ['Recurring failure cluster', 'Analyses', 'Failures', 'Template'], r.executions.recurringClusters.map((c) => [cell(c.id), cell(String(c.analyses)), cell(String(c.failures)), cell(c.template)]), 'No failure cluster recurred.'),
    table(
      'optimizations',
      ['Optimization', 'State', 'Applied', 'Before', 'After'],
      r.optimizations.map((o) => [cell(`${o.id}: ${o.title}`), cell(o.state), cell(`${o.appliedAt} by ${o.appliedBy}`), cell(figures(o.before)), cell(figures(o.after))]),
      'No optimization applied.',
    ),
    { kind: 'heading', level: 2, text: 'Implementation support review' },
    {
      kind: 'facts',
      items: [
        { label: 'Open gaps at the start', value: String(r.backlog.openAtStart) },
        { label: 'Open gaps now', value: String(r.backlog.openNow) },
        { label: 'Opened / closed', value: `${r.backlog.opened} / ${r.backlog.closed}` },
        { label: 'Net movement', value: `${r.backlog.net > 0 ? '+' : ''}${r.backlog.net}`, ...(r.backlog.net > 0 ? { tone: 'warn' as const } : {}) },
      ],
    },
    { kind: 'heading', level: 2, text: 'LLM cost and routing' },
    {
      kind: 'facts',
      items: [
        { label: 'This week', value: `${r.llmCost.weekUsd} USD over ${r.llmCost.calls} calls` },
        { label: 'This month', value: `${r.llmCost.monthUsd} USD (projected ${num(r.llmCost.monthProjectedUsd, ' USD')}) against ${r.llmCost.monthBudgetUsd === null ? 'no budget' : `${r.llmCost.monthBudgetUsd} USD`}` },
        { label: 'Daily budget', value: r.llmCost.dailyBudgetUsd === null ? 'none' : `${r.llmCost.dailyBudgetUsd} USD` },
        { label: 'Routing efficiency (7 d)', value: `${num(r.llmCost.routingEfficiencyPct, ' %')} over ${r.llmCost.routingDecisions} decisions` },
      ],
    },
    table(
      'queues',
      ['Queue', 'Completed', 'Failed', 'Failure rate'],
      r.queues.map((q) => [cell(q.name), cell(String(q.completed)), cell(String(q.failed)), cell(pct(q.failureRate))]),
      noData,
    ),
    { kind: 'heading', level: 2, text: 'Suggested changes' },
    table('suggestions', ['Kind', 'Change', 'Now', 'Suggested', 'Evidence'], r.suggestions.map((s) => [cell(s.kind), cell(s.target), cell(s.current ?? '-'), cell(s.suggested), cell(s.evidence.join('\n'))]), 'No change suggested by this week\'s figures.'),
    { kind: 'heading', level: 2, text: 'Narrative' },
    { kind: 'quote', text: r.narrative.text },
  ];
  return { title: `Weekly Support Mode Review ${r.from.slice(0, 10)} to ${r.to.slice(0, 10)}`, blocks };
}
