import { getMetricsFromIterator, type PromHistogramData, type PromData } from 'prom2javascript';
import { describe, expect, it } from 'vitest';
import { QuantileSketch } from '../../src/domain/meta-monitor/sketch.js';
import { performanceReport, windowBuckets, type OperationBucket } from '../../src/domain/metrics/performance.js';
import { cpuPercent, liveProcesses, type ProcessSample } from '../../src/domain/metrics/resources.js';
import { bucketOf, durationBuckets, totalsFamilyNames, type CounterTotal, type FleetTotals, type HistogramTotal, type TotalsFamily } from '../../src/domain/metrics/totals.js';
import { operationOfJob } from '../../src/jobs/operations.js';
import { totalsText } from '../../src/observability/prometheus.js';

/** The nearest-rank value of `q` among `values`. */
function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length))) - 1] ?? Number.NaN;
}

function bucketOfValues(values: number[], errors = 0): OperationBucket {
  const s = new QuantileSketch();
  values.forEach((v) => s.add(v));
  return { count: values.length, errors, latency: s.parts() };
}

const emptyTotals = (): FleetTotals => ({
  counters: Object.fromEntries(totalsFamilyNames.map((f) => [f, [] as CounterTotal[]])) as Record<TotalsFamily, CounterTotal[]>,
  histograms: Object.fromEntries(totalsFamilyNames.map((f) => [f, [] as HistogramTotal[]])) as Record<TotalsFamily, HistogramTotal[]>,
});

describe('the quantile sketch kept as parts', () => {
  it('a sketch rebuilt from its parts answers every quantile as the original, and parts added bin by bin merge exactly', () => {
    const values = Array.from({ length: 2_000 }, (_, i) => 0.5 + ((i * 7919) % 1000) * 3.7);
    const whole = new QuantileSketch();
    values.forEach((v) => whole.add(v));
    whole.add(0);
    const rebuilt = QuantileSketch.fromParts(whole.parts());
    for (const q of [0.01, 0.5, 0.9, 0.95, 0.99, 1]) {
      expect(rebuilt.quantile(q), `q=${q}`).toBeCloseTo(whole.quantile(q) ?? Number.NaN, 9);
    }
    expect(rebuilt.count).toBe(whole.count);
    expect(rebuilt.totalValue).toBeCloseTo(whole.totalValue, 6);
    // What a writer does that keeps only counts per bin: the bin of each value, plus one.
    const bins = new Map<number, number>();
    let zeros = 0;
    for (const v of [...values, 0]) {
      const index = whole.binIndex(v);
      if (index === null) {
        zeros += 1;
      } else {
        bins.set(index, (bins.get(index) ?? 0) + 1);
      }
    }
    const fromCounts = QuantileSketch.fromParts({ relativeError: 0.01, count: values.length + 1, sum: whole.totalValue, zeros, bins: [...bins] });
    for (const q of [0.5, 0.99]) {
      expect(fromCounts.quantile(q)).toBeCloseTo(whole.quantile(q) ?? Number.NaN, 9);
    }
    expect(() => whole.binIndex(-1)).toThrow(RangeError);
  });
});

describe('operation performance over a window', () => {
  it('reads every minute bucket that overlaps the window, and every hour for the long windows', () => {
    const now = Date.parse('2026-11-30T15:04:30Z');
    const short = windowBuckets('15m', now);
    expect(short.resolution).toBe('minute');
    expect(new Date(short.from).toISOString()).toBe('2026-11-30T14:49:00.000Z');
    expect(short.starts).toHaveLength(16);
    expect(new Date(short.starts.at(-1) ?? 0).toISOString()).toBe('2026-11-30T15:04:00.000Z');
    expect(windowBuckets('1h', now).starts).toHaveLength(61);
    const day = windowBuckets('24h', now);
    expect(day.resolution).toBe('hour');
    expect(new Date(day.from).toISOString()).toBe('2026-11-29T15:00:00.000Z');
    expect(day.starts).toHaveLength(25);
    expect(windowBuckets('7d', now).starts).toHaveLength(7 * 24 + 1);
  });

  it('merges the buckets of every process and minute: counts, errors, rate, mean and percentiles within 1 %', () => {
    const a = Array.from({ length: 300 }, (_, i) => 10 + i * 3);
    const b = Array.from({ length: 100 }, (_, i) => 2_000 + i * 50);
    const all = [...a, ...b];
    const report = performanceReport(
      '1h',
      { resolution: 'minute', from: 0, to: 60_000 },
      [{ audit: bucketOfValues(a.slice(0, 150)) }, { audit: bucketOfValues(a.slice(150), 2) }, { audit: bucketOfValues(b, 8), llm_call: bucketOfValues([5]) }, {}],
      new Date(60_000),
    );
    const audit = report.operations.audit;
    expect(audit).toMatchObject({ count: 400, errors: 10, success: 390, successRate: 0.975 });
    expect(audit.meanMs).toBeCloseTo(all.reduce((x, y) => x + y, 0) / all.length, 1);
    for (const [q, got] of [
      [0.5, audit.p50Ms],
      [0.9, audit.p90Ms],
      [0.95, audit.p95Ms],
      [0.99, audit.p99Ms],
    ] as const) {
      const exact = exactQuantile(all, q);
      expect(Math.abs((got ?? 0) - exact) / exact, `p${q * 100}: ${got} against ${exact}`).toBeLessThanOrEqual(0.0101);
    }
    expect(report.operations.llm_call).toMatchObject({ count: 1, p50Ms: 5, p99Ms: 5 });
    // Every operation is listed; one without samples says so with nulls, not zeros.
    expect(report.operations.remediation).toEqual({ count: 0, success: 0, errors: 0, successRate: null, meanMs: null, p50Ms: null, p90Ms: null, p95Ms: null, p99Ms: null });
    expect(Object.keys(report.operations)).toEqual(['audit', 'analysis', 'remediation', 'spec_scan', 'compliance_check', 'daily_check', 'weekly_review', 'llm_call']);
  });
});

