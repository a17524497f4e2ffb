import type { LlmRequest } from '../llm/types.js';
import { narrativeSystemPrompt } from '../narratives.js';
import type { AuditReport } from './report.js';

/** The router's request for an audit's narrative: the findings as facts (the router redacts them before any provider sees them). */
export function auditNarrativeRequest(report: Omit<AuditReport, 'narrative'>): LlmRequest {
  return {
    operation: 'infrastructure',
    task: 'audit-narrative',
    system: `${narrativeSystemPrompt} Summarise this infrastructure audit: what fails, why it matters, what to do first.`,
    prompt: `Audit ${report.auditId} (${report.type}) of ${report.summary.targets} targets scored ${report.score}/100, status ${report.status}.`,
    facts: {
      status: report.status,
      score: report.score,
      trend: report.trend,
      summary: report.summary,
      gaps: report.gaps.slice(0, 30).map((g) => ({ severity: g.severity, type: g.type, title: g.title, expected: g.evidence.expected, observed: g.evidence.observed, change: g.change, count: g.count })),
      resolved: report.resolved.map((r) => r.title),
    },
  };
}
