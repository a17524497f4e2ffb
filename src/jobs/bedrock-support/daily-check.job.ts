import { z } from 'zod';
import { auditReportSchema } from '../../domain/audit/report.js';
import { dailyCheckNarrativeRequest, narrativeSchema } from '../../domain/narratives.js';
import { buildDailyCheck, dailyCheckResultSchema } from '../../domain/support-mode/daily-check.js';
import { buildMorningCheck, morningCheckSchema } from '../../domain/support-mode/morning-check.js';
import { componentHealthOf } from '../../domain/support-mode/health.js';
import { defineJob } from '../define.js';
import { narrate } from '../narrative.js';
import { analysisResultSchema } from '../meta-monitor/analyze-executions.job.js';

export const dailyCheckReportSchema = dailyCheckResultSchema.extend(morningCheckSchema.shape).extend({ narrative: narrativeSchema });

const dayMs = 86_400_000;

/** Morning Support Mode Check: the runbook's three steps over what the fleet and the components store, with a verdict. */
export const dailyCheckJob = defineJob({
  queue: 'bedrock-support',
  name: 'daily-check',
  description:
    "the runbook's Morning Support Mode Check: support mode and each component's health, every queue's counts and workers, the last 24 h of audits, the latest meta-monitor insights, implementation support's activities, support-operation latencies and routing efficiency against their thresholds, and a pass/fail verdict with its reasons",
  payload: z.object({ reason: z.string().trim().max(500).optional() }),
  result: dailyCheckReportSchema,
  stored: true,
  schedule: { id: 'daily-support-check', setting: 'BSM_SCHEDULE_DAILY_CHECK', data: { reason: 'Morning Support Mode Check' }, priority: 'high', description: 'Morning Support Mode Check' },
  handler: async (job, ctx, deps) => {
    const at = deps.clock();
    const since = new Date(at.getTime() - dayMs);
    const [state, head, entries] = await Promise.all([deps.fleet.snapshot(), deps.auditTrail.head(), deps.auditTrail.length()]);
    await job.updateProgress(20);
    const [audits, analyses, activities, day, week, routing] = await Promise.all([
      deps.reports.listMatching('audit', auditReportSchema, { since, limit: 200 }),
      deps.reports.listMatching('analyze-executions', analysisResultSchema, { limit: 20 }),
      deps.review.activities(since),
      deps.review.performance('24h'),
      deps.review.performance('7d'),
      deps.review.routingEfficiency(dayMs),
    ]);
    await job.updateProgress(60);
    const fleet = buildDailyCheck(state, { entries, headSeq: head.seq }, state.mode);
    const morning = buildMorningCheck({
      at,
      health: componentHealthOf(state, at),
      mode: state.mode,
      audits: audits.reports.map((r) => r.body),
      analysis: analyses.reports.map((r) => r.body).find((a) => a.source === 'agent') ?? null,
      activities,
      performance: { day, week },
      routing,
      thresholds: deps.alerts.thresholds,
    });
    const result = { ...fleet, ...morning };
    ctx.signal.throwIfAborted();
    const narrative = await narrate(deps, 'bedrock-support', dailyCheckNarrativeRequest(result), ctx);
    await job.updateProgress(100);
    return { ...result, narrative };
  },
});
