/**
 * The narrative of a gap's guidance: the router's text (operation `implementation`) over the
 * gap's redacted evidence and the rule-based guidance, kept in a cache for an hour so that reading
 * the same guidance again does not pay again. The rules answer on their own: whatever keeps the
 * narrative from being written (support mode off, the rate limit, every path throttled, a failure)
 * leaves it null with the reason, never the whole answer.
 */
import { LlmBlockedError } from '../compliance/llm-gate.js';
import { z } from 'zod';
import type { Target } from '../audit/inventory.js';
import { canonicalJson, sha256 } from '../audit-trail/canonical.js';
import { Redactor } from '../compliance/pii.js';
import type { LlmRouter } from '../llm/router.js';
import { llmPaths, LlmProviderError, LlmThrottledError, type LlmProvider, type LlmRequest } from '../llm/types.js';
import { narrativeSchema, narrativeSystemPrompt, narrativeWithoutModel } from '../narratives.js';
import type { RateLimiter } from '../rate-limit.js';
import type { SupportModeState } from '../support-mode/state.js';
import type { Guidance, GuidanceGap } from './guidance.js';

/** How long a narrative is kept. */
export const guidanceNarrativeTtlSeconds = 3_600;

/** A narrative as the cache keeps it: a job's narrative, with the path that wrote it among the router's. */
export const guidanceNarrativeSchema = narrativeSchema.extend({ path: z.enum(llmPaths) });
export type WrittenNarrative = z.infer<typeof guidanceNarrativeSchema>;

/**
 * Narratives by gap and by the hash of the request that wrote them (a port: `store/guidance.store.ts`
 * keeps them in Redis for {@link guidanceNarrativeTtlSeconds}). Another hash for the same gap is
 * another narrative: the evidence or the rules changed.
 */
export interface GuidanceNarrativeCache {
  get(gapId: string, requestHash: string): Promise<WrittenNarrative | null>;
  put(gapId: string, requestHash: string, narrative: WrittenNarrative): Promise<void>;
}

/** The narrative as the answer gives it: where it came from, and whether from the cache. */
export type GuidanceNarrative = WrittenNarrative & { cached: boolean };

export interface GuidanceNarrativeOutcome {
  narrative: GuidanceNarrative | null;
  /** Why there is no narrative; null when there is one. */
  error: string | null;
}

/** The component the router records as asking. */
export const guidanceComponent = 'implementation-support';

/**
 * The router's request: the gap (already redacted by `redactedGap`), its target and the rules'
 * guidance as facts, passed through the Redactor once more (free text of evidence and steps), so
 * nothing reaches a model, the cache key or a stored decision unredacted.
 */
export function guidanceNarrativeRequest(gap: GuidanceGap, target: Target | undefined, guidance: Guidance): LlmRequest {
  const facts = new Redactor().redactDeep({
    gap: { id: gap.id, title: gap.title, type: gap.type, severity: gap.severity, status: gap.status, source: gap.source, check: gap.check, components: gap.components, expected: gap.evidence.expected, observed: gap.evidence.observed },
    target: target === undefined ? null : { id: target.id, kind: target.kind, component: target.component, criticality: target.criticality },
    steps: guidance.steps,
    configurationChanges: guidance.configurationChanges,
    risks: guidance.risks,
    rollback: guidance.rollback,
  });
  return {
    operation: 'implementation',
    task: 'implementation-guidance',
    system: `${narrativeSystemPrompt} Explain how to close this gap: which step first and why, what to check before each change, how to tell it worked, and how to roll back. Name only the steps, settings and routes given.`,
    prompt: `Implementation guidance for gap ${gap.id} (${gap.type}, ${gap.severity}).`,
    facts,
  };
}

/** The hash a narrative is cached under: every part of the request, so changed evidence, rules or prompts write a new one. */
export function requestHashOf(request: LlmRequest): string {
  return sha256(canonicalJson({ operation: request.operation, task: request.task, system: request.system, prompt: request.prompt, facts: request.facts ?? null }));
}

export interface GuidanceNarrativeDeps {
  router: Pick<LlmRouter, 'ask'>;
  /** The local template writer, for narratives written without a model. */
  local: Pick<LlmProvider, 'complete'>;
  /** Whether a model may write narratives (the `llm-narratives` flag, read on every request). */
  modelAllowed: () => Promise<boolean>;
  supportMode: () => Promise<SupportModeState>;
  /** Questions per API key (`BSM_ASSIST_RATE_*`): a narrative not in the cache is one. */
  limiter: RateLimiter;
  cache: GuidanceNarrativeCache;
  /** Told of a failure that is not one of the expected refusals (to log it). */
  onFailure?: (err: unknown) => void;
}

