/**
 * The meta-monitor's analysis of a window of executions, in one pass over the records as they
 * stream from the store: success rate, throughput, latency quantiles overall and per operation
 * (a {@link QuantileSketch}), failure clusters (error messages grouped by template by the
 * template miner), bottlenecks, degradation against the window before, a health score, and
 * recommendations. Memory stays bounded whatever the window: sketches have bounded bins, the
 * operations and clusters tracked are capped, and no record is kept after it is counted.
 */
import { z } from 'zod';
import { canonicalJson, sha256 } from '../audit-trail/canonical.js';
import { budgetOf, type MetaMonitorSettings } from './config.js';
import { executionStatuses } from './executions.js';
import { QuantileSketch, sketchRelativeError, type SketchParts } from './sketch.js';

/** One execution as the analysis sees it, from the agent's records or the fleet's finished jobs. */
export interface AnalyzedExecution {
  id: string;
  /** Epoch ms. */
  timestamp: number;
  operation: string;
  status: (typeof executionStatuses)[number];
  latencyMs: number;
  /** Time in a queue before it started (fleet jobs). */
  waitMs?: number;
  /** The queue it ran on (fleet jobs). */
  queue?: string;
  errorType?: string;
  /** Already redacted. */
  errorMessage?: string;
}

/** Groups messages by template (the template miner's interface). */
export interface MessageClusterer {
  add(message: string): number;
  resolve(handle: number): number;
  template(handle: number): string;
}

export const analysisSources = ['agent', 'fleet'] as const;
export type AnalysisSource = (typeof analysisSources)[number];
export const analysisFocuses = ['performance', 'failures', 'all'] as const;
export type AnalysisFocus = (typeof analysisFocuses)[number];
export const alertLevels = ['P1', 'P2'] as const;

const nullableMs = z.number().nullable();
const latencySchema = z.object({ p50: nullableMs, p90: nullableMs, p95: nullableMs, p99: nullableMs, mean: nullableMs, max: nullableMs });
export type LatencySummary = z.infer<typeof latencySchema>;

export const operationStatsSchema = z.object({
  operation: z.string(),
  queue: z.string().nullable(),
  executions: z.number(),
  successRate: z.number(),
  failures: z.number(),
  timeouts: z.number(),
  throughputPerMinute: z.number(),
  /** Fleet jobs: successful executions in the busiest minute of the window (what the queue's consumers took at their peak). */
  peakSuccessesPerMinute: z.number().nullable(),
  latencyMs: latencySchema,
  waitMs: latencySchema.nullable(),
  /** Share of all execution time spent in this operation. */
  timeShare: z.number(),
  budgetMs: z.number().nullable(),
});
export type OperationStats = z.infer<typeof operationStatsSchema>;

export const bottleneckSchema = z.object({
  operation: z.string(),
  kind: z.enum(['over_budget', 'time_share', 'queue_wait']),
  /** The measured value and the limit it is judged against. */
  measured: z.number(),
  limit: z.number(),
  evidence: z.string(),
});
export type Bottleneck = z.infer<typeof bottleneckSchema>;

