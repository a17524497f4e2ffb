import { z } from 'zod';
import { runSpecScan, selectSpecTargets, specScanIdOf, specScanResultSchema, UnknownSpecTargetsError } from '../../domain/gaps/spec-scan.js';
import { defineJob, PermanentJobError } from '../define.js';

/**
 * The spec scan: reads the primary agent's task lists (`.kiro/specs/*\/tasks.md`) under the spec
 * targets of the inventory in force (every one, or the named ones) and records open tasks as gaps
 * of source `spec`; a task ticked since resolves its gap. See `domain/gaps/spec-scan.ts`.
 */
export const specScanJob = defineJob({
  queue: 'implementation-support',
  name: 'spec-scan',
  description: "reads the task lists of the inventory's spec targets and records every open task as a gap (incomplete_feature, or missing_implementation when it names a file that does not exist); a ticked task resolves its gap",
  payload: z.object({
    /** Spec target ids; every spec target when absent. */
    targets: z.array(z.string().trim().min(1).max(100)).min(1).max(500).optional(),
    /** Redacted before it is enqueued. */
    reason: z.string().trim().max(500).optional(),
    requestedBy: z.string().max(200).default('scheduler'),
    priority: z.enum(['high', 'medium', 'low']).default('medium'),
  }),
  result: specScanResultSchema,
  stored: true,
  handler: async (job, ctx, deps) => {
    const now = deps.clock();
    const scanId = specScanIdOf(job.id ?? `local.${now.getTime()}`);
    const inventory = await deps.audit.inventory();
    let targets;
    try {
      targets = selectSpecTargets(inventory.inventory.targets, job.data.targets);
    } catch (err) {
      // The API checks the ids before enqueuing; a stale request (the inventory changed since) ends clearly.
      throw err instanceof UnknownSpecTargetsError ? new PermanentJobError(err.message) : err;
    }
    const result = await runSpecScan(
      { scanId, targets, trigger: { by: job.data.requestedBy, reason: job.data.reason ?? null, priority: job.data.priority } },
      {
        files: deps.implementation.specFiles,
        gaps: deps.gaps,
        clock: deps.clock,
        signal: ctx.signal,
        onProgress: (done, total) => {
          // One Redis write per target; a lost progress write is not worth failing the scan.
          job.updateProgress(total === 0 ? 100 : Math.round((done / total) * 100)).catch((err: unknown) => ctx.log.warn({ err: (err as Error).message }, 'could not write spec-scan progress'));
        },
      },
    );
    ctx.log.info({ scanId, targets: result.targets.length, ...result.totals }, 'spec scan finished');
    return result;
  },
});
