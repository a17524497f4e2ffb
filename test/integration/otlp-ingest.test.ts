/**
 * OTLP/HTTP trace ingest, end to end over a real socket: a fake agent instrumented with the real
 * OpenTelemetry JS SDK exports its spans with the real OTLP exporters (JSON and protobuf, one of
 * them gzip), the service stores the agent's executions among them, and the meta-monitor's
 * analysis of those finds the planted failure clusters.
 */
import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { InMemorySpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiServer } from '../../src/api/server.js';
import { otlpTypes } from '../../src/api/otlp/proto.js';
import type { ExecutionRecord } from '../../src/domain/meta-monitor/executions.js';
import type { Runner } from '../../src/workers/runner.js';
import { makeTestApp, testHmacKey, tokens, type TestApp } from '../helpers/app.js';
import { plantedRecords, plantedTemplates, type PlantedRecord } from '../helpers/executions.js';
import { eventually, startTestRunner } from '../helpers/fleet.js';
import { agentModel, agentProvider, agentService, runAgent, tokensOf } from '../helpers/otel-agent.js';
import { close, listen } from '../helpers/planted.js';
import { dumpKeys } from '../helpers/redis.js';
import { hmacPseudonymizer } from '../../src/domain/meta-monitor/executions.js';
import { Redactor } from '../../src/domain/compliance/pii.js';

const hour = 3_600_000;
/** `ExportResultCode.SUCCESS` of @opentelemetry/core (a dependency of the SDK, not of this project). */
const exportSucceeded = 0;
type Compression = NonNullable<NonNullable<ConstructorParameters<typeof ProtoExporter>[0]>['compression']>;
const base = '/admin/bedrock-support/meta-monitor';

let t: TestApp;
let runner: Runner;
let server: Server;
let url: string;

const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

async function storedExecutions(): Promise<ExecutionRecord[]> {
  const out: ExecutionRecord[] = [];
  const now = Date.now();
  for await (const r of t.adapters.executions.window(new Date(now - 3 * hour), new Date(now + hour))) {
    out.push(r);
  }
  return out;
}

/** Exports `spans` once with `exporter`, resolving with the exporter's own verdict. */
function exportOnce(exporter: SpanExporter, spans: ReadableSpan[]): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

const exporterOptions = () => ({ url, headers: { Authorization: `Bearer ${tokens.ingest}` }, timeoutMillis: 10_000 });

/** A hand-made OTLP/JSON export of `spans` (hex ids, enum numbers, int64 as strings), as the OTLP/JSON spec writes it. */
function otlpJson(spans: Record<string, unknown>[], service = 'hand-made-agent') {
  return { resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] }, scopeSpans: [{ scope: { name: 'test' }, spans }] }] };
}

function genAiSpan(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const start = BigInt(Date.now() - 60_000) * 1_000_000n;
  return {
    traceId: `5b8efff798038103d269b633813fc6${id.padStart(2, '0')}`,
    spanId: `eee19b7ec3c1b1${id.padStart(2, '0')}`,
    name: 'summarize',
    kind: 1,
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(start + 1_500_000_000n),
    attributes: [
      { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
      { key: 'gen_ai.request.model', value: { stringValue: 'claude-x' } },
      { key: 'gen_ai.usage.input_tokens', value: { intValue: '812' } },
    ],
    status: { code: 0 },
    ...overrides,
  };
}

/** An OTLP/JSON export as protobufjs takes it: ids as bytes rather than hex. */
function withIdBytes(exported: ReturnType<typeof otlpJson>) {
  const bytes = (v: unknown) => Buffer.from(typeof v === 'string' ? v : '', 'hex');
  return {
    resourceSpans: exported.resourceSpans.map((rs) => ({
      ...rs,
      scopeSpans: rs.scopeSpans.map((ss) => ({ ...ss, spans: ss.spans.map((sp) => ({ ...sp, traceId: bytes(sp.traceId), spanId: bytes(sp.spanId) })) })),
    })),
  };
}

async function post(body: Uint8Array | string, headers: Record<string, string>, token: string | null = tokens.ingest): Promise<Response> {
  return fetch(url, { method: 'POST', body, headers: { ...headers, ...(token === null ? {} : { authorization: `Bearer ${token}` }) } });
}

beforeAll(async () => {
  t = await makeTestApp('otlp', { env: { BSM_OTEL_AGENT_SERVICES: 'root-only-agent, other' } });
  runner = startTestRunner(t, ['meta-monitor']);
  expect((await t.call('POST', '/admin/bedrock-support/enable')).status).toBe(200);
  expect((await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component: 'meta-monitor' } })).status).toBe(200);
  server = createApiServer(t.app.fetch);
  url = `http://127.0.0.1:${await listen(server)}/v1/traces`;
});

