import { z } from 'zod';
import { SigningKeyMissingError } from '../../domain/audit-trail/checkpoint.js';
import { defineJob, PermanentJobError } from '../define.js';

/** Signs the audit trail's head into a numbered checkpoint written to the archive: the anchor outside Redis. */
export const checkpointAuditTrailJob = defineJob({
  queue: 'compliance',
  name: 'checkpoint-audit-trail',
  description: "signs the audit trail's head (sequence number, hash, time) with Ed25519 into the next numbered checkpoint in the archive; skipped when nothing was appended since the last",
  payload: z.object({}),
  result: z.object({
    written: z.boolean(),
    reason: z.enum(['written', 'empty', 'unchanged']),
    number: z.number().int().nullable(),
    seq: z.number().int().nullable(),
    location: z.string().nullable(),
  }),
  stored: false,
  schedule: { id: 'audit-trail-checkpoint', setting: 'BSM_SCHEDULE_CHECKPOINT', data: {}, priority: 'low', description: 'Signed audit-trail checkpoint' },
  handler: async (_job, _ctx, deps) => {
    try {
      const r = await deps.auditTrailService.checkpoint('worker:compliance');
      return { written: r.written, reason: r.reason, number: r.head?.number ?? null, seq: r.head?.seq ?? null, location: r.head?.location ?? null };
    } catch (err) {
      throw err instanceof SigningKeyMissingError ? new PermanentJobError(err.message) : err;
    }
  },
});
