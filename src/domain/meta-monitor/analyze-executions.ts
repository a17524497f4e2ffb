/** The fleet's own finished jobs as executions: the meta-monitor's second source (`source: fleet`). */
import type { AnalyzedExecution } from './analysis.js';

/** One finished job of the fleet, as BullMQ recorded it. Times are epoch ms. */
export interface ExecutionRecord {
  queue: string;
  name: string;
  jobId?: string | undefined;
  state: 'completed' | 'failed';
  enqueuedAt: number;
  startedAt?: number;
  finishedAt?: number;
  attemptsMade: number;
  failedReason?: string;
}

/**
 * A finished job as an execution: operation `<queue>/<job name>`, its run time as latency, its time
 * in the queue as wait, its failure reason as the error message (job failure reasons are written
 * by our own handlers and hold no caller's free text). Null for a job BullMQ has no finish time for.
 */
export function fleetExecutionOf(r: ExecutionRecord): AnalyzedExecution | null {
  if (r.finishedAt === undefined) {
    return null;
  }
  const started = r.startedAt ?? r.finishedAt;
  return {
    id: `${r.queue}/${r.jobId ?? `${r.name}@${r.finishedAt}`}`,
    timestamp: r.finishedAt,
    operation: `${r.queue}/${r.name}`,
    queue: r.queue,
    status: r.state === 'completed' ? 'success' : 'failure',
    latencyMs: Math.max(0, r.finishedAt - started),
    waitMs: Math.max(0, started - r.enqueuedAt),
    ...(r.state === 'failed' ? { errorMessage: r.failedReason ?? 'failed without a reason' } : {}),
  };
}
