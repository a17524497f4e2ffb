import { createHash } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { Redactor } from '../domain/compliance/pii.js';
import { gapIdOf, gapFingerprint, gapSchema, gapSeverities, gapSources, gapStatuses, gapTypes, type Gap, type GapSighting, type GapStore } from '../domain/gaps/gap.js';
import { isOpenGap } from '../domain/gaps/lifecycle.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { reportedProblemFields } from './gap-fields.js';
import { ApiError } from './errors.js';
import { bodyErrors, count, guard, jsonBody, jsonResponse, noQuery, notFound, protectedErrors } from './openapi.js';
import { csv } from './query.js';

const base = '/admin/bedrock-support/implementation';

export const ListQuery = z
  .object({
    status: csv(gapStatuses, 'status'),
    type: csv(gapTypes, 'type'),
    severity: csv(gapSeverities, 'severity'),
    source: z.enum(gapSources).optional(),
    component: z.string().trim().min(1).max(100).optional().openapi({ description: 'Only gaps naming this component' }),
    open: z.enum(['true', 'false']).optional().openapi({ description: '`true`: only gaps not resolved or dismissed' }),
    limit: z.coerce.number().int().min(1).max(1_000).default(100),
  })
  .strict();

const GapView = gapSchema.extend({}).openapi('Gap');

const ManualGap = z
  .object({
    ...reportedProblemFields,
    subject: z.string().trim().min(1).max(200).optional().openapi({ description: 'What it is about, stable across posts (the same subject and type is the same gap); default: from the title' }),
    expected: z.string().trim().max(500).optional(),
    observed: z.string().trim().max(500).optional(),
  })
  .strict()
  .openapi('ManualGapBody');

const DismissBody = z.object({ reason: z.string().trim().min(1).max(500).openapi({ example: 'Accepted risk until the Q3 migration' }) }).strict().openapi('DismissGapBody');

export const GapIdParam = z.object({ id: z.string().openapi({ example: 'gap-1a2b3c4d5e6f7a8b' }) });

/** The gap with this id, or a 404 naming the id (a malformed id is unknown too). */
export async function findGapOr404(gaps: Pick<GapStore, 'get'>, id: string): Promise<Gap> {
  const gap = /^gap-[0-9a-f]{16}$/.test(id) ? await gaps.get(id) : null;
  if (!gap) {
    throw new ApiError(404, 'not_found', `unknown gap "${id.slice(0, 80)}": GET ${base}/gaps lists them`);
  }
  return gap;
}

/**
 * `/admin/bedrock-support/implementation/gaps…`: the gaps the auditor, the meta-monitor and people
 * report, in the one gap store (runbook "Implementation Support Operations").
 */
export function implementationRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  const gapOr404 = (id: string) => findGapOr404(deps.gaps, id);

  app.openapi(
    createRoute({
      method: 'get',
      path: '/implementation/gaps',
      summary: 'Gaps from audits, the meta-monitor and people, newest sighting first; filters by status, type, severity, source, component',
      ...guard('read'),
      request: { query: ListQuery },
      responses: { 200: jsonResponse(z.object({ count, gaps: z.array(GapView) }).openapi('GapList'), 'Gaps'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const status = q.open === 'true' ? (q.status ?? [...gapStatuses]).filter(isOpenGap) : q.status;
      const listed = await deps.gaps.list({ ...(status ? { status } : {}), ...(q.source ? { source: q.source } : {}), limit: q.component || q.type || q.severity ? 1_000 : q.limit });
      const gaps = listed
        .filter((g) => (q.type ? q.type.includes(g.type) : true) && (q.severity ? q.severity.includes(g.severity) : true) && (q.component ? g.components.includes(q.component) : true))
        .slice(0, q.limit);
      return c.json({ count: gaps.length, gaps }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/implementation/gaps/{id}',
      summary: 'One gap with its evidence, sightings and history',
      ...guard('read'),
      request: { params: GapIdParam, ...noQuery },
      responses: { 200: jsonResponse(GapView, 'The gap'), ...protectedErrors, ...notFound },
    }),
    async (c) => c.json(await gapOr404(c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/implementation/gaps',
      summary: 'Report a gap by hand (source `manual`); the same subject and type is the same gap, counted again. Free text is redacted before it is stored',
      ...guard('operate'),
      request: { body: jsonBody(ManualGap) },
      responses: { 200: jsonResponse(z.object({ created: z.boolean(), gap: GapView }).openapi('ManualGapResult'), 'Recorded'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const redactor = new Redactor();
      const title = redactor.redact(input.title);
      const subject = input.subject === undefined ? `manual:${createHash('sha256').update(title).digest('hex').slice(0, 16)}` : redactor.redact(input.subject);
      const sighting: GapSighting = {
        source: 'manual',
        subject,
        check: 'reported',
        type: input.type,
        severity: input.severity,
        title,
        components: input.components.map((x) => redactor.redact(x)),
        evidence: { expected: redactor.redact(input.expected ?? ''), observed: redactor.redact(input.observed ?? '') },
      };
      const id = gapIdOf(gapFingerprint(sighting));
      const principal = c.get('principal');
      await recordBeforeChange(deps.auditTrail, { actor: principal.name, action: 'gap.report', target: id, details: { type: input.type, severity: input.severity, subject, title, requestId: c.get('requestId') } });
      const observed = await deps.gaps.observe({ source: 'manual', runId: principal.name, at: deps.clock(), scope: [] }, [sighting]);
      const gap = [...observed.opened, ...observed.reopened, ...observed.recurring][0] ?? (await gapOr404(id));
      return c.json({ created: observed.opened.length > 0, gap }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/implementation/gaps/{id}/dismiss',
      summary: 'Dismiss a gap with a reason (redacted); it stays dismissed, counted, while it is seen again',
      ...guard('operate'),
      request: { params: GapIdParam, ...noQuery, body: jsonBody(DismissBody) },
      responses: { 200: jsonResponse(GapView, 'Dismissed'), ...protectedErrors, ...bodyErrors, ...notFound },
    }),
    async (c) => {
      const gap = await gapOr404(c.req.valid('param').id);
      if (gap.status === 'dismissed') {
        throw new ApiError(409, 'conflict', `gap ${gap.id} was dismissed already by ${gap.dismissed?.by ?? '?'}`);
      }
      const reason = new Redactor().redact(c.req.valid('json').reason);
      const principal = c.get('principal');
      await recordBeforeChange(deps.auditTrail, { actor: principal.name, action: 'gap.dismiss', target: gap.id, details: { from: gap.status, reason, requestId: c.get('requestId') } });
      const moved = await deps.gaps.transition(gap.id, 'dismissed', principal.name, deps.clock(), { reason });
      return c.json(moved ?? (await gapOr404(gap.id)), 200);
    },
  );

  return app;
}
