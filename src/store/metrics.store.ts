import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { readRedisFacts } from './redis-facts.js';
import { toNanoUsd } from '../domain/llm/money.js';
import { QuantileSketch, sketchRelativeError } from '../domain/meta-monitor/sketch.js';
import { isSupportOperation, type SupportOperation } from '../domain/metrics/operations.js';
import { bucketMs, bucketRetentionMs, bucketStart, type BucketResolution, type OperationBucket } from '../domain/metrics/performance.js';
import type { MetricsReader, MetricsRecorder } from '../domain/metrics/ports.js';
import { liveProcesses, processSampleSchema, staleAfterMs, type ProcessSample } from '../domain/metrics/resources.js';
import { bucketOf, totalsFamilies, totalsFamilyNames, type CounterTotal, type FleetTotals, type HistogramTotal, type TotalsFamily } from '../domain/metrics/totals.js';
import { execAll, intText, jsonOrUndefined, numberText, parseFrom } from './llm-values.js';

/*
 * Keys (base is the install's `{prefix}`):
 * - `<base>:metrics:totals`: hash of the fleet's running totals, no TTL (its fields are bounded:
 *   one per family x label values x bucket). A counter's field is `family|label…`, a histogram's
 *   `family|label…|le:<bound>` (counts per bucket, not cumulative; `le:+Inf` the overflow) and
 *   `family|label…|sum` (seconds, a float). Label values never contain `|` (queue and job names,
 *   operations, paths, outcomes).
 * - `<base>:metrics:ops:minute:<YYYY-MM-DDTHH:MM>` and `<base>:metrics:ops:hour:<YYYY-MM-DDTHH>`:
 *   hash of one UTC minute's (hour's) operation samples: `<op>|n` count, `<op>|e` errors, `<op>|s`
 *   latency sum (ms, float), `<op>|z` values in the sketch's zero bin, `<op>|b<index>` the sketch's
 *   bins. Expire 2 h (minutes) and 7 days + 1 h (hours) after the bucket ends.
 * - `<base>:metrics:process:<id>`: a process's last heartbeat (JSON), expires 30 s after it was written;
 *   `<base>:metrics:processes`: sorted set of process ids by heartbeat time, to list them without a scan.
 */

/** The recorder of one process: buffers what it records and writes it in one round trip. */
export interface BufferedRecorder extends MetricsRecorder {
  /** Writes everything recorded so far (waits for a write under way first). Rejects when Redis refused it; the values are kept for the next write. */
  flush(): Promise<void>;
}

export interface MetricsStore extends MetricsReader {
  /** This process's recorder (one per process: every connection's adapters share it). */
  recorder: BufferedRecorder;
  /** Keeps `sample` as its process's heartbeat. */
  writeHeartbeat(sample: ProcessSample): Promise<void>;
  /** Forgets a process's heartbeat (it stopped). */
  removeHeartbeat(id: string): Promise<void>;
  /** Writes what is still buffered and stops the background write (before the connection closes). */
  close(): Promise<void>;
}

export interface MetricsStoreOptions {
  /** Wall clock, epoch ms (which bucket a sample goes to). Default `Date.now`. */
  clock?: () => number;
  /** How long after the first value recorded the buffer is written. Default 1000 ms. */
  flushDelayMs?: number;
  /** A background write failed (the values stay buffered and go with the next one). */
  onFlushError?: (err: Error) => void;
}

const resolutions: readonly BucketResolution[] = ['minute', 'hour'];
const leText = (bound: number) => (bound === Number.POSITIVE_INFINITY ? '+Inf' : String(bound));

/** Increments waiting to be written: whole numbers by HINCRBY, fractions by HINCRBYFLOAT. */
class Increments {
  readonly ints = new Map<string, Map<string, number>>();
  readonly floats = new Map<string, Map<string, number>>();
  /** When each bucket key expires (epoch ms); the totals key never does. */
  readonly expireAt = new Map<string, number>();

  get empty(): boolean {
    return this.ints.size === 0 && this.floats.size === 0;
  }

  add(key: string, field: string, n: number): void {
    Increments.bump(this.ints, key, field, n);
  }

  addFloat(key: string, field: string, x: number): void {
    Increments.bump(this.floats, key, field, x);
  }

