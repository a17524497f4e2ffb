import { z } from 'zod';
import { queueNames } from '../../domain/queue-names.js';
import { narrativeSchema, weeklyReviewNarrativeRequest } from '../../domain/narratives.js';
import { buildWeeklyReview, weeklyReviewResultSchema } from '../../domain/support-mode/weekly-review.js';
import { defineJob } from '../define.js';
import { narrate } from '../narrative.js';
import { dailyCheckJob } from './daily-check.job.js';

const week = 7 * 24 * 3600 * 1000;

/** Weekly Support Mode Review: the week's daily checks and each queue's job totals. */
export const weeklyReviewJob = defineJob({
  queue: 'bedrock-support',
  name: 'weekly-review',
  description: "the week's daily checks (recurring problems) and each queue's completed/failed totals from BullMQ's per-minute metrics",
  payload: z.object({ reason: z.string().trim().max(500).optional() }),
  result: weeklyReviewResultSchema.extend({ narrative: narrativeSchema }),
  stored: true,
  schedule: { id: 'weekly-support-review', setting: 'BSM_SCHEDULE_WEEKLY_REVIEW', data: { reason: 'Weekly Support Mode Review' }, priority: 'medium', description: 'Weekly Support Mode Review' },
  handler: async (job, ctx, deps) => {
    const to = deps.clock();
    const from = new Date(to.getTime() - week);
    await job.updateProgress(10);
    const checks = await deps.reports.list(dailyCheckJob.name, dailyCheckJob.result, { since: from, limit: 100 });
    await job.updateProgress(40);
    const totals = Object.fromEntries(await Promise.all(queueNames.map(async (q) => [q, await deps.fleet.metricTotals(q, 7 * 24 * 60)] as const)));
    const result = buildWeeklyReview(
      from,
      to,
      checks.map((c) => c.body),
      totals,
    );
    await job.updateProgress(70);
    const narrative = await narrate(deps, 'bedrock-support', weeklyReviewNarrativeRequest(result), ctx);
    await job.updateProgress(100);
    return { ...result, narrative };
  },
});
