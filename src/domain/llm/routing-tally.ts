/**
 * Routing decisions as running counters, so the routing figures of a window are sums of counters
 * kept per hour and per day rather than a pass over every stored decision.
 *
 * A tally maps a field name to a count. {@link tallyDecision} gives one decision's increments; the
 * tally of many decisions is the field-wise sum ({@link addTally}), so a window's tally is the sum of
 * its buckets'. Counts, money (nano-dollars) and tokens add up exactly; latencies are kept as
 * log-scale histograms with 20 bins per decade ({@link latencyBin}), from which the figures read
 * nearest-rank percentiles as bin upper bounds.
 */
import { binUpperBound } from '../stats.js';
import { toNanoUsd } from './money.js';
import type { AttemptResult, DecisionOutcome, RoutingDecision, RoutingTally } from './ports.js';
import type { LlmPath, OperationType } from './types.js';

/** What {@link tallyFields} counts per operation. */
export type OperationCount = 'counted' | 'served' | 'fallbackUsed';

/** A latency as it is counted: the upper bound of its histogram bin (at most 17 % above it). */
export function latencyBin(ms: number): number {
  return binUpperBound(ms);
}

/** The names of the counters. Histogram fields end in the bin's value (`latency:1300`). */
export const tallyFields = {
  /** Every decision. */
  decisions: 'decisions',
  outcome: (o: DecisionOutcome) => `outcome:${o}`,
  reason: (r: string) => `reason:${r}`,
  nanoUsd: 'nanoUsd',
  inputTokens: 'inputTokens',
  outputTokens: 'outputTokens',
  /** Decisions that say something about routing (not aborted, a remote path existed). */
  counted: 'counted',
  /** Counted decisions served by their primary path, successfully and within budget. */
  served: 'served',
  aborted: 'notCounted:aborted',
  noRemotePath: 'notCounted:noRemotePath',
  /** Decisions some path answered (success, fallback_local), and of those: */
  answered: 'answered',
  answeredByFallback: 'answered:fallbackUsed',
  answeredWithinBudget: 'answered:withinBudget',
  latencyPrefix: 'latency:',
  operation: (op: OperationType, count: OperationCount) => `op:${op}:${count}`,
  operationLatencyPrefix: (op: OperationType) => `op:${op}:latency:`,
  pathServed: (p: LlmPath) => `path:${p}:served`,
  pathResult: (p: LlmPath, r: AttemptResult) => `path:${p}:${r}`,
  pathLatencyPrefix: (p: LlmPath) => `path:${p}:latency:`,
} as const;

/** Whether a decision says anything about routing: not aborted by its caller, and a remote path existed. */
function countsForEfficiency(d: RoutingDecision): boolean {
  return d.outcome !== 'aborted' && d.reason !== 'no_remote_path';
}

/** The counters one decision adds. */
export function tallyDecision(d: RoutingDecision): RoutingTally {
  const f = tallyFields;
  const tally: RoutingTally = new Map();
  const add = (field: string, n = 1): void => {
    if (n !== 0) {
      tally.set(field, (tally.get(field) ?? 0) + n);
    }
  };
  add(f.decisions);
  add(f.outcome(d.outcome));
  add(f.reason(d.reason));
  add(f.nanoUsd, toNanoUsd(d.costUsd));
  // Providers report whole token counts; rounding keeps a stray fraction from failing HINCRBY.
  add(f.inputTokens, Math.round(d.inputTokens));
  add(f.outputTokens, Math.round(d.outputTokens));
  add(`${f.latencyPrefix}${latencyBin(d.latencyMs)}`);
  add(`${f.operationLatencyPrefix(d.operation)}${latencyBin(d.latencyMs)}`);
  if (countsForEfficiency(d)) {
    add(f.counted);
    add(f.operation(d.operation, 'counted'));
    if (d.outcome === 'success' && d.path === d.primary && d.withinBudget) {
      add(f.served);
      add(f.operation(d.operation, 'served'));
    }
  } else {
    add(d.outcome === 'aborted' ? f.aborted : f.noRemotePath);
  }
  if (d.fallbackUsed) {
    add(f.operation(d.operation, 'fallbackUsed'));
  }
  if (d.outcome === 'success' || d.outcome === 'fallback_local') {
    add(f.answered);
    add(f.answeredByFallback, d.fallbackUsed ? 1 : 0);
    add(f.answeredWithinBudget, d.withinBudget ? 1 : 0);
  }
  if (d.path !== null) {
    add(f.pathServed(d.path));
  }
  for (const a of d.attempts) {
    add(f.pathResult(a.path, a.result));
    if (a.result !== 'skipped') {
      add(`${f.pathLatencyPrefix(a.path)}${latencyBin(a.latencyMs)}`);
    }
  }
  return tally;
}

/** Adds `more` into `into`, field by field; returns `into`. */
export function addTally(into: RoutingTally, more: ReadonlyMap<string, number>): RoutingTally {
  for (const [field, n] of more) {
    into.set(field, (into.get(field) ?? 0) + n);
  }
  return into;
}

/** The `[value, count]` bins of the histogram whose fields start with `prefix`. */
export function histogramOf(tally: ReadonlyMap<string, number>, prefix: string): [number, number][] {
  const bins: [number, number][] = [];
  for (const [field, n] of tally) {
    if (field.startsWith(prefix)) {
      const value = Number(field.slice(prefix.length));
      if (Number.isFinite(value)) {
        bins.push([value, n]);
      }
    }
  }
  return bins;
}
