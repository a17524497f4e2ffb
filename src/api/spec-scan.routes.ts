import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { Redactor } from '../domain/compliance/pii.js';
import { specScanIdPrefix, specScanResultSchema } from '../domain/gaps/spec-scan.js';
import type { ApiDeps } from './deps.js';
import { jobResult } from './job-results.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { bodyErrors, guard, jsonBody, jsonResponse, noQuery, notFound, protectedErrors } from './openapi.js';

const queue = 'implementation-support';
const jobName = 'spec-scan';
const base = '/admin/bedrock-support/implementation';

const ScanBody = z
  .object({
    targets: z
      .array(z.string().trim().min(1).max(100))
      .min(1)
      .max(500)
      .optional()
      .openapi({ description: 'Ids of spec targets of the inventory; every spec target when absent' }),
    priority: z.enum(['high', 'medium', 'low']).default('medium'),
    reason: z.string().trim().max(500).optional().openapi({ example: 'Sprint review' }),
  })
  .strict()
  .openapi('SpecScanBody');

const Accepted = z
  .object({ scanId: z.string().openapi({ example: 'spec-scan-3f1c…' }), state: z.literal('queued'), targets: z.array(z.string()), priority: z.string(), resultUrl: z.string() })
  .openapi('SpecScanAccepted');

const Pending = z.object({ scanId: z.string(), state: z.enum(['queued', 'running']), progress: z.object({ percent: z.number() }) }).openapi('SpecScanPending');

// Extended here: the domain's schema was made before @hono/zod-openapi taught zod `.openapi()`.
const ResultView = specScanResultSchema.extend({}).openapi('SpecScanResult');

const IdParam = z.object({ id: z.string().openapi({ example: 'spec-scan-3f1c…' }) });

/**
 * `/admin/bedrock-support/implementation/spec-scan…`: the spec scan of implementation support.
 * The scan runs on the implementation-support workers (the directories are the workers', not
 * necessarily the API's): a POST answers 202 with the scan id, its result is read by id.
 */
export function specScanRoutes(deps: Pick<ApiDeps, 'fleet' | 'audit' | 'auditTrail' | 'reports'>) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/implementation/spec-scan',
      summary: "Scan the spec targets' task lists (.kiro/specs/*/tasks.md) into gaps; 202 with the scan id. A bare POST scans every spec target",
      ...guard('operate'),
      request: { body: jsonBody(ScanBody, false) },
      responses: { 202: jsonResponse(Accepted, 'Queued'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const input = ScanBody.parse(c.req.valid('json') ?? {});
      const inventory = await deps.audit.inventory.current();
      const specs = inventory.inventory.targets.filter((t) => t.kind === 'spec').map((t) => t.id);
      if (input.targets) {
        const kinds = new Map(inventory.inventory.targets.map((t) => [t.id, t.kind]));
        const wrong = input.targets.filter((id) => kinds.get(id) !== 'spec');
        if (wrong.length > 0) {
          const why = wrong.map((id) => (kinds.has(id) ? `"${id}" is a ${kinds.get(id)} target` : `"${id}" is unknown`)).join(', ');
          throw new ApiError(400, 'invalid_request', `targets: not spec targets of the inventory: ${why} (GET /admin/bedrock-support/audit/config lists them)`, { field: 'targets', unknown: wrong });
        }
      } else if (specs.length === 0) {
        throw new ApiError(409, 'conflict', 'the inventory in force has no spec target: add one ({ id, kind: "spec", path }) with PUT /admin/bedrock-support/audit/config');
      }
      const targets = input.targets ? [...new Set(input.targets)] : specs;
      const scanId = `${specScanIdPrefix}-${randomUUID()}`;
      const principal = c.get('principal');
      const reason = input.reason === undefined ? undefined : new Redactor().redact(input.reason);
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'implementation.spec-scan',
        target: scanId,
        details: { targets, priority: input.priority, reason: reason ?? null, inventoryVersion: inventory.version, requestId: c.get('requestId') },
      });
      await deps.fleet.add(queue, jobName, { ...(input.targets ? { targets } : {}), reason, requestedBy: principal.name, priority: input.priority }, { jobId: scanId, priority: input.priority });
      return c.json({ scanId, state: 'queued' as const, targets, priority: input.priority, resultUrl: `${base}/spec-scan/${scanId}` }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/implementation/spec-scan/latest',
      summary: 'The latest finished spec scan',
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(ResultView, 'The scan'), ...protectedErrors, ...notFound },
    }),
    async (c) => {
      const latest = await deps.reports.latest(jobName, specScanResultSchema);
      if (!latest) {
        throw new ApiError(404, 'not_found', `no spec scan has finished yet: start one with POST ${base}/spec-scan`);
      }
      return c.json(latest.body, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/implementation/spec-scan/{id}',
      summary: 'A spec scan by id: 200 with the result (per target: specs, tasks open and done, gaps opened, resolved, recurring, problems), 202 while it is queued or running',
      ...guard('read'),
      request: { params: IdParam, ...noQuery },
      responses: { 200: jsonResponse(ResultView, 'The scan'), 202: jsonResponse(Pending, 'Not finished yet'), ...protectedErrors, ...notFound, 409: bodyErrors[409] },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const found = await jobResult(deps, { queue, jobName, prefix: specScanIdPrefix, what: 'spec scan', schema: specScanResultSchema }, id);
      return found.done ? c.json(found.body, 200) : c.json({ scanId: id, state: found.state, progress: found.progress }, 202);
    },
  );

  return app;
}
