import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { archiveResultSchema, cleanupResultSchema } from '../domain/audit-trail/archive.js';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { publicKeyViewSchema, trailVerificationSchema, type VerifyScope } from '../domain/audit-trail/service.js';
import { Redactor } from '../domain/compliance/pii.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { jobResult } from './job-results.js';
import { bodyErrors, guard, jsonBody, jsonResponse, noQuery, notFound, protectedErrors, reason } from './openapi.js';

const base = '/admin/bedrock-support/audit-trail';
const queue = 'compliance';
const jobName = 'archive-audit-trail';
/** Archive runs are read by their id, `archive-…` (a scheduled run's too). */
export const archiveIdPrefix = 'archive';

// Extended here: the domain's schemas were made before @hono/zod-openapi taught zod `.openapi()`.
const Verification = trailVerificationSchema.extend({}).openapi('AuditTrailVerification');
const PublicKey = publicKeyViewSchema.extend({}).openapi('AuditTrailPublicKey');
const ArchiveResult = archiveResultSchema.extend({}).openapi('AuditTrailArchiveResult');
const CleanupResult = cleanupResultSchema.extend({}).openapi('AuditTrailCleanup');

const ArchiveBody = z
  .object({
    older_than: z
      .string()
      .trim()
      .regex(/^\d{1,6}[dh]$/)
      .optional()
      .openapi({ example: '90d', description: 'Archive entries older than this, in days (`90d`) or hours (`12h`); BSM_ARCHIVE_AFTER_DAYS when absent' }),
    destination: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .optional()
      .openapi({ example: 'default', description: "A configured archive destination, by name (`default` is BSM_ARCHIVE_URL) or by its configured URL; never any other URL. The primary one when absent" }),
    reason,
  })
  .strict()
  .openapi('AuditTrailArchiveBody');

const Accepted = z
  .object({
    archiveId: z.string().openapi({ example: 'archive-3f1c…' }),
    state: z.literal('queued'),
    olderThan: z.string(),
    destination: z.string(),
    resultUrl: z.string(),
  })
  .openapi('AuditTrailArchiveAccepted');

const Pending = z.object({ archiveId: z.string(), state: z.enum(['queued', 'running']), progress: z.object({ percent: z.number() }) }).openapi('AuditTrailArchivePending');

const CleanupBody = z.object({ reason }).strict().openapi('AuditTrailCleanupBody');

const IdParam = z.object({ id: z.string().openapi({ example: 'archive-3f1c…' }) });

const verifyRoutes: { path: string; scope: VerifyScope; summary: string }[] = [
  {
    path: '/audit-trail/verify',
    scope: 'all',
    summary:
      'Verify the audit trail: completeness (no sequence number missing or out of order, time never backwards, nothing cut off the end) and integrity (every hash recomputed, every link, the anchor of the archived part, the signed checkpoints in the archive), reading Redis in pages; the first bad entry is named (seq, stream id, what is wrong)',
  },
  { path: '/audit-trail/gaps', scope: 'completeness', summary: 'Completeness alone: missing or reordered sequence numbers, time going backwards, a tail cut off (against the head and the newest checkpoints)' },
  { path: '/audit-trail/integrity', scope: 'integrity', summary: 'Integrity alone: hashes, links, the anchor of the archived part, and the signed checkpoints (a rewritten chain, a missing or replaced checkpoint)' },
];

/** The destination a request names: a configured name, or the configured URL of one. Anything else is a 400 naming the field. */
function destinationOf(deps: Pick<ApiDeps, 'auditTrailService'>, given: string | undefined): string {
  const service = deps.auditTrailService;
  const configured = service.destinations.map((name) => `${name} (${service.destinationUrl(name) ?? '?'})`).join(', ');
  if (given === undefined) {
    const primary = service.destinations[0];
    if (primary === undefined) {
      throw new ApiError(409, 'conflict', 'no archive destination is configured (BSM_ARCHIVE_URL)');
    }
    return primary;
  }
  const found = service.destinations.find((name) => name === given || service.destinationUrl(name) === given);
  if (found === undefined) {
    throw new ApiError(400, 'invalid_request', `destination: "${given.slice(0, 200)}" is not a configured archive destination; configured: ${configured}`, { field: 'destination' });
  }
  return found;
}

/**
 * `/admin/bedrock-support/audit-trail/…`: the runbook's "Audit Trail Management". Reads verify the
 * trail; an archive runs on the compliance workers (202 with its id, its result read by id);
 * cleanup removes from Redis what an archive holds and read back.
 */
