import type { Job } from 'bullmq';
import type { Logger } from '../observability/logger.js';
import type { JobDataOf, JobNameOf, QueueDefinition } from '../queues/define.js';

/** What a handler gets besides its job. */
export interface JobContext {
  /** Fires when the job is cancelled (shutdown past its grace period, emergency shutdown). */
  signal: AbortSignal;
  log: Logger;
}

/** A processor of one job name: a plain async function. Its return value is the job's result. */
export type Handler<D extends QueueDefinition, N extends JobNameOf<D>> = (job: Job<JobDataOf<D, N>, unknown, N>, ctx: JobContext) => Promise<unknown>;

/** One handler for every job name of a queue; the compiler checks it is complete. */
export type HandlerTable<D extends QueueDefinition> = { [N in JobNameOf<D>]: Handler<D, N> };
