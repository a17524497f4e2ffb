import { z } from 'zod';
import { recordBeforeChange } from '../../domain/audit-trail/ports.js';
import { complianceCheckResultSchema } from '../../domain/compliance/daily-check.js';
import { piiSelfTest } from '../../domain/compliance/gdpr-status.js';
import { buildComplianceReport, complianceReportSchema, periodDays, periodStart, reportFormats, reportPeriods } from '../../domain/compliance/report.js';
import { exportComplianceReport } from '../../domain/compliance/report-export.js';
import { publicIdOf } from '../../domain/public-ids.js';
import { defineJob } from '../define.js';

/** Compliance reports are read by their id, `compliance-report-…` (a scheduled run's too). */
export const complianceReportIdPrefix = 'compliance-report';

/**
 * A compliance report over a period: every GDPR check measured now, the violations (now and in
 * the period's daily checks), PII detections, the audit trail's full verification, LLM usage by
 * path and region, and recommendations. Its making is in the audit trail with the SHA-256 of its
 * JSON export's content, so a later export can be checked against the signed chain.
 */
export const complianceReportJob = defineJob({
  queue: 'compliance',
  name: 'compliance-report',
  description:
    'a compliance report over a day, week or month: every GDPR check measured now, the violations, the daily checks of the period, PII detections, the audit trail verified in full, LLM usage by path and region (calls, tokens, cost), recommendations; kept for GET …/compliance/export',
  payload: z.object({
    period: z.enum(reportPeriods).default('weekly'),
    includeDetails: z.boolean().default(false),
    format: z.enum(reportFormats).default('json'),
    requestedBy: z.string().min(1).max(200).default('scheduler'),
    requestId: z.string().max(200).optional(),
  }),
  result: complianceReportSchema,
  stored: true,
  schedule: {
    id: 'weekly-compliance-report',
    setting: 'BSM_SCHEDULE_COMPLIANCE_REPORT',
    data: { period: 'weekly', includeDetails: true, format: 'json' },
    priority: 'low',
    description: 'Weekly compliance report over the last 7 days, with details',
  },
  handler: async (job, ctx, deps) => {
    const now = deps.clock();
    const from = periodStart(job.data.period, now);
    const { firstDay, days } = periodDays(from, now);
    await job.updateProgress(5);
    const [retention, verification, dailyChecks, pii, decisions, spendDays] = await Promise.all([
      deps.compliance.retention(),
      deps.auditTrailService.verify('all', { signal: ctx.signal }),
      deps.reports.listMatching('compliance-check', complianceCheckResultSchema, { since: from, limit: 1_000 }),
      deps.compliance.pii.read({ days, now }),
      deps.compliance.decisions(from.getTime(), now.getTime()),
      deps.compliance.spend(days),
    ]);
    await job.updateProgress(80);
    const spend = spendDays.reduce(
      (sum, d) => ({
        days: [...sum.days, d.day],
        calls: sum.calls + d.totals.calls,
        inputTokens: sum.inputTokens + d.totals.inputTokens,
        outputTokens: sum.outputTokens + d.totals.outputTokens,
        costUsd: sum.costUsd + d.totals.costUsd,
        unpricedCalls: sum.unpricedCalls + d.totals.unpricedCalls,
      }),
      { days: [] as string[], calls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, unpricedCalls: 0 },
    );
    const id = publicIdOf(complianceReportIdPrefix, job.id ?? `local.${now.getTime()}`);
    const report = complianceReportSchema.parse(
      buildComplianceReport(
        {
          id,
          period: job.data.period,
          includeDetails: job.data.includeDetails,
          format: job.data.format,
          requestedBy: job.data.requestedBy,
          gdpr: { residency: deps.residency(), selfTest: piiSelfTest(), retention, archiveUrl: deps.compliance.archiveUrl },
          verification,
          dailyChecks: { results: dailyChecks.reports.map((r) => ({ at: r.createdAt, body: r.body })), unreadable: dailyChecks.unreadable },
          pii: { days: pii.days, firstDay: firstDay.toISOString().slice(0, 10) },
          decisions,
          regionOf: deps.compliance.regionOf,
          spend,
        },
        now,
      ),
    );
    // Keeping a report is a change: in the trail first, with the hash an auditor recomputes from the JSON export.
    await recordBeforeChange(deps.auditTrail, {
      actor: job.data.requestedBy === 'scheduler' ? 'worker:compliance' : `worker:compliance for ${job.data.requestedBy}`,
      action: 'compliance.report.create',
      target: id,
      details: {
        period: report.period,
        status: report.status,
        violations: report.violations.length,
        jsonContentSha256: exportComplianceReport(report, 'json').sha256,
        ...(job.data.requestId === undefined ? {} : { requestId: job.data.requestId }),
      },
    });
    await job.updateProgress(100);
    return report;
  },
});
