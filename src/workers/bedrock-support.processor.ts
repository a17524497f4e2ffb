import { buildDailyCheck, type DailyCheckResult } from '../domain/support-mode/daily-check.js';
import { buildWeeklyReview } from '../domain/support-mode/weekly-review.js';
import { evaluateFleetRules } from '../domain/alerts/fleet-rules.js';
import type { bedrockSupportQueue } from '../queues/bedrock-support.queue.js';
import { queueNames } from '../queues/names.js';
import { dailyCheckNarrativeRequest, weeklyReviewNarrativeRequest } from '../domain/narratives.js';
import { narrate } from './narrative.js';
import { canaryHandler } from './canary.js';
import type { WorkerDeps } from './deps.js';
import type { HandlerTable } from './types.js';

const week = 7 * 24 * 3600 * 1000;

export function bedrockSupportHandlers(deps: WorkerDeps): HandlerTable<typeof bedrockSupportQueue> {
  return {
    'daily-check': async (job, ctx) => {
      const [state, head, entries, mode] = await Promise.all([deps.fleet.snapshot(), deps.auditTrail.head(), deps.auditTrail.length(), deps.supportMode()]);
      const result = buildDailyCheck(state, { entries, headSeq: head.seq }, mode);
      const narrative = await narrate(deps.llm, 'bedrock-support', dailyCheckNarrativeRequest(result), ctx);
      await deps.reports.save('daily-check', job.id ?? state.at, { ...result, narrative });
      return { ...result, narrative };
    },
    'weekly-review': async (job, ctx) => {
      const to = deps.clock();
      const from = new Date(to.getTime() - week);
      await job.updateProgress(10);
      const checks = await deps.reports.list<DailyCheckResult>('daily-check', { since: from, limit: 100 });
      await job.updateProgress(40);
      const totals = Object.fromEntries(
        await Promise.all(queueNames.map(async (q) => [q, await deps.fleet.metricTotals(q, 7 * 24 * 60)] as const)),
      );
      const result = buildWeeklyReview(
        from,
        to,
        checks.map((c) => c.body),
        totals,
      );
      await job.updateProgress(70);
      const narrative = await narrate(deps.llm, 'bedrock-support', weeklyReviewNarrativeRequest(result), ctx);
      await deps.reports.save('weekly-review', job.id ?? to.toISOString(), { ...result, narrative });
      await job.updateProgress(100);
      return { ...result, narrative };
    },
    'alert-evaluation': async (job) => {
      const state = await deps.fleet.snapshot();
      const firing = evaluateFleetRules(state);
      const result = { evaluatedAt: state.at, firing };
      await deps.reports.save('alert-evaluation', job.id ?? state.at, result);
      return result;
    },
    canary: canaryHandler('bedrock-support'),
  };
}
