import { z } from 'zod';
import type { TrailProblem } from '../audit-trail/verify.js';
import type { PathResidency } from '../llm/residency.js';

export interface ComplianceCheckInput {
  /** Each LLM path's residency, as the router decides it. */
  residency: readonly PathResidency[];
  retention: { completedJobHours: number; failedJobHours: number; auditArchiveAfterDays: number; limitHours: number };
  /** The redaction self-test over the canary (absent: not run). */
  selfTest?: { ok: boolean; detail: string };
  /** The audit trail's verification (completeness, integrity, checkpoints). */
  auditTrail: { ok: boolean; entries: number; problemCount: number; firstProblem: TrailProblem | null };
}

export const complianceCheckItemSchema = z.object({ id: z.string(), status: z.enum(['pass', 'fail']), detail: z.string() });
export type ComplianceCheckItem = z.infer<typeof complianceCheckItemSchema>;

export const complianceCheckResultSchema = z.object({
  checkedAt: z.string(),
  status: z.enum(['compliant', 'non_compliant']),
  items: z.array(complianceCheckItemSchema),
});
export type ComplianceCheckResult = z.infer<typeof complianceCheckResultSchema>;

/** Daily compliance check: data residency, bounded retention, an intact audit trail. */
export function buildComplianceCheck(input: ComplianceCheckInput, at: Date): ComplianceCheckResult {
  const first = input.auditTrail.firstProblem;
  const items: ComplianceCheckItem[] = [
    {
      id: 'gdpr.residency',
      status: input.residency.every((r) => r.verdict.ok) ? 'pass' : 'fail',
      detail: input.residency
        .map(({ path, verdict: v }) => (v.ok ? `${path}: region ${v.region} is allowed (${v.basis})` : `${path}: not allowed: ${v.reason}`))
        .join('; '),
    },
    {
      id: 'gdpr.retention',
      status: Math.max(input.retention.completedJobHours, input.retention.failedJobHours) <= input.retention.limitHours ? 'pass' : 'fail',
      detail: `completed jobs kept ${input.retention.completedJobHours} h, failed jobs ${input.retention.failedJobHours} h (limit ${input.retention.limitHours} h, BSM_RETENTION_LIMIT_HOURS); audit trail archived after ${input.retention.auditArchiveAfterDays} d`,
    },
    ...(input.selfTest === undefined ? [] : [{ id: 'pii.redaction', status: input.selfTest.ok ? ('pass' as const) : ('fail' as const), detail: `redaction self-test: ${input.selfTest.detail}` }]),
    {
      id: 'audit-trail.integrity',
      status: input.auditTrail.ok ? 'pass' : 'fail',
      detail: first
        ? `${input.auditTrail.problemCount} problem(s) in ${input.auditTrail.entries} stored entries, first ${first.seq === null ? '' : `at seq ${first.seq}${first.streamId ? ` (stream id ${first.streamId})` : ''}`}${first.checkpoint === null ? '' : ` (checkpoint #${first.checkpoint})`}: ${first.code}: ${first.detail}`
        : `${input.auditTrail.entries} stored entries verified`,
    },
  ];
  return { checkedAt: at.toISOString(), status: items.every((i) => i.status === 'pass') ? 'compliant' : 'non_compliant', items };
}
