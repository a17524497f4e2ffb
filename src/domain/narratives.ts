import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { LlmProvider, LlmRequest } from './llm/types.js';
import type { AnalysisBody } from './meta-monitor/analysis.js';
import type { DailyCheckResult } from './support-mode/daily-check.js';
import type { WeeklyReviewResult } from './support-mode/weekly-review-result.js';

/** What a stored result keeps of the narrative it was given. */
export const narrativeSchema = z.object({
  text: z.string(),
  path: z.string(),
  model: z.string(),
  reason: z.string(),
  latencyMs: z.number(),
  costUsd: z.number(),
});
export type Narrative = z.infer<typeof narrativeSchema>;

/** The reason a narrative gives when the `llm-narratives` flag kept the model out. */
export const narrativesOffReason = 'llm_narratives_off';

const whyLocal = 'Why no language model: the llm-narratives feature flag is off (POST /admin/feature-flags/llm-narratives/enable turns it back on).';

/**
 * The narrative the local template writer gives while the `llm-narratives` flag is off: no model
 * is called and no routing decision is recorded. Its second line says why, as the router's local
 * answers do.
 */
export async function narrativeWithoutModel(local: Pick<LlmProvider, 'complete'>, request: LlmRequest, signal: AbortSignal): Promise<Narrative> {
  const started = performance.now();
  const written = await local.complete(request, signal);
  const [banner, ...rest] = written.text.split('\n');
  return { text: [banner, whyLocal, ...rest].join('\n'), path: 'local', model: written.model, reason: narrativesOffReason, latencyMs: Math.round(performance.now() - started), costUsd: 0 };
}

/** What every narrative request tells the model about its reader and its limits. */
export const narrativeSystemPrompt =
  'You are Bedrock Support Mode, a secondary operator beside a primary AI agent. Write for an on-call engineer: ' +
  'plain sentences, at most 150 words, no headings. Use only the facts given; never invent numbers, hosts or causes. ' +
  'If the facts show nothing wrong, say so in one sentence.';

export function executionNarrativeRequest(a: AnalysisBody): LlmRequest {
  return {
    operation: 'meta_monitor',
    task: 'execution-analysis-narrative',
    system: `${narrativeSystemPrompt} Summarise this analysis of an AI agent's executions: failure clusters, bottlenecks, degradations, what to look at first.`,
    prompt: `Executions (${a.source}) between ${a.window.from} and ${a.window.to}.`,
    // Cluster templates come from redacted messages; the rest are counts, names and times.
    facts: {
      executions: a.executions,
      successRate: a.successRate,
      latencyMs: a.latencyMs,
      healthScore: a.healthScore.score,
      failureClusters: a.clusters.slice(0, 10).map((c) => ({ template: c.template, count: c.count, share: c.share, operations: c.operations.slice(0, 5) })),
      bottlenecks: a.bottlenecks.slice(0, 10),
      degradations: a.degradations.slice(0, 10),
      recommendations: a.recommendations.slice(0, 10).map((r) => r.title),
    },
  };
}

export function dailyCheckNarrativeRequest(r: DailyCheckResult & { verdict?: { result: 'pass' | 'fail'; reasons: string[]; warnings: string[] } }): LlmRequest {
  return {
    operation: 'standard',
    task: 'daily-check-narrative',
    system: `${narrativeSystemPrompt} This is the Morning Support Mode Check.`,
    prompt: `Daily check at ${r.checkedAt}: ${r.verdict === undefined ? r.status : r.verdict.result}.`,
    facts: { status: r.status, verdict: r.verdict ?? null, problems: r.problems, queues: r.queues, redisLatencyMs: r.redisLatencyMs },
  };
}

export function weeklyReviewNarrativeRequest(r: WeeklyReviewResult): LlmRequest {
  return {
    operation: 'background',
    task: 'weekly-review-narrative',
    system: `${narrativeSystemPrompt} This is the Weekly Support Mode Review: trends and recurring problems.`,
    prompt: `Week from ${r.from} to ${r.to}.`,
    facts: { dailyChecks: r.dailyChecks, verdicts: r.verdicts, queues: r.queues, gaps: r.gaps, remediation: r.remediation, backlog: r.backlog, llmCost: r.llmCost, suggestions: r.suggestions },
  };
}
