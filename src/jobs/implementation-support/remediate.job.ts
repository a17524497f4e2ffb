import { z } from 'zod';
import { remediationRequestSchema } from '../../domain/implementation/remediation.js';
import { defineJob } from '../define.js';

/**
 * Runs one remediation request (queued by `POST …/implementation/remediate`, or by an approval):
 * applies its action through the catalog, checks the gap again, and resolves or fails the gap by
 * what it read. See `domain/implementation/remediation-service.ts`. The request is the record; the
 * job's id is the request's `act-…` id, so a request is run once.
 */
export const remediateJob = defineJob({
  queue: 'implementation-support',
  name: 'remediate',
  description: "applies a remediation request's action through the action catalog, re-checks the gap (an audit gap's target is probed again), and marks the gap resolved or failed with what was observed",
  payload: z.object({ requestId: z.string().regex(/^act-[0-9a-f]{16}$/, 'an act- id and 16 hex digits') }),
  result: remediationRequestSchema,
  stored: false,
  handler: async (job, ctx, deps) => {
    const request = await deps.implementation.remediations.run(job.data.requestId, (percent) => job.updateProgress(percent));
    ctx.log.info({ requestId: request.id, gapId: request.gapId, status: request.status, action: request.suggestion }, `remediation ${request.id}: ${request.status}`);
    return request;
  },
});
