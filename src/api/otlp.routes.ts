import { createHash } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { checkBatch } from '../domain/meta-monitor/executions.js';
import { executionsOfExport } from '../domain/meta-monitor/trace-spans.js';
import { defaultLimits, type ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { guard, protectedErrors } from './openapi.js';
import { decodeTraces, encodingOf, exportResponse, inflate, statusBytes, type OtlpEncoding } from './otlp/decode.js';

/** The path of the OTLP/HTTP trace route (the exporters' default, under the service's address): app.ts gives it the ingest body limit. */
export const otlpTracesPath = '/v1/traces';

/** `google.rpc.Code.INVALID_ARGUMENT`, the code of a Status answering a body that does not decode. */
const invalidArgument = 3;
/** Rejection reasons named in the answer's message; the count covers all of them. */
const reasonsShown = 5;

const PartialSuccess = z
  .object({
    partialSuccess: z
      .object({
        rejectedSpans: z.string().openapi({ description: 'Spans not stored (int64, as a string per the protobuf JSON mapping)', example: '1' }),
        errorMessage: z.string().openapi({ example: '1 of 12 spans rejected: span 5fb397be34d26b51 endTimeUnixNano: is before startTimeUnixNano; 8 spans ignored (not executions of the agent)' }),
      })
      .optional(),
  })
  .openapi('ExportTraceServiceResponse');

const otlpError = (description: string) => ({
  description,
  content: {
    'application/json': { schema: z.object({ code: z.number().int(), message: z.string(), error: z.object({ code: z.string(), message: z.string(), details: z.unknown() }) }).openapi('OtlpFailure') },
    'application/x-protobuf': { schema: z.string().openapi({ format: 'binary', description: 'google.rpc.Status' }) },
  },
});

/** A body that does not decode: a `google.rpc.Status` in the request's encoding (JSON: also the API's error shape). */
function undecodable(c: Context<AppEnv>, encoding: OtlpEncoding, message: string): Response {
  if (encoding === 'protobuf') {
    return c.body(statusBytes(invalidArgument, message), 400, { 'Content-Type': 'application/x-protobuf' });
  }
  throw new ApiError(400, 'bad_request', message, null, undefined, { code: invalidArgument, message });
}

/** `/v1/traces`: OTLP/HTTP trace export; the agent's executions among the spans are stored as execution records. */
export function otlpRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const mapping = { agentServices: new Set(deps.executions.agentServices ?? []) };
  const maxBytes = { ...defaultLimits, ...deps.limits }.ingestBodyLimitBytes;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/traces',
      summary:
        'OTLP/HTTP trace export (protobuf or JSON, gzip allowed). Spans with GenAI attributes, and root spans of the agent services (BSM_OTEL_AGENT_SERVICES), are stored as execution records; other spans are ignored',
      ...guard('ingest'),
      request: {
        body: {
          required: true,
          content: {
            // Read by the handler itself: a validator would try to read a gzip body as JSON.
            'application/x-protobuf': { schema: z.string().openapi({ format: 'binary', description: 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest' }) },
          },
          description: 'Also accepted as application/json: the same request in OTLP/JSON (hex trace and span ids, enums as numbers)',
        },
      },
      responses: {
        200: {
          description: 'Accepted; partialSuccess says how many spans were rejected and why. The answer is in the request\'s encoding',
          content: { 'application/json': { schema: PartialSuccess }, 'application/x-protobuf': { schema: z.string().openapi({ format: 'binary', description: 'ExportTraceServiceResponse' }) } },
          headers: {
            'X-Executions-Stored': { description: 'Execution records stored by this export', schema: { type: 'integer' } },
            'X-Executions-Duplicates': { description: 'Executions stored before (the same trace and span id), not stored again', schema: { type: 'integer' } },
            'X-Spans-Ignored': { description: 'Spans that are not executions of the agent (OTLP has no field for them)', schema: { type: 'integer' } },
          },
        },
        400: otlpError('The body does not decode as an ExportTraceServiceRequest in the encoding it names'),
        413: otlpError('Body too large (also after gzip inflation)'),
        415: otlpError('Content-Type other than application/x-protobuf or application/json, or a Content-Encoding other than gzip'),
        ...protectedErrors,
      },
    }),
    async (c) => {
      const principal = c.get('principal');
      const raw = new Uint8Array(await c.req.arrayBuffer());
      // From here on the request's own audit entry (`http.request`) keeps the body's size and hash, never the body.
      const bulk = { bytes: raw.byteLength, sha256: createHash('sha256').update(raw).digest('hex') };
      c.set('bulkBody', bulk);
      const encoding = encodingOf(c.req.header('content-type'));
      if (encoding === null) {
        throw new ApiError(415, 'unsupported_media_type', 'send an OTLP export with Content-Type: application/x-protobuf or application/json');
      }
      const inflated = inflate(raw, c.req.header('content-encoding'), maxBytes);
      if (!inflated.ok) {
        switch (inflated.fault.kind) {
          case 'undecodable':
            return undecodable(c, encoding, inflated.fault.message);
          case 'tooLarge':
            throw new ApiError(413, 'payload_too_large', inflated.fault.message);
          case 'unsupportedEncoding':
            throw new ApiError(415, 'unsupported_media_type', inflated.fault.message);
        }
      }
      const decoded = decodeTraces(inflated.bytes, encoding);
      if (!decoded.ok) {
        return undecodable(c, encoding, decoded.message);
      }

      const spans = executionsOfExport(decoded.resources, mapping);
      const oldestMs = deps.clock().getTime() - deps.executions.retentionDays * 86_400_000;
      // The JSON ingest's own path: validation, redaction of free text, the user id's HMAC.
      const { records, rejected } = checkBatch(spans.records, deps.executions.pseudonymize, { oldestMs });
      const reasons = [
        ...spans.rejected.map((r) => `span ${r.spanId || '(no id)'} ${r.field}: ${r.message}`),
        ...rejected.map((r) => `span ${spans.sources[r.index]?.spanId ?? '?'} ${r.field}: ${r.message}`),
      ];
      let stored = { accepted: 0, duplicates: 0 };
      if (records.length > 0) {
        await recordBeforeChange(deps.auditTrail, {
          actor: principal.name,
          action: 'meta-monitor.otlp-ingest',
          target: 'executions',
          details: { spans: spans.spans, executions: records.length, rejected: reasons.length, ignored: spans.ignored, ...bulk, requestId: c.get('requestId') },
        });
        stored = await deps.executions.store.add(records);
      }
      c.header('X-Executions-Stored', String(stored.accepted));
      c.header('X-Executions-Duplicates', String(stored.duplicates));
      c.header('X-Spans-Ignored', String(spans.ignored));
      const partial =
        reasons.length === 0
          ? undefined
          : {
              rejectedSpans: reasons.length,
              errorMessage: `${reasons.length} of ${spans.spans} spans rejected: ${reasons.slice(0, reasonsShown).join('; ')}${reasons.length > reasonsShown ? '; …' : ''}; ${spans.ignored} spans ignored (not executions of the agent)`,
            };
      const body = exportResponse(encoding, partial);
      return body instanceof Uint8Array ? c.body(body, 200, { 'Content-Type': 'application/x-protobuf' }) : c.json(body, 200);
    },
  );

  return app;
}
