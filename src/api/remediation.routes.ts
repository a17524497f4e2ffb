import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { assertPermission } from './auth.js';
import { remediationPriorities, remediationRequestSchema, remediationStatuses, type RemediationStatus } from '../domain/implementation/remediation.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { bodyErrors, count, guard, jsonBody, jsonResponse, noQuery, notFound, protectedErrors } from './openapi.js';
import { csv, durationMs } from './query.js';
import { describeIssue } from './validation.js';

const RequestView = remediationRequestSchema.extend({}).openapi('RemediationRequest');

export const RemediateBody = z
  .object({
    gap_id: z.string().trim().min(1).max(100).openapi({ example: 'gap-1a2b3c4d5e6f7a8b' }),
    auto_resolve: z.boolean().default(false).openapi({ description: '`true`: run the action (low risk at once, medium and higher after an approval); `false`: plan it only' }),
    priority: z.enum(remediationPriorities).default('medium').openapi({ description: 'The job priority on the implementation-support queue' }),
    action: z.string().trim().min(1).max(200).optional().openapi({ description: "One of the gap's suggestions by its key (`queue.retry-failed`, `http.hook:restart-api`); default: the first" }),
    note: z.string().trim().max(500).optional().openapi({ description: 'Why (redacted before it is stored)' }),
  })
  .strict()
  .openapi('RemediateBody');

const DecisionBody = z
  .object({
    decision: z.enum(['approve', 'reject']),
    reason: z.string().trim().max(500).optional().openapi({ description: 'Redacted before it is stored' }),
  })
  .strict()
  .openapi('ApprovalDecisionBody');

const RollbackBody = z
  .object({ reason: z.string().trim().max(500).optional().openapi({ description: 'Why (redacted before it is stored)' }) })
  .strict()
  .openapi('RemediationRollbackBody');

const SuggestionView = z
  .object({
    key: z.string(),
    action: z.looseObject({ kind: z.string() }),
    why: z.string(),
  })
  .openapi('RemediationSuggestion');

const PlannedSuggestion = SuggestionView.extend({
  risk: z.string().nullable(),
  description: z.string().nullable(),
  changes: z.array(z.object({ target: z.string(), from: z.unknown(), to: z.unknown() })),
  reversible: z.boolean().nullable(),
  error: z.string().nullable().openapi({ description: 'Why the dry run could not plan it (the action would be refused)' }),
}).openapi('PlannedRemediationSuggestion');

const IdParam = z.object({ id: z.string().openapi({ example: 'act-1a2b3c4d5e6f7a8b' }) });
const GapIdParam = z.object({ id: z.string().openapi({ example: 'gap-1a2b3c4d5e6f7a8b' }) });

const ApprovalsQuery = z
  .object({
    status: csv([...remediationStatuses, 'all'], 'status').openapi({ description: `\`awaiting_approval\` (default), \`all\`, or comma-separated among ${remediationStatuses.join(', ')}` }),
    limit: z.coerce.number().int().min(1).max(1_000).default(100),
  })
  .strict();

/** `24h`, `7d`, `90m` or an ISO time. */
const sinceOf = (raw: string | undefined, now: Date): Date | null => {
  if (raw === undefined || raw === '') {
    return new Date(now.getTime() - 86_400_000);
  }
  const ms = durationMs(raw);
  if (ms !== null) {
    return new Date(now.getTime() - ms);
  }
  const t = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw) ? Date.parse(raw) : Number.NaN;
  return Number.isNaN(t) ? null : new Date(t);
};

const ActivitiesQuery = z
  .object({
    since: z.string().max(40).optional().openapi({ description: 'The window start: `24h` (default), `7d`, `90m`, or an ISO time' }),
    limit: z.coerce.number().int().min(1).max(1_000).default(200),
  })
  .strict();

const Rate = z.object({ attempted: count, verified: count, failed: count, rate: z.number().nullable(), meetsTarget: z.boolean().nullable() });

const ActivitiesView = z
  .object({
    since: z.string(),
    counts: z.record(z.string(), count),
    awaitingApproval: count,
    autoResolution: z.object({ '24h': Rate, '7d': Rate, '30d': Rate, target: z.number() }).openapi({ description: 'The share of auto-resolutions that verified (the runbook targets above 0.7)' }),
    events: z.array(z.object({ at: z.string(), event: z.string(), by: z.string(), detail: z.string(), requestId: z.string(), gapId: z.string(), action: z.string() })),
  })
  .openapi('ImplementationActivities');

/**
 * Implementation support's remediations (runbook "Gap Remediation", "Check implementation support
 * activities"): suggestions for a gap, requests that run or wait for an approver, decisions,
 * rollbacks, and what was done.
 */
