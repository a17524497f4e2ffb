import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { QueueName } from '../domain/queue-names.js';
import { defineJob } from './define.js';

export const canaryResultSchema = z.object({
  queue: z.string(),
  jobId: z.string().optional(),
  /** From enqueue to the worker picking it up, as BullMQ recorded it. */
  waitedMs: z.number().nullable(),
  heldMs: z.number(),
  workerPid: z.number(),
});
export type CanaryResult = z.infer<typeof canaryResultSchema>;

/**
 * The canary of a queue: travels the real queue and worker and reports how long it waited.
 * `holdMs` keeps the worker busy that long (honouring cancellation), to exercise drains and
 * shutdowns. Every queue has one.
 */
export function canaryJob<Q extends QueueName>(queue: Q) {
  return defineJob({
    queue,
    name: 'canary',
    description: `Canary of ${queue}: proves the queue and a worker work, and measures the wait`,
    payload: z.object({
      requestedBy: z.string().max(200).optional(),
      holdMs: z.number().int().min(0).max(60_000).default(0),
    }),
    result: canaryResultSchema,
    stored: false,
    handler: async (job, ctx) => {
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
    },
  });
}
