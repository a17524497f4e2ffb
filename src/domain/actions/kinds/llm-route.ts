import { z } from 'zod';
import { remotePaths, type RouteSpec, type RoutingMatrix } from '../../llm/routing-matrix.js';
import { overrideBudgetBounds, routeOverrideSchema, type RouteOverride, type RoutingOverrideStore } from '../../llm/routing-overrides.js';
import { operationTypes } from '../../llm/types.js';
import type { ActionKind } from '../kind.js';
import { ActionValidationError, type ActionChange } from '../types.js';

export const llmRouteSpecSchema = z
  .strictObject({
    kind: z.literal('llm.route'),
    operation: z.enum(operationTypes),
    /** Path tried first. */
    primary: z.enum(remotePaths).optional(),
    /** Path tried when the primary cannot answer; `null`: straight to the local provider. */
    fallback: z.enum(remotePaths).nullable().optional(),
    /** Latency budget of the whole request (all tries together), in milliseconds. */
    budgetMs: z.int().min(overrideBudgetBounds.min).max(overrideBudgetBounds.max).optional(),
  })
  .superRefine((spec, ctx) => {
    if (spec.primary === undefined && spec.fallback === undefined && spec.budgetMs === undefined) {
      ctx.addIssue({ code: 'custom', path: ['primary'], message: 'give at least one of primary, fallback, budgetMs' });
    } else if (spec.primary !== undefined && spec.fallback === spec.primary) {
      ctx.addIssue({ code: 'custom', path: ['fallback'], message: 'must differ from primary (or be null)' });
    }
  });
export type LlmRouteSpec = z.infer<typeof llmRouteSpecSchema>;

/** The operation's stored override; `null` when it follows the static matrix. */
const stateSchema = z.object({ override: routeOverrideSchema.nullable() });
type State = z.infer<typeof stateSchema>;

const fields = ['primary', 'fallback', 'budgetMs'] as const;

/**
 * One operation type's route (primary path, fallback, latency budget) as a routing override in
 * Redis, which the router of every process follows (see `domain/llm/routing-overrides.ts`).
 * Fields the spec leaves out keep their value in force.
 */
export function llmRouteKind(deps: { matrix: RoutingMatrix; overrides: Pick<RoutingOverrideStore, 'get' | 'put'> }): ActionKind<LlmRouteSpec, State> {
  const { matrix, overrides } = deps;
  const inForce = (spec: LlmRouteSpec, state: State): RouteSpec => state.override ?? matrix[spec.operation];
  const shown = (r: RouteSpec) => `${r.primary} first, then ${r.fallback ?? 'the local provider'}, within ${r.budgetMs} ms`;
  return {
    kind: 'llm.route',
    risk: 'medium',
    description:
      "Overrides one LLM operation type's route: the path tried first (direct or mcp), the fallback (the other path, or null for straight to the local provider) and the latency budget in ms (100 to 600000, all tries together), over the static routing matrix. Held in Redis; every process's router follows it within a second. Rollback restores the previous override, or removes it.",
    reversible: true,
    schema: llmRouteSpecSchema,
    stateSchema,
    async read(spec) {
      return { override: await overrides.get(spec.operation) };
    },
    desired(spec, before) {
      const base = inForce(spec, before);
      const merged: RouteOverride = {
        primary: spec.primary ?? base.primary,
        fallback: spec.fallback === undefined ? base.fallback : spec.fallback,
        budgetMs: spec.budgetMs ?? base.budgetMs,
      };
      const checked = routeOverrideSchema.safeParse(merged);
      if (!checked.success) {
        const field = checked.error.issues[0]?.path.map(String).join('.') || 'primary';
        throw new ActionValidationError(field, `${field}: the ${spec.operation} route would be ${shown(merged)}; ${checked.error.issues[0]?.message ?? 'invalid'}`);
      }
      return { override: checked.data };
    },
    changes(spec, from, to) {
      const a = inForce(spec, from);
      const b = inForce(spec, to);
      const out: ActionChange[] = fields.filter((f) => a[f] !== b[f]).map((f) => ({ target: `llm-route:${spec.operation}:${f}`, from: a[f], to: b[f] }));
      if ((from.override === null) !== (to.override === null)) {
        out.push({ target: `llm-route:${spec.operation}:source`, from: from.override === null ? 'matrix' : 'override', to: to.override === null ? 'matrix' : 'override' });
      }
      return out;
    },
    describe(spec, before, to) {
      const a = inForce(spec, before);
      const b = inForce(spec, to);
      const source = (s: State) => (s.override === null ? 'the static matrix' : 'an override');
      return fields.every((f) => a[f] === b[f]) && (before.override === null) === (to.override === null)
        ? `LLM operation ${spec.operation} already routes ${shown(a)}: nothing would change.`
        : `LLM operation ${spec.operation} routes ${shown(a)} (${source(before)}); after the change ${shown(b)} (${source(to)}).`;
    },
    async write(spec, _from, to, context) {
      await overrides.put(spec.operation, to.override, { by: context.actor, action: context.id });
    },
  };
}
