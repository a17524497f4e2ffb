import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { Redactor } from '../domain/compliance/pii.js';
import { inventorySchema, maskSecrets, type InventoryVersion } from '../domain/audit/inventory.js';
import { exportFormats, exportReport } from '../domain/audit/export.js';
import { auditReportSchema, auditTypes, type AuditReport } from '../domain/audit/report.js';
import { jobIdOfAudit } from '../domain/audit/run.js';
import { reachabilityResultSchema, reachabilityTimeoutMs } from '../jobs/infrastructure-auditor/reachability.job.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError, errorBody } from './errors.js';
import { assertRunnable } from './runnable.js';
import { bodyErrors, count, ErrorSchema, guard, isoTime, jsonBody, jsonResponse, noQuery, notFound, protectedErrors } from './openapi.js';
import { describeIssue } from './validation.js';

const queue = 'infrastructure-auditor';

export const TriggerBody = z
  .object({
    type: z.enum(auditTypes).optional().openapi({ description: '`comprehensive` when not given, `targeted` when `targets` are' }),
    priority: z.enum(['high', 'medium', 'low']).default('medium'),
    reason: z.string().trim().max(500).optional().openapi({ example: 'Pre-deployment validation' }),
    targets: z.array(z.string().trim().min(1).max(100)).min(1).max(500).optional().openapi({ description: 'Target ids: with them the audit is `targeted` unless a type says otherwise' }),
  })
  .strict()
  .openapi('AuditTriggerBody');

const Accepted = z
  .object({ auditId: z.string().openapi({ example: 'audit-3f1c…' }), type: z.enum(auditTypes), priority: z.string(), state: z.literal('queued'), targets: count, statusUrl: z.string(), detailsUrl: z.string() })
  .openapi('AuditAccepted');

const AuditStatus = z
  .object({
    auditId: z.string(),
    state: z.enum(['queued', 'running', 'completed', 'failed']),
    type: z.enum(auditTypes).nullable(),
    progress: z.object({ percent: z.number() }),
    enqueuedAt: isoTime.nullable(),
    startedAt: isoTime.nullable(),
    finishedAt: isoTime.nullable(),
    durationMs: z.number().nullable(),
    attempts: count.nullable().openapi({ description: 'Attempts BullMQ made; null once the job itself is gone (retention) and only its report is left' }),
    error: z.string().nullable(),
    summary: z.object({ status: z.string(), score: z.number(), gaps: count }).nullable(),
  })
  .openapi('AuditStatus');

const AuditSummary = z
  .object({
    auditId: z.string(),
    type: z.enum(auditTypes),
    status: z.string(),
    score: z.number(),
    startedAt: isoTime,
    durationMs: z.number(),
    targets: count,
    gaps: count,
    newGaps: count,
    resolvedGaps: count,
    trigger: z.object({ by: z.string(), priority: z.string() }),
  })
  .openapi('AuditSummary');

const ConfigSchema = z.object({ version: count, source: z.string(), setBy: z.string(), setAt: isoTime, inventory: z.unknown() }).openapi('AuditConfig');

const IdParam = z.object({ id: z.string().openapi({ example: 'audit-3f1c…' }) });

/** The job id of an audit id, or a 404 naming it. */
function jobIdOr404(auditId: string): string {
  const jobId = jobIdOfAudit(auditId);
  if (jobId === null) {
    throw new ApiError(404, 'not_found', `unknown audit "${auditId}": audit ids look like audit-…`);
  }
  return jobId;
}

const summaryOf = (r: AuditReport): z.infer<typeof AuditSummary> => ({
  auditId: r.auditId,
  type: r.type,
  status: r.status,
  score: r.score,
  startedAt: r.startedAt,
  durationMs: r.durationMs,
  targets: r.summary.targets,
  gaps: r.summary.gaps,
  newGaps: r.trend.newGaps,
  resolvedGaps: r.trend.resolvedGaps,
  trigger: { by: r.trigger.by, priority: r.trigger.priority },
});

