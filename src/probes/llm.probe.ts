/**
 * The `llm` kind: a remote LLM path is configured, sends prompts only where residency allows, has
 * its circuit breaker closed, and answers a minimal request within its latency budget. The request
 * is made only when the router itself would call the path (`refusedBecause` is null): the probe
 * never sends a prompt where the router would not.
 */
import type { TargetOf } from '../domain/audit/inventory.js';
import type { Observation } from '../domain/audit/probe.js';
import type { PathStatus } from '../domain/llm/path-status.js';
import type { RemotePath } from '../domain/llm/routing-matrix.js';
import { causeOf, describeError, describeTarget, latencyObservation, observation, type Findings, type ProbeContext } from './findings.js';

/** What the `llm` kind needs of the LLM layer. */
export interface LlmProbeDeps {
  llm: {
    /** Every path as the router sees it now (the router's `pathStatus`). */
    pathStatus: () => Promise<PathStatus[]>;
    /**
     * One minimal request on `path` alone (no fallback, no other path), aborted with `signal`;
     * resolves with its measured latency, rejects when the path did not answer.
     */
    ping: (path: RemotePath, signal: AbortSignal) => Promise<{ latencyMs: number }>;
  };
}

export async function probeLlm(target: TargetOf<'llm'>, deps: LlmProbeDeps, ctx: ProbeContext): Promise<Findings> {
  const what = describeTarget(target);
  const status = (await deps.llm.pathStatus()).find((p) => p.path === target.path);
  if (status === undefined || !status.configured) {
    return {
      reach: { reachable: false, cause: 'not_configured', detail: `the ${target.path} path is not configured` },
      observations: [observation('configured', `${what} is configured`, 'configured', 'not configured', false, 'missing_implementation')],
    };
  }
  const observations: Observation[] = [
    observation('configured', `${what} is configured`, 'configured', status.model === null ? 'configured' : `configured (model ${status.model})`, true, 'missing_implementation'),
    residencyObservation(what, status),
    breakerObservation(what, status),
  ];
  if (status.refusedBecause !== null) {
    observations.push(observation('answers', `${what} answers a minimal request`, 'an answer', `not asked: the router refuses the path (${status.refusedBecause})`, false, 'broken_integration'));
    return { reach: { reachable: false, cause: 'other', detail: status.refusedBecause }, observations };
  }
  let latencyMs: number;
  try {
    ({ latencyMs } = await deps.llm.ping(target.path, ctx.signal));
  } catch (err) {
    const detail = describeError(err);
    observations.push(observation('answers', `${what} answers a minimal request`, 'an answer', `no answer: ${detail}`, false, 'broken_integration'));
    return { reach: { reachable: false, cause: causeOf(err), detail }, observations };
  }
  observations.push(
    observation('answers', `${what} answers a minimal request`, 'an answer', 'answered', true, 'broken_integration'),
    latencyObservation(what, latencyMs, target.latencyBudgetMs),
  );
  return { reach: { reachable: true }, observations };
}

function residencyObservation(what: string, status: PathStatus): Observation {
  const title = `${what} sends prompts only to a region inside the allow-list`;
  const expected = 'a region inside the allow-list';
  const verdict = status.residency;
  if (verdict === null) {
    return observation('residency', title, expected, 'unknown: no region is declared for this path', false, 'security_vulnerability');
  }
  return observation('residency', title, expected, verdict.ok ? `${verdict.region} (${verdict.basis})` : verdict.reason, verdict.ok, 'security_vulnerability');
}

function breakerObservation(what: string, status: PathStatus): Observation {
  const breaker = status.breaker;
  const title = `The circuit breaker of ${what} is closed`;
  if (breaker === null) {
    return observation('breaker', title, 'closed', 'no breaker', true, 'broken_integration');
  }
  const failures = `${breaker.consecutiveFailures} consecutive failure${breaker.consecutiveFailures === 1 ? '' : 's'}`;
  const observed = breaker.state === 'closed' ? 'closed' : `${breaker.state.replace('_', '-')}${breaker.openedAt === null ? '' : ` since ${breaker.openedAt}`} (${failures})`;
  return observation('breaker', title, 'closed', observed, breaker.state === 'closed', 'broken_integration');
}