afterAll(async () => {
  await close(server);
  await runner.close();
  await t.close();
});

describe('the agent exports its traces with the real OpenTelemetry SDK', () => {
  let records: PlantedRecord[];

  beforeAll(async () => {
    const to = Date.now() - 2_000;
    records = plantedRecords({ seed: 21, count: 900, from: to - hour + 10_000, to, degradedMs: 400, idPrefix: 'otel' });
    // A third each: OTLP/JSON, OTLP/protobuf, OTLP/protobuf with gzip.
    const exporters: SpanExporter[] = [new JsonExporter(exporterOptions()), new ProtoExporter(exporterOptions()), new ProtoExporter({ ...exporterOptions(), compression: 'gzip' as Compression })];
    for (const [i, exporter] of exporters.entries()) {
      const provider = agentProvider(exporter);
      runAgent(provider.getTracer('fake-agent'), records.filter((_, n) => n % 3 === i));
      await provider.forceFlush();
      await provider.shutdown();
    }
  });

  it('stores one execution per agent span (the HTTP child spans are ignored), mapped from the span', async () => {
    const stored = await storedExecutions();
    expect(stored).toHaveLength(900);
    const byOperation = new Map<string, number>();
    for (const r of stored) {
      byOperation.set(r.operation, (byOperation.get(r.operation) ?? 0) + 1);
    }
    const planted = new Map<string, number>();
    for (const r of records) {
      planted.set(r.operation, (planted.get(r.operation) ?? 0) + 1);
    }
    expect(byOperation).toEqual(planted);
    // Every stored record is one planted record, found by its start time (each planted record has its own).
    const plantedByTime = new Map(records.map((r) => [r.timestamp, r]));
    expect(plantedByTime.size).toBe(records.length);
    const hmac = hmacPseudonymizer(testHmacKey);
    for (const s of stored) {
      const r = plantedByTime.get(s.timestamp);
      expect(r, `stored ${s.executionId} at ${s.timestamp}`).toBeDefined();
      if (!r) {
        continue;
      }
      expect(s.executionId).toMatch(/^[0-9a-f]{32}-[0-9a-f]{16}$/);
      expect(s.correlationId).toBe(s.executionId.slice(0, 32));
      expect(s.operation).toBe(r.operation);
      // The SDK keeps times in nanoseconds from a float of milliseconds: equal to the microsecond.
      expect(s.latencyMs).toBeCloseTo(r.latencyMs, 2);
      expect(s.status).toBe(r.status);
      expect(s.context?.taskType).toBe('invoke_agent');
      expect(s.context?.model).toBe(agentModel);
      expect(s.context?.userId).toBe(hmac(r.context?.userId ?? ''));
      expect(s.context?.metadata).toMatchObject({ 'service.name': agentService, 'gen_ai.provider.name': 'aws.bedrock' });
      expect(s.performance).toEqual({ inputTokens: tokensOf(r).input, outputTokens: tokensOf(r).output });
      if (r.error) {
        expect(s.error?.type).toBe(r.error.type);
        // The message as sent, redacted as the JSON ingest redacts it (placeholders are numbered per export).
        const unnumbered = (m: string | undefined) => m?.replace(/\[([A-Z0-9]+(?:_[A-Z0-9]+)*)_\d+\]/g, '[$1_n]');
        expect(unnumbered(s.error?.message)).toBe(unnumbered(new Redactor().redact(r.error.message)));
        expect(s.error?.message).not.toContain('@example.com');
      } else {
        expect(s.error).toBeUndefined();
      }
    }
  });

  it('keeps no e-mail address of an exception message in Redis, and no raw user id', async () => {
    expect(records.some((r) => r.error?.message.includes('@example.com'))).toBe(true);
    const redis = await dumpKeys(t.client, t.prefix);
    expect(redis).not.toContain('@example.com');
    expect(redis).toContain('[EMAIL_1]');
    expect(redis).not.toContain('"userId":"user-');
  });

  it('records each export in the audit trail by its counts and the body hash, never the body', async () => {
    const entries = await t.auditTrail.range();
    const ingests = entries.flatMap((e) => (e.event?.action === 'meta-monitor.otlp-ingest' ? [e.event] : []));
    expect(ingests.length).toBeGreaterThanOrEqual(3);
    const details = ingests.map((e) => e.details as { spans: number; executions: number; ignored: number; sha256: string });
    expect(details.reduce((a, d) => a + d.executions, 0)).toBe(900);
    expect(details.reduce((a, d) => a + d.ignored, 0)).toBe(900);
    expect(details.every((d) => /^[0-9a-f]{64}$/.test(d.sha256))).toBe(true);
    expect(JSON.stringify(entries)).not.toContain('@example.com');
  });

  it('the meta-monitor analysis of the exported executions finds the three planted failure clusters', async () => {
    const res = await t.call('POST', `${base}/analyze`, { role: 'operator', body: { timeframe: 'last-1h', focus: 'failures' } });
    expect(res.status).toBe(202);
    const { resultUrl } = await json<{ resultUrl: string }>(res);
    const result = await eventually(async () => {
      const r = await t.call('GET', resultUrl, { role: 'viewer' });
      return r.status === 200 ? json<{ executions: number; clusters: { count: number; errorTypes: string[]; template: string }[] }>(r) : null;
    }, 30_000);
    expect(result.executions).toBe(900);
    expect(result.clusters).toHaveLength(3);
    expect(result.clusters.map((c) => c.errorTypes[0]).sort()).toEqual(plantedTemplates.map((p) => p.type).sort());
    const failures = records.filter((r) => r.error).length;
    expect(result.clusters.reduce((a, c) => a + c.count, 0)).toBe(failures);
    expect(JSON.stringify(result)).not.toContain('@example.com');
  });
});

