/**
 * Retention as measured: the oldest item of each kind still kept, against its limit. One
 * definition for the GDPR status route and the compliance report job; the reads come from the
 * adapters (the execution store, BullMQ, the audit trail).
 */
import { queueNames, type QueueName } from '../queue-names.js';
import type { RetentionMeasure } from './gdpr-status.js';

/** Where the oldest kept items are read. */
export interface RetentionSources {
  oldestExecution(): Promise<Date | null>;
  /** When the oldest finished job of `queue` in `kind` finished (or was made); null when none is kept. */
  oldestFinishedJob(queue: QueueName, kind: 'completed' | 'failed'): Promise<Date | null>;
  /** When the oldest audit-trail entry still in Redis was written. */
  oldestTrailEntry(): Promise<Date | null>;
}

/** The limits in force, from the settings named in each measure. */
export interface RetentionLimits {
  /** `BSM_EXECUTION_RETENTION_DAYS`. */
  executionDays: number;
  /** `BSM_RETENTION_LIMIT_HOURS`. */
  jobHours: number;
  /** `BSM_ARCHIVE_AFTER_DAYS`. */
  archiveAfterDays: number;
}

/** The oldest execution, the oldest finished job per queue (completed and failed apart), and the oldest audit-trail entry, each with its limit. */
export async function measureRetention(sources: RetentionSources, limits: RetentionLimits): Promise<RetentionMeasure[]> {
  const kinds = ['completed', 'failed'] as const;
  const [executions, jobs, entry] = await Promise.all([
    sources.oldestExecution(),
    Promise.all(
      queueNames.flatMap((queue) =>
        kinds.map(async (kind) => ({ data: `jobs:${queue}:${kind}`, oldest: await sources.oldestFinishedJob(queue, kind), limitHours: limits.jobHours, setting: 'BSM_RETENTION_LIMIT_HOURS' })),
      ),
    ),
    sources.oldestTrailEntry(),
  ]);
  return [
    { data: 'executions', oldest: executions, limitHours: limits.executionDays * 24, setting: 'BSM_EXECUTION_RETENTION_DAYS' },
    ...jobs,
    // Archiving runs daily: a day of slack past BSM_ARCHIVE_AFTER_DAYS before an entry counts as kept too long.
    { data: 'audit-trail', oldest: entry, limitHours: (limits.archiveAfterDays + 1) * 24, setting: 'BSM_ARCHIVE_AFTER_DAYS + 1 d' },
  ];
}