  private static bump(into: Map<string, Map<string, number>>, key: string, field: string, n: number): void {
    const fields = into.get(key) ?? new Map<string, number>();
    fields.set(field, (fields.get(field) ?? 0) + n);
    into.set(key, fields);
  }

  /** Adds `other`'s increments to these, except those of buckets that have expired by `now`. */
  takeBack(other: Increments, now: number): void {
    const live = (key: string) => (other.expireAt.get(key) ?? Number.POSITIVE_INFINITY) > now;
    for (const [key, fields] of other.ints) {
      if (live(key)) {
        fields.forEach((n, field) => this.add(key, field, n));
      }
    }
    for (const [key, fields] of other.floats) {
      if (live(key)) {
        fields.forEach((x, field) => this.addFloat(key, field, x));
      }
    }
    for (const [key, at] of other.expireAt) {
      if (live(key)) {
        this.expireAt.set(key, at);
      }
    }
  }
}

const sampleText = z.string().transform((text, ctx) => {
  const value = jsonOrUndefined(text);
  if (value === undefined) {
    ctx.addIssue({ code: 'custom', message: 'not JSON' });
    return z.NEVER;
  }
  return value;
});

/** The metrics kept in Redis: the fleet's totals, the operations' per-minute and per-hour samples, and the processes' heartbeats. */
export function createMetricsStore(redis: Redis, base: string, options: MetricsStoreOptions = {}): MetricsStore {
  const clock = options.clock ?? Date.now;
  const flushDelayMs = options.flushDelayMs ?? 1_000;
  const keys = {
    totals: `${base}:metrics:totals`,
    bucket: (resolution: BucketResolution, start: number) => `${base}:metrics:ops:${resolution}:${new Date(start).toISOString().slice(0, resolution === 'minute' ? 16 : 13)}`,
    process: (id: string) => `${base}:metrics:process:${id}`,
    processes: `${base}:metrics:processes`,
  };
  // One sketch only for its bin arithmetic (the writer keeps parts, not sketches).
  const binner = new QuantileSketch(sketchRelativeError);

  let pending = new Increments();
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> | null = null;

  const schedule = () => {
    if (timer === null) {
      timer = setTimeout(() => {
        timer = null;
        flush().catch((err: unknown) => options.onFlushError?.(err as Error));
      }, flushDelayMs);
      timer.unref();
    }
  };

  // A zero is written too: the series exists (at 0) from the first time its labels occur.
  const count = (family: TotalsFamily, labels: readonly string[], n: number) => {
    pending.add(keys.totals, `${family}|${labels.join('|')}`, Number.isFinite(n) ? Math.max(0, Math.round(n)) : 0);
  };
  const observe = (family: TotalsFamily, labels: readonly string[], seconds: number) => {
    const bounds = totalsFamilies[family].buckets;
    if (bounds === null || !(seconds >= 0) || !Number.isFinite(seconds)) {
      return;
    }
    const series = `${family}|${labels.join('|')}`;
    pending.add(keys.totals, `${series}|le:${leText(bucketOf(bounds, seconds))}`, 1);
    pending.addFloat(keys.totals, `${series}|sum`, seconds);
  };
  const operation = (op: SupportOperation, latencyMs: number, ok: boolean) => {
    if (!(latencyMs >= 0) || !Number.isFinite(latencyMs)) {
      return;
    }
    count('operations', [op, ok ? 'success' : 'error'], 1);
    observe('operationLatency', [op], latencyMs / 1000);
    const bin = binner.binIndex(latencyMs);
    const now = clock();
    for (const resolution of resolutions) {
      const start = bucketStart(resolution, now);
      const key = keys.bucket(resolution, start);
      pending.add(key, `${op}|n`, 1);
      if (!ok) {
        pending.add(key, `${op}|e`, 1);
      }
      pending.addFloat(key, `${op}|s`, latencyMs);
      pending.add(key, bin === null ? `${op}|z` : `${op}|b${bin}`, 1);
      pending.expireAt.set(key, start + bucketMs[resolution] + bucketRetentionMs[resolution]);
    }
  };

  async function flush(): Promise<void> {
    while (writing) {
      await writing;
    }
    if (pending.empty) {
      return;
    }
    const batch = pending;
    pending = new Increments();
    const multi = redis.multi();
    for (const [key, fields] of batch.ints) {
      fields.forEach((n, field) => multi.hincrby(key, field, n));
    }
    for (const [key, fields] of batch.floats) {
      fields.forEach((x, field) => multi.hincrbyfloat(key, field, x));
    }
    for (const [key, at] of batch.expireAt) {
      multi.pexpireat(key, at);
    }
    const done = execAll(multi).then(
      () => undefined,
      (err: unknown) => {
        // A transaction is all or nothing: what it carried is still to be written, with what came in
        // meanwhile (less the buckets that have expired since).
        const retry = new Increments();
        retry.takeBack(batch, clock());
        retry.takeBack(pending, Number.NEGATIVE_INFINITY);
        pending = retry;
        throw err;
      },
    );
    writing = done.catch(() => undefined).finally(() => {
      writing = null;
    });
    await done;
  }

  const recorder: BufferedRecorder = {
    jobAttempt(s) {
      count('jobs', [s.queue, s.name, s.outcome], 1);
      if (s.waitMs !== null) {
        observe('jobWait', [s.queue, s.name], Math.max(0, s.waitMs) / 1000);
      }
      observe('jobRun', [s.queue, s.name], s.runMs / 1000);
      if (s.operation !== null && (s.outcome === 'completed' || s.outcome === 'failed' || s.outcome === 'retried')) {
        operation(s.operation, s.runMs, s.outcome === 'completed');
      }
      schedule();
    },
    llmCall(s) {
      const path = s.path ?? 'none';
      count('llmCalls', [path, s.outcome], 1);
      count('llmTokens', [path, 'input'], s.inputTokens);
      count('llmTokens', [path, 'output'], s.outputTokens);
      count('llmCostNanoUsd', [path], toNanoUsd(s.costUsd));
      if (s.outcome !== 'aborted') {
        operation('llm_call', s.latencyMs, s.outcome === 'success' || s.outcome === 'fallback_local');
      }
      schedule();
    },
    operation(op, latencyMs, ok) {
      operation(op, latencyMs, ok);
      schedule();
    },
    flush,
  };

  return {
    recorder,
    async totals() {
      return parseTotals(await redis.hgetall(keys.totals));
    },
    async operationBuckets(resolution, starts) {
      if (starts.length === 0) {
        return [];
      }
      const pipeline = redis.pipeline();
      for (const start of starts) {
        pipeline.hgetall(keys.bucket(resolution, start));
      }
      const replies = (await pipeline.exec()) ?? [];
      return replies.map(([err, value], i) => {
        if (err) {
          throw err;
        }
        return parseBucket(parseFrom(z.record(z.string(), z.string()), value, `operation bucket ${keys.bucket(resolution, starts[i] ?? 0)}`));
      });
    },
    async processes(now) {
      const ids = await redis.zrangebyscore(keys.processes, now - staleAfterMs, '+inf');
      if (ids.length === 0) {
        return [];
      }
      const texts = await redis.mget(ids.map((id) => keys.process(id)));
      // A heartbeat that expired between the two reads is gone: that process is not listed.
      const samples = texts.flatMap((text, i) => (text === null ? [] : [parseFrom(sampleText.pipe(processSampleSchema), text, `heartbeat of ${ids[i] ?? '?'}`)]));
      return liveProcesses(samples, now);
    },
    async redisUsage() {
      const facts = await readRedisFacts(redis);
      return {
        usedMemoryBytes: facts.usedMemoryBytes ?? null,
        maxmemoryBytes: facts.maxmemoryBytes === undefined || facts.maxmemoryBytes === 0 ? null : facts.maxmemoryBytes,
        opsPerSecond: facts.opsPerSecond ?? null,
        connectedClients: facts.connectedClients ?? null,
      };
    },
    async redisLatencyMs() {
      const sent = performance.now();
      await redis.ping();
      return performance.now() - sent;
    },
    async writeHeartbeat(sample) {
      await execAll(
        redis
          .multi()
          .set(keys.process(sample.id), JSON.stringify(sample), 'PX', staleAfterMs)
          .zadd(keys.processes, sample.at, sample.id)
          .zremrangebyscore(keys.processes, '-inf', sample.at - staleAfterMs)
          .pexpire(keys.processes, 2 * staleAfterMs),
      );
    },
    async removeHeartbeat(id) {
      await execAll(redis.multi().del(keys.process(id)).zrem(keys.processes, id));
    },
    async close() {
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
      await flush();
    },
  };
}

