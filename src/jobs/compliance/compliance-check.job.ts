import { z } from 'zod';
import { verifyChain } from '../../domain/audit-trail/chain.js';
import { buildComplianceCheck, complianceCheckResultSchema } from '../../domain/compliance/daily-check.js';
import { defineJob } from '../define.js';

/** The daily compliance check: EU residency of every LLM path, bounded retention, an intact audit trail. */
export const complianceCheckJob = defineJob({
  queue: 'compliance',
  name: 'compliance-check',
  description: 'EU residency of every configured LLM path (as the router decides it), bounded retention, and a hash-chain verification of the audit trail',
  payload: z.object({}),
  result: complianceCheckResultSchema,
  stored: true,
  schedule: { id: 'daily-compliance-check', setting: 'BSM_SCHEDULE_COMPLIANCE_CHECK', data: {}, priority: 'medium', description: 'Daily compliance check' },
  handler: async (_job, _ctx, deps) => {
    const [anchor, entries] = await Promise.all([deps.auditTrail.anchor(), deps.auditTrail.range()]);
    return buildComplianceCheck(
      {
        residency: deps.residency(),
        retention: { ...deps.settings.retention, auditArchiveAfterDays: deps.settings.archiveAfterDays },
        auditTrail: verifyChain(entries, anchor),
      },
      deps.clock(),
    );
  },
});
