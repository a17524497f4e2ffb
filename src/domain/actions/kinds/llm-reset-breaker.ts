import { z } from 'zod';
import { breakerStates } from '../../llm/ports.js';
import { remotePaths } from '../../llm/routing-matrix.js';
import type { ActionKind } from '../kind.js';
import type { LlmBreakers } from '../ports.js';
import type { ActionChange } from '../types.js';

export const llmResetBreakerSpecSchema = z.strictObject({
  kind: z.literal('llm.reset-breaker'),
  /** The remote path whose breaker closes. */
  path: z.enum(remotePaths),
});
export type LlmResetBreakerSpec = z.infer<typeof llmResetBreakerSpecSchema>;

const stateSchema = z.object({
  state: z.enum(breakerStates),
  consecutiveFailures: z.int().nonnegative(),
  /** Epoch ms; null while the breaker has not opened since it last closed. */
  openedAt: z.number().nullable(),
});
type State = z.infer<typeof stateSchema>;

/**
 * Forces one LLM path's circuit breaker closed, its failure count forgotten, through the breaker
 * store the router reads (every process sees it at once). Not reversible: an opened breaker is
 * not a state to restore (it reopens by itself when the path keeps failing).
 */
export function llmResetBreakerKind(breakers: LlmBreakers): ActionKind<LlmResetBreakerSpec, State> {
  return {
    kind: 'llm.reset-breaker',
    risk: 'low',
    description:
      "Resets an LLM path's circuit breaker (direct or mcp) to closed and forgets its failure count, in the breaker store every process's router reads: the router tries the path again on the next request. Verified by reading the breaker back closed. Not reversible: if the path still fails, the breaker opens again by itself.",
    reversible: false,
    schema: llmResetBreakerSpecSchema,
    stateSchema,
    async read(spec) {
      const r = await breakers.read(spec.path);
      return { state: r.state, consecutiveFailures: r.consecutiveFailures, openedAt: r.openedAt };
    },
    desired: () => ({ state: 'closed', consecutiveFailures: 0, openedAt: null }),
    /** In the state asked for, with no more failures counted than asked (a failure counted since shows as not verified). */
    matches: (expected, read) => expected.state === read.state && read.consecutiveFailures <= expected.consecutiveFailures,
    changes(spec, from, to) {
      const out: ActionChange[] = [];
      if (from.state !== to.state) {
        out.push({ target: `llm-breaker:${spec.path}:state`, from: from.state, to: to.state });
      }
      if (from.consecutiveFailures !== to.consecutiveFailures) {
        out.push({ target: `llm-breaker:${spec.path}:consecutiveFailures`, from: from.consecutiveFailures, to: to.consecutiveFailures });
      }
      return out;
    },
    describe: (spec, before) =>
      before.state === 'closed' && before.consecutiveFailures === 0
        ? `The ${spec.path} path's circuit breaker already is closed with no failure counted: nothing would change.`
        : `The ${spec.path} path's circuit breaker goes from ${before.state} (${before.consecutiveFailures} consecutive failures) to closed: the router tries ${spec.path} again on the next request.`,
    async write(spec) {
      await breakers.reset(spec.path);
    },
  };
}