export function auditTrailRoutes(deps: Pick<ApiDeps, 'auditTrail' | 'auditTrailService' | 'fleet' | 'reports' | 'archiveAfterDays'>) {
  const app = new OpenAPIHono<AppEnv>();

  for (const route of verifyRoutes) {
    app.openapi(
      createRoute({
        method: 'get',
        path: route.path,
        summary: route.summary,
        ...guard('read'),
        request: noQuery,
        responses: { 200: jsonResponse(Verification, 'The verification: `ok`, the first problem and up to 100 per part, entries read, duration and rate'), ...protectedErrors },
      }),
      async (c) => c.json(await deps.auditTrailService.verify(route.scope), 200),
    );
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/audit-trail/public-key',
      summary: 'The Ed25519 public key that checks the checkpoints and archive manifests (PEM and SHA-256 fingerprint): what `bsm trail verify --public-key` takes',
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(PublicKey, 'The key in use'), ...protectedErrors, ...notFound },
    }),
    async (c) => {
      const key = await deps.auditTrailService.publicKey();
      if (!key) {
        throw new ApiError(404, 'not_found', 'no audit signing key is known yet: a process with BSM_AUDIT_SIGNING_KEY (or `bsm all`) publishes it when it starts');
      }
      return c.json(key, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/audit-trail/archive',
      summary:
        'Archive audit-trail entries older than `older_than` to a configured destination: a signed checkpoint, then gzipped JSON Lines segments with signed manifests, each read back. Entries stay in Redis until cleanup. 202 with the archive id; a bare POST archives what is older than BSM_ARCHIVE_AFTER_DAYS to the primary destination',
      ...guard('operate'),
      request: { body: jsonBody(ArchiveBody, false) },
      responses: { 202: jsonResponse(Accepted, 'Queued on the compliance workers'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const input = ArchiveBody.parse(c.req.valid('json') ?? {});
      const olderThan = input.older_than ?? `${deps.archiveAfterDays}d`;
      const amount = Number(olderThan.slice(0, -1));
      const days = olderThan.endsWith('d');
      if (amount < 1 || (days ? amount > 3650 : amount > 87_600)) {
        throw new ApiError(400, 'invalid_request', `older_than must be 1d-3650d or 1h-87600h, got "${olderThan}"`, { field: 'older_than' });
      }
      const destination = destinationOf(deps, input.destination);
      const archiveId = `${archiveIdPrefix}-${randomUUID()}`;
      const principal = c.get('principal');
      const requestId = c.get('requestId');
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'audit-trail.archive.request',
        target: archiveId,
        details: { olderThan, destination, reason: input.reason === undefined ? null : new Redactor().redact(input.reason), requestId },
      });
      await deps.fleet.add(
        queue,
        jobName,
        { ...(days ? { olderThanDays: amount } : { olderThanHours: amount }), destination, cleanup: false, requestedBy: principal.name, requestId },
        { jobId: archiveId, priority: 'medium' },
      );
      return c.json({ archiveId, state: 'queued' as const, olderThan, destination, resultUrl: `${base}/archive/${archiveId}` }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/audit-trail/archive/{id}',
      summary: 'An archive run by id: 200 with what it wrote (segments, sequence range, SHA-256 of each file, the checkpoint, the cleanup of a nightly run), 202 while it is queued or running',
      ...guard('read'),
      request: { params: IdParam, ...noQuery },
      responses: { 200: jsonResponse(ArchiveResult, 'The run'), 202: jsonResponse(Pending, 'Not finished yet'), ...protectedErrors, ...notFound, 409: bodyErrors[409] },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const found = await jobResult(deps, { queue, jobName, prefix: archiveIdPrefix, what: 'archive run', schema: archiveResultSchema }, id);
      return found.done ? c.json(found.body, 200) : c.json({ archiveId: id, state: found.state, progress: found.progress }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/audit-trail/cleanup',
      summary:
        'Remove from Redis the entries of every archived segment whose file reads back with the SHA-256 written, whose signed manifest matches, and whose lines are exactly the entries Redis holds; each removal recorded in the trail first. Answers how many were removed and which archives hold them; 409 when the next archive does not read back (nothing removed)',
      ...guard('administer'),
      request: { body: jsonBody(CleanupBody, false) },
      responses: { 200: jsonResponse(CleanupResult, 'Removed (possibly nothing: no archive waited)'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const input = CleanupBody.parse(c.req.valid('json') ?? {});
      const result = await deps.auditTrailService.cleanup({
        actor: c.get('principal').name,
        requestId: c.get('requestId'),
        ...(input.reason === undefined ? {} : { reason: new Redactor().redact(input.reason) }),
      });
      if (result.stopped && result.removed === 0) {
        throw new ApiError(409, 'conflict', `nothing removed: the archive ${result.stopped.archive} does not qualify: ${result.stopped.reason}`, { archive: result.stopped.archive, reason: result.stopped.reason });
      }
      return c.json(result, 200);
    },
  );

  return app;
}
