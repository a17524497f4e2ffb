/**
 * The OTLP decoder against what the real OpenTelemetry exporters send: a loopback server keeps
 * the bodies the JSON and protobuf exporters post, and the decoder must give back the spans the
 * SDK made, field by field. Also the span-to-execution mapping's edge cases.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { InMemorySpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTraces, encodingOf, exportResponse } from '../../src/api/otlp/decode.js';
import { otlpTypes } from '../../src/api/otlp/proto.js';
import { executionOfSpan, type TraceSpan } from '../../src/domain/meta-monitor/trace-spans.js';
import { agentProvider } from '../helpers/otel-agent.js';
import { close, listen } from '../helpers/planted.js';

interface Captured {
  contentType: string;
  contentEncoding: string | undefined;
  body: Buffer;
}

let server: Server;
let url: string;
let captured: Captured[] = [];
/** The answer the capture server gives: an empty ExportTraceServiceResponse in the request's encoding. */
function answer(req: IncomingMessage): { type: string; body: Uint8Array | string } {
  const encoding = encodingOf(req.headers['content-type']) ?? 'json';
  const body = exportResponse(encoding);
  return { type: encoding === 'protobuf' ? 'application/x-protobuf' : 'application/json', body: body instanceof Uint8Array ? body : JSON.stringify(body) };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      captured.push({ contentType: req.headers['content-type'] ?? '', contentEncoding: req.headers['content-encoding'], body: Buffer.concat(chunks) });
      const { type, body } = answer(req);
      res.writeHead(200, { 'content-type': type });
      res.end(body);
    });
  });
  url = `http://127.0.0.1:${await listen(server)}/v1/traces`;
});

afterAll(async () => {
  await close(server);
});

/** Spans of the fake agent's kind, made by the SDK, kept in memory. */
async function sdkSpans(): Promise<ReadableSpan[]> {
  const memory = new InMemorySpanExporter();
  const provider = agentProvider(memory, 'decode-agent');
  const tracer = provider.getTracer('decode');
  const start = Date.now() - 10_000;
  const root = tracer.startSpan('generate-patch', {
    kind: SpanKind.SERVER,
    startTime: start,
    attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.usage.input_tokens': 812, ratio: 0.25, ok: true, tags: ['a', 'b'], big: 2 ** 40, neg: -5, kv: 'x' },
  });
  root.recordException({ name: 'ThrottlingException', message: 'Rate exceeded for model request req_1', stack: 'at x' }, start + 5);
  root.setStatus({ code: SpanStatusCode.ERROR, message: 'throttled' });
  root.end(start + 1234.567891);
  await provider.forceFlush();
  return memory.getFinishedSpans();
}

const nanos = (t: [number, number]) => String(BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]));

async function exported(exporter: SpanExporter, spans: ReadableSpan[]): Promise<Captured> {
  captured = [];
  const result = await new Promise<{ code: number; error?: Error }>((resolve) => exporter.export(spans, resolve));
  expect(result.error).toBeUndefined();
  expect(result.code).toBe(0);
  await exporter.shutdown();
  expect(captured).toHaveLength(1);
  return captured[0] as Captured;
}

describe('decoding what the real OTLP exporters send', () => {
  const compression = 'gzip' as NonNullable<NonNullable<ConstructorParameters<typeof ProtoExporter>[0]>['compression']>;
  for (const [label, make] of [
    ['protobuf', () => new ProtoExporter({ url })],
    ['protobuf, gzip', () => new ProtoExporter({ url, compression })],
    ['JSON', () => new JsonExporter({ url })],
  ] as const) {
    it(`gives back the SDK's spans from ${label}`, async () => {
      const spans = await sdkSpans();
      const sent = await exported(make(), spans);
      const encoding = encodingOf(sent.contentType);
      expect(encoding).toBe(label === 'JSON' ? 'json' : 'protobuf');
      const body = sent.contentEncoding === 'gzip' ? gunzipSync(sent.body) : sent.body;
      expect(sent.contentEncoding).toBe(label.includes('gzip') ? 'gzip' : undefined);
      const decoded = decodeTraces(body, encoding ?? 'json');
      expect(decoded.ok).toBe(true);
      if (!decoded.ok) {
        return;
      }
      expect(decoded.resources).toHaveLength(1);
      const [resource] = decoded.resources;
      expect(resource?.resource['service.name']).toBe('decode-agent');
      const span = spans[0] as ReadableSpan;
      expect(resource?.spans).toEqual([
        {
          traceId: span.spanContext().traceId,
          spanId: span.spanContext().spanId,
          parentSpanId: '',
          name: 'generate-patch',
          startTimeUnixNano: nanos(span.startTime),
          endTimeUnixNano: nanos(span.endTime),
          attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.usage.input_tokens': 812, ratio: 0.25, ok: true, tags: ['a', 'b'], big: 2 ** 40, neg: -5, kv: 'x' },
          events: [{ name: 'exception', attributes: { 'exception.type': 'ThrottlingException', 'exception.message': 'Rate exceeded for model request req_1', 'exception.stacktrace': 'at x' } }],
          status: { code: 2, message: 'throttled' },
        },
      ]);
    });
  }

  it('the partial success answer is what the exporter reads back', () => {
    const { ExportTraceServiceResponse } = otlpTypes();
    const bytes = exportResponse('protobuf', { rejectedSpans: 2, errorMessage: 'two' });
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(bytes as Uint8Array), { longs: Number })).toEqual({ partialSuccess: { rejectedSpans: 2, errorMessage: 'two' } });
    expect(exportResponse('json', { rejectedSpans: 2, errorMessage: 'two' })).toEqual({ partialSuccess: { rejectedSpans: '2', errorMessage: 'two' } });
    expect(exportResponse('json')).toEqual({});
    expect(exportResponse('protobuf')).toEqual(new Uint8Array(0));
  });

  it('refuses a body that is not an export, naming why', () => {
    expect(decodeTraces(Buffer.from('{"resourceSpans":[{"scopeSpans":5}]}'), 'json')).toEqual({ ok: false, message: expect.stringContaining('scopeSpans: array expected') as unknown });
    expect(decodeTraces(Buffer.from('[1]'), 'json')).toMatchObject({ ok: false });
    expect(decodeTraces(Buffer.from([0x0a, 0x05, 0x01]), 'protobuf')).toMatchObject({ ok: false, message: expect.stringContaining('protobuf') as unknown });
    expect(encodingOf('application/json; charset=utf-8')).toBe('json');
    expect(encodingOf('text/plain')).toBeNull();
  });
});

