/**
 * The routing figures: how often requests were served by their primary path within budget, and
 * totals, rates and latencies per path and per operation over a time window.
 */
import { percentile } from '../stats.js';
import { decisionOutcomes } from './ports.js';
import type { DecisionOutcome, RoutingDecision } from './ports.js';
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
  /** Nearest-rank percentiles of the measured call durations; null without calls. */
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
}

export interface OperationMetrics {
  decisions: number;
  servedByPrimaryWithinBudget: number;
  fallbackUsed: number;
  efficiency: number | null;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
}

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

function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}

/** Whether a decision says anything about routing: not aborted by its caller, and a remote path existed. */
function countsForEfficiency(d: RoutingDecision): boolean {
  return d.outcome !== 'aborted' && d.reason !== 'no_remote_path';
}

function servedByPrimaryWithinBudget(d: RoutingDecision): boolean {
  return d.outcome === 'success' && d.path === d.primary && d.withinBudget;
}

function emptyPathMetrics(): PathMetrics {
  return {
    attempts: 0,
    success: 0,
    errors: 0,
    timeouts: 0,
    throttled: 0,
    aborted: 0,
    skipped: 0,
    served: 0,
    p50LatencyMs: null,
    p95LatencyMs: null,
  };
}

/** The efficiency of the decisions made from `from` to `to` (epoch ms). */
export function efficiencyOf(from: number, to: number, decisions: readonly RoutingDecision[]): RoutingEfficiency {
  const counted = decisions.filter(countsForEfficiency);
  const served = counted.filter(servedByPrimaryWithinBudget).length;
  return {
    windowStart: new Date(from).toISOString(),
    windowEnd: new Date(to).toISOString(),
    decisions: counted.length,
    notCounted: { aborted: decisions.filter((d) => d.outcome === 'aborted').length, noRemotePath: decisions.filter((d) => d.outcome !== 'aborted' && d.reason === 'no_remote_path').length },
    servedByPrimaryWithinBudget: served,
    efficiency: ratio(served, counted.length),
  };
}

/** All figures of the decisions made from `from` to `to` (epoch ms). */
export function metricsOf(from: number, to: number, decisions: readonly RoutingDecision[]): RoutingMetrics {
  const outcomes = Object.fromEntries(decisionOutcomes.map((o) => [o, 0])) as Record<DecisionOutcome, number>;
  const reasons: Record<string, number> = {};
  const paths = Object.fromEntries(llmPaths.map((p) => [p, emptyPathMetrics()])) as Record<LlmPath, PathMetrics>;
  const pathLatencies: Record<LlmPath, number[]> = { direct: [], mcp: [], local: [] };
  let costUsd = 0;
  let inputTokens = 0;
  let outputTokens = 0;
  for (const d of decisions) {
    outcomes[d.outcome] += 1;
    reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
    costUsd += d.costUsd;
    inputTokens += d.inputTokens;
    outputTokens += d.outputTokens;
    if (d.path !== null) {
      paths[d.path].served += 1;
    }
    for (const a of d.attempts) {
      const m = paths[a.path];
      switch (a.result) {
        case 'skipped':
          m.skipped += 1;
          continue;
        case 'success':
          m.success += 1;
          break;
        case 'failed':
          m.errors += 1;
          break;
        case 'timeout':
          m.errors += 1;
          m.timeouts += 1;
          break;
        case 'throttled':
          m.throttled += 1;
          break;
        case 'aborted':
          m.aborted += 1;
          break;
      }
      m.attempts += 1;
      pathLatencies[a.path].push(a.latencyMs);
    }
  }
  for (const p of llmPaths) {
    paths[p].p50LatencyMs = percentile(pathLatencies[p], 50);
    paths[p].p95LatencyMs = percentile(pathLatencies[p], 95);
  }
  const operations = Object.fromEntries(
    operationTypes.map((op) => {
      const mine = decisions.filter((d) => d.operation === op);
      const counted = mine.filter(countsForEfficiency);
      const served = counted.filter(servedByPrimaryWithinBudget).length;
      const latencies = mine.map((d) => d.latencyMs);
      const metrics: OperationMetrics = {
        decisions: counted.length,
        servedByPrimaryWithinBudget: served,
        fallbackUsed: mine.filter((d) => d.fallbackUsed).length,
        efficiency: ratio(served, counted.length),
        p50LatencyMs: percentile(latencies, 50),
        p95LatencyMs: percentile(latencies, 95),
      };
      return [op, metrics];
    }),
  ) as Record<OperationType, OperationMetrics>;
  const answered = decisions.filter((d) => d.outcome === 'success' || d.outcome === 'fallback_local');
  const latencies = decisions.map((d) => d.latencyMs);
  return {
    ...efficiencyOf(from, to, decisions),
    windowMs: to - from,
    totalDecisions: decisions.length,
    outcomes,
    fallbackRate: ratio(answered.filter((d) => d.fallbackUsed).length, answered.length),
    withinBudgetRate: ratio(answered.filter((d) => d.withinBudget).length, answered.length),
    p50LatencyMs: percentile(latencies, 50),
    p95LatencyMs: percentile(latencies, 95),
    reasons,
    paths,
    operations,
    costUsd,
    inputTokens,
    outputTokens,
  };
}
