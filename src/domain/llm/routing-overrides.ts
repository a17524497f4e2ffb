/**
 * Routing overrides: per operation type, a route (primary, fallback, latency budget) that takes
 * the place of the static matrix's (`BSM_ROUTING_MATRIX` / the runbook's). They are runtime
 * configuration: held in Redis, versioned, changed only through the action catalog's `llm.route`
 * action (audited, revertible), and followed by the router of every process within
 * {@link defaultOverrideMaxAgeMs} (at once in the process that made the change).
 */
import { z } from 'zod';
import { remotePaths, type RouteSpec, type RoutingMatrix } from './routing-matrix.js';
import type { OperationType } from './types.js';

/** Bounds of an override's latency budget: below 100 ms no remote path can answer; above 10 min a request is stuck, not slow. */
export const overrideBudgetBounds = { min: 100, max: 600_000 } as const;

/** A route as an override holds it: validated like `parseRoutingOverrides` (fallback ≠ primary, budget a positive integer), with bounds. */
export const routeOverrideSchema = z
  .object({
    primary: z.enum(remotePaths),
    /** `null`: straight to the local provider when the primary cannot answer. */
    fallback: z.enum(remotePaths).nullable(),
    budgetMs: z.int().min(overrideBudgetBounds.min).max(overrideBudgetBounds.max),
  })
  .refine((r) => r.fallback !== r.primary, { path: ['fallback'], message: 'must differ from primary (or be null)' });
export type RouteOverride = z.infer<typeof routeOverrideSchema>;

/** The overrides in force; an operation without one follows the static matrix. */
export interface RoutingOverrides {
  /** Bumped by every change; 0 before the first. */
  version: number;
  routes: Partial<Record<OperationType, RouteOverride>>;
}

/** Who set an override, for the stored value (the audit trail has the full story). */
export interface OverrideMeta {
  by: string;
  /** The `act-…` id of the action that set it. */
  action: string;
}

/** Where the overrides live (Redis). Reads are not cached: {@link cachedRoutingOverrides} is. */
export interface RoutingOverrideStore {
  read(): Promise<RoutingOverrides>;
  get(operation: OperationType): Promise<RouteOverride | null>;
  /** Sets (or, with `null`, removes) one operation's override and bumps the version; returns the new version. */
  put(operation: OperationType, route: RouteOverride | null, meta: OverrideMeta): Promise<number>;
}

/** What the router reads: the overrides in force, as fresh as the reader keeps them. */
export interface RoutingOverrideReader {
  current(): Promise<RoutingOverrides>;
}

/** The route of `operation`: its override, else the static matrix's. */
export function effectiveRoute(matrix: RoutingMatrix, overrides: RoutingOverrides['routes'], operation: OperationType): RouteSpec {
  return overrides[operation] ?? matrix[operation];
}

/** How long a process keeps overrides it read before reading them again. */
export const defaultOverrideMaxAgeMs = 1_000;

export const noOverrides: RoutingOverrides = Object.freeze({ version: 0, routes: Object.freeze({}) });

/**
 * A reader that keeps what it read for `maxAgeMs` (one read in flight at a time). When a read
 * fails it keeps answering with the last overrides it had (the static matrix when none) and tells
 * `onError`, at most once per `maxAgeMs`: routing an LLM request never fails on this.
 * `invalidate()` makes the next `current()` read again (the process that changed them calls it).
 */
export function cachedRoutingOverrides(
  store: Pick<RoutingOverrideStore, 'read'>,
  options: { maxAgeMs?: number; clock?: () => number; onError?: (err: Error) => void } = {},
): RoutingOverrideReader & { invalidate(): void } {
  const maxAgeMs = options.maxAgeMs ?? defaultOverrideMaxAgeMs;
  const clock = options.clock ?? Date.now;
  let held: RoutingOverrides = noOverrides;
  let readAt = Number.NEGATIVE_INFINITY;
  /** Bumped by `invalidate()`: a read started before it may predate the change. */
  let generation = 0;
  let inFlight: { generation: number; read: Promise<RoutingOverrides> } | null = null;

  function refresh(): Promise<RoutingOverrides> {
    const started = generation;
    const read = store.read().then(
      (fresh) => {
        if (started === generation) {
          held = fresh;
          readAt = clock();
        }
        return fresh;
      },
      (err: unknown) => {
        if (started === generation) {
          readAt = clock();
        }
        options.onError?.(err instanceof Error ? err : new Error(String(err)));
        return held;
      },
    );
    const entry = { generation: started, read };
    inFlight = entry;
    void read.finally(() => {
      if (inFlight === entry) {
        inFlight = null;
      }
    });
    return read;
  }

  return {
    current() {
      if (clock() - readAt < maxAgeMs) {
        return Promise.resolve(held);
      }
      return inFlight?.generation === generation ? inFlight.read : refresh();
    },
    invalidate() {
      generation += 1;
      readAt = Number.NEGATIVE_INFINITY;
    },
  };
}