const maxErrorText = 300;
const bounded = (text: string) => (text.length > maxErrorText ? `${text.slice(0, maxErrorText - 1)}…` : text);

/**
 * The narrative of a gap's guidance:
 * - `llm-narratives` off: the local template writer, no model, no cache, no question counted;
 * - support mode disabled or shut down: none (no model is asked while the operator is off);
 * - in the cache (same gap, same request hash): the cached one, nothing counted;
 * - else one question of `caller` against the rate limit, then the router; a narrative a model
 *   wrote is cached. The local writer's text (no remote path answered) is not: it costs nothing,
 *   and the next read gets a model's narrative as soon as one can answer.
 *
 * Whatever fails on the way (the router, a read of the flag, the cache or the limit) leaves the
 * narrative null with the reason: the guidance answers without it.
 */
export async function guidanceNarrative(deps: GuidanceNarrativeDeps, input: GuidanceNarrativeInput): Promise<GuidanceNarrativeOutcome> {
  try {
    return await narrate(deps, input);
  } catch (err) {
    return { narrative: null, error: failureText(err, deps.onFailure) };
  }
}

export interface GuidanceNarrativeInput {
  gapId: string;
  request: LlmRequest;
  /** The API key's name: whose questions the rate limit counts. */
  caller: string;
  /** Aborts the router's call (the client went away). */
  signal: AbortSignal;
}

async function narrate(deps: GuidanceNarrativeDeps, input: GuidanceNarrativeInput): Promise<GuidanceNarrativeOutcome> {
  const { request, signal } = input;
  if (!(await deps.modelAllowed())) {
    return { narrative: { ...(await narrativeWithoutModel(deps.local, request, signal)), path: 'local', cached: false }, error: null };
  }
  const state = await deps.supportMode();
  if (!state.flag.enabled) {
    return {
      narrative: null,
      error: state.emergency
        ? `support mode is in an emergency shutdown since ${state.emergency.at}: no model is asked until the bedrock-support flag is enabled again`
        : 'support mode is disabled: no model is asked until POST /admin/bedrock-support/enable',
    };
  }
  const hash = requestHashOf(request);
  const cached = await deps.cache.get(input.gapId, hash);
  if (cached) {
    return { narrative: { ...cached, cached: true }, error: null };
  }
  const limit = await deps.limiter.take(input.caller);
  if (!limit.allowed) {
    const seconds = Math.max(1, Math.ceil(limit.retryAfterMs / 1000));
    return { narrative: null, error: `rate_limited: API key ${input.caller} asked ${limit.limit} questions in the window of BSM_ASSIST_RATE_WINDOW_MS; ask again in ${seconds} s` };
  }
  const a = await deps.router.ask({ ...request, component: guidanceComponent }, { signal });
  const narrative: WrittenNarrative = { text: a.text, path: a.path, model: a.model, reason: a.reason, latencyMs: Math.round(a.latencyMs), costUsd: a.costUsd };
  if (narrative.path !== 'local') {
    try {
      await deps.cache.put(input.gapId, hash, narrative);
    } catch (err) {
      // The narrative is paid for and in hand: answer with it; only the next read pays again.
      deps.onFailure?.(err);
    }
  }
  return { narrative: { ...narrative, cached: false }, error: null };
}

function failureText(err: unknown, onFailure: ((err: unknown) => void) | undefined): string {
  if (err instanceof LlmThrottledError) {
    const after = err.retryAfterMs === undefined ? '' : `; ask again in ${Math.max(1, Math.ceil(err.retryAfterMs / 1000))} s`;
    return bounded(`throttled: every remote LLM path tried was throttled${after}`);
  }
  if (err instanceof Error && err.name === 'AbortError') {
    return 'aborted: the request was cancelled before the narrative was written';
  }
  if (err instanceof LlmBlockedError) {
    return bounded(`compliance_blocked: ${err.message}`);
  }
  onFailure?.(err);
  if (err instanceof LlmProviderError) {
    return bounded(`llm_failed: ${err.message}`);
  }
  return bounded(`failed: the narrative could not be written (${err instanceof Error ? `${err.name}: ${err.message}` : String(err)})`);
}
