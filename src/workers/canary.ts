import { setTimeout as sleep } from 'node:timers/promises';
import type { Job } from 'bullmq';
import type { z } from 'zod';
import type { canarySchema } from '../queues/define.js';
import type { QueueName } from '../queues/names.js';
import type { JobContext } from './types.js';

export interface CanaryResult {
  queue: QueueName;
  jobId: string | undefined;
  /** From enqueue to the worker picking it up, as BullMQ recorded it. */
  waitedMs: number | null;
  heldMs: number;
  workerPid: number;
}

/** The canary of `queue`: proves the queue and a worker work, and measures the wait. */
export function canaryHandler(queue: QueueName) {
  return async (job: Job<z.output<typeof canarySchema>, unknown, 'canary'>, ctx: JobContext): Promise<CanaryResult> => {
    const started = Date.now();
    if (job.data.holdMs > 0) {
      await sleep(job.data.holdMs, undefined, { signal: ctx.signal });
    }
    return {
      queue,
      jobId: job.id,
      waitedMs: job.processedOn === undefined ? null : job.processedOn - job.timestamp,
      heldMs: Date.now() - started,
      workerPid: process.pid,
    };
  };
}
