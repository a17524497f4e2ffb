import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { Redactor } from '../domain/compliance/pii.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { bodyErrors, guard, jsonBody, jsonResponse, protectedErrors, reason } from './openapi.js';

const ErasureBody = z
  .object({
    subject: z.string().min(1).max(200).openapi({ example: 'user-4711', description: 'A `context.userId` exactly as agents send it in execution records; only its HMAC is kept anywhere' }),
    reason,
  })
  .strict()
  .openapi('ErasureBody');

const ErasureResult = z
  .object({
    subject: z.object({ hmac: z.string().openapi({ description: 'HMAC-SHA256 of the subject under the install\'s HMAC key: what the records, the trail and this answer hold instead of it' }) }),
    erasedAt: z.string(),
    removed: z.object({
      executions: z.number().int().openapi({ description: 'Execution records of the subject deleted (their ids left the duplicate index with them)' }),
      userIndexEntries: z.number().int().openapi({ description: "Entries of the subject's own index of records, deleted with the index" }),
    }),
    scannedHours: z.number().int().openapi({ description: 'Hour buckets scanned for records stored before the user index existed (0 once the retention has passed since)' }),
  })
  .openapi('ErasureResult');

/**
 * `POST /admin/bedrock-support/compliance/erasure`: a data subject's erasure. The subject is a user
 * id of the execution records, which hold it only as an HMAC: its records are found through that
 * HMAC and deleted. The request is recorded in the audit trail by the HMAC alone, and the raw
 * subject is kept nowhere (not in Redis, the trail, or a log line).
 */
export function erasureRoutes(deps: Pick<ApiDeps, 'auditTrail' | 'executions' | 'clock'>) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/compliance/erasure',
      summary:
        "Erase a data subject: every stored execution record whose userId is `subject` (found through its HMAC, with the record's entries in the duplicate and user indexes), recorded in the audit trail by the HMAC only; answers what was removed",
      ...guard('administer'),
      request: { body: jsonBody(ErasureBody) },
      responses: { 200: jsonResponse(ErasureResult, 'Erased (possibly nothing: no record of the subject was stored)'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const hmac = deps.executions.pseudonymize(input.subject);
      // First: the request's own audit entry (`http.request`) keeps this instead of the body, whatever happens next.
      c.set('auditBody', { subjectHmac: hmac, ...(input.reason === undefined ? {} : { reason: new Redactor().redact(input.reason) }) });
      const at = deps.clock();
      await recordBeforeChange(deps.auditTrail, {
        actor: c.get('principal').name,
        action: 'compliance.erasure',
        target: `subject:${hmac}`,
        details: { subjectHmac: hmac, scope: ['executions'], requestId: c.get('requestId'), reason: input.reason === undefined ? null : new Redactor().redact(input.reason) },
      });
      const erased = await deps.executions.store.eraseUser(hmac, at);
      return c.json(
        { subject: { hmac }, erasedAt: at.toISOString(), removed: { executions: erased.records, userIndexEntries: erased.indexEntries }, scannedHours: erased.scannedHours },
        200,
      );
    },
  );

  return app;
}
