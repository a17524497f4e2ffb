import { z } from 'zod';
import { ArchiveRefusedError, archiveResultSchema } from '../../domain/audit-trail/archive.js';
import { SigningKeyMissingError } from '../../domain/audit-trail/checkpoint.js';
import { ArchiveDestinationError } from '../../domain/audit-trail/sink.js';
import { defineJob, PermanentJobError } from '../define.js';

const hour = 3600 * 1000;

/**
 * Writes audit-trail entries older than the limit to an archive destination (gzipped JSON Lines
 * and a signed manifest per segment, read back before they count), after a signed checkpoint;
 * with `cleanup` (the nightly run) then removes from Redis what was archived and reads back.
 */
export const archiveAuditTrailJob = defineJob({
  queue: 'compliance',
  name: 'archive-audit-trail',
  description:
    'writes audit-trail entries older than 90 days to the archive (`BSM_ARCHIVE_URL`): a signed checkpoint, then gzipped JSON Lines segments with signed manifests, each read back; the nightly run then removes from Redis the entries whose archive read back with its hash',
  payload: z
    .object({
      olderThanDays: z.number().int().min(1).max(3650).optional(),
      olderThanHours: z.number().int().min(1).max(87_600).optional(),
      /** A configured destination's name; the primary one when absent. */
      destination: z.string().min(1).max(100).optional(),
      cleanup: z.boolean().default(false),
      requestedBy: z.string().max(200).optional(),
      requestId: z.string().max(200).optional(),
    })
    .refine((p) => p.olderThanDays === undefined || p.olderThanHours === undefined, { message: 'give olderThanDays or olderThanHours, not both' }),
  result: archiveResultSchema,
  stored: true,
  schedule: {
    id: 'audit-trail-archive',
    setting: 'BSM_SCHEDULE_ARCHIVE',
    data: (config) => ({ olderThanDays: config.BSM_ARCHIVE_AFTER_DAYS, cleanup: true }),
    priority: 'low',
    description: (config) => `Archive audit-trail records older than ${config.BSM_ARCHIVE_AFTER_DAYS} days, read them back, then remove them from Redis`,
  },
  handler: async (job, ctx, deps) => {
    const service = deps.auditTrailService;
    const hours = job.data.olderThanHours ?? (job.data.olderThanDays ?? deps.settings.archiveAfterDays) * 24;
    try {
      return await service.archive({
        actor: job.data.requestedBy ? `worker:compliance for ${job.data.requestedBy}` : 'worker:compliance',
        cutoff: new Date(deps.clock().getTime() - hours * hour),
        destination: job.data.destination ?? service.destinations[0] ?? 'default',
        cleanup: job.data.cleanup,
        requestId: job.data.requestId,
        signal: ctx.signal,
        onProgress: async (archived, atMost) => {
          await job.updateProgress(Math.min(99, Math.floor((archived / atMost) * 100)));
        },
      });
    } catch (err) {
      // A corrupt entry stays corrupt, a missing key or destination stays missing: retrying cannot help.
      if (err instanceof ArchiveRefusedError || err instanceof SigningKeyMissingError || err instanceof ArchiveDestinationError) {
        throw new PermanentJobError(err.message);
      }
      throw err;
    }
  },
});
