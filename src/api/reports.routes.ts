import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { viewHtml } from '../domain/audit/export-html.js';
import { viewMarkdown } from '../domain/audit/export-markdown.js';
import { Redactor } from '../domain/compliance/pii.js';
import { publicIdOf } from '../domain/public-ids.js';
import { dailyView, weeklyView } from '../domain/support-mode/review-view.js';
import { dailyCheckJob } from '../jobs/bedrock-support/daily-check.job.js';
import { weeklyReviewJob } from '../jobs/bedrock-support/weekly-review.job.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { jobResult } from './job-results.js';
import { assertRunnable } from './runnable.js';
import { bodyErrors, guard, jsonBody, jsonResponse, notFound, protectedErrors } from './openapi.js';

const queue = 'bedrock-support';
const prefix = 'report';
const base = '/admin/bedrock-support/reports';
const reportKinds = ['daily', 'weekly'] as const;
type ReportKind = (typeof reportKinds)[number];
export const reportFormats = ['json', 'markdown', 'html'] as const;
type ReportFormat = (typeof reportFormats)[number];

const DailyReport = dailyCheckJob.result.extend({ reportId: z.string(), kind: z.literal('daily') }).openapi('DailyCheckReport');
const WeeklyReport = weeklyReviewJob.result.extend({ reportId: z.string(), kind: z.literal('weekly') }).openapi('WeeklyReviewReport');

const KindParam = z.object({ kind: z.enum(reportKinds).openapi({ description: '`daily`: the Morning Support Mode Check; `weekly`: the Weekly Support Mode Review' }) });
const IdParam = KindParam.extend({ id: z.string().openapi({ example: 'report-3f1c…' }) });
const FormatQuery = z.object({ format: z.enum(reportFormats).default('json').openapi({ description: 'json (default), markdown, or html (one self-contained page)' }) }).strict();
const RunBody = z.object({ reason: z.string().trim().max(500).optional().openapi({ example: 'Checking after the deploy' }) }).strict().openapi('ReportRunBody');
const Accepted = z
  .object({ reportId: z.string(), jobId: z.string(), kind: z.enum(reportKinds), state: z.literal('queued'), statusUrl: z.string() })
  .openapi('ReportAccepted');
const Pending = z.object({ reportId: z.string(), kind: z.enum(reportKinds), state: z.enum(['queued', 'running']), progress: z.object({ percent: z.number() }) }).openapi('ReportPending');

const formatted = {
  description: 'The report: JSON (default), Markdown or HTML',
  content: {
    'application/json': { schema: z.union([DailyReport, WeeklyReport]) },
    'text/markdown': { schema: z.string() },
    'text/html': { schema: z.string() },
  },
};

/** The job behind each kind of report. */
const jobs = { daily: dailyCheckJob, weekly: weeklyReviewJob } as const;

/**
 * `/admin/bedrock-support/reports…`: the daily check and the weekly review, stored by their jobs
 * (scheduled or run here), read back in JSON, Markdown or HTML.
 */
export function reportRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  /** One report in the format asked for. */
  const answer = (kind: ReportKind, reportId: string, body: unknown, format: ReportFormat) => {
    if (format === 'json') {
      return { type: 'json' as const, body: { ...(body as object), reportId, kind } };
    }
    const view = kind === 'daily' ? dailyView(dailyCheckJob.result.parse(body)) : weeklyView(weeklyReviewJob.result.parse(body));
    if (format === 'markdown') {
      return { type: 'text' as const, body: viewMarkdown(view), contentType: 'text/markdown; charset=utf-8', ext: 'md' };
    }
    return { type: 'text' as const, body: viewHtml(view), contentType: 'text/html; charset=utf-8', ext: 'html' };
  };

  const send = (c: Context<AppEnv>, kind: ReportKind, reportId: string, body: unknown, format: ReportFormat): Response => {
    const a = answer(kind, reportId, body, format);
    if (a.type === 'json') {
      return c.json(a.body, 200);
    }
    return c.body(a.body, 200, {
      'Content-Type': a.contentType,
      'Content-Disposition': `inline; filename="${reportId}.${a.ext}"`,
      // The page's own meta policy, as a header too: nothing but its inline style, never framed.
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    });
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reports/{kind}/latest',
      summary: 'The latest daily check or weekly review, in JSON, Markdown or HTML',
      ...guard('read'),
      request: { params: KindParam, query: FormatQuery },
      responses: { 200: formatted, ...protectedErrors, ...notFound, 400: bodyErrors[400] },
    }),
    async (c) => {
      const { kind } = c.req.valid('param');
      const job = jobs[kind];
      const found = await deps.reports.listMatching(job.name, job.result, { limit: 20 });
      const latest = found.reports[0];
      if (!latest) {
        const older = found.unreadable > 0 ? ` (${found.unreadable} stored by an earlier version cannot be read)` : '';
        throw new ApiError(404, 'not_found', `no ${kind} report stored yet${older}: POST ${base}/${kind} runs one`);
      }
      return send(c, kind, publicIdOf(prefix, latest.id), latest.body, c.req.valid('query').format);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/reports/{kind}/{id}',
      summary: 'A daily check or weekly review by id: 200 with the report, 202 while it is queued or running',
      ...guard('read'),
      request: { params: IdParam, query: FormatQuery },
      responses: { 200: formatted, 202: jsonResponse(Pending, 'Not finished yet'), ...protectedErrors, ...notFound, 400: bodyErrors[400], 409: bodyErrors[409] },
    }),
    async (c) => {
      const { kind, id } = c.req.valid('param');
      const job = jobs[kind];
      const found = await jobResult(deps, { queue, jobName: job.name, prefix, what: `${kind} report`, schema: job.result }, id);
      if (!found.done) {
        return c.json({ reportId: id, kind, state: found.state, progress: found.progress }, 202);
      }
      return send(c, kind, id, found.body, c.req.valid('query').format);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/reports/{kind}',
      summary: 'Run the daily check or the weekly review now; 202 with its id. A bare POST works (the reason is optional)',
      ...guard('operate'),
      request: { params: KindParam, body: jsonBody(RunBody, false) },
      responses: { 202: jsonResponse(Accepted, 'Queued'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const { kind } = c.req.valid('param');
      const input = RunBody.parse(c.req.valid('json') ?? {});
      await assertRunnable(deps, queue, `run the ${kind} report`);
      const reportId = `${prefix}-${randomUUID()}`;
      const principal = c.get('principal');
      const reason = input.reason === undefined ? undefined : new Redactor().redact(input.reason);
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'report.run',
        target: reportId,
        details: { kind, job: jobs[kind].name, reason: reason ?? null, requestId: c.get('requestId') },
      });
      await deps.fleet.add(queue, jobs[kind].name, { reason: reason ?? `${kind} report run by ${principal.name}` }, { jobId: reportId, priority: 'high' });
      return c.json({ reportId, jobId: reportId, kind, state: 'queued' as const, statusUrl: `${base}/${kind}/${reportId}` }, 202);
    },
  );

  return app;
}
