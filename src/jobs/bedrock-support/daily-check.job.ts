import { z } from 'zod';
import { dailyCheckNarrativeRequest, narrativeSchema } from '../../domain/narratives.js';
import { buildDailyCheck, dailyCheckResultSchema } from '../../domain/support-mode/daily-check.js';
import { defineJob } from '../define.js';
import { narrate } from '../narrative.js';

export const dailyCheckReportSchema = dailyCheckResultSchema.extend({ narrative: narrativeSchema });

/** Morning Support Mode Check: records the fleet's real state and what is off. */
export const dailyCheckJob = defineJob({
  queue: 'bedrock-support',
  name: 'daily-check',
  description: "reads every queue's counts, paused state and live workers, and the audit-trail head; stores the result with the problems it found",
  payload: z.object({ reason: z.string().trim().max(500).optional() }),
  result: dailyCheckReportSchema,
  stored: true,
  schedule: { id: 'daily-support-check', setting: 'BSM_SCHEDULE_DAILY_CHECK', data: { reason: 'Morning Support Mode Check' }, priority: 'high', description: 'Morning Support Mode Check' },
  handler: async (_job, ctx, deps) => {
    const [state, head, entries, mode] = await Promise.all([deps.fleet.snapshot(), deps.auditTrail.head(), deps.auditTrail.length(), deps.supportMode()]);
    const result = buildDailyCheck(state, { entries, headSeq: head.seq }, mode);
    const narrative = await narrate(deps, 'bedrock-support', dailyCheckNarrativeRequest(result), ctx);
    return { ...result, narrative };
  },
});