describe('a span as an execution record', () => {
  const span: TraceSpan = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    parentSpanId: '',
    name: 'chat claude',
    startTimeUnixNano: '1764000000000000000',
    endTimeUnixNano: '1764000001500250000',
    attributes: { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'claude', 'gen_ai.usage.output_tokens': 7 },
    events: [],
    status: { code: 0, message: '' },
  };
  const mapping = { agentServices: new Set(['svc']) };

  it('maps id, time, latency, operation, model and tokens', () => {
    expect(executionOfSpan(span, {}, mapping)).toEqual({
      kind: 'execution',
      record: {
        executionId: '0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331',
        timestamp: 1_764_000_000_000,
        operation: 'chat claude',
        status: 'success',
        latencyMs: 1500.25,
        correlationId: '0af7651916cd43dd8448eb211c80319c',
        context: { taskType: 'chat', model: 'claude' },
        performance: { outputTokens: 7 },
      },
    });
  });

  it('an error takes its type and message from the exception event, or the status message and error.type; a timeout type is a timeout', () => {
    const failed = { ...span, status: { code: 2, message: 'failed' }, events: [{ name: 'exception', attributes: { 'exception.type': 'ValueError', 'exception.message': 'bad', 'exception.stacktrace': 's'.repeat(40_000) } }] };
    const out = executionOfSpan(failed, {}, mapping);
    expect(out.kind === 'execution' && out.record.error).toEqual({ type: 'ValueError', message: 'bad', stack: 's'.repeat(32_000) });
    const bare = executionOfSpan({ ...span, status: { code: 2, message: 'upstream 503' }, attributes: { ...span.attributes, 'error.type': '503' } }, {}, mapping);
    expect(bare.kind === 'execution' && [bare.record.status, bare.record.error]).toEqual(['error', { type: '503', message: 'upstream 503' }]);
    const timeout = executionOfSpan({ ...span, status: { code: 2, message: '' }, attributes: { ...span.attributes, 'error.type': 'timeout' } }, {}, mapping);
    expect(timeout.kind === 'execution' && timeout.record.status).toBe('timeout');
  });

  it('ignores spans of no agent, takes root spans of an agent service, and rejects what a record cannot be made of', () => {
    const plain = { ...span, attributes: {} };
    expect(executionOfSpan(plain, { 'service.name': 'other' }, mapping).kind).toBe('ignored');
    expect(executionOfSpan(plain, { 'service.name': 'svc' }, mapping).kind).toBe('execution');
    expect(executionOfSpan({ ...plain, parentSpanId: 'aaaaaaaaaaaaaaaa' }, { 'service.name': 'svc' }, mapping).kind).toBe('ignored');
    expect(executionOfSpan({ ...span, spanId: '0000000000000000' }, {}, mapping)).toMatchObject({ kind: 'rejected', field: 'spanId' });
    expect(executionOfSpan({ ...span, endTimeUnixNano: '0' }, {}, mapping)).toMatchObject({ kind: 'rejected', field: 'endTimeUnixNano' });
    expect(executionOfSpan({ ...span, startTimeUnixNano: '0' }, {}, mapping)).toMatchObject({ kind: 'rejected', field: 'startTimeUnixNano' });
    expect(executionOfSpan({ ...span, status: { code: 7, message: '' } }, {}, mapping)).toMatchObject({ kind: 'rejected', field: 'status.code' });
    expect(executionOfSpan({ ...span, name: '', attributes: { 'gen_ai.request.model': 'm' } }, {}, mapping)).toMatchObject({ kind: 'rejected', field: 'name' });
    // Without a span name the GenAI operation name is the operation.
    expect(executionOfSpan({ ...span, name: '' }, {}, mapping)).toMatchObject({ kind: 'execution', record: { operation: 'chat' } });
  });
});