export function remediationRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const service = deps.remediations;

  app.openapi(
    createRoute({
      method: 'get',
      path: '/implementation/gaps/{id}/remediations',
      summary: "The catalog's actions that fit a gap, each planned by a dry run (nothing changes)",
      ...guard('read'),
      request: { params: GapIdParam, ...noQuery },
      responses: { 200: jsonResponse(z.object({ gapId: z.string(), status: z.string(), suggestions: z.array(PlannedSuggestion) }).openapi('GapRemediations'), 'Suggestions'), ...protectedErrors, ...notFound },
    }),
    async (c) => {
      const { gap, suggestions } = await service.suggest(c.req.valid('param').id);
      return c.json({ gapId: gap.id, status: gap.status, suggestions }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/implementation/remediate',
      summary:
        'Remediate a gap with one of its suggested actions: `auto_resolve: true` runs a low-risk one at once (medium with the auto-remediation flag) and leaves the others waiting for an approver; `false` plans it only. The job re-checks the gap and resolves or fails it',
      ...guard('operate'),
      request: { body: jsonBody(RemediateBody, false) },
      responses: {
        202: jsonResponse(
          z
            .object({
              request: RequestView,
              suggestions: z.array(SuggestionView),
              warning: z.string().nullable().openapi({ description: 'Why a queued request will not run yet (implementation-support is not active)' }),
            })
            .openapi('RemediateResult'),
          'Requested (queued, waiting for an approver, or planned only)',
        ),
        ...protectedErrors,
        ...bodyErrors,
        ...notFound,
      },
    }),
    async (c) => {
      const raw: unknown = c.req.valid('json') ?? {};
      const parsed = RemediateBody.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const d = issue ? describeIssue(issue, raw) : { path: '(body)', message: 'invalid body' };
        throw new ApiError(400, 'invalid_request', d.message, { field: d.path });
      }
      const input = parsed.data;
      const answer = await service.request({ gapId: input.gap_id, autoResolve: input.auto_resolve, priority: input.priority, action: input.action, note: input.note }, c.get('principal'));
      const state = await deps.supportMode.read();
      const runs = state.flag.enabled && state.components['implementation-support'].active;
      const warning =
        answer.request.status === 'queued' && !runs
          ? 'implementation-support is not active, so its queue is paused: the request runs once it is activated (POST /admin/bedrock-support/activate-component)'
          : null;
      return c.json({ ...answer, warning }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/implementation/approvals',
      summary: 'Remediation requests, newest change first: those awaiting an approver by default',
      ...guard('read'),
      request: { query: ApprovalsQuery },
      responses: { 200: jsonResponse(z.object({ count, requests: z.array(RequestView) }).openapi('RemediationRequestList'), 'Requests'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => {
      const q = c.req.valid('query');
      // Absent: those awaiting an approver; `all` among the statuses: every one.
      const status: RemediationStatus[] | undefined = q.status === undefined ? ['awaiting_approval'] : q.status.includes('all') ? undefined : (q.status as RemediationStatus[]);
      const requests = await service.list({ ...(status ? { status } : {}), limit: q.limit });
      return c.json({ count: requests.length, requests }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/implementation/approvals/{id}',
      summary: 'One remediation request: its action, plan, approval, application, verification and how to roll it back',
      ...guard('read'),
      request: { params: IdParam, ...noQuery },
      responses: { 200: jsonResponse(RequestView, 'The request'), ...protectedErrors, ...notFound },
    }),
    async (c) => c.json(await service.get(c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/implementation/approvals/{id}',
      summary: 'Approve (the action is queued) or reject a request that waits; the requester may not approve their own (two-person rule)',
      ...guard('approve'),
      request: { params: IdParam, ...noQuery, body: jsonBody(DecisionBody) },
      responses: { 200: jsonResponse(RequestView, 'Decided'), ...protectedErrors, ...bodyErrors, ...notFound },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const request = await service.decide(c.req.valid('param').id, { approve: body.decision === 'approve', reason: body.reason }, c.get('principal'));
      return c.json(request, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/implementation/approvals/{id}/rollback',
      summary: 'Roll back what a finished remediation applied (approvers): the state before is restored and read back, the gap is open again',
      ...guard('approve'),
      request: { params: IdParam, ...noQuery, body: jsonBody(RollbackBody, false) },
      responses: { 200: jsonResponse(RequestView, 'Rolled back'), ...protectedErrors, ...bodyErrors, ...notFound },
    }),
    async (c) => {
      const principal = c.get('principal');
      assertPermission(principal, 'approve', 'roll back a remediation');
      const body = c.req.valid('json') ?? {};
      return c.json(await service.rollback(c.req.valid('param').id, principal, body.reason), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/implementation/activities',
      summary: "What implementation support suggested, attempted, applied and verified (the last 24 h, or `?since=`), and the share of auto-resolutions that verified over 24 h, 7 d and 30 d",
      ...guard('read'),
      request: { query: ActivitiesQuery },
      responses: { 200: jsonResponse(ActivitiesView, 'Activities'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const now = deps.clock();
      const since = sinceOf(q.since, now);
      if (since === null) {
        throw new ApiError(400, 'invalid_request', `since must be a duration such as 24h, 7d, 90m or an ISO time, got "${(q.since ?? '').slice(0, 40)}"`, { field: 'since' });
      }
      return c.json(await service.activities(since, q.limit), 200);
    },
  );

  return app;
}
