import { z } from 'zod';
import { auditNarrativeRequest } from '../../domain/audit/narrative.js';
import { auditReportSchema, auditTypes } from '../../domain/audit/report.js';
import { auditIdOf, incrementalMaxAgeMs, runAudit, UnknownTargetsError, type TargetHistory } from '../../domain/audit/run.js';
import { specScanIdPrefix } from '../../domain/gaps/spec-scan.js';
import { defineJob, PermanentJobError } from '../define.js';
import type { JobDeps } from '../deps.js';
import { narrate } from '../narrative.js';

/** Progress is written at most this often (each write is a Redis round trip). */
const progressEveryMs = 250;

/** What the audits of the last two hours saw of each target, newest first: enough for an incremental audit. */
async function targetHistory(deps: JobDeps, now: Date): Promise<Map<string, TargetHistory>> {
  const recent = await deps.reports.list('audit', auditReportSchema, { since: new Date(now.getTime() - 2 * incrementalMaxAgeMs), limit: 200 });
  const history = new Map<string, TargetHistory>();
  for (const r of recent) {
    for (const t of r.body.targets) {
      if (!history.has(t.id)) {
        history.set(t.id, { probedAt: t.probedAt, status: t.status, configHash: t.configHash });
      }
    }
  }
  return history;
}

/** An audit of the inventory in force (the fleet itself when no `BSM_INVENTORY` is set). */
export const auditJob = defineJob({
  queue: 'infrastructure-auditor',
  name: 'audit',
  description:
    'probes the targets of the inventory in force (every one, those that failed, changed or were not probed within the hour, or the named ones), records every unmet expectation as a gap, and reports score, trend and recommendations',
  payload: z.object({
    type: z.enum(auditTypes).default('comprehensive'),
    /** For `targeted` audits: the target ids. */
    targets: z.array(z.string().trim().min(1).max(100)).max(500).optional(),
    /** Redacted by the API before it is enqueued. */
    reason: z.string().trim().max(500).optional(),
    requestedBy: z.string().max(100).default('scheduler'),
    priority: z.enum(['high', 'medium', 'low']).default('medium'),
  }),
  result: auditReportSchema,
  stored: true,
  schedule: { id: 'infrastructure-audit', setting: 'BSM_SCHEDULE_INFRA_AUDIT', data: { type: 'incremental', reason: 'scheduled' }, priority: 'medium', description: 'Incremental infrastructure audit' },
  handler: async (job, ctx, deps) => {
    const now = deps.clock();
    const auditId = auditIdOf(job.id ?? `local.${now.getTime()}`);
    const [inventory, history, previous] = await Promise.all([deps.audit.inventory(), targetHistory(deps, now), deps.reports.latest('audit', auditReportSchema)]);
    let lastWrite = 0;
    let pending: Promise<void> = Promise.resolve();
    const onProgress = (done: number, total: number) => {
      const t = Date.now();
      if (done === total || t - lastWrite >= progressEveryMs) {
        lastWrite = t;
        // Percent, as BullMQ's board shows it; one write at a time, the last one wins.
        const percent = total === 0 ? 90 : Math.round((done / total) * 90);
        pending = pending.then(() => job.updateProgress(percent)).catch((err: unknown) => ctx.log.warn({ err: (err as Error).message }, 'could not write audit progress'));
      }
    };
    let report;
    try {
      report = await runAudit(
        {
          auditId,
          type: job.data.type,
          trigger: { by: job.data.requestedBy, reason: job.data.reason ?? null, priority: job.data.priority },
          inventory,
          targetIds: job.data.targets,
        },
        { prober: deps.audit.prober, gaps: deps.gaps, history, previous: previous ? { auditId: previous.body.auditId, score: previous.body.score } : null, clock: deps.clock, onProgress, signal: ctx.signal },
      );
    } catch (err) {
      // The API checks target ids before enqueuing; a scheduled or stale targeted audit still ends clearly.
      throw err instanceof UnknownTargetsError ? new PermanentJobError(err.message) : err;
    }
    await pending;
    // A comprehensive audit also reads the spec targets' task lists: on implementation support's
    // queue (its workers, limits and pause), as its own stored result; one scan per audit, retries included.
    if (job.data.type === 'comprehensive' && inventory.inventory.targets.some((t) => t.kind === 'spec')) {
      const scanJobId = `${specScanIdPrefix}-${auditId}`;
      await deps.implementation.enqueueSpecScan({ requestedBy: job.data.requestedBy, reason: `comprehensive audit ${auditId}`, priority: job.data.priority }, scanJobId);
      ctx.log.info({ auditId, scanId: scanJobId }, 'spec scan enqueued');
    }
    const narrative = await narrate(deps, 'infrastructure-auditor', auditNarrativeRequest(report), ctx);
    await job.updateProgress(100);
    return { ...report, narrative };
  },
});
