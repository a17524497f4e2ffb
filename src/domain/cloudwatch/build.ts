/**
 * From measured figures to CloudWatch data: pure, so what is sent for given figures is tested
 * without CloudWatch. Every metric of the catalog that has a `Component` series is sent once per
 * component and once without dimensions; a figure that was not measured is not sent.
 */
import { maxValuesPerDatum, metricCatalog, type DatumValue, type MetricDatum, type MetricName } from './metrics.js';
import type { OperationFigures, ResourceFigures, Split } from './ports.js';

/** Everything one publication sends, as measured. */
export interface Measurements {
  operations: readonly OperationFigures[];
  routingEfficiency: Split<number | null>;
  llmCostUsd: Split<number>;
  resources: ResourceFigures;
  state: {
    /** Whether support mode runs each component's queue; the total: whether support mode is active. */
    active: Split<boolean>;
    /** Whether each component is healthy; the total: whether every one is. */
    healthy: Split<boolean>;
    auditScore: number | null;
    openGaps: number;
    remediations: { verified: number; failed: number };
  };
}

/** Values and their counts, in chunks of at most {@link maxValuesPerDatum} distinct values, smallest first. */
export function distribution(counts: ReadonlyMap<number, number>): { values: number[]; counts: number[] }[] {
  const sorted = [...counts].filter(([, n]) => n > 0).sort(([a], [b]) => a - b);
  const chunks: { values: number[]; counts: number[] }[] = [];
  for (let i = 0; i < sorted.length; i += maxValuesPerDatum) {
    const part = sorted.slice(i, i + maxValuesPerDatum);
    chunks.push({ values: part.map(([v]) => v), counts: part.map(([, n]) => n) });
  }
  return chunks;
}

function merge(into: Map<number, number>, more: ReadonlyMap<number, number>): Map<number, number> {
  for (const [value, n] of more) {
    into.set(value, (into.get(value) ?? 0) + n);
  }
  return into;
}

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * The data of one publication, all stamped `at` (the end of the window). `components` are sent
 * even when nothing happened to them (0 jobs is a measurement); a component that shows up in the
 * figures only (an LLM caller that is no queue) is sent too.
 */
export function buildMetricData(m: Measurements, at: Date, components: readonly string[]): MetricDatum[] {
  const data: MetricDatum[] = [];
  const put = (name: MetricName, component: string | null, value: DatumValue) => {
    const def = metricCatalog[name];
    data.push({ namespace: def.namespace, name, unit: def.unit, component, timestamp: at, ...value });
  };
  const seen = (record: Readonly<Record<string, unknown>>) => Object.keys(record);
  const all = [...new Set([...components, ...m.operations.map((o) => o.component), ...seen(m.llmCostUsd.byComponent), ...seen(m.routingEfficiency.byComponent)])];

  // Performance: jobs and their durations.
  const latencyOf = new Map<string, Map<number, number>>();
  const sums = new Map<string, { success: number; errors: number }>();
  for (const o of m.operations) {
    const latency = latencyOf.get(o.component) ?? new Map<number, number>();
    latencyOf.set(o.component, merge(latency, o.latencyMs));
    const s = sums.get(o.component) ?? { success: 0, errors: 0 };
    sums.set(o.component, { success: s.success + o.success, errors: s.errors + o.errors });
  }
  const totalLatency = new Map<number, number>();
  for (const c of all) {
    const latency = latencyOf.get(c) ?? new Map<number, number>();
    merge(totalLatency, latency);
    for (const chunk of distribution(latency)) {
      put('OperationLatency', c, chunk);
    }
    put('SuccessCount', c, { value: sums.get(c)?.success ?? 0 });
    put('ErrorCount', c, { value: sums.get(c)?.errors ?? 0 });
  }
  for (const chunk of distribution(totalLatency)) {
    put('OperationLatency', null, chunk);
  }
  put('SuccessCount', null, { value: m.operations.reduce((n, o) => n + o.success, 0) });
  put('ErrorCount', null, { value: m.operations.reduce((n, o) => n + o.errors, 0) });

  // Routing and cost of the LLM calls.
  for (const c of all) {
    const efficiency = m.routingEfficiency.byComponent[c];
    if (efficiency !== undefined && efficiency !== null) {
      put('RoutingEfficiency', c, { value: round(efficiency * 100) });
    }
    put('LlmCost', c, { value: m.llmCostUsd.byComponent[c] ?? 0 });
  }
  if (m.routingEfficiency.total !== null) {
    put('RoutingEfficiency', null, { value: round(m.routingEfficiency.total * 100) });
  }
  put('LlmCost', null, { value: m.llmCostUsd.total });

  // Resources: the measuring process, once per component it runs workers of; the queues' depths.
  const { process: measured, queueDepth } = m.resources;
  for (const c of measured.components) {
    put('CPUUtilization', c, { value: round(measured.cpuPercent) });
    put('MemoryUtilization', c, { value: round(measured.memoryPercent) });
  }
  put('CPUUtilization', null, { value: round(measured.cpuPercent) });
  put('MemoryUtilization', null, { value: round(measured.memoryPercent) });
  for (const [c, depth] of Object.entries(queueDepth)) {
    put('QueueDepth', c, { value: depth });
  }
  put('QueueDepth', null, { value: Object.values(queueDepth).reduce((a, b) => a + b, 0) });

  // The state of support mode.
  const flag = (b: boolean) => ({ value: b ? 1 : 0 });
  for (const [c, active] of Object.entries(m.state.active.byComponent)) {
    put('ActivationStatus', c, flag(active));
  }
  put('ActivationStatus', null, flag(m.state.active.total));
  for (const [c, healthy] of Object.entries(m.state.healthy.byComponent)) {
    put('ComponentHealthy', c, flag(healthy));
  }
  put('ComponentHealthy', null, flag(m.state.healthy.total));
  if (m.state.auditScore !== null) {
    put('AuditScore', null, { value: m.state.auditScore });
  }
  put('OpenGaps', null, { value: m.state.openGaps });
  put('RemediationsVerified', null, { value: m.state.remediations.verified });
  put('RemediationsFailed', null, { value: m.state.remediations.failed });
  return data;
}