const bucketField = /^([a-z_]+)\|(n|e|s|z|b-?\d+)$/;

/** One bucket hash: per operation its count, errors and latency sketch. Fields of other names (a later version's) are left out. */
function parseBucket(hash: Record<string, string>): Partial<Record<SupportOperation, OperationBucket>> {
  const out: Partial<Record<SupportOperation, OperationBucket>> = {};
  const bins = new Map<SupportOperation, Map<number, number>>();
  for (const [field, text] of Object.entries(hash)) {
    const m = bucketField.exec(field);
    const op = m?.[1];
    const part = m?.[2];
    if (op === undefined || part === undefined || !isSupportOperation(op)) {
      continue;
    }
    const entry = (out[op] ??= { count: 0, errors: 0, latency: { relativeError: sketchRelativeError, count: 0, sum: 0, zeros: 0, bins: [] } });
    if (part === 's') {
      entry.latency.sum = parseFrom(numberText, text, `operation bucket field ${field}`);
      continue;
    }
    const n = parseFrom(intText, text, `operation bucket field ${field}`);
    if (part === 'n') {
      entry.count = n;
      entry.latency.count = n;
    } else if (part === 'e') {
      entry.errors = n;
    } else if (part === 'z') {
      entry.latency.zeros = n;
    } else {
      const opBins = bins.get(op) ?? new Map<number, number>();
      opBins.set(Number(part.slice(1)), n);
      bins.set(op, opBins);
    }
  }
  for (const [op, opBins] of bins) {
    const entry = out[op];
    if (entry) {
      entry.latency.bins = [...opBins].sort(([a], [b]) => a - b);
    }
  }
  return out;
}

