/**
 * `GET /metrics`: the Prometheus text exposition (format 0.0.4) an API process answers a scrape
 * with. Two parts, in one answer:
 *
 * - prom-client's registry of this process: its default metrics (`process_*`, `nodejs_*`: CPU,
 *   memory, event-loop delay of the process that answered) and the gauges measured at the scrape
 *   (`bsm_redis_latency_seconds`, queue depths, live processes, routing efficiency, the operations'
 *   percentiles over the last hour), each read in its gauge's `collect`;
 * - the fleet's running totals (`bsm_jobs_total`, `bsm_job_*_seconds`, `bsm_operation*`,
 *   `bsm_llm_*`): every process adds to them in Redis, so every API process answers the same
 *   figures; prom-client's Counter and Histogram count what one process observes, so these are
 *   rendered from Redis in the same text format here.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { FleetSnapshot } from '../domain/fleet/ports.js';
import { fromNanoUsd } from '../domain/llm/money.js';
import { supportOperations } from '../domain/metrics/operations.js';
import { performanceReport, windowBuckets } from '../domain/metrics/performance.js';
import type { MetricsReader } from '../domain/metrics/ports.js';
import { processRoles } from '../domain/metrics/resources.js';
import { totalsFamilies, totalsFamilyNames, type CounterTotal, type FleetTotals, type HistogramTotal, type TotalsFamily } from '../domain/metrics/totals.js';
import { queueNames } from '../domain/queue-names.js';

export interface PrometheusSources {
  reader: MetricsReader;
  /** The fleet's queues and workers (the fleet reader's snapshot: concurrent callers share one read). */
  fleet: () => Promise<FleetSnapshot>;
  /** The LLM router's efficiency over a window (null without decisions to judge). */
  routingEfficiency: (windowMs: number) => Promise<{ efficiency: number | null }>;
  /** Wall clock, epoch ms. Default `Date.now`. */
  clock?: () => number;
}

