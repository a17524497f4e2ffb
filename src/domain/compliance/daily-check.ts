import { z } from 'zod';
import type { ChainBreak } from '../audit-trail/chain.js';
import type { PathResidency } from '../llm/residency.js';

export interface ComplianceCheckInput {
  /** Each LLM path's residency, as the router decides it. */
  residency: readonly PathResidency[];
  retention: { completedJobHours: number; failedJobHours: number; auditArchiveAfterDays: number; limitHours: number };
  auditTrail: { ok: boolean; checked: number; breaks: ChainBreak[] };
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
  const firstBreak = input.auditTrail.breaks[0];
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
    {
      id: 'audit-trail.integrity',
      status: input.auditTrail.ok ? 'pass' : 'fail',
      detail: firstBreak
        ? `${input.auditTrail.breaks.length} break(s) in ${input.auditTrail.checked} entries, first at seq ${firstBreak.seq}: ${firstBreak.problem}`
        : `${input.auditTrail.checked} stored entries verified`,
    },
  ];
  return { checkedAt: at.toISOString(), status: items.every((i) => i.status === 'pass') ? 'compliant' : 'non_compliant', items };
}
