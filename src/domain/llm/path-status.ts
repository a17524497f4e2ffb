import type { BreakerSnapshot, CircuitBreaker } from './circuit-breaker.js';
import type { PathPolicy, RouterProviders } from './path-policy.js';
import type { ResidencyVerdict } from './residency.js';
import { remotePaths } from './routing-matrix.js';
import type { LlmPath } from './types.js';

/** A breaker's state as the health endpoint shows it: its times as ISO 8601 (UTC). */
export type BreakerView = Omit<BreakerSnapshot, 'openedAt' | 'retryAt' | 'lastSuccessAt' | 'lastErrorAt' | 'changedAt'> & {
  openedAt: string | null;
  retryAt: string | null;
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  changedAt: string | null;
};

/** One path, for the health endpoint. Times are ISO 8601 (UTC). */
export interface PathStatus {
  path: LlmPath;
  configured: boolean;
  model: string | null;
  /** null for `local` (it has no breaker). */
  breaker: BreakerView | null;
  /** Residency verdict; null when not checked (`local`, or `mcp` without `mcpRegion`). */
  residency: ResidencyVerdict | null;
  /** Why the router would skip this path right now, breaker aside; null when it would not. */
  refusedBecause: string | null;
  /** Configured, not refused and breaker not open. */
  available: boolean;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
}

const isoOrNull = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function breakerView(s: BreakerSnapshot): BreakerView {
  return {
    ...s,
    openedAt: isoOrNull(s.openedAt),
    retryAt: isoOrNull(s.retryAt),
    lastSuccessAt: isoOrNull(s.lastSuccessAt),
    lastErrorAt: isoOrNull(s.lastErrorAt),
    changedAt: isoOrNull(s.changedAt),
  };
}

/** Every path as the router sees it now: the remote ones with their breakers, then `local`. */
export async function readPathStatus(providers: RouterProviders, policy: PathPolicy, breaker: CircuitBreaker): Promise<PathStatus[]> {
  const budgetStatus = await policy.budgetStatusFor(remotePaths);
  const remote = await Promise.all(
    remotePaths.map(async (path): Promise<PathStatus> => {
      const snapshot = await breaker.snapshot(path);
      const provider = providers[path];
      const refused = policy.refusal(path, budgetStatus);
      return {
        path,
        configured: provider !== undefined,
        model: provider?.model ?? null,
        breaker: breakerView(snapshot),
        residency: policy.residencyOf(path),
        refusedBecause: refused?.detail ?? null,
        // Open, or half-open with another caller's trial in flight: calls are skipped until retryAt.
        available: refused === null && snapshot.retryAt === null,
        lastSuccessAt: isoOrNull(snapshot.lastSuccessAt),
        lastError: snapshot.lastError,
        lastErrorAt: isoOrNull(snapshot.lastErrorAt),
      };
    }),
  );
  const local: PathStatus = {
    path: 'local',
    configured: true,
    model: providers.local.model,
    breaker: null,
    residency: null,
    refusedBecause: null,
    available: true,
    lastSuccessAt: null,
    lastError: null,
    lastErrorAt: null,
  };
  return [...remote, local];
}