describe('the job table and the totals', () => {
  it('maps the support jobs to their operations and nothing else', () => {
    expect(operationOfJob('infrastructure-auditor', 'audit')).toBe('audit');
    expect(operationOfJob('meta-monitor', 'analyze-executions')).toBe('analysis');
    expect(operationOfJob('bedrock-support', 'weekly-review')).toBe('weekly_review');
    expect(operationOfJob('compliance', 'compliance-check')).toBe('compliance_check');
    expect(operationOfJob('compliance', 'canary')).toBeNull();
    expect(operationOfJob('compliance', 'audit')).toBeNull();
    expect(operationOfJob('bedrock-support', 'undeclared')).toBeNull();
  });

  it('a value falls in the smallest bucket bound at or above it, past the last into +Inf', () => {
    expect(bucketOf(durationBuckets, 0)).toBe(0.005);
    expect(bucketOf(durationBuckets, 0.005)).toBe(0.005);
    expect(bucketOf(durationBuckets, 0.0051)).toBe(0.01);
    expect(bucketOf(durationBuckets, 1e6)).toBe(Number.POSITIVE_INFINITY);
  });

  it('renders the totals as the text format a Prometheus parser reads back: cumulative buckets, sum, count, escaped labels', async () => {
    const totals = emptyTotals();
    totals.counters.jobs.push({ labels: { queue: 'compliance', job_name: 'canary', outcome: 'completed' }, value: 3 });
    totals.counters.llmCostNanoUsd.push({ labels: { path: 'direct' }, value: 2_100_000 });
    // A label value with the characters the format escapes (no real label has them; the format must hold anyway).
    totals.counters.llmCalls.push({ labels: { path: 'a"b\\c\nd', outcome: 'success' }, value: 1 });
    totals.histograms.jobRun.push({
      labels: { queue: 'compliance', job_name: 'canary' },
      buckets: [
        { le: 0.01, count: 2 },
        { le: 0.5, count: 1 },
        { le: Number.POSITIVE_INFINITY, count: 1 },
      ],
      sum: 4321.5,
    });
    const text = totalsText(totals);
    const parsed = await getMetricsFromIterator(text.split('\n')[Symbol.iterator]());
    expect(parsed.bsm_jobs_total?.type).toBe('counter');
    expect(parsed.bsm_jobs_total?.data).toEqual([{ labels: { queue: 'compliance', job_name: 'canary', outcome: 'completed' }, value: 3 }]);
    expect((parsed.bsm_llm_cost_usd_total?.data as PromData[])[0]?.value).toBeCloseTo(0.0021, 12);
    expect((parsed.bsm_llm_calls_total?.data as PromData[])[0]?.labels.path).toBe('a"b\\c\nd');
    const run = (parsed.bsm_job_run_seconds?.data as PromHistogramData[])[0];
    expect(parsed.bsm_job_run_seconds?.type).toBe('histogram');
    expect(run?.labels).toEqual({ queue: 'compliance', job_name: 'canary' });
    expect(run?.buckets).toMatchObject({ '0.005': 0, '0.01': 2, '0.25': 2, '0.5': 3, '1800': 3, '+Inf': 4 });
    expect(run?.count).toBe(4);
    expect(run?.sum).toBe(4321.5);
    // Families without a series still say what they are.
    expect(parsed.bsm_job_wait_seconds).toEqual({ type: 'histogram', help: expect.stringContaining('first start') as unknown, data: [] });
  });
});

describe('process resources', () => {
  const sample = (id: string, at: number): ProcessSample => ({
    id,
    host: 'h',
    pid: 1,
    role: 'worker',
    queues: [],
    startedAt: 0,
    at,
    cpuPercent: 1,
    cpuWindowSeconds: 10,
    rssBytes: 1,
    heapUsedBytes: 1,
    heapTotalBytes: 1,
    eventLoopDelayP99Ms: null,
  });

  it('CPU share is CPU time over wall time; a heartbeat older than 30 s is not listed', () => {
    expect(cpuPercent(500_000, 1_000)).toBe(50);
    expect(cpuPercent(2_000_000, 1_000)).toBe(200);
    expect(cpuPercent(10, 0)).toBe(0);
    expect(liveProcesses([sample('b', 100_000), sample('a', 70_000), sample('c', 69_999)], 100_000).map((s) => s.id)).toEqual(['a', 'b']);
  });
});
