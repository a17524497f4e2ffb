import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { verifyTail } from '../domain/audit-trail/chain.js';
import { archivePlace, buildGdprStatus, redisPlace, gdprStatusSchema, piiSelfTest, piiSelfTestSchema, type AuditTrailMeasure, type RetentionMeasure } from '../domain/compliance/gdpr-status.js';
import { measureRetention } from '../domain/compliance/retention.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { bodyErrors, guard, jsonResponse, noQuery, protectedErrors } from './openapi.js';

/** Above `fullLimit` entries in Redis the status verifies the newest `tailEntries` only (the full verification has its own route). */
export const defaultVerifyBound = { fullLimit: 100_000, tailEntries: 10_000 };

const hourMs = 3_600_000;
const piiWindows = { '1h': 1, '24h': 24, '7d': 168 } as const;
type PiiWindow = keyof typeof piiWindows;

const Status = gdprStatusSchema.extend({}).openapi('GdprStatus');

const ResidencyEntry = z
  .object({
    data: z.string().openapi({ example: 'queues, jobs, audit trail, execution records, settings' }),
    where: z.string(),
    region: z.string().nullable().openapi({ description: 'Null when nothing measurable says where it is' }),
    basis: z.string().openapi({ description: 'How the region was found out, or why it is unknown' }),
  })
  .openapi('GdprResidencyEntry');
const Residency = z.object({ measuredAt: z.string(), entries: z.array(ResidencyEntry) }).openapi('GdprResidency');

const PiiStatus = z
  .object({
    measuredAt: z.string(),
    window: z.enum(Object.keys(piiWindows) as [PiiWindow, ...PiiWindow[]]),
    covers: z.object({
      from: z.string(),
      to: z.string(),
      detail: z.string().openapi({ description: 'The counter keeps whole UTC days: the counts cover every day the window touches' }),
    }),
    detections: z.record(z.string(), z.number().int()).openapi({ description: 'Detections by PII type over the days covered' }),
    byDay: z.array(z.object({ day: z.string(), counts: z.record(z.string(), z.number().int()) })),
    total: z.record(z.string(), z.number().int()).openapi({ description: 'Detections by type since the counter started' }),
    selfTest: piiSelfTestSchema,
  })
  .openapi('PiiStatus');

const WindowQuery = {
  query: z
    .object({
      window: z
        .enum(Object.keys(piiWindows) as [PiiWindow, ...PiiWindow[]])
        .default('24h')
        .openapi({ description: `One of ${Object.keys(piiWindows).join(', ')}; default 24h` }),
    })
    .strict(),
};

type ComplianceDeps = Pick<ApiDeps, 'fleet' | 'auditTrail' | 'auditTrailService' | 'archiveAfterDays' | 'executions' | 'llm' | 'compliance' | 'clock'>;

/** Retention measured now: the execution store, BullMQ's oldest finished jobs, the oldest trail entry. */
function retention(deps: ComplianceDeps): Promise<RetentionMeasure[]> {
  return measureRetention(
    {
      oldestExecution: () => deps.executions.store.oldest(),
      oldestFinishedJob: async (queue, kind) => {
        const [job] = await deps.fleet.queues[queue].getJobs([kind], 0, 0, true);
        const at = job?.finishedOn ?? job?.timestamp;
        return at === undefined ? null : new Date(at);
      },
      oldestTrailEntry: async () => {
        const [first] = await deps.auditTrail.range({ count: 1 });
        return first?.event ? new Date(first.event.at) : null;
      },
    },
    { executionDays: deps.executions.retentionDays, jobHours: deps.compliance.jobLimitHours, archiveAfterDays: deps.archiveAfterDays },
  );
}

async function auditTrailMeasure(deps: ComplianceDeps): Promise<AuditTrailMeasure> {
  const stored = await deps.auditTrail.length();
  const bound = deps.compliance.verifyBound ?? defaultVerifyBound;
  if (stored > bound.fullLimit) {
    const result = verifyTail(await deps.auditTrail.tail(bound.tailEntries), bound.tailEntries);
    const first = result.breaks[0];
    return { ok: result.ok, stored, scope: 'tail', checked: result.checked, problem: first ? `${result.breaks.length} break(s), first at seq ${first.seq}: ${first.problem}: ${first.detail}` : null };
  }
  const report = await deps.auditTrailService.verify('all');
  const first = report.firstProblem;
  return {
    ok: report.ok,
    stored,
    scope: 'full',
    checked: report.entries,
    problem: first ? `${report.problemCount} problem(s), first ${first.seq === null ? '' : `at seq ${first.seq} `}${first.code}: ${first.detail}` : null,
  };
}

