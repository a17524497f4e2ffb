import type { DefaultJobOptions } from 'bullmq';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { QueueName } from './names.js';

/**
 * A queue's declaration: its name, and for every job name the zod schema of its payload.
 * Handlers are checked against `jobs` by the compiler (see `src/workers/`).
 */
export interface QueueDefinition<Q extends QueueName = QueueName, J extends Record<string, z.ZodType> = Record<string, z.ZodType>> {
  name: Q;
  description: string;
  jobs: J;
}

export function defineQueue<Q extends QueueName, J extends Record<string, z.ZodType>>(def: QueueDefinition<Q, J>): QueueDefinition<Q, J> {
  return def;
}

/** Job names of a queue definition. */
export type JobNameOf<D extends QueueDefinition> = keyof D['jobs'] & string;
/** Payload of one job (after defaults are applied by its schema). */
export type JobDataOf<D extends QueueDefinition, N extends JobNameOf<D>> = z.output<D['jobs'][N]>;
/** Payload as callers may pass it (before defaults). */
export type JobInputOf<D extends QueueDefinition, N extends JobNameOf<D>> = z.input<D['jobs'][N]>;

/**
 * Every queue has a canary: a job that travels the real queue and worker and reports
 * how long it waited. `holdMs` keeps the worker busy that long (honouring cancellation),
 * to exercise drains and shutdowns.
 */
export const canarySchema = z.object({
  requestedBy: z.string().max(200).optional(),
  holdMs: z.number().int().min(0).max(60_000).default(0),
});

/** Retention and retry options shared by every queue. */
export interface JobOptionSettings {
  attempts: number;
  backoffMs: number;
  keepCompletedHours: number;
  keepCompletedCount: number;
  keepFailedHours: number;
  keepFailedCount: number;
}

/** The job options the configuration sets (`BSM_ATTEMPTS`, `BSM_BACKOFF_MS`, `BSM_KEEP_*`). */
export function jobOptionSettings(config: Pick<Config, 'BSM_ATTEMPTS' | 'BSM_BACKOFF_MS' | 'BSM_KEEP_COMPLETED_HOURS' | 'BSM_KEEP_COMPLETED_COUNT' | 'BSM_KEEP_FAILED_HOURS' | 'BSM_KEEP_FAILED_COUNT'>): JobOptionSettings {
  return {
    attempts: config.BSM_ATTEMPTS,
    backoffMs: config.BSM_BACKOFF_MS,
    keepCompletedHours: config.BSM_KEEP_COMPLETED_HOURS,
    keepCompletedCount: config.BSM_KEEP_COMPLETED_COUNT,
    keepFailedHours: config.BSM_KEEP_FAILED_HOURS,
    keepFailedCount: config.BSM_KEEP_FAILED_COUNT,
  };
}

export function defaultJobOptions(s: JobOptionSettings): DefaultJobOptions {
  return {
    attempts: s.attempts,
    backoff: { type: 'exponential', delay: s.backoffMs },
    removeOnComplete: { age: s.keepCompletedHours * 3600, count: s.keepCompletedCount },
    removeOnFail: { age: s.keepFailedHours * 3600, count: s.keepFailedCount },
  };
}
