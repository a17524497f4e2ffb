/**
 * What a reader sees of an audit report, once, as plain text in blocks: the Markdown and HTML
 * exports render the same view, so they say the same things. Nothing here is escaped: each
 * renderer escapes every string it writes.
 */
import { gapSeverities, type GapSeverity } from '../gaps/gap.js';
import { criticalities } from './inventory.js';
import { criticalityWeights, type AuditReport, type ReportGap, type TargetResult } from './report.js';

/** How a value should look: the HTML export colours it, the Markdown export says it in words already. */
export type Tone = 'ok' | 'info' | 'warn' | 'bad' | 'critical';

export interface Cell {
  text: string;
  tone?: Tone;
}

export type Block =
  | { kind: 'heading'; level: 2 | 3; text: string; tone?: Tone }
  | { kind: 'facts'; items: { label: string; value: string; tone?: Tone }[] }
  /** `name` is a fixed word (`targets`, `gaps-high`, `resolved`, `recommendations`), never report data: the HTML uses it as the table's id. */
  | { kind: 'table'; name: string; columns: string[]; rows: Cell[][] }
  | { kind: 'paragraph'; text: string }
  /** Text written by someone else (the narrative), kept with its line breaks. */
  | { kind: 'quote'; text: string };

export interface ReportView {
  title: string;
  blocks: Block[];
}

const targetTones: Record<TargetResult['status'], Tone> = { pass: 'ok', fail: 'bad', error: 'warn' };
const overallTones: Record<AuditReport['status'], Tone> = { healthy: 'ok', degraded: 'warn', unhealthy: 'bad' };
const severityTones: Record<GapSeverity, Tone> = { critical: 'critical', high: 'bad', medium: 'warn', low: 'info' };
const changeTones: Record<ReportGap['change'], Tone> = { new: 'warn', recurring: 'info', reopened: 'bad' };

const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const signed = (n: number) => (n > 0 ? `+${n}` : String(n));

/** The score and how it was reached, in one line, from the targets the report holds. */
export function scoreLine(report: AuditReport): string {
  const total = report.targets.reduce((s, t) => s + criticalityWeights[t.criticality], 0);
  const passed = report.targets.filter((t) => t.status === 'pass').reduce((s, t) => s + criticalityWeights[t.criticality], 0);
  const weights = criticalities.map((c) => `${c} ${criticalityWeights[c]}`).join(', ');
  if (total === 0) {
    return `${report.score}/100: no target audited`;
  }
  return `${report.score}/100 = 100 × Σ w(passed) / Σ w(audited) = 100 × ${passed} / ${total}, weights ${weights}; a probe that could not run counts as not passed`;
}

/** Against the previous audit, in one line. */
export function trendLine(report: AuditReport): string {
  const { previousAuditId, previousScore, scoreDelta, newGaps, resolvedGaps } = report.trend;
  const gaps = `${plural(newGaps, 'new gap')}, ${resolvedGaps} resolved`;
  if (previousAuditId === null) {
    return `first audit, nothing to compare with; ${gaps}`;
  }
  const score = previousScore === null ? 'its score unknown' : `score ${previousScore} → ${report.score}${scoreDelta === null ? '' : ` (${signed(scoreDelta)})`}`;
  return `since ${previousAuditId}: ${score}; ${gaps}`;
}

/** Why a target did not pass, beyond its checks: it could not be reached, or its probe failed. */
function unmetOf(t: TargetResult): string {
  const parts: string[] = [];
  if (!t.reach.reachable) {
    parts.push(`unreachable (${t.reach.cause}): ${t.reach.detail}`);
  }
  if (t.error !== undefined) {
    parts.push(`probe error: ${t.error}`);
  }
  const checks = t.observations.filter((o) => !o.met).map((o) => o.check);
  if (checks.length > 0) {
    parts.push(checks.join(', '));
  }
  return parts.join('; ');
}

function targetsTable(report: AuditReport): Block {
  return {
    kind: 'table',
    name: 'targets',
    columns: ['Target', 'Kind', 'Component', 'Criticality', 'Status', 'Time (ms)', 'Unmet checks'],
    rows: report.targets.map((t) => [
      { text: t.id },
      { text: t.kind },
      { text: t.component },
      { text: t.criticality },
      { text: t.status, tone: targetTones[t.status] },
      { text: String(Math.round(t.durationMs)) },
      { text: unmetOf(t) },
    ]),
  };
}

