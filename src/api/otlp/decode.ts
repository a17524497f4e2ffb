/**
 * OTLP/HTTP trace exports, decoded: protobuf with protobufjs from the definitions in `proto.ts`,
 * JSON by the same definitions after the OTLP/JSON differences from protobuf's JSON mapping are
 * undone (trace and span ids are hex, not base64). Either way the spans come out in one shape,
 * the domain's {@link ResourceTraceSpans}.
 */
import { gunzipSync } from 'node:zlib';
import type protobuf from 'protobufjs';
import type { AttributeValue, Attributes, ResourceTraceSpans, TraceSpan } from '../../domain/meta-monitor/trace-spans.js';
import { otlpTypes } from './proto.js';

export type OtlpEncoding = 'json' | 'protobuf';

/** The encoding a `Content-Type` names, or null for one OTLP/HTTP does not define. */
export function encodingOf(contentType: string | undefined): OtlpEncoding | null {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  return type === 'application/x-protobuf' ? 'protobuf' : type === 'application/json' ? 'json' : null;
}

/** Why a body could not be read: `tooLarge` when it inflated past the limit. */
export type BodyFault = { kind: 'undecodable'; message: string } | { kind: 'tooLarge'; message: string } | { kind: 'unsupportedEncoding'; message: string };

/** The body as sent, inflated when `Content-Encoding: gzip`, to at most `maxBytes`. */
export function inflate(body: Uint8Array, contentEncoding: string | undefined, maxBytes: number): { ok: true; bytes: Uint8Array } | { ok: false; fault: BodyFault } {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') {
    return { ok: true, bytes: body };
  }
  if (encoding !== 'gzip') {
    return { ok: false, fault: { kind: 'unsupportedEncoding', message: `Content-Encoding ${encoding} is not supported: send gzip or no encoding` } };
  }
  try {
    return { ok: true, bytes: gunzipSync(body, { maxOutputLength: maxBytes }) };
  } catch (err) {
    if (err instanceof RangeError) {
      return { ok: false, fault: { kind: 'tooLarge', message: `the gzip body inflates past ${maxBytes} bytes` } };
    }
    return { ok: false, fault: { kind: 'undecodable', message: 'the body is not valid gzip' } };
  }
}

type Plain = Record<string, unknown>;
const plain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const hex = (v: unknown): string => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') : '');
/** Set on the message itself: a decoded message answers every other field with its default, from the prototype. */
const has = (o: Plain, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/** A 64-bit integer of a decoded message (a Long of the `long` package protobufjs uses, or a number) as decimal digits. */
function int64(v: unknown): string {
  if (typeof v === 'number') {
    return Number.isFinite(v) ? BigInt(Math.trunc(v)).toString() : '0';
  }
  if (plain(v) && typeof v.low === 'number' && typeof v.high === 'number') {
    const bits = (BigInt(v.high >>> 0) << 32n) | BigInt(v.low >>> 0);
    // A signed int64 (an attribute's intValue) below zero.
    return (v.unsigned !== true && v.high < 0 ? bits - (1n << 64n) : bits).toString();
  }
  return '0';
}

/** An `AnyValue` (a oneof: the field set on the message is the value) as an attribute value. */
function anyValue(v: unknown): AttributeValue {
  if (!plain(v)) {
    return null;
  }
  if (has(v, 'stringValue')) {
    return str(v.stringValue);
  }
  if (has(v, 'boolValue')) {
    return v.boolValue === true;
  }
  if (has(v, 'intValue')) {
    return Number(int64(v.intValue));
  }
  if (has(v, 'doubleValue')) {
    return typeof v.doubleValue === 'number' ? v.doubleValue : null;
  }
  if (has(v, 'arrayValue') && plain(v.arrayValue)) {
    return list(v.arrayValue.values).map(anyValue);
  }
  if (has(v, 'kvlistValue') && plain(v.kvlistValue)) {
    return attributes(v.kvlistValue.values);
  }
  if (has(v, 'bytesValue') && v.bytesValue instanceof Uint8Array) {
    return Buffer.from(v.bytesValue).toString('base64');
  }
  return null;
}

function attributes(kvs: unknown): Attributes {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list(kvs)) {
    // `__proto__` would set the object's prototype instead of an attribute.
    if (plain(kv) && typeof kv.key === 'string' && kv.key !== '__proto__') {
      out[kv.key] = anyValue(kv.value);
    }
  }
  return out;
}