/**
 * `/admin/bedrock-support/compliance/…`: the runbook's "Compliance Operations". Every value is
 * measured for the request: nothing is cached, nothing assumed from settings alone.
 */
export function complianceRoutes(deps: ComplianceDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/compliance/gdpr/status',
      summary:
        'GDPR status, measured now: LLM residency (direct and MCP, as the router decides it), PII redaction with a self-test over every detector type, retention obeyed (oldest execution, oldest finished job per queue, oldest audit-trail entry in Redis), the audit trail verified against its checkpoints (the newest 10,000 entries when more than 100,000 are stored), the archive local or in the EU',
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(Status, '`compliant` when every check passes, else `violation`; each check with what was measured'), ...protectedErrors },
    }),
    async (c) => {
      const [kept, trail] = await Promise.all([retention(deps), auditTrailMeasure(deps)]);
      const status = buildGdprStatus(
        { residency: deps.llm.router.residency(), selfTest: piiSelfTest(), retention: kept, auditTrail: trail, archiveUrl: deps.compliance.archiveUrl },
        deps.clock(),
      );
      return c.json(status, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/compliance/gdpr/residency',
      summary: 'Where each kind of data is stored and processed: Redis (host, no credentials), the audit-trail archive, each LLM path (region and basis as the residency guard decides it)',
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(Residency, 'One entry per kind of data'), ...protectedErrors },
    }),
    (c) => {
      const redis = redisPlace(deps.compliance.redisUrl);
      const archive = archivePlace(deps.compliance.archiveUrl);
      const decided = deps.llm.router.residency();
      const paths: z.infer<typeof ResidencyEntry>[] = decided.map(({ path, verdict }) => ({
        data: `LLM prompts (redacted), ${path} path${deps.llm.configured[path] ? '' : ' (not enabled)'}`,
        where: path === 'direct' ? `Amazon Bedrock in ${verdict.region}` : `the MCP server, processing in ${verdict.region}`,
        region: verdict.region,
        basis: verdict.ok ? `allowed: ${verdict.basis}` : `not allowed: ${verdict.reason}`,
      }));
      if (deps.llm.configured.mcp && !decided.some((r) => r.path === 'mcp')) {
        paths.push({ data: 'LLM prompts (redacted), mcp path', where: 'the MCP server', region: null, basis: 'MCP_REGION is not set: where the MCP server processes prompts is not declared' });
      }
      const entries: z.infer<typeof ResidencyEntry>[] = [
        { data: 'queues, jobs, audit trail, execution records, settings (Redis)', ...redis },
        {
          data: 'archived audit trail',
          where: archive.where,
          region: archive.region,
          basis: archive.kind === 'local' ? 'a file:// directory on the host of the process that archives' : archive.region ? 'named in BSM_ARCHIVE_URL' : 'BSM_ARCHIVE_URL names no region',
        },
        ...paths,
      ];
      return c.json({ measuredAt: deps.clock().toISOString(), entries }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/compliance/pii/status',
      summary: 'PII detections by type over a window (1h, 24h, 7d; the counter keeps UTC days, so the whole days the window touches), the totals since the counter started, and a redaction self-test over every detector type',
      ...guard('read'),
      request: WindowQuery,
      responses: { 200: jsonResponse(PiiStatus, 'Detections and the self-test'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => {
      const { window } = c.req.valid('query');
      const now = deps.clock();
      const start = new Date(now.getTime() - piiWindows[window] * hourMs);
      const firstDay = Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate());
      const days = Math.floor((now.getTime() - firstDay) / (24 * hourMs)) + 1;
      const read = await deps.llm.pii.read({ days, now });
      const detections: Record<string, number> = {};
      for (const { counts } of read.days) {
        for (const [type, n] of Object.entries(counts)) {
          detections[type] = (detections[type] ?? 0) + n;
        }
      }
      return c.json(
        {
          measuredAt: now.toISOString(),
          window,
          covers: {
            from: new Date(firstDay).toISOString(),
            to: now.toISOString(),
            detail: `the counter keeps whole UTC days: the ${days} day(s) the ${window} window touches, from ${new Date(firstDay).toISOString().slice(0, 10)}`,
          },
          detections,
          byDay: read.days,
          total: read.total,
          selfTest: piiSelfTest(),
        },
        200,
      );
    },
  );

  return app;
}
