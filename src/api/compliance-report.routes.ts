import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { Redactor } from '../domain/compliance/pii.js';
import { complianceReportSchema, reportFormats, reportPeriods, type ComplianceReport } from '../domain/compliance/report.js';
import { contentHashHeader, exportComplianceReport } from '../domain/compliance/report-export.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { jobResult } from './job-results.js';
import { bodyErrors, guard, jsonBody, jsonResponse, noQuery, notFound, protectedErrors, reason } from './openapi.js';

const base = '/admin/bedrock-support/compliance';
const queue = 'compliance';
const jobName = 'compliance-report';
/** The public ids of reports (the job's `complianceReportIdPrefix`; api/ does not import jobs/). */
const idPrefix = 'compliance-report';

const Report = complianceReportSchema.extend({}).openapi('ComplianceReport');

const ReportBody = z
  .object({
    period: z.enum(reportPeriods).optional().openapi({ example: 'weekly', description: 'daily (24 h), weekly (7 days, the default) or monthly (30 days), ending when the report is made' }),
    include_details: z.boolean().optional().openapi({ example: true, description: 'Each check with its measured values, PII by day, LLM usage by model; default false' }),
    format: z.enum(reportFormats).optional().openapi({ example: 'json', description: 'The format GET …/compliance/export gives by default for this report; default json' }),
    reason,
  })
  .strict()
  .openapi('ComplianceReportBody');

const Accepted = z
  .object({
    reportId: z.string().openapi({ example: 'compliance-report-3f1c…' }),
    state: z.literal('queued'),
    period: z.enum(reportPeriods),
    includeDetails: z.boolean(),
    format: z.enum(reportFormats),
    resultUrl: z.string(),
    exportUrl: z.string(),
  })
  .openapi('ComplianceReportAccepted');

const Pending = z.object({ reportId: z.string(), state: z.enum(['queued', 'running']), progress: z.object({ percent: z.number() }) }).openapi('ComplianceReportPending');

const ExportJson = z
  .object({
    metadata: z.object({
      reportId: z.string(),
      period: complianceReportSchema.shape.period,
      generatedAt: z.string(),
      format: z.literal('json'),
      algorithm: z.literal('SHA-256'),
      sha256: z.string(),
      hashed: z.string(),
    }),
    report: Report,
  })
  .openapi('ComplianceReportExport');

const IdParam = z.object({ id: z.string().openapi({ example: 'compliance-report-3f1c…' }) });
const ExportQuery = z
  .object({
    id: z.string().max(200).optional().openapi({ description: 'A report id; the newest report when absent' }),
    format: z.enum(reportFormats).optional().openapi({ description: "json, markdown or html; the format asked for when the report was requested when absent" }),
  })
  .strict();

/**
 * `/admin/bedrock-support/compliance/report` and `/compliance/export`: the runbook's "Compliance
 * Reporting". A report is made by a job on the compliance workers (202 with its id); the export
 * gives a kept report to auditors with the SHA-256 of its content (`report-export.ts` says which bytes).
 */
export function complianceReportRoutes(deps: Pick<ApiDeps, 'auditTrail' | 'fleet' | 'reports'>) {
  const app = new OpenAPIHono<AppEnv>();

  const byId = async (id: string): Promise<ComplianceReport> => {
    const found = await jobResult(deps, { queue, jobName, prefix: idPrefix, what: 'compliance report', schema: complianceReportSchema }, id);
    if (!found.done) {
      throw new ApiError(409, 'conflict', `compliance report ${id} is ${found.state} (${found.progress.percent} %): export it once it is done`, { state: found.state, progress: found.progress });
    }
    return found.body;
  };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/compliance/report',
      summary:
        'Make a compliance report on the compliance workers: every GDPR check measured then, the violations (now and in the daily checks of the period), PII detections over the period, the audit trail verified in full, LLM usage by path and region (requests, tokens, cost), recommendations. 202 with its id; every field is optional, a bare POST makes a weekly summary in JSON',
      ...guard('operate'),
      request: { body: jsonBody(ReportBody, false) },
      responses: { 202: jsonResponse(Accepted, 'Queued on the compliance workers'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const input = ReportBody.parse(c.req.valid('json') ?? {});
      const period = input.period ?? 'weekly';
      const includeDetails = input.include_details ?? false;
      const format = input.format ?? 'json';
      const reportId = `${idPrefix}-${randomUUID()}`;
      const principal = c.get('principal');
      const requestId = c.get('requestId');
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'compliance.report.request',
        target: reportId,
        details: { period, includeDetails, format, reason: input.reason === undefined ? null : new Redactor().redact(input.reason), requestId },
      });
      await deps.fleet.add(queue, jobName, { period, includeDetails, format, requestedBy: principal.name, requestId }, { jobId: reportId, priority: 'medium' });
      return c.json(
        { reportId, state: 'queued' as const, period, includeDetails, format, resultUrl: `${base}/report/${reportId}`, exportUrl: `${base}/export?id=${reportId}` },
        202,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/compliance/report/{id}',
      summary: 'A compliance report by id: 200 with the report, 202 while it is queued or running',
      ...guard('read'),
      request: { params: IdParam, ...noQuery },
      responses: { 200: jsonResponse(Report, 'The report'), 202: jsonResponse(Pending, 'Not finished yet'), ...protectedErrors, ...notFound, 409: bodyErrors[409] },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const found = await jobResult(deps, { queue, jobName, prefix: idPrefix, what: 'compliance report', schema: complianceReportSchema }, id);
      return found.done ? c.json(found.body, 200) : c.json({ reportId: id, state: found.state, progress: found.progress }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/compliance/export',
      summary:
        'A kept compliance report for auditors (the newest, or `id`), in JSON, Markdown or HTML, with the SHA-256 of its content in the X-Content-SHA256 header and in the body\'s metadata. JSON: the hash covers the "report" value as written (after the first `,"report":`, before the last `}`); Markdown and HTML: the bytes after the metadata comment\'s closing line `-->`',
      ...guard('read'),
      request: { query: ExportQuery },
      responses: {
        200: {
          description: 'The report in that format, with Content-Disposition naming the file',
          headers: { [contentHashHeader]: { description: 'SHA-256 (hex) of the content part of the body, as the metadata says', schema: { type: 'string', pattern: '^[0-9a-f]{64}$' } } },
          content: {
            'application/json': { schema: ExportJson },
            'text/markdown': { schema: z.string() },
            'text/html': { schema: z.string() },
          },
        },
        ...protectedErrors,
        ...notFound,
        400: bodyErrors[400],
        409: bodyErrors[409],
      },
    }),
    async (c) => {
      const query = c.req.valid('query');
      let report: ComplianceReport;
      if (query.id === undefined) {
        const latest = await deps.reports.latest(jobName, complianceReportSchema).catch((err: unknown) => {
          if (err instanceof Error && err.name === 'StoredDataError') {
            throw new ApiError(409, 'conflict', 'the newest compliance report was stored by an earlier version in another shape: export another by id');
          }
          throw err;
        });
        if (!latest) {
          throw new ApiError(404, 'not_found', `no compliance report has been made yet: POST ${base}/report makes one (the weekly schedule makes one every Sunday)`);
        }
        report = latest.body;
      } else {
        report = await byId(query.id);
      }
      const exported = exportComplianceReport(report, query.format ?? report.format);
      return c.body(exported.body, 200, {
        'Content-Type': exported.contentType,
        'Content-Disposition': `attachment; filename="${exported.fileName}"`,
        [contentHashHeader]: exported.sha256,
      });
    },
  );

  return app;
}
