/**
 * OpenTelemetry spans that are executions of the agent, turned into execution records (the
 * OTLP trace ingest). A span is an execution when it carries the GenAI semantic-convention
 * attributes, or when it is a root span of a service named as the agent's. Other spans are
 * ignored: an agent's trace also holds HTTP, database and framework spans that are not runs.
 *
 * The record made here is an input record: it still goes through `checkBatch`, the JSON ingest's
 * validation, redaction and pseudonymisation, before it is stored.
 */

/** An attribute value as OTLP carries it (`AnyValue`), int64 as a number. */
export type AttributeValue = string | number | boolean | null | readonly AttributeValue[] | { readonly [key: string]: AttributeValue };
export type Attributes = Readonly<Record<string, AttributeValue>>;

/** One span, decoded from OTLP/JSON or OTLP/protobuf. */
export interface TraceSpan {
  /** Lower-case hex of the bytes sent ('' when none). */
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** Unix time in nanoseconds, as decimal digits ('0' when unset). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: Attributes;
  events: readonly { name: string; attributes: Attributes }[];
  /** `Status.code`: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
}

/** The spans of one resource (one service), scopes flattened. */
export interface ResourceTraceSpans {
  resource: Attributes;
  spans: readonly TraceSpan[];
}

/** The GenAI attributes that make a span an execution of the agent. */
export const genAiAttributes = ['gen_ai.operation.name', 'gen_ai.request.model', 'gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens'] as const;

/** Attributes copied into `context.metadata` when they are a string, number or boolean. */
const metadataAttributes = ['service.name', 'gen_ai.provider.name', 'gen_ai.system', 'gen_ai.agent.name', 'gen_ai.tool.name', 'gen_ai.response.model'] as const;

/** What the schema takes at most of the free-text fields a span fills: longer text is cut, not refused. */
const limits = { message: 8_000, stack: 32_000, metadata: 4_000 } as const;

/** What became of one span. */
export type SpanOutcome =
  | { kind: 'execution'; record: Record<string, unknown> }
  | { kind: 'ignored' }
  /** Looked like an execution, but lacks what a record needs: `field` names what (OTLP's name). */
  | { kind: 'rejected'; field: string; message: string };

export interface SpanMapping {
  /** `service.name`s whose root spans are executions even without GenAI attributes (`BSM_OTEL_AGENT_SERVICES`). */
  agentServices: ReadonlySet<string>;
}

const hexId = (bytes: number) => new RegExp(`^[0-9a-f]{${bytes * 2}}$`);
const traceIdPattern = hexId(16);
const spanIdPattern = hexId(8);
const allZero = /^0+$/;
const nanosPattern = /^\d{1,20}$/;

const text = (v: AttributeValue | undefined): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Whether a span is an execution of the agent. */
export function isAgentExecution(span: TraceSpan, resource: Attributes, mapping: SpanMapping): boolean {
  if (genAiAttributes.some((key) => span.attributes[key] !== undefined)) {
    return true;
  }
  const service = resource['service.name'];
  const root = span.parentSpanId === '' || allZero.test(span.parentSpanId);
  return root && typeof service === 'string' && mapping.agentServices.has(service);
}

/** A token count attribute: absent, or a non-negative integer. */
function tokens(span: TraceSpan, key: string): { value?: number } | { fault: string } {
  const v = span.attributes[key];
  if (v === undefined) {
    return {};
  }
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? { value: v } : { fault: key };
}

/** The span's status as the meta-monitor counts it; an error whose type says timeout is a timeout. */
function statusOf(code: number, errorType: string | undefined): 'success' | 'error' | 'timeout' {
  if (code !== 2) {
    return 'success';
  }
  return errorType !== undefined && /time[ _-]?out|timed[ _-]?out|ETIMEDOUT/i.test(errorType) ? 'timeout' : 'error';
}

/** The span as an execution record, why it cannot be one, or that it is not one. */
export function executionOfSpan(span: TraceSpan, resource: Attributes, mapping: SpanMapping): SpanOutcome {
  if (!isAgentExecution(span, resource, mapping)) {
    return { kind: 'ignored' };
  }
  if (!traceIdPattern.test(span.traceId) || allZero.test(span.traceId)) {
    return { kind: 'rejected', field: 'traceId', message: 'must be 16 bytes (32 hex digits), not all zero' };
  }
  if (!spanIdPattern.test(span.spanId) || allZero.test(span.spanId)) {
    return { kind: 'rejected', field: 'spanId', message: 'must be 8 bytes (16 hex digits), not all zero' };
  }
  const operationName = text(span.attributes['gen_ai.operation.name']);
  const operation = span.name !== '' ? span.name : operationName;
  if (operation === undefined) {
    return { kind: 'rejected', field: 'name', message: 'is empty and there is no gen_ai.operation.name' };
  }
  if (!nanosPattern.test(span.startTimeUnixNano) || BigInt(span.startTimeUnixNano) === 0n) {
    return { kind: 'rejected', field: 'startTimeUnixNano', message: 'is missing' };
  }
  if (!nanosPattern.test(span.endTimeUnixNano) || BigInt(span.endTimeUnixNano) === 0n) {
    return { kind: 'rejected', field: 'endTimeUnixNano', message: 'is missing (the span has not ended)' };
  }
  const start = BigInt(span.startTimeUnixNano);
  const end = BigInt(span.endTimeUnixNano);
  if (end < start) {
    return { kind: 'rejected', field: 'endTimeUnixNano', message: 'is before startTimeUnixNano' };
  }
  if (span.status.code < 0 || span.status.code > 2) {
    return { kind: 'rejected', field: 'status.code', message: 'must be 0 (unset), 1 (ok) or 2 (error)' };
  }
  const input = tokens(span, 'gen_ai.usage.input_tokens');
  const output = tokens(span, 'gen_ai.usage.output_tokens');
  for (const t of [input, output]) {
    if ('fault' in t) {
      return { kind: 'rejected', field: t.fault, message: 'must be a non-negative integer' };
    }
  }

  const exception = span.events.find((e) => e.name === 'exception')?.attributes ?? {};
  const errorType = text(exception['exception.type']) ?? text(span.attributes['error.type']);
  const status = statusOf(span.status.code, errorType);
  const record: Record<string, unknown> = {
    executionId: `${span.traceId}-${span.spanId}`,
    timestamp: Number(start / 1_000_000n),
    operation,
    status,
    // Nanoseconds to milliseconds, kept to the microsecond.
    latencyMs: Number((end - start) / 1_000n) / 1_000,
    correlationId: span.traceId,
  };

  const context: Record<string, unknown> = {};
  const model = text(span.attributes['gen_ai.request.model']) ?? text(span.attributes['gen_ai.response.model']);
  if (operationName !== undefined) {
    context.taskType = operationName;
  }
  if (model !== undefined) {
    context.model = model;
  }
  // Pseudonymised by checkBatch, as a posted record's userId is.
  const user = text(span.attributes['user.id']) ?? text(span.attributes['enduser.id']);
  if (user !== undefined) {
    context.userId = user;
  }
  const metadata: Record<string, string | number | boolean> = {};
  for (const key of metadataAttributes) {
    const v = key === 'service.name' ? resource[key] : span.attributes[key];
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) {
      metadata[key] = typeof v === 'string' ? v.slice(0, limits.metadata) : v;
    }
  }
  if (Object.keys(metadata).length > 0) {
    context.metadata = metadata;
  }
  if (Object.keys(context).length > 0) {
    record.context = context;
  }

