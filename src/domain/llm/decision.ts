/**
 * What a routed request leaves behind: the reason its answer came from where it came from, the
 * sentence explaining it, and the stored {@link RoutingDecision} (redacted text only).
 */
import type { InjectionReport } from '../compliance/prompt-injection.js';
import type { DecisionAttempt, DecisionOutcome, RoutingDecision } from './ports.js';
import type { RouteSpec } from './routing-matrix.js';
import type { LlmPath, LlmRequest, TokenUsage } from './types.js';

/** Why the answer came from the path it came from. */
export const routeReasons = [
  'primary',
  'primary_unavailable',
  'primary_breaker_open',
  'region_not_allowed',
  'budget_exhausted',
  'primary_failed',
  'primary_timeout',
  'primary_throttled',
  'no_remote_path',
  'all_throttled',
  'aborted',
  'local_failed',
] as const;
/** One of {@link routeReasons}. */
export type RouteReason = (typeof routeReasons)[number];

/** What the PII redactor returns: the request to send, and how to put the originals back. */
export interface Redaction {
  request: LlmRequest;
  /** Replaces placeholders in a model's answer with the original values. */
  restore: (text: string) => string;
  /** Redactions made, by kind (e.g. `{ email: 2 }`). */
  counts: Record<string, number>;
}

/** One request while it is routed: what was asked (redacted), and every path tried so far. */
export interface Exchange {
  id: string;
  /** Wall-clock time the request arrived, epoch ms. */
  at: number;
  component: string;
  /** The request as the component gave it (never stored, never sent). */
  request: LlmRequest;
  redaction: Redaction;
  /** The redacted request: the only one providers see. */
  safe: LlmRequest;
  injection: InjectionReport;
  route: RouteSpec;
  /** Milliseconds since the request arrived, on the monotonic clock. */
  elapsed: () => number;
  attempts: DecisionAttempt[];
}

/** An answer's model, usage and price. */
export interface CostedResult {
  model: string;
  usage: TokenUsage;
  costUsd: number;
  priceKnown: boolean;
}

/** How the request ended. `path` and `result` are null when no path answered. */
export interface Ending {
  outcome: DecisionOutcome;
  path: LlmPath | null;
  reason: RouteReason;
  result: CostedResult | null;
  latencyMs: number;
}

/** The decision to store for `exchange`, keeping the first `excerptChars` of the redacted prompt. */
export function decisionOf(exchange: Exchange, ending: Ending, excerptChars: number): RoutingDecision {
  const { route, safe } = exchange;
  const { result } = ending;
  return {
    id: exchange.id,
    at: exchange.at,
    component: exchange.component,
    operation: exchange.request.operation,
    task: exchange.request.task,
    primary: route.primary,
    fallback: route.fallback,
    path: ending.path,
    reason: ending.reason,
    fallbackUsed: ending.path !== null && ending.path !== route.primary,
    latencyMs: ending.latencyMs,
    budgetMs: route.budgetMs,
    withinBudget: ending.latencyMs <= route.budgetMs,
    inputTokens: result?.usage.inputTokens ?? 0,
    outputTokens: result?.usage.outputTokens ?? 0,
    tokensEstimated: result?.usage.estimated === true,
    costUsd: result?.costUsd ?? 0,
    priceKnown: result?.priceKnown ?? true,
    model: result?.model ?? null,
    outcome: ending.outcome,
    attempts: exchange.attempts,
    promptChars: safe.prompt.length,
    promptExcerpt: safe.prompt.slice(0, excerptChars),
    redactions: exchange.redaction.counts,
    injectionMarkers: exchange.injection.markers,
  };
}

/** The reason a non-primary answer gives, from how the primary (the first attempt) fared. */
export function reasonFromPrimary(attempt: DecisionAttempt | undefined): RouteReason {
  if (!attempt) {
    return 'primary_unavailable';
  }
  switch (attempt.result) {
    case 'success':
      return 'primary';
    case 'failed':
      return 'primary_failed';
    case 'timeout':
      return 'primary_timeout';
    case 'throttled':
      return 'primary_throttled';
    case 'aborted':
      return 'aborted';
    case 'skipped':
      switch (attempt.skipped) {
        case 'not_configured':
        case null:
          return 'primary_unavailable';
        case 'region_not_allowed':
          return 'region_not_allowed';
        case 'budget_exhausted':
          return 'budget_exhausted';
        case 'breaker_open':
          return 'primary_breaker_open';
        case 'latency_budget_spent':
          return 'primary_timeout';
      }
  }
}

/** One attempt as a clause of an explanation. */
export function describeAttempt(attempt: DecisionAttempt): string {
  switch (attempt.result) {
    case 'success':
      return `${attempt.path} answered`;
    case 'failed':
      return `${attempt.path} failed (${attempt.detail ?? 'unknown error'})`;
    case 'timeout':
      return `${attempt.path} timed out after ${Math.round(attempt.latencyMs)} ms`;
    case 'throttled':
      return `${attempt.path} was throttled`;
    case 'aborted':
      return `${attempt.path} was aborted by the caller`;
    case 'skipped':
      return `${attempt.path} was skipped: ${attempt.detail ?? attempt.skipped ?? 'unavailable'}`;
  }
}

/** The sentence saying which path answered and why the ones before it did not. */
export function explanationOf(exchange: Exchange, path: LlmPath, reason: RouteReason): string {
  if (reason === 'primary') {
    return `Answered by ${path}, the primary path for ${exchange.request.operation}.`;
  }
  const others = exchange.attempts.filter((a) => a.result !== 'success').map(describeAttempt);
  return `Answered by ${path} instead of ${exchange.route.primary}: ${others.join('; ')}.`;
}

/**
 * A local answer says why it is local right under its banner line: a reader of a stored narrative
 * sees "budget exhausted" or "direct is down" without looking up the routing decision.
 */
export function withWhy(localText: string, explanation: string): string {
  const newline = localText.indexOf('\n');
  const why = `Why no language model: ${explanation}`;
  return newline === -1 ? `${localText}\n${why}` : `${localText.slice(0, newline)}\n${why}${localText.slice(newline)}`;
}
