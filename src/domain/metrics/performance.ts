/**
 * Each support operation's count, errors and latency percentiles over a window, from samples
 * every process adds to per-minute and per-hour buckets (in Redis, see the metrics store). A
 * bucket holds, per operation, the count, the errors, and the latency sketch's parts
 * ({@link SketchParts}): sketches of the same relative error merge exactly, so the buckets of
 * all processes and all minutes add up to the sketch of the whole window.
 */
import { QuantileSketch, sketchRelativeError, type SketchParts } from '../meta-monitor/sketch.js';
import { supportOperations, type SupportOperation } from './operations.js';

export const performanceWindows = ['15m', '1h', '24h', '7d'] as const;
export type PerformanceWindow = (typeof performanceWindows)[number];

/** How samples are bucketed: by UTC minute for the short windows, by UTC hour for the long ones. */
export type BucketResolution = 'minute' | 'hour';

const minuteMs = 60_000;
const hourMs = 3_600_000;

export const bucketMs: Record<BucketResolution, number> = { minute: minuteMs, hour: hourMs };

const windowPlans: Record<PerformanceWindow, { ms: number; resolution: BucketResolution }> = {
  '15m': { ms: 15 * minuteMs, resolution: 'minute' },
  '1h': { ms: hourMs, resolution: 'minute' },
  '24h': { ms: 24 * hourMs, resolution: 'hour' },
  '7d': { ms: 7 * 24 * hourMs, resolution: 'hour' },
};

/**
 * How long a bucket is kept after it ends: past the longest window read at its resolution (1 h
 * of minutes, 7 days of hours), plus an hour for clocks that disagree and a window that starts
 * inside a bucket.
 */
export const bucketRetentionMs: Record<BucketResolution, number> = { minute: 2 * hourMs, hour: 7 * 24 * hourMs + hourMs };

/** The start of the bucket `at` falls in. */
export function bucketStart(resolution: BucketResolution, at: number): number {
  return Math.floor(at / bucketMs[resolution]) * bucketMs[resolution];
}

/**
 * The buckets a window reads: every bucket that overlaps the `window` up to `now`, oldest first.
 * The window so covers a little more than asked (up to one bucket at its start): `from` says
 * exactly where it begins.
 */
export function windowBuckets(window: PerformanceWindow, now: number): { resolution: BucketResolution; starts: number[]; from: number; to: number } {
  const { ms, resolution } = windowPlans[window];
  const step = bucketMs[resolution];
  const first = bucketStart(resolution, now - ms);
  const starts: number[] = [];
  for (let at = first; at <= now; at += step) {
    starts.push(at);
  }
  return { resolution, starts, from: first, to: now };
}

/** One operation's samples in one bucket. */
export interface OperationBucket {
  count: number;
  errors: number;
  latency: SketchParts;
}

/** One operation over a window. Latencies in ms, within the sketch's relative error of a measured value at that rank; null without samples. */
export interface OperationPerformance {
  count: number;
  success: number;
  errors: number;
  /** success / count; null without samples. */
  successRate: number | null;
  meanMs: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

export interface PerformanceReport {
  window: PerformanceWindow;
  resolution: BucketResolution;
  /** ISO 8601 UTC: the start of the first bucket read, and now. */
  from: string;
  to: string;
  computedAt: string;
  /** The relative error of every percentile. */
  relativeError: number;
  operations: Record<SupportOperation, OperationPerformance>;
}

const round = (n: number | null, digits: number) => (n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits);

/** Merges the buckets of a window into each operation's figures (every operation is listed, with zeros when it had no samples). */
export function performanceReport(
  window: PerformanceWindow,
  span: { resolution: BucketResolution; from: number; to: number },
  buckets: Iterable<Partial<Record<SupportOperation, OperationBucket>>>,
  computedAt: Date,
): PerformanceReport {
  const merged = new Map<SupportOperation, { count: number; errors: number; latency: QuantileSketch }>();
  for (const bucket of buckets) {
    for (const op of supportOperations) {
      const part = bucket[op];
      if (!part) {
        continue;
      }
      const into = merged.get(op) ?? { count: 0, errors: 0, latency: new QuantileSketch() };
      into.count += part.count;
      into.errors += part.errors;
      into.latency.merge(QuantileSketch.fromParts(part.latency));
      merged.set(op, into);
    }
  }
  const operations = Object.fromEntries(
    supportOperations.map((op): [SupportOperation, OperationPerformance] => {
      const m = merged.get(op);
      const count = m?.count ?? 0;
      // A count over a torn bucket's errors is clamped: errors never exceed what was counted.
      const errors = Math.min(m?.errors ?? 0, count);
      const q = (p: number) => round(m ? m.latency.quantile(p) : null, 1);
      return [
        op,
        {
          count,
          success: count - errors,
          errors,
          successRate: count === 0 ? null : round((count - errors) / count, 4),
          meanMs: count === 0 || !m ? null : round(m.latency.totalValue / count, 1),
          p50Ms: q(0.5),
          p90Ms: q(0.9),
          p95Ms: q(0.95),
          p99Ms: q(0.99),
        },
      ];
    }),
  ) as Record<SupportOperation, OperationPerformance>;
  return {
    window,
    resolution: span.resolution,
    from: new Date(span.from).toISOString(),
    to: new Date(span.to).toISOString(),
    computedAt: computedAt.toISOString(),
    relativeError: sketchRelativeError,
    operations,
  };
}

/** One bucket of a series: every support operation together. */
export interface SeriesPoint {
  /** ISO 8601 UTC: the bucket's start. */
  at: string;
  count: number;
  errors: number;
  /** errors / count in percent; null without samples. */
  errorRatePct: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** The support operations bucket by bucket over a window (the dashboard's trends): counts, error rate and latency percentiles of all operations together. */
export function performanceSeries(
  window: PerformanceWindow,
  span: { resolution: BucketResolution; starts: readonly number[] },
  buckets: readonly Partial<Record<SupportOperation, OperationBucket>>[],
): { window: PerformanceWindow; resolution: BucketResolution; points: SeriesPoint[] } {
  const points = span.starts.map((start, i): SeriesPoint => {
    const bucket = buckets[i] ?? {};
    let count = 0;
    let errors = 0;
    const sketch = new QuantileSketch();
    for (const op of supportOperations) {
      const part = bucket[op];
      if (part) {
        count += part.count;
        errors += Math.min(part.errors, part.count);
        sketch.merge(QuantileSketch.fromParts(part.latency));
      }
    }
    return {
      at: new Date(start).toISOString(),
      count,
      errors,
      errorRatePct: count === 0 ? null : round((errors / count) * 100, 2),
      p50Ms: count === 0 ? null : round(sketch.quantile(0.5), 1),
      p95Ms: count === 0 ? null : round(sketch.quantile(0.95), 1),
    };
  });
  return { window, resolution: span.resolution, points };
}
