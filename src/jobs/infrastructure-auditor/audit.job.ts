import { z } from 'zod';
import { auditFleet, auditTypes, fleetAuditResultSchema } from '../../domain/audit/fleet-audit.js';
import { auditNarrativeRequest, narrativeSchema } from '../../domain/narratives.js';
import { defineJob } from '../define.js';
import { narrate } from '../narrative.js';

const auditReportSchema = fleetAuditResultSchema.extend({ narrative: narrativeSchema });

/** An audit of the fleet's own infrastructure (Redis, queues, workers). */
export const auditJob = defineJob({
  queue: 'infrastructure-auditor',
  name: 'audit',
  description: "checks the fleet's own Redis (latency, `noeviction`, AOF, memory) and each queue's workers and backlog; `incremental` reports what changed since the previous audit",
  payload: z.object({
    type: z.enum(auditTypes).default('comprehensive'),
    /** For `targeted` audits: the check ids to run. */
    targets: z.array(z.string().trim().min(1).max(100)).max(100).optional(),
    reason: z.string().trim().max(500).optional(),
  }),
  result: auditReportSchema,
  stored: true,
  schedule: { id: 'infrastructure-audit', setting: 'BSM_SCHEDULE_INFRA_AUDIT', data: { type: 'incremental', reason: 'scheduled' }, priority: 'medium', description: 'Incremental infrastructure audit' },
  handler: async (job, ctx, deps) => {
    await job.updateProgress(5);
    const [state, redis, previous] = await Promise.all([
      deps.fleet.snapshot(),
      deps.redisFacts(),
      job.data.type === 'incremental' ? deps.reports.latest('audit', auditReportSchema) : Promise.resolve(null),
    ]);
    ctx.signal.throwIfAborted();
    await job.updateProgress(60);
    const result = auditFleet(job.data.type, state, redis, {
      targets: job.data.targets,
      previous: previous ? { id: previous.id, checks: previous.body.checks } : null,
    });
    await job.updateProgress(70);
    const narrative = await narrate(deps, 'infrastructure-auditor', auditNarrativeRequest(result), ctx);
    await job.updateProgress(100);
    return { ...result, narrative };
  },
});