  if (status !== 'success') {
    const error: Record<string, string> = {};
    const message = text(exception['exception.message']) ?? text(span.status.message);
    const stack = text(exception['exception.stacktrace']);
    if (errorType !== undefined) {
      error.type = errorType;
    }
    if (message !== undefined) {
      error.message = message.slice(0, limits.message);
    }
    if (stack !== undefined) {
      error.stack = stack.slice(0, limits.stack);
    }
    record.error = error;
  }

  const performance: Record<string, number> = {};
  if ('value' in input && input.value !== undefined) {
    performance.inputTokens = input.value;
  }
  if ('value' in output && output.value !== undefined) {
    performance.outputTokens = output.value;
  }
  if (Object.keys(performance).length > 0) {
    record.performance = performance;
  }
  return { kind: 'execution', record };
}

/** A span of an export, by where it is (for the answer's message). */
export interface SpanRef {
  traceId: string;
  spanId: string;
}

/** The executions of an export, the spans rejected (with the reason) and how many were ignored. */
export function executionsOfExport(
  resources: readonly ResourceTraceSpans[],
  mapping: SpanMapping,
): { spans: number; records: Record<string, unknown>[]; sources: SpanRef[]; rejected: (SpanRef & { field: string; message: string })[]; ignored: number } {
  const records: Record<string, unknown>[] = [];
  const sources: SpanRef[] = [];
  const rejected: (SpanRef & { field: string; message: string })[] = [];
  let ignored = 0;
  let spans = 0;
  for (const { resource, spans: list } of resources) {
    for (const span of list) {
      spans++;
      const outcome = executionOfSpan(span, resource, mapping);
      if (outcome.kind === 'execution') {
        records.push(outcome.record);
        sources.push({ traceId: span.traceId, spanId: span.spanId });
      } else if (outcome.kind === 'rejected') {
        rejected.push({ traceId: span.traceId, spanId: span.spanId, field: outcome.field, message: outcome.message });
      } else {
        ignored++;
      }
    }
  }
  return { spans, records, sources, rejected, ignored };
}