const configOf = (v: InventoryVersion) => ({ version: v.version, source: v.source, setBy: v.setBy, setAt: v.setAt, inventory: maskSecrets(v.inventory) });

/** `/admin/bedrock-support/audit…`: the infrastructure auditor (runbook "Support Operations", "Troubleshooting"). */
export function auditRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const report = async (auditId: string) => {
    const jobId = jobIdOr404(auditId);
    const found = await deps.reports.get('audit', jobId, auditReportSchema);
    if (!found) {
      const job = await deps.fleet.queue(queue).getJob(jobId);
      throw job
        ? new ApiError(409, 'conflict', `audit ${auditId} has no report yet (${await job.getState()}): poll GET /admin/bedrock-support/audit/status/${auditId}`)
        : new ApiError(404, 'not_found', `unknown audit "${auditId}"`);
    }
    return found.body;
  };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/audit/trigger',
      summary: 'Start an infrastructure audit; 202 with its id and where to poll. Every field is optional: a bare POST runs a comprehensive audit',
      ...guard('operate'),
      request: { body: jsonBody(TriggerBody, false) },
      responses: { 202: jsonResponse(Accepted, 'Queued'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const body = c.req.valid('json') as z.output<typeof TriggerBody> | undefined;
      const input = TriggerBody.parse(body ?? {});
      const type = input.type ?? (input.targets ? 'targeted' : 'comprehensive');
      const inventory = await deps.audit.inventory.current();
      if (input.targets && type !== 'targeted') {
        throw new ApiError(400, 'invalid_request', `targets: only a targeted audit names targets, not a ${type} one`, { field: 'targets' });
      }
      if (type === 'targeted') {
        if (!input.targets) {
          throw new ApiError(400, 'invalid_request', 'targets: a targeted audit names its target ids', { field: 'targets' });
        }
        const known = new Set(inventory.inventory.targets.map((t) => t.id));
        const unknown = input.targets.filter((t) => !known.has(t));
        if (unknown.length > 0) {
          throw new ApiError(400, 'invalid_request', `targets: unknown target id${unknown.length === 1 ? '' : 's'} ${unknown.map((u) => `"${u}"`).join(', ')} (GET /admin/bedrock-support/audit/config lists them)`, {
            field: 'targets',
            unknown,
          });
        }
      }
      const auditId = `audit-${randomUUID()}`;
      const principal = c.get('principal');
      const reason = input.reason === undefined ? undefined : new Redactor().redact(input.reason);
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'audit.trigger',
        target: auditId,
        details: { type, priority: input.priority, reason: reason ?? null, targets: input.targets ?? null, inventoryVersion: inventory.version, requestId: c.get('requestId') },
      });
      await deps.fleet.add(queue, 'audit', { type, targets: input.targets, reason, requestedBy: principal.name, priority: input.priority }, { jobId: auditId, priority: input.priority });
      const count = type === 'targeted' ? (input.targets?.length ?? 0) : inventory.inventory.targets.length;
      return c.json(
        {
          auditId,
          type,
          priority: input.priority,
          state: 'queued' as const,
          targets: count,
          statusUrl: `/admin/bedrock-support/audit/status/${auditId}`,
          detailsUrl: `/admin/bedrock-support/audit/${auditId}/details`,
        },
        202,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/audit/status/{id}',
      summary: "An audit's state, progress, timings and error",
      ...guard('read'),
      request: { params: IdParam, ...noQuery },
      responses: { 200: jsonResponse(AuditStatus, 'The audit'), ...protectedErrors, ...notFound },
    }),
    async (c) => {
      const auditId = c.req.valid('param').id;
      const jobId = jobIdOr404(auditId);
      const [job, stored] = await Promise.all([deps.fleet.queue(queue).getJob(jobId), deps.reports.get('audit', jobId, auditReportSchema)]);
      if (!job && !stored) {
        throw new ApiError(404, 'not_found', `unknown audit "${auditId}"`);
      }
      const at = (ms: number | undefined) => (ms === undefined || ms === 0 ? null : new Date(ms).toISOString());
      const jobState = job ? await job.getState() : 'completed';
      // A cancelled audit (shutdown, emergency) goes back to waiting: it shows as queued again.
      const state: z.infer<typeof AuditStatus>['state'] = stored ? 'completed' : jobState === 'failed' ? 'failed' : jobState === 'active' ? 'running' : 'queued';
      const progress = typeof job?.progress === 'number' ? job.progress : stored ? 100 : 0;
      const r = stored?.body;
      return c.json(
        {
          auditId,
          state,
          type: r?.type ?? (job?.data as { type?: (typeof auditTypes)[number] } | undefined)?.type ?? null,
          progress: { percent: progress },
          enqueuedAt: at(job?.timestamp),
          startedAt: r?.startedAt ?? at(job?.processedOn),
          finishedAt: r?.finishedAt ?? at(job?.finishedOn),
          durationMs: r?.durationMs ?? null,
          attempts: job?.attemptsMade ?? null,
          error: job?.failedReason ?? null,
          summary: r ? { status: r.status, score: r.score, gaps: r.summary.gaps } : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/audit/latest',
      summary: 'The latest audit report',
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(auditReportSchema, 'The report'), ...protectedErrors, ...notFound },
    }),
    async (c) => {
      const latest = await deps.reports.latest('audit', auditReportSchema);
      if (!latest) {
        throw new ApiError(404, 'not_found', 'no audit has finished yet: start one with POST /admin/bedrock-support/audit/trigger');
      }
      return c.json(latest.body, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/audit/{id}/details',
      summary: "An audit's full report: targets, gaps, trend, recommendations, narrative",
      ...guard('read'),
      request: { params: IdParam, ...noQuery },
      responses: { 200: jsonResponse(auditReportSchema, 'The report'), ...protectedErrors, ...notFound, 409: bodyErrors[409] },
    }),
    async (c) => c.json(await report(c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/audit/{id}/export',
      summary: "An audit's report as a download: JSON (default), Markdown, HTML (one self-contained file) or CSV of the findings",
      ...guard('read'),
      request: { params: IdParam, query: z.object({ format: z.enum(exportFormats).default('json') }).strict() },
      responses: {
        200: {
          description: 'The report in that format, with Content-Disposition naming the file',
          content: {
            'application/json': { schema: auditReportSchema },
            'text/markdown': { schema: z.string() },
            'text/html': { schema: z.string() },
            'text/csv': { schema: z.string() },
          },
        },
        ...protectedErrors,
        ...notFound,
        400: bodyErrors[400],
        409: bodyErrors[409],
      },
    }),
    async (c) => {
      const exported = exportReport(await report(c.req.valid('param').id), c.req.valid('query').format);
      return c.body(exported.body, 200, { 'Content-Type': exported.contentType, 'Content-Disposition': `attachment; filename="${exported.fileName}"` });
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/audits/last-24h',
      summary: 'Audits finished in the last 24 hours (or since `since`), newest first, with totals',
      ...guard('read'),
      request: { query: z.object({ since: z.iso.datetime({ offset: true }).optional().openapi({ description: 'ISO time; default 24 hours ago; at most 30 days back' }) }).strict() },
      responses: {
        200: jsonResponse(z.object({ since: isoTime, count, totals: z.object({ gaps: count, newGaps: count, resolvedGaps: count }), audits: z.array(AuditSummary) }).openapi('AuditList'), 'Audits'),
        ...protectedErrors,
        400: bodyErrors[400],
      },
    }),
    async (c) => {
      const now = deps.clock();
      const query = c.req.valid('query').since;
      const since = query === undefined ? new Date(now.getTime() - 86_400_000) : new Date(query);
      if (now.getTime() - since.getTime() > 30 * 86_400_000) {
        throw new ApiError(400, 'invalid_request', 'since: at most 30 days back', { field: 'since' });
      }
      const audits = (await deps.reports.list('audit', auditReportSchema, { since, limit: 1_000 })).map((r) => summaryOf(r.body));
      return c.json(
        {
          since: since.toISOString(),
          count: audits.length,
          totals: { gaps: audits.reduce((s, a) => s + a.gaps, 0), newGaps: audits.reduce((s, a) => s + a.newGaps, 0), resolvedGaps: audits.reduce((s, a) => s + a.resolvedGaps, 0) },
          audits,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/audit/config',
      summary: 'The inventory in force (secrets masked), its version and who set it',
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(ConfigSchema, 'The inventory'), ...protectedErrors },
    }),
    async (c) => c.json(configOf(await deps.audit.inventory.current()), 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/audit/config',
      summary: 'Replace the inventory (validated, audited; every process probes from the new version)',
      ...guard('administer'),
      request: { body: jsonBody(z.unknown().openapi({ description: 'An inventory: { defaults?, targets: [...], actions?: [...] } (see the README)' })) },
      responses: { 200: jsonResponse(ConfigSchema, 'The new version'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const raw: unknown = c.req.valid('json');
      const parsed = inventorySchema.safeParse(raw);
      if (!parsed.success) {
        // A field of a target or an action is named by its id as well as its index.
        const issues = parsed.error.issues.map((i) => {
          const d = describeIssue(i, raw);
          const list = i.path[0] === 'targets' || i.path[0] === 'actions' ? i.path[0] : null;
          const index = list !== null && typeof i.path[1] === 'number' ? i.path[1] : null;
          const id = list === null || index === null ? undefined : (raw as Partial<Record<'targets' | 'actions', { id?: unknown }[]>>)[list]?.[index]?.id;
          return typeof id === 'string' ? { path: d.path, message: `${list === 'targets' ? 'target' : 'action'} "${id.slice(0, 80)}": ${d.message}` } : d;
        });
        const first = issues[0] ?? { path: '(body)', message: 'the inventory is invalid' };
        throw new ApiError(400, 'invalid_request', first.message, { field: first.path, issues });
      }
      const principal = c.get('principal');
      const before = await deps.audit.inventory.current();
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'audit.config.replace',
        target: 'inventory',
        details: { fromVersion: before.version, targets: parsed.data.targets.length, ids: parsed.data.targets.map((t) => t.id), requestId: c.get('requestId') },
      });
      return c.json(configOf(await deps.audit.inventory.replace(parsed.data, principal.name)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/audit/permissions',
      summary: "For every target: can the auditor's workers reach it right now, and if not, why (dns, refused, tls, unauthorized, timeout, not_configured)",
      ...guard('read'),
      request: noQuery,
      responses: {
        200: jsonResponse(reachabilityResultSchema.extend({ reachable: count, unreachable: count }), 'Each target'),
        ...protectedErrors,
        409: bodyErrors[409],
        504: jsonResponse(ErrorSchema, 'The workers did not answer in time'),
      },
    }),
    async (c) => {
      await assertRunnable(deps, queue, 'check what the auditor can reach');
      const job = await deps.fleet.add(queue, 'reachability', {}, { priority: 'high' });
      const waitMs = reachabilityTimeoutMs * 2 + 5_000;
      const done = await deps.fleet.waitForFinish(queue, job.id as string, waitMs);
      if (!done) {
        return c.json(errorBody('timeout', `the auditor's workers did not finish the reachability check within ${waitMs} ms`, { jobId: job.id }), 504);
      }
      if (done.failedReason) {
        throw new ApiError(502, 'check_failed', `the reachability check failed in the auditor's worker: ${done.failedReason}`);
      }
      const result = reachabilityResultSchema.parse(done.returnvalue);
      const reachable = result.targets.filter((t) => t.reachable).length;
      return c.json({ ...result, reachable, unreachable: result.targets.length - reachable }, 200);
    },
  );

  return app;
}
