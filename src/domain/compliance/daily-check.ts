import type { ChainBreak } from '../audit-trail/chain.js';

export interface ComplianceCheckInput {
  residency: { region: string; allowed: boolean; reason?: string };
  retention: { completedJobHours: number; failedJobHours: number; auditArchiveAfterDays: number; limitHours: number };
  auditTrail: { ok: boolean; checked: number; breaks: ChainBreak[] };
}

export interface ComplianceCheckItem {
  id: string;
  status: 'pass' | 'fail';
  detail: string;
}

export interface ComplianceCheckResult {
  checkedAt: string;
  status: 'compliant' | 'non_compliant';
  items: ComplianceCheckItem[];
}

/** Daily compliance check: data residency, bounded retention, an intact audit trail. */
export function buildComplianceCheck(input: ComplianceCheckInput, at: Date): ComplianceCheckResult {
  const firstBreak = input.auditTrail.breaks[0];
  const items: ComplianceCheckItem[] = [
    {
      id: 'gdpr.residency',
      status: input.residency.allowed ? 'pass' : 'fail',
      detail: input.residency.allowed
        ? `LLM region ${input.residency.region} is allowed`
        : `LLM region ${input.residency.region} is not allowed: ${input.residency.reason ?? 'outside the EU allow-list'}`,
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
