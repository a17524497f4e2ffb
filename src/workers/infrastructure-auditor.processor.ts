import { auditFleet, type FleetAuditResult } from '../domain/audit/fleet-audit.js';
import type { infrastructureAuditorQueue } from '../queues/infrastructure-auditor.queue.js';
import { auditNarrativeRequest } from '../domain/narratives.js';
import { narrate } from './narrative.js';
import { canaryHandler } from './canary.js';
import type { WorkerDeps } from './deps.js';
import type { HandlerTable } from './types.js';

export function infrastructureAuditorHandlers(deps: WorkerDeps): HandlerTable<typeof infrastructureAuditorQueue> {
  return {
    audit: async (job, ctx) => {
      await job.updateProgress(5);
      const [state, redis, previous] = await Promise.all([
        deps.fleet.snapshot(),
        deps.redisFacts(),
        job.data.type === 'incremental' ? deps.reports.latest<FleetAuditResult>('audit') : Promise.resolve(null),
      ]);
      ctx.signal.throwIfAborted();
      await job.updateProgress(60);
      const result = auditFleet(job.data.type, state, redis, {
        targets: job.data.targets,
        previous: previous ? { id: previous.id, checks: previous.body.checks } : null,
      });
      await job.updateProgress(70);
      const narrative = await narrate(deps.llm, 'infrastructure-auditor', auditNarrativeRequest(result), ctx);
      await deps.reports.save('audit', job.id ?? state.at, { ...result, narrative });
      await job.updateProgress(100);
      return { auditId: job.id, score: result.score, summary: result.summary, narrativePath: narrative.path };
    },
    canary: canaryHandler('infrastructure-auditor'),
  };
}
