import { z } from 'zod';
import { auditReportSchema } from '../../domain/audit/report.js';
import { queueNames } from '../../domain/queue-names.js';
import { narrativeSchema, weeklyReviewNarrativeRequest } from '../../domain/narratives.js';
import { buildWeeklyReview, weeklyReviewResultSchema } from '../../domain/support-mode/weekly-review.js';
import { defineJob } from '../define.js';
import { narrate } from '../narrative.js';
import { analysisResultSchema } from '../meta-monitor/analyze-executions.job.js';
import { dailyCheckJob } from './daily-check.job.js';
import { dailyCheckResultSchema } from '../../domain/support-mode/daily-check.js';

const week = 7 * 24 * 3600 * 1000;
/** Gaps read for the trend and the backlog's movement (newest seen first). */
const gapReadLimit = 5_000;

export const weeklyReviewReportSchema = weeklyReviewResultSchema.extend({ narrative: narrativeSchema });

/** Weekly Support Mode Review: the runbook's three reviews over the week's stored figures, with suggested changes. */
export const weeklyReviewJob = defineJob({
  queue: 'bedrock-support',
  name: 'weekly-review',
  description:
    "the runbook's Weekly Support Mode Review: the week's daily checks and verdicts, each queue's completed/failed totals, audit findings and gap trends (opened, resolved, recurring), remediation and auto-resolution success, execution patterns and recurring failure clusters, applied optimizations before and after, backlog movement, LLM spend against budget, and suggested threshold or configuration changes with their evidence",
  payload: z.object({ reason: z.string().trim().max(500).optional() }),
  result: weeklyReviewReportSchema,
  stored: true,
  schedule: { id: 'weekly-support-review', setting: 'BSM_SCHEDULE_WEEKLY_REVIEW', data: { reason: 'Weekly Support Mode Review' }, priority: 'medium', description: 'Weekly Support Mode Review' },
  handler: async (job, ctx, deps) => {
    const to = deps.clock();
    const from = new Date(to.getTime() - week);
    await job.updateProgress(10);
    const [checks, oldChecks, audits, analyses, gaps, activities, optimizations, costs, routing, settings] = await Promise.all([
      deps.reports.listMatching(dailyCheckJob.name, dailyCheckJob.result, { since: from, limit: 100 }),
      deps.reports.listMatching(dailyCheckJob.name, dailyCheckResultSchema, { since: from, limit: 100 }),
      deps.reports.listMatching('audit', auditReportSchema, { since: from, limit: 1_000 }),
      deps.reports.listMatching('analyze-executions', analysisResultSchema, { since: new Date(to.getTime() - 2 * week), limit: 500 }),
      deps.gaps.list({ limit: gapReadLimit }),
      deps.review.activities(from),
      deps.review.optimizations(),
      deps.review.costs(8),
      deps.review.routingEfficiency(week),
      deps.metaMonitor.settings(),
    ]);
    await job.updateProgress(40);
    const totals = Object.fromEntries(await Promise.all(queueNames.map(async (q) => [q, await deps.fleet.metricTotals(q, 7 * 24 * 60)] as const)));
    // Checks stored before the morning procedure was complete still count for the fleet's recurring problems.
    const full = new Set(checks.reports.map((c) => c.id));
    const older = oldChecks.reports.filter((c) => !full.has(c.id)).map((c) => c.body);
    const result = buildWeeklyReview({
      from,
      to,
      dailyChecks: [...checks.reports.map((c) => c.body), ...older],
      unreadableChecks: oldChecks.unreadable,
      totals,
      audits: audits.reports.map((r) => r.body),
      gaps,
      activities,
      analyses: analyses.reports.map((r) => r.body).filter((a) => a.source === 'agent'),
      optimizations,
      costs,
      routing,
      thresholds: deps.alerts.thresholds,
      metaMonitor: settings.settings,
    });
    await job.updateProgress(70);
    ctx.signal.throwIfAborted();
    const narrative = await narrate(deps, 'bedrock-support', weeklyReviewNarrativeRequest(result), ctx);
    await job.updateProgress(100);
    return { ...result, narrative };
  },
});
