import { z } from 'zod';
import { buildComplianceCheck, complianceCheckResultSchema } from '../../domain/compliance/daily-check.js';
import { piiSelfTest } from '../../domain/compliance/gdpr-status.js';
import { defineJob } from '../define.js';

/** The daily compliance check: EU residency of every LLM path, bounded retention, an intact audit trail. */
export const complianceCheckJob = defineJob({
  queue: 'compliance',
  name: 'compliance-check',
  description: 'EU residency of every configured LLM path (as the router decides it), bounded retention, the PII redaction self-test, and a verification of the audit trail (completeness, hash chain, signed checkpoints)',
  payload: z.object({}),
  result: complianceCheckResultSchema,
  stored: true,
  schedule: { id: 'daily-compliance-check', setting: 'BSM_SCHEDULE_COMPLIANCE_CHECK', data: {}, priority: 'medium', description: 'Daily compliance check' },
  handler: async (_job, ctx, deps) => {
    const trail = await deps.auditTrailService.verify('all', { signal: ctx.signal });
    return buildComplianceCheck(
      {
        residency: deps.residency(),
        // The same self-test as the GDPR status and the LLM gate: a failure is a P0 compliance.violation too.
        selfTest: piiSelfTest(),
        retention: { ...deps.settings.retention, auditArchiveAfterDays: deps.settings.archiveAfterDays },
        auditTrail: trail,
      },
      deps.clock(),
    );
  },
});
