import { UnrecoverableError } from 'bullmq';
import { archiveBefore, type ArchiveSink } from '../domain/audit-trail/archive.js';
import { verifyChain } from '../domain/audit-trail/chain.js';
import { buildComplianceCheck } from '../domain/compliance/daily-check.js';
import type { complianceQueue } from '../queues/compliance.queue.js';
import { canaryHandler } from './canary.js';
import type { WorkerDeps } from './deps.js';
import type { HandlerTable } from './types.js';

const day = 24 * 3600 * 1000;

export function complianceHandlers(deps: WorkerDeps): HandlerTable<typeof complianceQueue> {
  return {
    'compliance-check': async (job) => {
      const [anchor, entries] = await Promise.all([deps.auditTrail.anchor(), deps.auditTrail.range()]);
      const chain = verifyChain(entries, anchor);
      const result = buildComplianceCheck(
        {
          residency: { region: deps.settings.region, ...deps.residency(deps.settings.region) },
          retention: { ...deps.settings.retention, auditArchiveAfterDays: deps.settings.archiveAfterDays },
          auditTrail: chain,
        },
        deps.clock(),
      );
      await deps.reports.save('compliance-check', job.id ?? result.checkedAt, result);
      return result;
    },
    'archive-audit-trail': async (job, ctx) => {
      let sink: ArchiveSink;
      try {
        sink = deps.archiveSink();
      } catch (err) {
        throw new UnrecoverableError((err as Error).message);
      }
      const days = job.data.olderThanDays ?? deps.settings.archiveAfterDays;
      const cutoff = new Date(deps.clock().getTime() - days * day);
      const result = await archiveBefore(deps.auditTrail, sink, cutoff, { signal: ctx.signal });
      if (result.archived > 0) {
        await deps.auditTrail.append({
          actor: 'worker:compliance',
          action: 'audit-trail.archive',
          details: { archived: result.archived, fromSeq: result.fromSeq, toSeq: result.toSeq, files: result.files, cutoff: result.cutoff },
        });
      }
      await deps.reports.save('archive', job.id ?? result.cutoff, result);
      return result;
    },
    canary: canaryHandler('compliance'),
  };
}
