import { describe, expect, it } from 'vitest';
import { actionSpecSchema } from '../../src/domain/actions/index.js';
import { defaultRoutingMatrix } from '../../src/domain/llm/routing-matrix.js';
import type { OperationMetrics, PathMetrics } from '../../src/domain/llm/routing-metrics.js';
import { operationTypes } from '../../src/domain/llm/types.js';
import { routingRecommendations, type RoutingView } from '../../src/domain/meta-monitor/routing-advice.js';

const path = (attempts: number, errors: number, timeouts = 0): PathMetrics => ({ attempts, success: attempts - errors, errors, timeouts, throttled: 0, aborted: 0, skipped: 0, served: attempts - errors, p50LatencyMs: 100, p95LatencyMs: 200 });
const quiet: OperationMetrics = { decisions: 0, servedByPrimaryWithinBudget: 0, fallbackUsed: 0, efficiency: null, p50LatencyMs: null, p95LatencyMs: null };

function view(paths: Partial<RoutingView['metrics']['paths']>, operations: Partial<RoutingView['metrics']['operations']> = {}): RoutingView {
  return {
    metrics: {
      windowMs: 3_600_000,
      paths: { direct: path(0, 0), mcp: path(0, 0), local: path(0, 0), ...paths },
      operations: { ...(Object.fromEntries(operationTypes.map((o) => [o, quiet])) as RoutingView['metrics']['operations']), ...operations },
    },
    routes: defaultRoutingMatrix,
  };
}

describe('advice for the LLM routing', () => {
  it('swaps a failing primary for a healthy fallback, for every operation routed that way, with an action the catalog takes', () => {
    const recs = routingRecommendations(view({ direct: path(40, 16, 9), mcp: path(12, 0) }));
    const swapped = recs.filter((r) => r.rule === 'prefer-healthy-llm-path');
    // direct first and mcp as fallback: infrastructure, meta_monitor, implementation; emergency has no fallback.
    expect(swapped.map((r) => r.subject).sort()).toEqual(['implementation', 'infrastructure', 'meta_monitor']);
    for (const r of swapped) {
      expect(r.action).toEqual({ kind: 'llm.route', operation: r.subject, primary: 'mcp', fallback: 'direct' });
      expect(actionSpecSchema.safeParse(r.action).success).toBe(true);
      expect(r.evidence[0]).toContain('16 of 40');
    }
  });

  it('gives no advice without enough calls, or when the fallback fails too', () => {
    expect(routingRecommendations(view({ direct: path(19, 19), mcp: path(12, 0) }))).toEqual([]);
    expect(routingRecommendations(view({ direct: path(40, 20), mcp: path(12, 3) }))).toEqual([]);
    expect(routingRecommendations(view({ direct: path(40, 2), mcp: path(12, 0) }))).toEqual([]);
  });

  it('raises the budget of an operation whose calls run into it, by half, within the override bounds', () => {
    const busy: OperationMetrics = { decisions: 30, servedByPrimaryWithinBudget: 12, fallbackUsed: 10, efficiency: 0.4, p50LatencyMs: 9_000, p95LatencyMs: 14_500 };
    const recs = routingRecommendations(view({ direct: path(30, 6, 6), mcp: path(10, 2) }, { meta_monitor: busy }));
    expect(recs).toEqual([expect.objectContaining({ rule: 'raise-llm-budget', subject: 'meta_monitor', action: { kind: 'llm.route', operation: 'meta_monitor', budgetMs: 23_000 } })]);
    expect(actionSpecSchema.safeParse(recs[0]?.action).success).toBe(true);
  });
});
