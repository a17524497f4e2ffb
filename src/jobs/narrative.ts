import type { LlmRouter } from '../domain/llm/router.js';
import type { LlmRequest } from '../domain/llm/types.js';
import type { Narrative } from '../domain/narratives.js';
import type { JobContext } from './define.js';

/**
 * Asks the router for a narrative. Throttling propagates (the runner backs the queue
 * off); any other failure has already fallen back to the local provider inside the router.
 */
export async function narrate(llm: Pick<LlmRouter, 'ask'>, component: string, request: LlmRequest, ctx: JobContext): Promise<Narrative> {
  const a = await llm.ask({ ...request, component }, { signal: ctx.signal });
  return { text: a.text, path: a.path, model: a.model, reason: a.reason, latencyMs: Math.round(a.latencyMs), costUsd: a.costUsd };
}
