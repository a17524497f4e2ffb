import { LlmBlockedError } from '../domain/compliance/llm-gate.js';
import { narrativeWithoutModel, type Narrative } from '../domain/narratives.js';
import type { LlmRequest } from '../domain/llm/types.js';
import type { JobContext } from './define.js';
import type { JobDeps } from './deps.js';

/**
 * Asks the router for a narrative, or, while the `llm-narratives` flag is off, the local template
 * writer directly: no model is called and no routing decision is recorded. Throttling propagates
 * (the runner backs the queue off); any other failure has already fallen back to the local
 * provider inside the router.
 */
export async function narrate(deps: Pick<JobDeps, 'llm' | 'narratives'>, component: string, request: LlmRequest, ctx: JobContext): Promise<Narrative> {
  if (!(await deps.narratives.modelAllowed())) {
    return narrativeWithoutModel(deps.narratives.local, request, ctx.signal);
  }
  let a;
  try {
    a = await deps.llm.ask({ ...request, component }, { signal: ctx.signal });
  } catch (err) {
    // A critical compliance violation blocks every model: the job still reports, in the local template's words, saying why.
    if (err instanceof LlmBlockedError) {
      return narrativeWithoutModel(deps.narratives.local, request, ctx.signal, `Why no language model: ${err.message}`, 'compliance_blocked');
    }
    throw err;
  }
  return { text: a.text, path: a.path, model: a.model, reason: a.reason, latencyMs: Math.round(a.latencyMs), costUsd: a.costUsd };
}
