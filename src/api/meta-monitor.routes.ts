import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { checkBatch, maxBatchRecords, sha256Hex } from '../domain/meta-monitor/executions.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { bodyErrors, count, guard, jsonResponse, protectedErrors } from './openapi.js';

/** The path of the ingest route: app.ts gives it its own body limit. */
export const ingestPath = '/admin/bedrock-support/meta-monitor/executions';

const Rejection = z.object({ index: count, field: z.string().openapi({ example: 'status' }), message: z.string() }).openapi('ExecutionRejection');

const IngestResult = z
  .object({
    accepted: count.openapi({ description: 'Records stored by this request' }),
    duplicates: count.openapi({ description: 'Records whose executionId was stored before (not stored again)' }),
    rejected: z.array(Rejection).openapi({ description: 'Invalid records, by their index in the batch (the valid ones are stored)' }),
  })
  .openapi('ExecutionIngestResult');

/** The batch's items: a JSON array, or one JSON object per line (NDJSON). */
function itemsOf(body: string, contentType: string): unknown[] {
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (type === 'application/x-ndjson') {
    const items: unknown[] = [];
    const lines = body.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]?.trim() ?? '';
      if (line === '') {
        continue;
      }
      try {
        items.push(JSON.parse(line));
      } catch {
        throw new ApiError(400, 'bad_request', `line ${i + 1} is not valid JSON`, { line: i + 1 });
      }
    }
    return items;
  }
  if (type !== 'application/json') {
    throw new ApiError(415, 'unsupported_media_type', 'send a JSON array with Content-Type: application/json, or NDJSON with Content-Type: application/x-ndjson');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ApiError(400, 'bad_request', 'body is not valid JSON');
  }
  if (!Array.isArray(parsed)) {
    throw new ApiError(400, 'invalid_request', 'the body is a JSON array of execution records', { field: '(body)' });
  }
  return parsed;
}

/** `/admin/bedrock-support/meta-monitor/…`: execution records that agents post. */
export function metaMonitorRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/meta-monitor/executions',
      summary: `Post execution records: a JSON array or NDJSON, up to ${maxBatchRecords} per batch. Valid records are stored (once per executionId), invalid ones are named by index and field`,
      ...guard('ingest'),
      request: {
        body: {
          required: true,
          content: {
            // Read by the handler itself (NDJSON is no JSON the validator would take).
            'application/x-ndjson': { schema: z.string().openapi({ description: 'One execution record per line' }) },
          },
          description: 'Also accepted as application/json: an array of the same records',
        },
      },
      responses: {
        200: jsonResponse(IngestResult, 'Every record was valid (some may have been duplicates)'),
        207: jsonResponse(IngestResult, 'Some records were invalid: the others were stored'),
        ...protectedErrors,
        ...bodyErrors,
      },
    }),
    async (c) => {
      const body = await c.req.text();
      // From here on the request's own audit entry (`http.request`) keeps the body's size and hash, never the body, whatever happens next.
      const bulk = { bytes: Buffer.byteLength(body), sha256: sha256Hex(body) };
      c.set('bulkBody', bulk);
      const items = itemsOf(body, c.req.header('content-type') ?? '');
      if (items.length === 0) {
        throw new ApiError(400, 'invalid_request', 'the batch has no records', { field: '(body)' });
      }
      if (items.length > maxBatchRecords) {
        throw new ApiError(400, 'invalid_request', `a batch holds at most ${maxBatchRecords} records, not ${items.length}`, { field: '(body)', limit: maxBatchRecords });
      }
      const oldestMs = deps.clock().getTime() - deps.executions.retentionDays * 86_400_000;
      const { records, rejected } = checkBatch(items, deps.executions.pseudonymize, { oldestMs });
      const first = rejected[0];
      if (records.length === 0 && first) {
        throw new ApiError(400, 'invalid_request', `record ${first.index}: ${first.field}: ${first.message}`, { index: first.index, field: first.field, rejected: rejected.slice(0, 100) });
      }
      await recordBeforeChange(deps.auditTrail, {
        actor: c.get('principal').name,
        action: 'meta-monitor.ingest',
        target: 'executions',
        details: { records: items.length, valid: records.length, rejected: rejected.length, ...bulk, requestId: c.get('requestId') },
      });
      const stored = await deps.executions.store.add(records);
      return c.json({ ...stored, rejected }, rejected.length === 0 ? 200 : 207);
    },
  );

  return app;
}
