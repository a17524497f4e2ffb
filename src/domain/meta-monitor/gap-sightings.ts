/**
 * What an analysis tells the gap store, the one shared with the auditor and implementation
 * support: a failure cluster above its share, a bottleneck and a degradation are each a gap
 * sighting of source `meta-monitor`, with a subject that stays the same across analyses (the
 * analysis source, then the cluster id or the operation), so the same problem keeps its gap id.
 */
import type { GapSighting } from '../gaps/gap.js';
import { severityOf } from '../gaps/gap.js';
import type { AnalysisBody } from './analysis.js';
import type { MetaMonitorSettings } from './config.js';

const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;

/** The subject of a cluster's or an operation's gaps, per analysis source. */
export const clusterSubject = (source: AnalysisBody['source'], clusterId: string) => `${source}:cluster:${clusterId}`;
export const operationSubject = (source: AnalysisBody['source'], operation: string) => `${source}:operation:${operation}`;

/** The components a gap is about: the fleet's queues behind its operations, or the agent. */
function componentsOf(body: AnalysisBody, operations: readonly string[]): string[] {
  if (body.source === 'agent') {
    return ['agent'];
  }
  const queues = new Set(operations.map((o) => body.operations.find((x) => x.operation === o)?.queue).filter((q): q is string => typeof q === 'string'));
  return [...queues].sort();
}

export function gapSightingsOf(body: AnalysisBody, settings: MetaMonitorSettings): GapSighting[] {
  const out: GapSighting[] = [];
  const failures = body.executions - (body.statuses.success ?? 0);
  for (const c of body.clusters) {
    if (c.share < settings.clusters.recommendShare) {
      continue;
    }
    out.push({
      source: 'meta-monitor',
      subject: clusterSubject(body.source, c.id),
      check: 'failure_cluster',
      type: 'broken_integration',
      severity: severityOf('broken_integration', c.share >= 0.5 ? 'high' : 'medium'),
      title: `${pct(c.share)} of the failures in ${c.operations.slice(0, 3).join(', ')}: "${c.template.slice(0, 160)}"`,
      components: componentsOf(body, c.operations),
      evidence: { expected: `no failure cluster above ${pct(settings.clusters.recommendShare)} of the failures`, observed: `${c.count} of ${failures} failures (${pct(c.share)}), last at ${c.lastSeen}` },
    });
  }
  for (const b of body.bottlenecks) {
    out.push({
      source: 'meta-monitor',
      subject: operationSubject(body.source, b.operation),
      check: `bottleneck:${b.kind}`,
      type: 'performance_issue',
      severity: severityOf('performance_issue', b.kind === 'time_share' ? 'medium' : 'high'),
      title: `${b.operation}: ${b.evidence}`,
      components: componentsOf(body, [b.operation]),
      evidence: { expected: b.kind === 'time_share' ? `under ${pct(b.limit)} of all execution time` : `at most ${b.limit} ms`, observed: b.kind === 'time_share' ? pct(b.measured) : `${b.measured} ms` },
    });
  }
  for (const d of body.degradations) {
    const what = d.metric === 'latency_p95' ? 'p95 latency' : 'error rate';
    out.push({
      source: 'meta-monitor',
      subject: operationSubject(body.source, d.scope),
      check: `degradation:${d.metric}`,
      type: d.metric === 'latency_p95' ? 'performance_issue' : 'broken_integration',
      severity: severityOf(d.metric === 'latency_p95' ? 'performance_issue' : 'broken_integration', d.level === 'P1' ? 'high' : 'medium'),
      title: `${d.level}: ${what} of ${d.scope} ${d.changePercent === null ? 'appeared' : `rose ${d.changePercent} %`} against the window before`,
      components: d.scope === 'overall' ? (body.source === 'agent' ? ['agent'] : []) : componentsOf(body, [d.scope]),
      evidence: { expected: `${what} as in the window before (${d.previous})`, observed: `${d.current}` },
    });
  }
  return out;
}
