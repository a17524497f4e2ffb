/**
 * The routing figures: how often requests were served by their primary path within budget, and
 * totals, rates and latencies per path and per operation over a time window, read from the
 * window's tally (see `routing-tally.ts`). Counts, rates, cost and tokens are exact; a latency
 * percentile is the upper bound of the histogram bin that holds the nearest-rank value (at most
 * 17 % above it).
 */
import { histogramPercentile } from '../stats.js';
import { fromNanoUsd } from './money.js';
import { decisionOutcomes } from './ports.js';
import type { AttemptResult, DecisionOutcome } from './ports.js';
import { histogramOf, tallyFields } from './routing-tally.js';
import type { OperationCount } from './routing-tally.js';
import { llmPaths, operationTypes } from './types.js';
import type { LlmPath, OperationType } from './types.js';

/** Share of decisions served by their primary path, successfully and within the latency budget. */
export interface RoutingEfficiency {
  /** ISO 8601, UTC. */
  windowStart: string;
  windowEnd: string;
  /**
   * Decisions counted: all in the window except those the caller aborted and those answered
   * locally because no remote path is configured (there was no routing to judge).
   */
  decisions: number;
  /** Decisions in the window left out of the efficiency, by why. */
  notCounted: { aborted: number; noRemotePath: number };
  servedByPrimaryWithinBudget: number;
  /** 0..1; null when there were no decisions. */
  efficiency: number | null;
}

/** How one path fared over the window, counted per call made (attempt). */
export interface PathMetrics {
  /** Calls actually made on this path (not skipped). */
  attempts: number;
  success: number;
  /** Failures including timeouts (not throttling, not caller aborts). */
  errors: number;
  timeouts: number;
  throttled: number;
  aborted: number;
  skipped: number;
  /** Decisions this path answered. */
  served: number;
  /** Nearest-rank percentiles of the measured call durations, as histogram bin upper bounds; null without calls. */
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
}

/** How the decisions of one operation type fared over the window. */
export interface OperationMetrics {
  decisions: number;
  servedByPrimaryWithinBudget: number;
  fallbackUsed: number;
  efficiency: number | null;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
}

/** Every routing figure of a window: the efficiency, then totals, rates and latencies. */
export interface RoutingMetrics extends RoutingEfficiency {
  windowMs: number;
  /** All decisions in the window, aborted included. */
  totalDecisions: number;
  outcomes: Record<DecisionOutcome, number>;
  /** Share of answered decisions (success + fallback_local) not answered by the primary; null without any. */
  fallbackRate: number | null;
  /** Share of answered decisions within their latency budget; null without any. */
  withinBudgetRate: number | null;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  reasons: Record<string, number>;
  paths: Record<LlmPath, PathMetrics>;
  operations: Record<OperationType, OperationMetrics>;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
}

/** One entry per key. */
function keyed<K extends string, V>(keys: readonly K[], value: (key: K) => V): Record<K, V> {
  return Object.fromEntries(keys.map((k) => [k, value(k)])) as Record<K, V>;
}

function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}

/** p50 and p95 of the histogram whose fields start with `prefix`. */
function latencies(tally: ReadonlyMap<string, number>, prefix: string): { p50LatencyMs: number | null; p95LatencyMs: number | null } {
  const bins = histogramOf(tally, prefix);
  return { p50LatencyMs: histogramPercentile(bins, 50), p95LatencyMs: histogramPercentile(bins, 95) };
}

/** The efficiency of the decisions tallied in `tally`, made from `from` to `to` (epoch ms). */
export function efficiencyFrom(tally: ReadonlyMap<string, number>, from: number, to: number): RoutingEfficiency {
  const n = (field: string): number => tally.get(field) ?? 0;
  return {
    windowStart: new Date(from).toISOString(),
    windowEnd: new Date(to).toISOString(),
    decisions: n(tallyFields.counted),
    notCounted: { aborted: n(tallyFields.aborted), noRemotePath: n(tallyFields.noRemotePath) },
    servedByPrimaryWithinBudget: n(tallyFields.served),
    efficiency: ratio(n(tallyFields.served), n(tallyFields.counted)),
  };
}

function pathMetrics(tally: ReadonlyMap<string, number>, path: LlmPath): PathMetrics {
  const n = (result: AttemptResult): number => tally.get(tallyFields.pathResult(path, result)) ?? 0;
  return {
    attempts: n('success') + n('failed') + n('timeout') + n('throttled') + n('aborted'),
    success: n('success'),
    errors: n('failed') + n('timeout'),
    timeouts: n('timeout'),
    throttled: n('throttled'),
    aborted: n('aborted'),
    skipped: n('skipped'),
    served: tally.get(tallyFields.pathServed(path)) ?? 0,
    ...latencies(tally, tallyFields.pathLatencyPrefix(path)),
  };
}

function operationMetrics(tally: ReadonlyMap<string, number>, op: OperationType): OperationMetrics {
  const n = (count: OperationCount): number => tally.get(tallyFields.operation(op, count)) ?? 0;
  return {
    decisions: n('counted'),
    servedByPrimaryWithinBudget: n('served'),
    fallbackUsed: n('fallbackUsed'),
    efficiency: ratio(n('served'), n('counted')),
    ...latencies(tally, tallyFields.operationLatencyPrefix(op)),
  };
}

const reasonPrefix = tallyFields.reason('');

/** Every figure of the decisions tallied in `tally`, made in the `windowMs` up to `to` (epoch ms). */
export function metricsFrom(tally: ReadonlyMap<string, number>, to: number, windowMs: number): RoutingMetrics {
  const n = (field: string): number => tally.get(field) ?? 0;
  const reasons: Record<string, number> = {};
  for (const [field, count] of tally) {
    if (field.startsWith(reasonPrefix) && count > 0) {
      reasons[field.slice(reasonPrefix.length)] = count;
    }
  }
  return {
    ...efficiencyFrom(tally, to - windowMs, to),
    windowMs,
    totalDecisions: n(tallyFields.decisions),
    outcomes: keyed(decisionOutcomes, (o) => n(tallyFields.outcome(o))),
    fallbackRate: ratio(n(tallyFields.answeredByFallback), n(tallyFields.answered)),
    withinBudgetRate: ratio(n(tallyFields.answeredWithinBudget), n(tallyFields.answered)),
    ...latencies(tally, tallyFields.latencyPrefix),
    reasons,
    paths: keyed(llmPaths, (p) => pathMetrics(tally, p)),
    operations: keyed(operationTypes, (op) => operationMetrics(tally, op)),
    costUsd: fromNanoUsd(n(tallyFields.nanoUsd)),
    inputTokens: n(tallyFields.inputTokens),
    outputTokens: n(tallyFields.outputTokens),
  };
}
