import type { DefaultJobOptions } from 'bullmq';
import type { Config } from '../config.js';

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
