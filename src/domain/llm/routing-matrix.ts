import { operationTypes } from './types.js';
import type { LlmPath, OperationType } from './types.js';

/** The two paths that reach a real model. `local` is never routed to: it is the last resort. */
export type RemotePath = Exclude<LlmPath, 'local'>;
export const remotePaths = ['direct', 'mcp'] as const satisfies readonly RemotePath[];

/** How one operation type is routed. */
export interface RouteSpec {
  /** Path tried first. */
  readonly primary: RemotePath;
  /** Path tried when the primary cannot answer; `null` means straight to the local provider. */
  readonly fallback: RemotePath | null;
  /** Latency budget of the whole request (all tries together), in milliseconds. */
  readonly budgetMs: number;
}

/** One route per operation type. */
export type RoutingMatrix = Readonly<Record<OperationType, RouteSpec>>;

/** The routing matrix of the runbook. */
export const defaultRoutingMatrix: RoutingMatrix = Object.freeze({
  emergency: { primary: 'direct', fallback: null, budgetMs: 5_000 },
  infrastructure: { primary: 'direct', fallback: 'mcp', budgetMs: 10_000 },
  meta_monitor: { primary: 'direct', fallback: 'mcp', budgetMs: 15_000 },
  implementation: { primary: 'direct', fallback: 'mcp', budgetMs: 15_000 },
  kiro_communication: { primary: 'mcp', fallback: 'direct', budgetMs: 30_000 },
  standard: { primary: 'mcp', fallback: 'direct', budgetMs: 30_000 },
  background: { primary: 'mcp', fallback: 'direct', budgetMs: 60_000 },
});

function isOperationType(value: string): value is OperationType {
  return (operationTypes as readonly string[]).includes(value);
}

function isRemotePath(value: string): value is RemotePath {
  return (remotePaths as readonly string[]).includes(value);
}

/**
 * Parses a routing override such as `emergency=direct/none/5000,standard=mcp/direct/20000`
 * and returns {@link defaultRoutingMatrix} with those routes replaced.
 * Each entry is `operation=primary/fallback/budgetMs`; `fallback` may be `none`.
 * An empty string gives the default matrix.
 *
 * @throws Error naming the offending entry and what was expected.
 */
export function parseRoutingOverrides(spec: string): RoutingMatrix {
  const matrix: Record<OperationType, RouteSpec> = { ...defaultRoutingMatrix };
  const seen = new Set<OperationType>();
  const entries = spec
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);

  for (const entry of entries) {
    const fail = (expected: string): never => {
      throw new Error(`routing override "${entry}": ${expected}`);
    };
    const match = /^([a-z_]+)\s*=\s*([a-z]+)\s*\/\s*([a-z]+)\s*\/\s*(\d+)$/.exec(entry);
    if (!match) {
      return fail('expected operation=primary/fallback/budgetMs, e.g. standard=mcp/direct/30000');
    }
    const [, operation = '', primary = '', fallback = '', budget = ''] = match;
    if (!isOperationType(operation)) {
      return fail(`unknown operation "${operation}", expected one of ${operationTypes.join(', ')}`);
    }
    if (seen.has(operation)) {
      return fail(`operation "${operation}" is given more than once`);
    }
    seen.add(operation);
    if (!isRemotePath(primary)) {
      return fail(`primary must be direct or mcp, got "${primary}"`);
    }
    let fallbackPath: RemotePath | null = null;
    if (fallback !== 'none') {
      if (!isRemotePath(fallback)) {
        return fail(`fallback must be direct, mcp or none, got "${fallback}"`);
      }
      if (fallback === primary) {
        return fail('fallback must differ from primary');
      }
      fallbackPath = fallback;
    }
    const budgetMs = Number(budget);
    if (!Number.isSafeInteger(budgetMs) || budgetMs < 1) {
      return fail(`budgetMs must be a positive integer, got "${budget}"`);
    }
    matrix[operation] = { primary, fallback: fallbackPath, budgetMs };
  }
  return Object.freeze(matrix);
}
