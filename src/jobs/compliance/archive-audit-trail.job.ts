import { z } from 'zod';
import { archiveBefore, ArchiveRefusedError, archiveResultSchema, type ArchiveSink } from '../../domain/audit-trail/archive.js';
import { defineJob, PermanentJobError } from '../define.js';

const day = 24 * 3600 * 1000;

/** Moves audit-trail entries older than `olderThanDays` to the archive (written and flushed before they leave Redis). */
export const archiveAuditTrailJob = defineJob({
  queue: 'compliance',
  name: 'archive-audit-trail',
  description: 'moves audit-trail entries older than 90 days to `BSM_ARCHIVE_URL` (written and fsync\'ed before they leave Redis)',
  payload: z.object({ olderThanDays: z.number().int().min(1).max(3650).optional() }),
  result: archiveResultSchema,
  stored: true,
  schedule: {
    id: 'audit-trail-archive',
    setting: 'BSM_SCHEDULE_ARCHIVE',
    data: (config) => ({ olderThanDays: config.BSM_ARCHIVE_AFTER_DAYS }),
    priority: 'low',
    description: (config) => `Archive audit-trail records older than ${config.BSM_ARCHIVE_AFTER_DAYS} days`,
  },
  handler: async (job, ctx, deps) => {
    let sink: ArchiveSink;
    try {
      sink = deps.archiveSink();
    } catch (err) {
      throw new PermanentJobError((err as Error).message);
    }
    const days = job.data.olderThanDays ?? deps.settings.archiveAfterDays;
    const cutoff = new Date(deps.clock().getTime() - days * day);
    const result = await archiveBefore(deps.auditTrail, sink, cutoff, { signal: ctx.signal }).catch((err: unknown) => {
      // A corrupt entry stays corrupt: retrying cannot help.
      throw err instanceof ArchiveRefusedError ? new PermanentJobError(err.message) : err;
    });
    if (result.archived > 0) {
      await deps.auditTrail.append({
        actor: 'worker:compliance',
        action: 'audit-trail.archive',
        details: { archived: result.archived, fromSeq: result.fromSeq, toSeq: result.toSeq, files: result.files, cutoff: result.cutoff },
      });
    }
    return result;
  },
});