function gapBlocks(report: AuditReport): Block[] {
  const blocks: Block[] = [{ kind: 'heading', level: 2, text: `Gaps (${report.gaps.length})` }];
  if (report.gaps.length === 0) {
    return [...blocks, { kind: 'paragraph', text: 'No open gap.' }];
  }
  for (const severity of gapSeverities) {
    const gaps = report.gaps.filter((g) => g.severity === severity);
    if (gaps.length === 0) {
      continue;
    }
    blocks.push({ kind: 'heading', level: 3, text: `${capitalised(severity)} (${gaps.length})`, tone: severityTones[severity] });
    blocks.push({
      kind: 'table',
      name: `gaps-${severity}`,
      columns: ['Gap', 'Type', 'Title', 'Expected', 'Observed', 'Count', 'First seen', 'Last seen', 'Change'],
      rows: gaps.map((g) => [
        { text: g.id },
        { text: g.type },
        { text: g.title },
        { text: g.evidence.expected },
        { text: g.evidence.observed },
        { text: String(g.count) },
        { text: g.firstSeenAt },
        { text: g.lastSeenAt },
        { text: g.change, tone: changeTones[g.change] },
      ]),
    });
  }
  return blocks;
}

/** The report as a reader sees it: facts, targets, gaps by severity, resolved gaps, recommendations, narrative. */
export function reportView(report: AuditReport): ReportView {
  const { summary, trigger } = report;
  const blocks: Block[] = [
    {
      kind: 'facts',
      items: [
        { label: 'Type', value: report.type },
        { label: 'When', value: `${report.startedAt} to ${report.finishedAt} (${Math.round(report.durationMs)} ms)` },
        { label: 'Triggered by', value: `${trigger.by}, ${trigger.priority} priority${trigger.reason === null ? '' : `: ${trigger.reason}`}` },
        { label: 'Inventory', value: `version ${report.inventory.version} (${report.inventory.source})` },
        { label: 'Status', value: report.status, tone: overallTones[report.status] },
        { label: 'Score', value: scoreLine(report) },
        { label: 'Trend', value: trendLine(report) },
        {
          label: 'Summary',
          value: `${plural(summary.targets, 'target')}: ${summary.pass} passed, ${summary.fail} failed, ${summary.error} could not be probed; ${plural(summary.gaps, 'gap')}`,
        },
      ],
    },
    { kind: 'heading', level: 2, text: `Targets (${report.targets.length})` },
    report.targets.length === 0 ? { kind: 'paragraph', text: 'No target audited.' } : targetsTable(report),
    ...gapBlocks(report),
    { kind: 'heading', level: 2, text: `Resolved gaps (${report.resolved.length})` },
    report.resolved.length === 0
      ? { kind: 'paragraph', text: 'None resolved by this audit.' }
      : {
          kind: 'table',
          name: 'resolved',
          columns: ['Gap', 'Title', 'Subject'],
          rows: report.resolved.map((r) => [{ text: r.id }, { text: r.title }, { text: r.subject }]),
        },
    { kind: 'heading', level: 2, text: `Recommendations (${report.recommendations.length})` },
    report.recommendations.length === 0
      ? { kind: 'paragraph', text: 'None.' }
      : {
          kind: 'table',
          name: 'recommendations',
          columns: ['Priority', 'Recommendation', 'Gap'],
          rows: report.recommendations.map((r) => [{ text: r.priority, tone: severityTones[r.priority] }, { text: r.text }, { text: r.gapId }]),
        },
  ];
  if (report.narrative !== null) {
    const { path, model, reason } = report.narrative;
    blocks.push(
      { kind: 'heading', level: 2, text: 'Narrative' },
      { kind: 'quote', text: report.narrative.text },
      { kind: 'paragraph', text: `Written through the ${path} path, model ${model} (${reason}).` },
    );
  }
  return { title: `Audit report ${report.auditId}`, blocks };
}