export const failureClusterSchema = z.object({
  /** From the template: the same failure keeps its id across analyses. */
  id: z.string(),
  template: z.string(),
  count: z.number(),
  /** Of the window's failures. */
  share: z.number(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  operations: z.array(z.string()),
  errorTypes: z.array(z.string()),
  sampleExecutionIds: z.array(z.string()),
});
export type FailureCluster = z.infer<typeof failureClusterSchema>;

export const degradationSchema = z.object({
  /** `overall` or an operation. */
  scope: z.string(),
  metric: z.enum(['latency_p95', 'error_rate']),
  previous: z.number(),
  current: z.number(),
  /** Relative change in percent; null when the previous value was 0. */
  changePercent: z.number().nullable(),
  level: z.enum(alertLevels),
});
export type Degradation = z.infer<typeof degradationSchema>;

export const recommendationSchema = z.object({
  /** From its content (rule, subject and action), so the same advice keeps its id. */
  id: z.string(),
  rule: z.string(),
  title: z.string(),
  subject: z.string(),
  evidence: z.array(z.string()),
  expectedImpact: z.string(),
  /** An action of the catalog that carries it out, or null when it is advice for the agent's own configuration. */
  action: z.record(z.string(), z.unknown()).nullable(),
});
export type Recommendation = z.infer<typeof recommendationSchema>;

const windowSchema = z.object({ from: z.string(), to: z.string() });

export const healthScoreSchema = z.object({
  score: z.number().nullable(),
  successRate: z.number().nullable(),
  withinBudget: z.number().nullable(),
  stability: z.number(),
  formula: z.string(),
});

export const analysisBodySchema = z.object({
  source: z.enum(analysisSources),
  focus: z.enum(analysisFocuses),
  window: windowSchema,
  previousWindow: windowSchema,
  executions: z.number(),
  previousExecutions: z.number(),
  statuses: z.record(z.enum(executionStatuses), z.number()),
  successRate: z.number().nullable(),
  throughputPerMinute: z.number(),
  latencyMs: latencySchema,
  /** The quantiles' relative error (the sketch's). */
  quantileRelativeError: z.number(),
  operations: z.array(operationStatsSchema),
  /** Operations past the tracking cap, counted in the totals but not listed. */
  operationsUntracked: z.number(),
  bottlenecks: z.array(bottleneckSchema),
  clusters: z.array(failureClusterSchema),
  clustersTotal: z.number(),
  degradations: z.array(degradationSchema),
  healthScore: healthScoreSchema,
  recommendations: z.array(recommendationSchema),
});
export type AnalysisBody = z.infer<typeof analysisBodySchema>;

export const healthScoreFormula = 'round(100 × (0.5 × successRate + 0.3 × withinBudget + 0.2 × stability)); withinBudget = share of executions in operations whose p95 is within budget (no budget counts as within); stability = 1 without degradation, 0.5 when the worst is P2, 0 when P1';

/** What the recommendations may know of a queue besides the executions. */
export interface QueueLimits {
  /** BullMQ's global concurrency of the queue, or null when none is set. */
  globalConcurrency: number | null;
  /** Concurrency of each worker process (the `BSM_<QUEUE>_CONCURRENCY` setting). */
  workerConcurrency: number;
  globalRateLimit: { max: number; durationMs: number } | null;
  /**
   * The workers' own limiter (`BSM_<QUEUE>_RATE_*`). BullMQ's global max replaces its max, but a
   * worker keeps its own duration: a rate limit is recommended per this duration.
   */
  workerRateLimit: { max: number; durationMs: number };
}

/** Operations tracked per window; more are counted in the totals only. */
export const maxTrackedOperations = 1_000;
const samplesPerCluster = 5;
const listCap = 20;

class OperationTally {
  count = 0;
  failures = 0;
  timeouts = 0;
  readonly latency = new QuantileSketch();
  wait: QuantileSketch | null = null;
  /** Fleet jobs: successes per minute (epoch minute), at most one entry per minute of the window. */
  readonly successesPerMinute: Map<number, number> | null;
  constructor(readonly queue: string | null) {
    this.successesPerMinute = queue === null ? null : new Map();
  }
  get peakSuccessesPerMinute(): number | null {
    if (this.successesPerMinute === null) {
      return null;
    }
    let peak = 0;
    for (const n of this.successesPerMinute.values()) {
      peak = Math.max(peak, n);
    }
    return peak;
  }
}

class ClusterTally {
  /** The first failure text that went to this handle: what a merge re-mines (see {@link ExecutionAnalyzer.mergePart}). */
  message = '';
  count = 0;
  first = Number.POSITIVE_INFINITY;
  last = Number.NEGATIVE_INFINITY;
  readonly operations = new Set<string>();
  readonly errorTypes = new Set<string>();
  readonly samples: string[] = [];
  add(e: AnalyzedExecution): void {
    this.count += 1;
    this.first = Math.min(this.first, e.timestamp);
    this.last = Math.max(this.last, e.timestamp);
    if (this.operations.size < listCap) {
      this.operations.add(e.operation);
    }
    if (e.errorType && this.errorTypes.size < listCap) {
      this.errorTypes.add(e.errorType);
    }
    if (this.samples.length < samplesPerCluster) {
      this.samples.push(e.id);
    }
  }
  merge(o: ClusterTally): void {
    this.count += o.count;
    this.first = Math.min(this.first, o.first);
    this.last = Math.max(this.last, o.last);
    for (const op of o.operations) {
      if (this.operations.size < listCap) {
        this.operations.add(op);
      }
    }
    for (const t of o.errorTypes) {
      if (this.errorTypes.size < listCap) {
        this.errorTypes.add(t);
      }
    }
    for (const s of o.samples) {
      if (this.samples.length < samplesPerCluster) {
        this.samples.push(s);
      }
    }
  }
}

/** The totals of one window. */
class WindowTally {
  count = 0;
  readonly statuses: Record<(typeof executionStatuses)[number], number> = { success: 0, failure: 0, timeout: 0, error: 0 };
  readonly latency = new QuantileSketch();
  readonly operations = new Map<string, OperationTally>();
  untrackedCount = 0;

  add(e: AnalyzedExecution): OperationTally | null {
    this.count += 1;
    this.statuses[e.status] += 1;
    this.latency.add(e.latencyMs);
    let op = this.operations.get(e.operation);
    if (!op) {
      if (this.operations.size >= maxTrackedOperations) {
        this.untrackedCount += 1;
        return null;
      }
      op = new OperationTally(e.queue ?? null);
      this.operations.set(e.operation, op);
    }
    op.count += 1;
    if (e.status !== 'success') {
      op.failures += 1;
    } else if (op.successesPerMinute) {
      const minute = Math.floor(e.timestamp / 60_000);
      op.successesPerMinute.set(minute, (op.successesPerMinute.get(minute) ?? 0) + 1);
    }
    if (e.status === 'timeout') {
      op.timeouts += 1;
    }
    op.latency.add(e.latencyMs);
    if (e.waitMs !== undefined) {
      (op.wait ??= new QuantileSketch()).add(e.waitMs);
    }
    return op;
  }

  get failures(): number {
    return this.count - this.statuses.success;
  }

  part(): WindowPart {
    return {
      count: this.count,
      statuses: { ...this.statuses },
      latency: this.latency.parts(),
      operations: [...this.operations.entries()].map(([operation, op]) => ({
        operation,
        queue: op.queue,
        count: op.count,
        failures: op.failures,
        timeouts: op.timeouts,
        latency: op.latency.parts(),
        wait: op.wait ? op.wait.parts() : null,
        successesPerMinute: op.successesPerMinute ? [...op.successesPerMinute.entries()] : null,
      })),
      untracked: this.untrackedCount,
    };
  }

  /** Adds a part's counts and sketches (exact: counts add, sketch bins add). */
  merge(p: WindowPart): void {
    this.count += p.count;
    for (const status of executionStatuses) {
      this.statuses[status] += p.statuses[status] ?? 0;
    }
    this.latency.merge(QuantileSketch.fromParts(p.latency));
    this.untrackedCount += p.untracked;
    for (const o of p.operations) {
      let op = this.operations.get(o.operation);
      if (!op) {
        if (this.operations.size >= maxTrackedOperations) {
          this.untrackedCount += o.count;
          continue;
        }
        op = new OperationTally(o.queue);
        this.operations.set(o.operation, op);
      }
      op.count += o.count;
      op.failures += o.failures;
      op.timeouts += o.timeouts;
      op.latency.merge(QuantileSketch.fromParts(o.latency));
      if (o.wait) {
        (op.wait ??= new QuantileSketch()).merge(QuantileSketch.fromParts(o.wait));
      }
      if (o.successesPerMinute && op.successesPerMinute) {
        for (const [minute, n] of o.successesPerMinute) {
          op.successesPerMinute.set(minute, (op.successesPerMinute.get(minute) ?? 0) + n);
        }
      }
    }
  }
}

const sketchPartsSchema = z.object({
  relativeError: z.number(),
  count: z.number(),
  sum: z.number(),
  zeros: z.number(),
  bins: z.array(z.tuple([z.number(), z.number()])),
  min: z.number().optional(),
  max: z.number().optional(),
}) satisfies z.ZodType<SketchParts>;

const windowPartSchema = z.object({
  count: z.number(),
  statuses: z.record(z.enum(executionStatuses), z.number()),
  latency: sketchPartsSchema,
  operations: z.array(
    z.object({
      operation: z.string(),
      queue: z.string().nullable(),
      count: z.number(),
      failures: z.number(),
      timeouts: z.number(),
      latency: sketchPartsSchema,
      wait: sketchPartsSchema.nullable(),
      successesPerMinute: z.array(z.tuple([z.number(), z.number()])).nullable(),
    }),
  ),
  untracked: z.number(),
});
type WindowPart = z.infer<typeof windowPartSchema>;

/**
 * What an analysis of part of a window hands on to be merged (see {@link ExecutionAnalyzer.part}):
 * the counts and sketches of both windows, and per failure cluster it started its tally with, the
 * first failure text of that tally and the tally (count, first and last seen, operations, error
 * types, sample ids). Plain JSON, a BullMQ job's return value.
 */
export const analysisPartSchema = z.object({
  current: windowPartSchema,
  previous: windowPartSchema,
  clusters: z.array(
    z.object({
      message: z.string(),
      count: z.number(),
      first: z.number(),
      last: z.number(),
      operations: z.array(z.string()),
      errorTypes: z.array(z.string()),
      samples: z.array(z.string()),
    }),
  ),
});
export type AnalysisPart = z.infer<typeof analysisPartSchema>;

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const roundMs = (n: number | null) => (n === null ? null : round(n, 1));

function latencyOf(s: QuantileSketch): LatencySummary {
  return { p50: roundMs(s.quantile(0.5)), p90: roundMs(s.quantile(0.9)), p95: roundMs(s.quantile(0.95)), p99: roundMs(s.quantile(0.99)), mean: roundMs(s.mean), max: roundMs(s.max) };
}

/** The text a failure is clustered by: its type and message, or its status when it has neither. */
export function failureText(e: AnalyzedExecution): string {
  const message = e.errorMessage?.trim();
  if (e.errorType && message) {
    return message.startsWith(e.errorType) ? message : `${e.errorType}: ${message}`;
  }
  return message || e.errorType || e.status;
}

/** The stable id of a recommendation: from what it advises, never from the figures that back it. */
export function recommendationIdOf(rule: string, subject: string, action: Record<string, unknown> | null): string {
  return `opt-${sha256(canonicalJson({ rule, subject, action })).slice(0, 16)}`;
}

/** Messages that say the other side is throttling: a rate limit helps them. */
const throttlingText = /throttl|rate.?limit|too many requests|\b429\b|quota|slow ?down/i;

export interface AnalyzerOptions {
  source: AnalysisSource;
  focus: AnalysisFocus;
  settings: MetaMonitorSettings;
  clusterer: MessageClusterer;
  /** The stable id of a cluster from its template. */
  clusterIdOf: (template: string) => string;
}

/**
 * One analysis: feed the previous window's executions with {@link addPrevious}, the window's with
 * {@link add} (any order within each), then read {@link result}.
 */
export class ExecutionAnalyzer {
  private readonly current = new WindowTally();
  private readonly previous = new WindowTally();
  private readonly clusterTallies = new Map<number, ClusterTally>();
  private readonly clusters: boolean;

  constructor(private readonly options: AnalyzerOptions) {
    this.clusters = options.focus !== 'performance';
  }

  add(e: AnalyzedExecution): void {
    this.current.add(e);
    if (this.clusters && e.status !== 'success') {
      const handle = this.options.clusterer.add(failureText(e));
      let tally = this.clusterTallies.get(handle);
      if (!tally) {
        tally = new ClusterTally();
        tally.message = failureText(e);
        this.clusterTallies.set(handle, tally);
      }
      tally.add(e);
    }
  }

  /**
   * What this analysis of a part of the window found, to be merged with the other parts' by
   * {@link mergePart}. Nothing is resolved yet: the tallies stay by the handle they were started
   * under, each with the first failure text it counted.
   */
  part(): AnalysisPart {
    return {
      current: this.current.part(),
      previous: this.previous.part(),
      clusters: [...this.clusterTallies.values()].map((t) => ({
        message: t.message,
        count: t.count,
        first: t.first,
        last: t.last,
        operations: [...t.operations],
        errorTypes: [...t.errorTypes],
        samples: [...t.samples],
      })),
    };
  }

  /**
   * Adds another analysis's part (of a slice of the same windows), as if its executions had been
   * added here: counts add up exactly, sketches merge bin by bin (the same bins the executions
   * would have filled, so the same quantiles). Failure clusters are re-mined: each of the part's
   * tallies goes to the cluster this analysis's miner gives its first failure text, so tallies
   * whose texts share a template add up under that template's id. Merge the parts in the order of
   * their slices for a result that does not depend on which part finished first.
   */
  mergePart(p: AnalysisPart): void {
    this.current.merge(p.current);
    this.previous.merge(p.previous);
    if (!this.clusters) {
      return;
    }
    for (const c of p.clusters) {
      const handle = this.options.clusterer.add(c.message);
      let tally = this.clusterTallies.get(handle);
      if (!tally) {
        tally = new ClusterTally();
        tally.message = c.message;
        this.clusterTallies.set(handle, tally);
      }
      const other = new ClusterTally();
      other.count = c.count;
      other.first = c.first;
      other.last = c.last;
      c.operations.forEach((o) => other.operations.add(o));
      c.errorTypes.forEach((t) => other.errorTypes.add(t));
      other.samples.push(...c.samples);
      tally.merge(other);
    }
  }

  addPrevious(e: AnalyzedExecution): void {
    this.previous.add(e);
  }

  result(window: { from: Date; to: Date }, previousWindow: { from: Date; to: Date }, queueLimits: ReadonlyMap<string, QueueLimits> = new Map()): AnalysisBody {
    const { settings, focus, source } = this.options;
    const cur = this.current;
    const minutes = Math.max((window.to.getTime() - window.from.getTime()) / 60_000, 1 / 60);
    const totalTime = [...cur.operations.values()].reduce((sum, op) => sum + op.latency.totalValue, 0);
    const operations: OperationStats[] = [...cur.operations.entries()]
      .map(([operation, op]) => ({
        operation,
        queue: op.queue,
        executions: op.count,
        successRate: round(1 - op.failures / op.count, 4),
        failures: op.failures,
        timeouts: op.timeouts,
        throughputPerMinute: round(op.count / minutes, 3),
        peakSuccessesPerMinute: op.peakSuccessesPerMinute,
        latencyMs: latencyOf(op.latency),
        waitMs: op.wait ? latencyOf(op.wait) : null,
        timeShare: totalTime > 0 ? round(op.latency.totalValue / totalTime, 4) : 0,
        budgetMs: budgetOf(settings, operation),
      }))
      .sort((a, b) => b.executions - a.executions || a.operation.localeCompare(b.operation));

    const bottlenecks = focus === 'failures' ? [] : bottlenecksOf(operations, settings);
    const clusters = this.clusters ? this.clustersOf(cur.failures) : { listed: [], total: 0 };
    const degradations = degradationsOf(cur, this.previous, settings);
    const successRate = cur.count === 0 ? null : round(cur.statuses.success / cur.count, 4);
    const healthScore = healthScoreOf(successRate, operations, degradations);
    const body: AnalysisBody = {
      source,
      focus,
      window: { from: window.from.toISOString(), to: window.to.toISOString() },
      previousWindow: { from: previousWindow.from.toISOString(), to: previousWindow.to.toISOString() },
      executions: cur.count,
      previousExecutions: this.previous.count,
      statuses: { ...cur.statuses },
      successRate,
      throughputPerMinute: round(cur.count / minutes, 3),
      latencyMs: latencyOf(cur.latency),
      quantileRelativeError: sketchRelativeError,
      operations: operations.slice(0, 200),
      operationsUntracked: cur.untrackedCount,
      bottlenecks,
      clusters: clusters.listed,
      clustersTotal: clusters.total,
      degradations,
      healthScore,
      recommendations: [],
    };
    body.recommendations = recommendationsOf(body, operations, settings, queueLimits);
    return body;
  }

  private clustersOf(failures: number): { listed: FailureCluster[]; total: number } {
    const { clusterer, clusterIdOf, settings } = this.options;
    const merged = new Map<number, ClusterTally>();
    for (const [handle, tally] of this.clusterTallies) {
      const root = clusterer.resolve(handle);
      const into = merged.get(root);
      if (into) {
        into.merge(tally);
      } else {
        const copy = new ClusterTally();
        copy.merge(tally);
        merged.set(root, copy);
      }
    }
    const listed = [...merged.entries()]
      .map(([handle, t]) => {
        const template = clusterer.template(handle);
        return {
          id: clusterIdOf(template),
          template,
          count: t.count,
          share: failures === 0 ? 0 : round(t.count / failures, 4),
          firstSeen: new Date(t.first).toISOString(),
          lastSeen: new Date(t.last).toISOString(),
          operations: [...t.operations].sort(),
          errorTypes: [...t.errorTypes].sort(),
          sampleExecutionIds: t.samples,
        };
      })
      .sort((a, b) => b.count - a.count || a.id.localeCompare(b.id));
    return { listed: listed.slice(0, settings.clusters.maxListed), total: listed.length };
  }
}

function bottlenecksOf(operations: readonly OperationStats[], settings: MetaMonitorSettings): Bottleneck[] {
  const out: Bottleneck[] = [];
  const judged = operations.filter((op) => op.executions >= settings.minExecutions);
  for (const op of judged) {
    const p95 = op.latencyMs.p95;
    if (op.budgetMs !== null && p95 !== null && p95 > op.budgetMs) {
      out.push({ operation: op.operation, kind: 'over_budget', measured: p95, limit: op.budgetMs, evidence: `p95 ${p95} ms over its budget of ${op.budgetMs} ms across ${op.executions} executions` });
    }
    if (operations.length >= 2 && op.timeShare >= settings.bottleneckTimeShare) {
      out.push({
        operation: op.operation,
        kind: 'time_share',
        measured: op.timeShare,
        limit: settings.bottleneckTimeShare,
        evidence: `${round(op.timeShare * 100, 1)} % of all execution time (${op.executions} executions, mean ${op.latencyMs.mean} ms)`,
      });
    }
    const wait = op.waitMs?.p95;
    if (wait !== undefined && wait !== null && wait > settings.queueWaitBudgetMs) {
      out.push({ operation: op.operation, kind: 'queue_wait', measured: wait, limit: settings.queueWaitBudgetMs, evidence: `p95 wait in queue ${op.queue ?? '?'} ${wait} ms over ${settings.queueWaitBudgetMs} ms` });
    }
  }
  return out;
}

function levelOf(changePercent: number | null, settings: MetaMonitorSettings): Degradation['level'] | null {
  if (changePercent === null || changePercent > settings.degradation.p1Percent) {
    return 'P1';
  }
  return changePercent > settings.degradation.p2Percent ? 'P2' : null;
}

function compare(scope: string, cur: { count: number; failures: number; latency: QuantileSketch }, prev: { count: number; failures: number; latency: QuantileSketch }, settings: MetaMonitorSettings): Degradation[] {
  if (cur.count < settings.minExecutions || prev.count < settings.minExecutions) {
    return [];
  }
  const out: Degradation[] = [];
  const p95 = cur.latency.quantile(0.95) ?? 0;
  const before = prev.latency.quantile(0.95) ?? 0;
  if (p95 > before) {
    const change = before === 0 ? null : round(((p95 - before) / before) * 100, 1);
    const level = levelOf(change, settings);
    if (level) {
      out.push({ scope, metric: 'latency_p95', previous: round(before, 1), current: round(p95, 1), changePercent: change, level });
    }
  }
  const rate = cur.failures / cur.count;
  const rateBefore = prev.failures / prev.count;
  if (rate - rateBefore >= settings.degradation.minErrorRatePoints && rate > rateBefore) {
    const change = rateBefore === 0 ? null : round(((rate - rateBefore) / rateBefore) * 100, 1);
    const level = levelOf(change, settings);
    if (level) {
      out.push({ scope, metric: 'error_rate', previous: round(rateBefore, 4), current: round(rate, 4), changePercent: change, level });
    }
  }
  return out;
}

function degradationsOf(cur: WindowTally, prev: WindowTally, settings: MetaMonitorSettings): Degradation[] {
  const out = compare('overall', { count: cur.count, failures: cur.failures, latency: cur.latency }, { count: prev.count, failures: prev.failures, latency: prev.latency }, settings);
  for (const [operation, op] of cur.operations) {
    const before = prev.operations.get(operation);
    if (before) {
      out.push(...compare(operation, op, before, settings));
    }
  }
  const rank = { P1: 0, P2: 1 } as const;
  return out.sort((a, b) => rank[a.level] - rank[b.level] || (b.changePercent ?? Infinity) - (a.changePercent ?? Infinity) || a.scope.localeCompare(b.scope));
}

function healthScoreOf(successRate: number | null, operations: readonly OperationStats[], degradations: readonly Degradation[]): z.infer<typeof healthScoreSchema> {
  const stability = degradations.some((d) => d.level === 'P1') ? 0 : degradations.length > 0 ? 0.5 : 1;
  const executions = operations.reduce((sum, op) => sum + op.executions, 0);
  if (successRate === null || executions === 0) {
    return { score: null, successRate: null, withinBudget: null, stability, formula: healthScoreFormula };
  }
  const within = operations.filter((op) => op.budgetMs === null || op.latencyMs.p95 === null || op.latencyMs.p95 <= op.budgetMs).reduce((sum, op) => sum + op.executions, 0);
  const withinBudget = round(within / executions, 4);
  return { score: Math.round(100 * (0.5 * successRate + 0.3 * withinBudget + 0.2 * stability)), successRate, withinBudget, stability, formula: healthScoreFormula };
}

/** A recommendation with its id from what it advises. */
export function recommendation(rule: string, subject: string, title: string, evidence: string[], expectedImpact: string, action: Record<string, unknown> | null): Recommendation {
  return { id: recommendationIdOf(rule, subject, action), rule, title, subject, evidence, expectedImpact, action };
}

/**
 * Recommendations from what the analysis found. An executable one carries an action of the
 * catalog (a queue's global concurrency or rate limit, for the fleet's own queues); advice about
 * the agent's operations carries none, since the agent's configuration is the agent's.
 */
export function recommendationsOf(body: AnalysisBody, operations: readonly OperationStats[], settings: MetaMonitorSettings, queueLimits: ReadonlyMap<string, QueueLimits>): Recommendation[] {
  const out: Recommendation[] = [];
  const byOperation = new Map(operations.map((op) => [op.operation, op]));
  for (const b of body.bottlenecks) {
    const op = byOperation.get(b.operation);
    if (b.kind === 'queue_wait' && op?.queue) {
      const limits = queueLimits.get(op.queue);
      if (limits?.globalConcurrency !== null && limits?.globalConcurrency !== undefined) {
        const to = limits.globalConcurrency * 2;
        out.push(
          recommendation(
            'raise-queue-concurrency',
            op.queue,
            `Raise the global concurrency of queue ${op.queue} from ${limits.globalConcurrency} to ${to}`,
            [b.evidence, `the queue's global concurrency caps it at ${limits.globalConcurrency} jobs at once across all workers`],
            `more of ${op.queue}'s jobs run at once, so waits shorten (up to half, when the workers have the capacity)`,
            { kind: 'queue.concurrency', queue: op.queue, concurrency: to },
          ),
        );
      } else {
        out.push(
          recommendation(
            'add-queue-workers',
            op.queue,
            `Give queue ${op.queue} more workers`,
            [b.evidence, `no global concurrency caps the queue: each worker process runs ${limits?.workerConcurrency ?? '?'} of its jobs at once`],
            `raise BSM_${op.queue.toUpperCase().replaceAll('-', '_')}_CONCURRENCY or run more worker processes for the queue, so waits shorten`,
            null,
          ),
        );
      }
    } else if (b.kind === 'over_budget') {
      out.push(
        recommendation(
          'operation-over-budget',
          b.operation,
          `Bring ${b.operation} back within its latency budget`,
          [b.evidence, `p99 ${op?.latencyMs.p99 ?? '?'} ms, ${op?.timeouts ?? 0} timeouts`],
          `${op?.executions ?? 0} executions per window would finish within ${b.limit} ms at p95`,
          null,
        ),
      );
    } else if (b.kind === 'time_share') {
      out.push(
        recommendation(
          'dominant-operation',
          b.operation,
          `Look at ${b.operation} first: it takes most of the execution time`,
          [b.evidence],
          `every 10 % saved on ${b.operation} saves ${round(b.measured * 10, 1)} % of all execution time`,
          null,
        ),
      );
    }
  }
  for (const c of body.clusters) {
    if (c.share < settings.clusters.recommendShare) {
      continue;
    }
    const queues = [...new Set(c.operations.map((o) => byOperation.get(o)?.queue).filter((q): q is string => typeof q === 'string'))];
    if (throttlingText.test(c.template) && queues.length > 0) {
      for (const queue of queues) {
        const limits = queueLimits.get(queue);
        const peak = operations.filter((op) => op.queue === queue).reduce((sum, op) => sum + (op.peakSuccessesPerMinute ?? 0), 0);
        // BullMQ's global max replaces the workers' max; their own duration stays, so the max is per that duration.
        const durationMs = limits?.workerRateLimit.durationMs ?? 60_000;
        const max = Math.max(1, Math.floor(limits?.globalRateLimit ? limits.globalRateLimit.max * 0.8 : ((peak * durationMs) / 60_000) * 0.8));
        out.push(
          recommendation(
            'rate-limit-throttled-queue',
            queue,
            `Rate-limit queue ${queue} to ${max} jobs per ${durationMs / 1000} s`,
            [`${c.count} failures (${round(c.share * 100, 1)} % of all) match "${c.template}", which says the other side is throttling`, limits?.globalRateLimit ? `the queue is limited to ${limits.globalRateLimit.max} per ${limits.globalRateLimit.durationMs} ms now` : `the queue has no global rate limit; at its busiest it completed ${peak} jobs in a minute`],
            'fewer throttled jobs (BullMQ holds jobs back instead of failing them), at 80 % of the busiest rate that succeeded',
            { kind: 'queue.rate-limit', queue, limit: { max, durationMs } },
          ),
        );
      }
      continue;
    }
    out.push(
      recommendation(
        'fix-failure-cluster',
        c.id,
        `Fix the cause of ${round(c.share * 100, 1)} % of the failures: "${c.template.slice(0, 120)}"`,
        [`${c.count} failures between ${c.firstSeen} and ${c.lastSeen}`, `in ${c.operations.join(', ')}`, `e.g. executions ${c.sampleExecutionIds.join(', ')}`],
        `the error rate falls by up to ${round((c.count / Math.max(body.executions, 1)) * 100, 2)} points`,
        null,
      ),
    );
  }
  for (const op of operations) {
    if (op.executions >= settings.minExecutions && op.timeouts / op.executions >= 0.05) {
      out.push(
        recommendation(
          'operation-timeouts',
          op.operation,
          `Review the timeout of ${op.operation}: ${round((op.timeouts / op.executions) * 100, 1)} % of its executions time out`,
          [`${op.timeouts} of ${op.executions} executions timed out`, `p99 ${op.latencyMs.p99} ms, max ${op.latencyMs.max} ms`],
          'fewer timeouts when the timeout fits the operation (or the work is split)',
          null,
        ),
      );
    }
  }
  for (const d of body.degradations) {
    out.push(
      recommendation(
        'investigate-degradation',
        `${d.scope}:${d.metric}`,
        `${d.level}: ${d.metric === 'latency_p95' ? 'p95 latency' : 'error rate'} of ${d.scope} ${d.changePercent === null ? 'appeared' : `rose ${d.changePercent} %`}`,
        [`${d.previous} in the window before, ${d.current} now`],
        'back to the level of the window before',
        null,
      ),
    );
  }
  const seen = new Set<string>();
  return out.filter((r) => (seen.has(r.id) ? false : (seen.add(r.id), true)));
}