const isFamily = (name: string): name is TotalsFamily => Object.hasOwn(totalsFamilies, name);

/** The totals hash, by family and labels. Fields of families this version does not know are left out. */
function parseTotals(hash: Record<string, string>): FleetTotals {
  const counters = Object.fromEntries(totalsFamilyNames.map((f) => [f, [] as CounterTotal[]])) as Record<TotalsFamily, CounterTotal[]>;
  const histograms = new Map<string, { family: TotalsFamily; total: HistogramTotal }>();
  for (const [field, text] of Object.entries(hash)) {
    const parts = field.split('|');
    const family = parts[0] ?? '';
    if (!isFamily(family)) {
      continue;
    }
    const spec = totalsFamilies[family];
    const labelValues = parts.slice(1, 1 + spec.labels.length);
    if (labelValues.length !== spec.labels.length) {
      continue;
    }
    const labels = Object.fromEntries(spec.labels.map((name, i) => [name, labelValues[i] ?? '']));
    if (spec.buckets === null) {
      if (parts.length === 1 + spec.labels.length) {
        counters[family].push({ labels, value: parseFrom(intText, text, `metrics total ${field}`) });
      }
      continue;
    }
    const suffix = parts[1 + spec.labels.length];
    if (parts.length !== 2 + spec.labels.length || suffix === undefined) {
      continue;
    }
    const series = parts.slice(0, 1 + spec.labels.length).join('|');
    const entry = histograms.get(series) ?? { family, total: { labels, buckets: [], sum: 0 } };
    histograms.set(series, entry);
    if (suffix === 'sum') {
      entry.total.sum = parseFrom(numberText, text, `metrics total ${field}`);
    } else if (suffix.startsWith('le:')) {
      const le = suffix === 'le:+Inf' ? Number.POSITIVE_INFINITY : Number(suffix.slice(3));
      if (!Number.isNaN(le)) {
        entry.total.buckets.push({ le, count: parseFrom(intText, text, `metrics total ${field}`) });
      }
    }
  }
  const byFamily = Object.fromEntries(totalsFamilyNames.map((f) => [f, [] as HistogramTotal[]])) as Record<TotalsFamily, HistogramTotal[]>;
  for (const { family, total } of histograms.values()) {
    total.buckets.sort((a, b) => a.le - b.le);
    byFamily[family].push(total);
  }
  const byLabels = (a: { labels: Record<string, string> }, b: { labels: Record<string, string> }) => Object.values(a.labels).join('|').localeCompare(Object.values(b.labels).join('|'));
  for (const f of totalsFamilyNames) {
    counters[f].sort(byLabels);
    byFamily[f].sort(byLabels);
  }
  return { counters, histograms: byFamily };
}