function span(s: Plain): TraceSpan {
  const status = plain(s.status) ? s.status : {};
  const code = typeof status.code === 'number' ? status.code : 0;
  return {
    traceId: hex(s.traceId),
    spanId: hex(s.spanId),
    parentSpanId: hex(s.parentSpanId),
    name: str(s.name),
    startTimeUnixNano: int64(s.startTimeUnixNano),
    endTimeUnixNano: int64(s.endTimeUnixNano),
    attributes: attributes(s.attributes),
    events: list(s.events).flatMap((e) => (plain(e) ? [{ name: str(e.name), attributes: attributes(e.attributes) }] : [])),
    status: { code, message: str(status.message) },
  };
}

/**
 * The spans of a decoded `ExportTraceServiceRequest`, read from the message itself: protobufjs's
 * `toObject` would copy every field first, and took more time than the decoding.
 */
function resourcesOf(request: Plain): ResourceTraceSpans[] {
  return list(request.resourceSpans).flatMap((rs) => {
    if (!plain(rs)) {
      return [];
    }
    const resource = plain(rs.resource) ? attributes(rs.resource.attributes) : {};
    const spans = list(rs.scopeSpans).flatMap((ss) => (plain(ss) ? list(ss.spans).flatMap((s) => (plain(s) ? [span(s)] : [])) : []));
    return [{ resource, spans }];
  });
}

/** OTLP/JSON's hex ids as the bytes protobufjs expects (a string there would be read as base64); other values left for the span check. */
function hexIdsToBytes(json: Plain): void {
  const convert = (o: Plain, keys: readonly string[]) => {
    for (const key of keys) {
      const v = o[key];
      if (typeof v === 'string') {
        // Not hex: no bytes, and the span is rejected for its id.
        o[key] = /^(?:[0-9a-fA-F]{2})*$/.test(v) ? Buffer.from(v, 'hex') : Buffer.alloc(0);
      }
    }
  };
  for (const rs of list(json.resourceSpans)) {
    for (const ss of plain(rs) ? list(rs.scopeSpans) : []) {
      for (const s of plain(ss) ? list(ss.spans) : []) {
        if (plain(s)) {
          convert(s, ['traceId', 'spanId', 'parentSpanId']);
          for (const link of list(s.links)) {
            if (plain(link)) {
              convert(link, ['traceId', 'spanId']);
            }
          }
        }
      }
    }
  }
}

/** An export's spans, or why the body is not an export in the encoding it names. */
export function decodeTraces(bytes: Uint8Array, encoding: OtlpEncoding): { ok: true; resources: ResourceTraceSpans[] } | { ok: false; message: string } {
  const { ExportTraceServiceRequest } = otlpTypes();
  let message: protobuf.Message;
  if (encoding === 'protobuf') {
    try {
      message = ExportTraceServiceRequest.decode(bytes);
    } catch (err) {
      return { ok: false, message: `the body is not an ExportTraceServiceRequest in protobuf: ${(err as Error).message}` };
    }
  } else {
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    } catch {
      return { ok: false, message: 'the body is not valid JSON' };
    }
    if (!plain(json)) {
      return { ok: false, message: 'the body is not an ExportTraceServiceRequest in OTLP/JSON: expected an object with resourceSpans' };
    }
    hexIdsToBytes(json);
    try {
      message = ExportTraceServiceRequest.fromObject(json);
    } catch (err) {
      // protobufjs names the field: ".opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.resourceSpans: array expected".
      return { ok: false, message: `the body is not an ExportTraceServiceRequest in OTLP/JSON: ${(err as Error).message.replace(/^\.opentelemetry\.proto\.[a-z.]*v1\./, '')}` };
    }
  }
  return { ok: true, resources: plain(message) ? resourcesOf(message) : [] };
}

/** An `ExportTraceServiceResponse` in `encoding`: empty on full success, else with its partial success. */
export function exportResponse(encoding: OtlpEncoding, partialSuccess?: { rejectedSpans: number; errorMessage: string }): Uint8Array<ArrayBuffer> | Plain {
  const { ExportTraceServiceResponse } = otlpTypes();
  const message = ExportTraceServiceResponse.fromObject(partialSuccess ? { partialSuccess } : {});
  return encoding === 'protobuf' ? new Uint8Array(ExportTraceServiceResponse.encode(message).finish()) : ExportTraceServiceResponse.toObject(message, { longs: String });
}

/** A `google.rpc.Status` in protobuf, the body of an OTLP/HTTP failure answer to a protobuf request. */
export function statusBytes(code: number, message: string): Uint8Array<ArrayBuffer> {
  const { Status } = otlpTypes();
  // A copy on an ArrayBuffer of its own: the writer's may be a slice of a shared pool.
  return new Uint8Array(Status.encode(Status.fromObject({ code, message })).finish());
}
