import { isPaidPath } from './budget.js';
import type { Budget, BudgetStatus } from './budget.js';
import type { SkipCause } from './ports.js';
import { pathResidency } from './residency.js';
import type { ResidencySettings, ResidencyVerdict } from './residency.js';
import type { RemotePath } from './routing-matrix.js';
import type { LlmProvider } from './types.js';

/** The providers a router has: `local` always, the remote paths when configured. */
export interface RouterProviders {
  direct?: LlmProvider;
  mcp?: LlmProvider;
  local: LlmProvider;
}

/** Why a path may not be called at all. */
export interface Refusal {
  cause: SkipCause;
  detail: string;
}

/** Whether a remote path may be called, breaker aside: configuration, residency and money. */
export interface PathPolicy {
  /** The residency verdict of `path`; null when it is not checked (`mcp` without an `mcpRegion`). */
  residencyOf(path: RemotePath): ResidencyVerdict | null;
  /** The budget's status when any of `paths` is paid for; null when none is (no need to read it). */
  budgetStatusFor(paths: readonly RemotePath[]): Promise<BudgetStatus | null>;
  /** Why `path` may not be called; null when it may. */
  refusal(path: RemotePath, budgetStatus: BudgetStatus | null): Refusal | null;
}

/** The policy of a router with these providers, residency settings and budget. */
export function createPathPolicy(providers: RouterProviders, residency: ResidencySettings, budget: Budget): PathPolicy {
  const residencyOf = (path: RemotePath): ResidencyVerdict | null => pathResidency(path, residency, providers.direct?.model);
  const isPaid = (path: RemotePath): boolean => {
    const provider = providers[path];
    return provider !== undefined && isPaidPath(path, provider.model, budget.pricing);
  };
  return {
    residencyOf,
    budgetStatusFor: async (paths) => (paths.some(isPaid) ? budget.status() : null),
    refusal(path, budgetStatus) {
      if (!providers[path]) {
        return { cause: 'not_configured', detail: `${path} is not configured` };
      }
      const verdict = residencyOf(path);
      if (verdict && !verdict.ok) {
        return { cause: 'region_not_allowed', detail: verdict.reason };
      }
      // Paid paths stop when the money is gone: `direct`, and `mcp` when its model has a price.
      if (budgetStatus?.exhausted === true && isPaid(path)) {
        return { cause: 'budget_exhausted', detail: budgetStatus.reason ?? 'the LLM budget is exhausted' };
      }
      return null;
    },
  };
}
