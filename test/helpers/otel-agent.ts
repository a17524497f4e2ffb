/**
 * A small fake agent instrumented with the real OpenTelemetry JS SDK: each planted execution
 * record (`executions.ts`) becomes a GenAI span, `invoke_agent` over the record's operation, with
 * a child HTTP span that is no execution; a failure records the planted exception and sets the
 * span's status to ERROR. Spans go to whatever exporter the test gives (the OTLP exporters, or
 * an in-memory one).
 */
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { PlantedRecord } from './executions.js';

export const agentService = 'kiro-agent';
export const agentModel = 'anthropic.claude-3-sonnet-20240229-v1:0';

/** A tracer provider of the agent's service that batches into `exporter`. */
export function agentProvider(exporter: SpanExporter, service = agentService): BasicTracerProvider {
  return new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'service.version': '1.4.0' }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 256, maxQueueSize: 100_000, scheduledDelayMillis: 50 })],
  });
}

/** Token counts that follow from the record, so a test can check them. */
export const tokensOf = (r: PlantedRecord) => ({ input: 100 + (r.latencyMs % 400 | 0), output: 20 + (r.executionId.length % 7) });

/** Runs the planted records as the agent would have: one GenAI span per record, at the record's time and with its latency. */
export function runAgent(tracer: Tracer, records: readonly PlantedRecord[]): void {
  for (const r of records) {
    const { input, output } = tokensOf(r);
    const span = tracer.startSpan(r.operation, {
      kind: SpanKind.INTERNAL,
      startTime: r.timestamp,
      attributes: {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.request.model': agentModel,
        'gen_ai.provider.name': 'aws.bedrock',
        'gen_ai.usage.input_tokens': input,
        'gen_ai.usage.output_tokens': output,
        ...(r.context ? { 'user.id': r.context.userId } : {}),
      },
    });
    // A call the agent made inside the run: a client span without GenAI attributes, not an execution.
    const child = tracer.startSpan('GET', { kind: SpanKind.CLIENT, startTime: r.timestamp + 1, attributes: { 'http.request.method': 'GET', 'url.full': 'https://api.internal/tasks' } }, traceContext(span));
    child.end(r.timestamp + 2);
    if (r.error) {
      span.recordException({ name: r.error.type, message: r.error.message }, r.timestamp + r.latencyMs);
      span.setStatus({ code: SpanStatusCode.ERROR, message: r.error.message });
    } else {
      span.setStatus({ code: SpanStatusCode.OK });
    }
    span.end(r.timestamp + r.latencyMs);
  }
}

function traceContext(span: Span) {
  return trace.setSpan(context.active(), span);
}