describe('the OTLP/HTTP answers', () => {
  it('the same export sent twice is stored once (JSON and protobuf alike)', async () => {
    const memory = new InMemorySpanExporter();
    const provider = agentProvider(memory);
    const now = Date.now() - 30_000;
    runAgent(provider.getTracer('twice'), [
      { executionId: 'twice-1', timestamp: now, operation: 'plan-task', status: 'success', latencyMs: 120 },
      { executionId: 'twice-2', timestamp: now + 5, operation: 'plan-task', status: 'error', latencyMs: 80, error: { type: 'Boom', message: 'boom' } },
    ]);
    await provider.forceFlush();
    const spans = memory.getFinishedSpans();
    expect(spans).toHaveLength(4);
    const before = (await storedExecutions()).length;
    for (const exporter of [new JsonExporter(exporterOptions()), new ProtoExporter(exporterOptions())]) {
      for (let i = 0; i < 2; i++) {
        expect((await exportOnce(exporter, spans)).code).toBe(exportSucceeded);
      }
      await exporter.shutdown();
    }
    expect((await storedExecutions()).length).toBe(before + 2);
    // The counts the OTLP answer has no field for are in headers.
    const again = await post(JSON.stringify(otlpJson([genAiSpan('d1')])), { 'content-type': 'application/json' });
    expect(again.headers.get('x-executions-stored')).toBe('1');
    const third = await post(JSON.stringify(otlpJson([genAiSpan('d1')])), { 'content-type': 'application/json' });
    expect(third.status).toBe(200);
    expect(await third.json()).toEqual({});
    expect([third.headers.get('x-executions-stored'), third.headers.get('x-executions-duplicates')]).toEqual(['0', '1']);
  });

  it('an exporter configured only by the environment variables the README gives reaches the service', async () => {
    const memory = new InMemorySpanExporter();
    const provider = agentProvider(memory);
    runAgent(provider.getTracer('env'), [{ executionId: 'env-1', timestamp: Date.now() - 20_000, operation: 'env-configured', status: 'success', latencyMs: 42 }]);
    await provider.forceFlush();
    const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url, OTEL_EXPORTER_OTLP_TRACES_HEADERS: `Authorization=Bearer%20${tokens.ingest}`, OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: 'gzip' };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    let exporters: SpanExporter[];
    try {
      // The exporters read their configuration when they are made.
      exporters = [new ProtoExporter(), new JsonExporter()];
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) {
          delete process.env[k];
        } else {
          process.env[k] = v;
        }
      }
    }
    for (const exporter of exporters) {
      expect(await exportOnce(exporter, memory.getFinishedSpans())).toEqual({ code: exportSucceeded });
      await exporter.shutdown();
    }
    expect((await storedExecutions()).filter((r) => r.operation === 'env-configured')).toHaveLength(1);
  });

  it('a span without the data a record needs is counted in partialSuccess.rejectedSpans, the valid ones stored; spans of no agent are ignored', async () => {
    const start = BigInt(Date.now() - 50_000) * 1_000_000n;
    const body = otlpJson([
      genAiSpan('a1'),
      genAiSpan('a2', { endTimeUnixNano: String(start - 1n), startTimeUnixNano: String(start) }),
      genAiSpan('a3', { traceId: '' }),
      genAiSpan('a4', { attributes: [{ key: 'gen_ai.usage.output_tokens', value: { doubleValue: 1.5 } }] }),
      // No GenAI attribute, and its service is not an agent's: ignored.
      { ...genAiSpan('a5'), attributes: [{ key: 'http.request.method', value: { stringValue: 'GET' } }] },
    ]);
    const res = await post(JSON.stringify(body), { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const answer = await json<{ partialSuccess: { rejectedSpans: string; errorMessage: string } }>(res);
    expect(answer.partialSuccess.rejectedSpans).toBe('3');
    expect(answer.partialSuccess.errorMessage).toContain('3 of 5 spans rejected');
    expect(answer.partialSuccess.errorMessage).toContain('span eee19b7ec3c1b1a2 endTimeUnixNano: is before startTimeUnixNano');
    expect(answer.partialSuccess.errorMessage).toContain('traceId: must be 16 bytes');
    expect(answer.partialSuccess.errorMessage).toContain('gen_ai.usage.output_tokens: must be a non-negative integer');
    expect(answer.partialSuccess.errorMessage).toContain('1 spans ignored');
    expect(res.headers.get('x-executions-stored')).toBe('1');

    // The same in protobuf: the answer is an ExportTraceServiceResponse in protobuf.
    const { ExportTraceServiceRequest, ExportTraceServiceResponse } = otlpTypes();
    const proto = ExportTraceServiceRequest.encode(
      ExportTraceServiceRequest.fromObject(withIdBytes(otlpJson([genAiSpan('b1'), genAiSpan('b2', { name: '', attributes: [{ key: 'gen_ai.request.model', value: { stringValue: 'm' } }] })], 'x'))),
    ).finish();
    const protoRes = await post(proto, { 'content-type': 'application/x-protobuf' });
    expect(protoRes.status).toBe(200);
    expect(protoRes.headers.get('content-type')).toBe('application/x-protobuf');
    const decoded = ExportTraceServiceResponse.toObject(ExportTraceServiceResponse.decode(new Uint8Array(await protoRes.arrayBuffer())), { longs: Number });
    expect(decoded).toEqual({ partialSuccess: { rejectedSpans: 1, errorMessage: expect.stringContaining('span eee19b7ec3c1b1b2 name: is empty') as unknown } });
  });

  it('root spans of a configured agent service are executions without GenAI attributes; their children are not', async () => {
    const start = BigInt(Date.now() - 40_000) * 1_000_000n;
    const root = { traceId: 'aa'.repeat(16), spanId: 'ab'.repeat(8), name: 'handle-ticket', startTimeUnixNano: String(start), endTimeUnixNano: String(start + 2_000_000n), status: { code: 2, message: 'deadline' }, events: [{ name: 'exception', timeUnixNano: String(start), attributes: [{ key: 'exception.type', value: { stringValue: 'TimeoutError' } }, { key: 'exception.message', value: { stringValue: 'no answer in 30 s' } }] }] };
    const child = { ...root, spanId: 'ac'.repeat(8), parentSpanId: 'ab'.repeat(8), name: 'child' };
    const res = await post(JSON.stringify(otlpJson([root, child], 'root-only-agent')), { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    expect(res.headers.get('x-spans-ignored')).toBe('1');
    const stored = (await storedExecutions()).find((r) => r.executionId === `${'aa'.repeat(16)}-${'ab'.repeat(8)}`);
    expect(stored).toMatchObject({ operation: 'handle-ticket', status: 'timeout', latencyMs: 2, error: { type: 'TimeoutError', message: 'no answer in 30 s' } });
  });

  it('an undecodable body is a 400 in the request encoding, an unknown content type a 415, and nothing is stored', async () => {
    const before = (await storedExecutions()).length;
    const trailBefore = await t.auditTrail.length();
    const { ExportTraceServiceRequest, Status } = otlpTypes();
    const valid = ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject({ resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'x', traceId: Buffer.alloc(16, 1) }] }] }] })).finish();
    const truncated = await post(valid.subarray(0, valid.length - 4), { 'content-type': 'application/x-protobuf' });
    expect(truncated.status).toBe(400);
    expect(truncated.headers.get('content-type')).toBe('application/x-protobuf');
    const status = Status.toObject(Status.decode(new Uint8Array(await truncated.arrayBuffer())));
    expect(status).toEqual({ code: 3, message: expect.stringContaining('not an ExportTraceServiceRequest in protobuf') as unknown });

    const badJson = await post('{"resourceSpans": ', { 'content-type': 'application/json' });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toMatchObject({ code: 3, message: 'the body is not valid JSON', error: { code: 'bad_request' } });
    const wrongShape = await post('{"resourceSpans": {"a": 1}}', { 'content-type': 'application/json' });
    expect(wrongShape.status).toBe(400);
    expect((await json<{ message: string }>(wrongShape)).message).toContain('resourceSpans: array expected');
    const notGzip = await post('plain', { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(notGzip.status).toBe(400);

    const text = await post('hello', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
    expect((await json<{ error: { code: string } }>(text)).error.code).toBe('unsupported_media_type');
    const br = await post('{}', { 'content-type': 'application/json', 'content-encoding': 'br' });
    expect(br.status).toBe(415);

    expect((await storedExecutions()).length).toBe(before);
    expect(await t.auditTrail.length()).toBe(trailBefore);
  });

  it('the body limit is the ingest limit, also for what a gzip body inflates to', async () => {
    const limit = t.config.BSM_INGEST_BODY_LIMIT_BYTES;
    const big = JSON.stringify({ resourceSpans: [], pad: 'x'.repeat(limit) });
    const tooBig = await post(gzipSync(big), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(tooBig.status).toBe(413);
    expect((await json<{ error: { message: string } }>(tooBig)).error.message).toContain('inflates past');
    const raw = await post(big, { 'content-type': 'application/json' });
    expect(raw.status).toBe(413);
    // Under the limit, gzip is read like the plain body.
    const small = await post(gzipSync(JSON.stringify(otlpJson([genAiSpan('c1')]))), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(small.status).toBe(200);
    expect(small.headers.get('x-executions-stored')).toBe('1');
  });

  it('needs a token with the ingest permission', async () => {
    const body = JSON.stringify(otlpJson([genAiSpan('e1')]));
    expect((await post(body, { 'content-type': 'application/json' }, null)).status).toBe(401);
    for (const role of ['viewer', 'operator', 'approver'] as const) {
      expect((await post(body, { 'content-type': 'application/json' }, tokens[role])).status, role).toBe(403);
    }
    expect((await post(body, { 'content-type': 'application/json' }, tokens.admin)).status).toBe(200);
  });
});
