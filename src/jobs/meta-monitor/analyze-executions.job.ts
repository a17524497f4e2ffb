import { z } from 'zod';
import { analysisFocuses, analyzeExecutions, executionAnalysisSchema, type ExecutionRecord } from '../../domain/meta-monitor/analyze-executions.js';
import { executionNarrativeRequest, narrativeSchema } from '../../domain/narratives.js';
import { queueNames } from '../../domain/queue-names.js';
import { defineJob } from '../define.js';
import { narrate } from '../narrative.js';

export const timeframes = { 'last-1h': 3_600_000, 'last-24h': 86_400_000, 'last-7d': 7 * 86_400_000 } as const;
export type Timeframe = keyof typeof timeframes;

/** Statistics over the jobs the fleet finished in a window: durations, waits, failure groups. */
export const analyzeExecutionsJob = defineJob({
  queue: 'meta-monitor',
  name: 'analyze-executions',
  description: 'durations, waits, failure rates and grouped failure reasons of the jobs the fleet finished in a window',
  payload: z.object({
    timeframe: z.enum(Object.keys(timeframes) as [Timeframe, ...Timeframe[]]).default('last-1h'),
    focus: z.enum(analysisFocuses).default('all'),
  }),
  result: executionAnalysisSchema.extend({
    /** Queues of which only the newest jobs were read: the window holds more. */
    truncatedQueues: z.array(z.string()),
    narrative: narrativeSchema,
  }),
  stored: true,
  schedule: { id: 'meta-monitor-analysis', setting: 'BSM_SCHEDULE_META_MONITOR', data: { timeframe: 'last-1h', focus: 'all' }, priority: 'low', description: 'Meta-monitor execution analysis' },
  handler: async (job, ctx, deps) => {
    const to = deps.clock();
    const from = new Date(to.getTime() - timeframes[job.data.timeframe]);
    const records: ExecutionRecord[] = [];
    const truncatedQueues: string[] = [];
    for (const [i, q] of queueNames.entries()) {
      ctx.signal.throwIfAborted();
      const read = await deps.fleet.finishedJobs(q, from);
      records.push(...read.records);
      if (read.truncated) {
        truncatedQueues.push(q);
      }
      await job.updateProgress(Math.round(((i + 1) / queueNames.length) * 80));
    }
    const result = { ...analyzeExecutions(records, from, to, job.data.focus), truncatedQueues };
    const narrative = await narrate(deps, 'meta-monitor', executionNarrativeRequest(result), ctx);
    await job.updateProgress(100);
    return { ...result, narrative };
  },
});