export interface PrometheusExporter {
  /** `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string;
  render(): Promise<string>;
}

/** How the fleet's totals are exposed: metric name, help and type per family. */
const totalsExposition: Record<TotalsFamily, { name: string; help: string; scale?: (v: number) => number }> = {
  jobs: { name: 'bsm_jobs_total', help: 'Job attempts by queue, job name and outcome (completed, failed, retried, cancelled, throttled), all processes' },
  jobWait: { name: 'bsm_job_wait_seconds', help: 'From when a job was due (enqueued, plus its delay) to its first start, by queue and job name, all processes' },
  jobRun: { name: 'bsm_job_run_seconds', help: 'How long each job attempt ran, by queue and job name, all processes' },
  operations: { name: 'bsm_operations_total', help: 'Support operations finished, by operation and outcome (success, error), all processes' },
  operationLatency: { name: 'bsm_operation_latency_seconds', help: 'OperationLatency: how long each support operation took, by operation, all processes' },
  llmCalls: { name: 'bsm_llm_calls_total', help: 'LLM requests by the path that answered (direct, mcp, local; none when none did) and outcome, all processes' },
  llmTokens: { name: 'bsm_llm_tokens_total', help: 'LLM tokens by path and direction (input, output), as providers reported or estimated them, all processes' },
  llmCostNanoUsd: { name: 'bsm_llm_cost_usd_total', help: 'LLM spend in USD by path, priced from the tokens, all processes', scale: fromNanoUsd },
};

const quantiles = [0.5, 0.9, 0.95, 0.99] as const;
const efficiencyWindows = { '1h': 3_600_000, '24h': 86_400_000 } as const;

/** A label value in the text format: backslash, double quote and line feed escaped. */
function labelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelSet(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function number(value: number): string {
  if (Number.isNaN(value)) {
    return 'NaN';
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? '+Inf' : '-Inf';
  }
  return String(value);
}

function header(name: string, help: string, type: 'counter' | 'histogram'): string[] {
  return [`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`];
}

function counterLines(name: string, help: string, series: readonly CounterTotal[], scale: (v: number) => number = (v) => v): string[] {
  return [...header(name, help, 'counter'), ...series.map((s) => `${name}${labelSet(s.labels)} ${number(scale(s.value))}`)];
}

/** A histogram's series: cumulative buckets up to `+Inf`, then `_sum` and `_count`. */
function histogramLines(name: string, help: string, bounds: readonly number[], series: readonly HistogramTotal[]): string[] {
  const lines = header(name, help, 'histogram');
  for (const s of series) {
    // Cumulative: a bucket counts every observation at or under its bound (counts stored under a
    // bound this version no longer has land in the next one up).
    for (const le of [...bounds, Number.POSITIVE_INFINITY]) {
      const cumulative = s.buckets.reduce((n, b) => (b.le <= le ? n + b.count : n), 0);
      lines.push(`${name}_bucket${labelSet({ ...s.labels, le: number(le) })} ${cumulative}`);
    }
    const count = s.buckets.reduce((n, b) => n + b.count, 0);
    lines.push(`${name}_sum${labelSet(s.labels)} ${number(s.sum)}`, `${name}_count${labelSet(s.labels)} ${count}`);
  }
  return lines;
}

/** The fleet's totals in the text format. */
export function totalsText(totals: FleetTotals): string {
  const blocks = totalsFamilyNames.map((family) => {
    const how = totalsExposition[family];
    const bounds: readonly number[] | null = totalsFamilies[family].buckets;
    return (bounds === null ? counterLines(how.name, how.help, totals.counters[family], how.scale) : histogramLines(how.name, how.help, bounds, totals.histograms[family])).join('\n');
  });
  return `${blocks.join('\n\n')}\n`;
}

/**
 * The exporter of an API process: a registry of its own (not prom-client's global one, so several
 * apps in one process, as in tests, keep theirs apart).
 */
export function createPrometheusExporter(sources: PrometheusSources): PrometheusExporter {
  const clock = sources.clock ?? Date.now;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'bsm_redis_latency_seconds',
    help: 'Round trip of a PING to Redis, timed at this scrape by the process that answered',
    registers: [registry],
    async collect() {
      this.set((await sources.reader.redisLatencyMs()) / 1000);
    },
  });
  new Gauge({
    name: 'bsm_queue_jobs',
    help: 'Jobs in each queue by state (waiting, prioritized, active, delayed, failed kept), read at this scrape',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      const s = await sources.fleet();
      this.reset();
      for (const q of queueNames) {
        const c = s.queues[q].counts;
        for (const [state, n] of [['waiting', c.waiting], ['prioritized', c.prioritized], ['active', c.active], ['delayed', c.delayed], ['failed', c.failed]] as const) {
          this.set({ queue: q, state }, n);
        }
      }
    },
  });
  new Gauge({
    name: 'bsm_queue_workers',
    help: 'Live workers of each queue (BullMQ worker connections), read at this scrape',
    labelNames: ['queue'] as const,
    registers: [registry],
    async collect() {
      const s = await sources.fleet();
      this.reset();
      for (const q of queueNames) {
        this.set({ queue: q }, s.queues[q].workers.count);
      }
    },
  });
  new Gauge({
    name: 'bsm_processes',
    help: 'Processes of the fleet whose heartbeat is at most 30 s old, by role',
    labelNames: ['role'] as const,
    registers: [registry],
    async collect() {
      const live = await sources.reader.processes(clock());
      this.reset();
      for (const role of processRoles) {
        this.set({ role }, live.filter((p) => p.role === role).length);
      }
    },
  });
  new Gauge({
    name: 'bsm_llm_routing_efficiency',
    help: 'Share (0-1) of LLM requests served by their primary path, successfully, within budget, over the window; absent without decisions to judge',
    labelNames: ['window'] as const,
    registers: [registry],
    async collect() {
      const figures = await Promise.all(Object.entries(efficiencyWindows).map(async ([window, ms]) => [window, (await sources.routingEfficiency(ms)).efficiency] as const));
      this.reset();
      for (const [window, efficiency] of figures) {
        if (efficiency !== null) {
          this.set({ window }, efficiency);
        }
      }
    },
  });
  new Gauge({
    name: 'bsm_operation_latency_quantile_seconds',
    help: 'OperationLatency percentiles over the last hour, all processes (within 1 % of a measured value at that rank); absent for an operation without samples',
    labelNames: ['operation', 'quantile', 'window'] as const,
    registers: [registry],
    async collect() {
      const now = clock();
      const span = windowBuckets('1h', now);
      const report = performanceReport('1h', span, await sources.reader.operationBuckets(span.resolution, span.starts), new Date(now));
      this.reset();
      for (const op of supportOperations) {
        const figures = report.operations[op];
        const values = { 0.5: figures.p50Ms, 0.9: figures.p90Ms, 0.95: figures.p95Ms, 0.99: figures.p99Ms };
        for (const q of quantiles) {
          const ms = values[q];
          if (ms !== null) {
            this.set({ operation: op, quantile: String(q), window: '1h' }, ms / 1000);
          }
        }
      }
    },
  });

  return {
    contentType: registry.contentType,
    async render() {
      const [own, totals] = await Promise.all([registry.metrics(), sources.reader.totals()]);
      return `${own}\n${totalsText(totals)}`;
    },
  };
}
