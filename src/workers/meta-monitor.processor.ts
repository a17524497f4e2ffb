import { analyzeExecutions } from '../domain/meta-monitor/job-executions.js';
import { timeframes, type metaMonitorQueue } from '../queues/meta-monitor.queue.js';
import { queueNames } from '../queues/names.js';
import { executionNarrativeRequest } from '../domain/narratives.js';
import { narrate } from './narrative.js';
import { canaryHandler } from './canary.js';
import type { WorkerDeps } from './deps.js';
import type { HandlerTable } from './types.js';

export function metaMonitorHandlers(deps: WorkerDeps): HandlerTable<typeof metaMonitorQueue> {
  return {
    'analyze-executions': async (job, ctx) => {
      const to = deps.clock();
      const from = new Date(to.getTime() - timeframes[job.data.timeframe]);
      const records = [];
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
      // Only the newest jobs of each state are read; say so when the window holds more.
      const result = { ...analyzeExecutions(records, from, to, job.data.focus), truncatedQueues };
      const narrative = await narrate(deps.llm, 'meta-monitor', executionNarrativeRequest(result), ctx);
      await deps.reports.save('execution-analysis', job.id ?? to.toISOString(), { ...result, narrative });
      await job.updateProgress(100);
      return { analysisId: job.id, executions: result.executions, failureGroups: result.failures.length, narrativePath: narrative.path };
    },
    canary: canaryHandler('meta-monitor'),
  };
}
