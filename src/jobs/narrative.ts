import { performance } from 'node:perf_hooks';
import type { LlmRequest } from '../domain/llm/types.js';
import type { Narrative } from '../domain/narratives.js';
import type { JobContext } from './define.js';
import type { JobDeps } from './deps.js';

/** The reason a narrative gives when the `llm-narratives` flag kept the model out. */
export const narrativesOffReason = 'llm_narratives_off';

const whyLocal = 'Why no language model: the llm-narratives feature flag is off (POST /admin/feature-flags/llm-narratives/enable turns it back on).';

/**
 * Asks the router for a narrative, or, while the `llm-narratives` flag is off, the local template
 * writer directly: no model is called and no routing decision is recorded. Throttling propagates
 * (the runner backs the queue off); any other failure has already fallen back to the local
 * provider inside the router.
 */
export async function narrate(deps: Pick<JobDeps, 'llm' | 'narratives'>, component: string, request: LlmRequest, ctx: JobContext): Promise<Narrative> {
  if (!(await deps.narratives.modelAllowed())) {
    const started = performance.now();
    const local = await deps.narratives.local.complete(request, ctx.signal);
    // The second line says why, as the router's local answers do.
    const [banner, ...rest] = local.text.split('\n');
    return { text: [banner, whyLocal, ...rest].join('\n'), path: 'local', model: local.model, reason: narrativesOffReason, latencyMs: Math.round(performance.now() - started), costUsd: 0 };
  }
  const a = await deps.llm.ask({ ...request, component }, { signal: ctx.signal });
  return { text: a.text, path: a.path, model: a.model, reason: a.reason, latencyMs: Math.round(a.latencyMs), costUsd: a.costUsd };
}
