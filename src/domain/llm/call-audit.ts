/**
 * Every LLM call as an audit-trail entry (`llm.call`): the path, model, region, tokens, cost,
 * outcome and latency, and for a routed request each path it tried. Never the prompt, the facts,
 * the answer, the prompt excerpt, nor a provider's error text (which may echo either): only
 * values the code or the provider's counters produced.
 *
 * An LLM call is not a change of state, and its entry can only be written after the call (its
 * outcome, tokens and latency are not known before). So the rule for changes ("in the audit trail
 * or it does not happen") cannot apply as it does to them: the entry is written, and awaited, right
 * after the call and before the caller gets its answer; when the trail does not take it, the answer
 * still goes out (failing it then would not undo the call, only lose what was paid for), the
 * routing decision keeps the call in the decision store, and the failure is reported (logged at
 * error level with the decision id, so the gap can be found). Any change a caller makes with an
 * answer is recorded before it is made, as every change is.
 */
import type { AuditEventInput } from '../audit-trail/chain.js';
import type { RoutingDecision } from './ports.js';
import type { LlmPath } from './types.js';

/** The audit action of an LLM call. */
export const llmCallAction = 'llm.call';

/** Where a path has prompts processed: the region it is configured with; null when not declared (the local provider runs in this process). */
export type RegionOf = (path: LlmPath) => string | null;

/** The region of each path from the residency settings: `AWS_REGION` for direct, `MCP_REGION` for MCP (null when not set), null for local. */
export function regionsOf(settings: { region: string; mcpRegion?: string | undefined }): RegionOf {
  return (path) => {
    switch (path) {
      case 'direct':
        return settings.region.trim().toLowerCase();
      case 'mcp':
        return settings.mcpRegion === undefined ? null : settings.mcpRegion.trim().toLowerCase();
      case 'local':
        return null;
    }
  };
}

/** The entry of one routed request (one routing decision). */
export function decisionEntry(decision: RoutingDecision, regionOf: RegionOf): AuditEventInput {
  return {
    actor: decision.component,
    action: llmCallAction,
    target: decision.id,
    details: {
      kind: 'routed',
      operation: decision.operation,
      task: decision.task,
      path: decision.path,
      region: decision.path === null ? null : regionOf(decision.path),
      model: decision.model,
      outcome: decision.outcome,
      reason: decision.reason,
      latencyMs: Math.round(decision.latencyMs * 10) / 10,
      inputTokens: decision.inputTokens,
      outputTokens: decision.outputTokens,
      tokensEstimated: decision.tokensEstimated,
      costUsd: decision.costUsd,
      attempts: decision.attempts.map((a) => ({ path: a.path, region: regionOf(a.path), result: a.result, skipped: a.skipped, latencyMs: Math.round(a.latencyMs * 10) / 10 })),
    },
  };
}

/** One call of one path alone, outside the router (the auditor's reachability ping). */
export interface DirectCall {
  id: string;
  component: string;
  task: string;
  path: LlmPath;
  /** The model that answered; the configured one when the call failed. */
  model: string | null;
  outcome: 'success' | 'error' | 'aborted';
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  tokensEstimated: boolean;
  costUsd: number;
}

/** The entry of a call made on one path alone. */
export function directCallEntry(call: DirectCall, regionOf: RegionOf): AuditEventInput {
  return {
    actor: call.component,
    action: llmCallAction,
    target: call.id,
    details: {
      kind: 'direct',
      task: call.task,
      path: call.path,
      region: regionOf(call.path),
      model: call.model,
      outcome: call.outcome,
      latencyMs: Math.round(call.latencyMs * 10) / 10,
      inputTokens: call.inputTokens,
      outputTokens: call.outputTokens,
      tokensEstimated: call.tokensEstimated,
      costUsd: call.costUsd,
    },
  };
}
