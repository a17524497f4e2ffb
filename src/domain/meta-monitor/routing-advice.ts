/**
 * Recommendations for the service's own LLM routing, from the router's figures over the analysed
 * window: a routing preference (swap a failing primary for the healthy fallback) and a
 * per-operation timeout (an operation whose calls run into their budget). Both carry an
 * `llm.route` action of the catalog, so an approver can apply them and revert them.
 */
import type { RoutingMetrics } from '../llm/routing-metrics.js';
import type { RouteSpec } from '../llm/routing-matrix.js';
import { overrideBudgetBounds } from '../llm/routing-overrides.js';
import { operationTypes, type OperationType } from '../llm/types.js';
import { recommendation, type Recommendation } from './analysis.js';

/** The router's figures over the window and the route of each operation in force (overrides included). */
export interface RoutingView {
  metrics: Pick<RoutingMetrics, 'paths' | 'operations' | 'windowMs'>;
  routes: Readonly<Record<OperationType, RouteSpec>>;
}

/** Calls a path needs before its error rate is judged. */
export const minPathAttempts = 20;
/** An error rate at or above this makes a primary failing… */
export const failingErrorRate = 0.25;
/** …when the fallback's is at most this, over at least 5 calls. */
export const healthyErrorRate = 0.05;

const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;

export function routingRecommendations(view: RoutingView): Recommendation[] {
  const out: Recommendation[] = [];
  const { paths, operations } = view.metrics;
  const minutes = Math.round(view.metrics.windowMs / 60_000);
  const errorRate = (p: keyof typeof paths) => {
    const m = paths[p];
    return m.attempts === 0 ? null : m.errors / m.attempts;
  };
  for (const operation of operationTypes) {
    const route = view.routes[operation];
    const primary = paths[route.primary];
    const primaryRate = errorRate(route.primary);
    if (route.fallback !== null && primaryRate !== null && primary.attempts >= minPathAttempts && primaryRate >= failingErrorRate) {
      const fallback = paths[route.fallback];
      const fallbackRate = errorRate(route.fallback);
      if (fallbackRate !== null && fallback.attempts >= 5 && fallbackRate <= healthyErrorRate) {
        out.push(
          recommendation(
            'prefer-healthy-llm-path',
            operation,
            `Route ${operation} requests to ${route.fallback} first: ${route.primary} fails ${pct(primaryRate)} of its calls`,
            [
              `${route.primary}: ${primary.errors} of ${primary.attempts} calls failed in the last ${minutes} min (${primary.timeouts} timeouts)`,
              `${route.fallback}: ${fallback.errors} of ${fallback.attempts} calls failed (${pct(fallbackRate)})`,
            ],
            `${operation} requests stop waiting on a failing path before they reach the healthy one`,
            { kind: 'llm.route', operation, primary: route.fallback, fallback: route.primary },
          ),
        );
      }
    }
    const op = operations[operation];
    const timeouts = primary.attempts === 0 ? 0 : primary.timeouts / primary.attempts;
    if (op.decisions >= minPathAttempts && op.p95LatencyMs !== null && op.p95LatencyMs >= 0.9 * route.budgetMs && timeouts >= 0.1 && route.budgetMs < overrideBudgetBounds.max) {
      const budgetMs = Math.min(overrideBudgetBounds.max, Math.ceil((route.budgetMs * 1.5) / 1_000) * 1_000);
      out.push(
        recommendation(
          'raise-llm-budget',
          operation,
          `Raise the latency budget of ${operation} from ${route.budgetMs} ms to ${budgetMs} ms`,
          [
            `p95 ${op.p95LatencyMs} ms of ${op.decisions} requests against a budget of ${route.budgetMs} ms`,
            `${route.primary}: ${primary.timeouts} of ${primary.attempts} calls timed out (${pct(timeouts)})`,
            `${op.efficiency === null ? '?' : pct(op.efficiency)} served by the primary within budget`,
          ],
          'fewer requests cut off at the budget and answered by the local fallback instead of the model',
          { kind: 'llm.route', operation, budgetMs },
        ),
      );
    }
  }
  return out;
}
