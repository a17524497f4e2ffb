/**
 * The hybrid LLM router: the one way components reach a model.
 *
 * For each request: redact first (only the redacted request reaches any provider, and only
 * redacted text is stored), then try the operation's primary and fallback paths from the routing
 * matrix, then the local provider. A remote path is skipped when it is not configured, its region
 * is outside the residency policy, it is paid (`isPaidPath`) and a budget is exhausted, or its breaker is open.
 * Each call is aborted at the operation's latency budget (covering all tries; the primary leaves
 * `fallbackReserve` of it for a usable fallback). Failures and timeouts are breaker failures;
 * throttling is not, and when every path tried was throttled the router rethrows
 * `LlmThrottledError` so the worker can back its queue off. Every request is recorded as a decision.
 */
import { detectInjectionDeep } from '../compliance/prompt-injection.js';
import type { InjectionReport } from '../compliance/prompt-injection.js';
import { percentile } from '../stats.js';
import { untilAborted } from './abort.js';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type {
  DecisionAttempt,
  DecisionOutcome,
  DecisionStore,
  RoutingDecision,
  SkipCause,
} from './ports.js';
import { decisionOutcomes } from './ports.js';
import { isPaidPath } from './budget.js';
import type { Budget, BudgetStatus } from './budget.js';
import type { BreakerSnapshot, CircuitBreaker } from './circuit-breaker.js';
import { pathResidency, residencyReport } from './residency.js';
import type { PathResidency, ResidencySettings, ResidencyVerdict } from './residency.js';
import { remotePaths } from './routing-matrix.js';
import type { RemotePath, RouteSpec, RoutingMatrix } from './routing-matrix.js';
import { LlmProviderError, LlmThrottledError, llmPaths, operationTypes } from './types.js';
import type { LlmPath, LlmProvider, LlmRequest, OperationType, ProviderResult, TokenUsage } from './types.js';

/** What the PII redactor returns: the request to send, and how to put the originals back. */
export interface Redaction {
  request: LlmRequest;
  /** Replaces placeholders in a model's answer with the original values. */
  restore: (text: string) => string;
  /** Redactions made, by kind (e.g. `{ email: 2 }`). */
  counts: Record<string, number>;
}

/** A request as components hand it to the router. */
export type RoutedRequest = LlmRequest & {
  /** Runbook name of the asking component, e.g. `infrastructure-auditor`. */
  component: string;
};

/**
 * Where the data may go.
 * `region` is the Bedrock region of the `direct` path. The MCP path is an operator-run endpoint:
 * its residency is the operator's declaration, checked only when `mcpRegion` is given.
 */
export type RouterResidency = ResidencySettings;

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
export type RouteReason = (typeof routeReasons)[number];

/** The router's answer. */
export interface LlmAnswer {
  /** The model's text with redacted values restored. */
  text: string;
  /** The path that answered. */
  path: LlmPath;
  /** The primary path of the operation. */
  primary: RemotePath;
  /** True when the answer did not come from the primary path. */
  fallbackUsed: boolean;
  reason: RouteReason;
  /** A sentence saying which path answered and why the others did not. */
  explanation: string;
  model: string;
  usage: TokenUsage;
  costUsd: number;
  /** False when the model had no known price (see `priceCall`). */
  priceKnown: boolean;
  /** Measured duration of the whole request. */
  latencyMs: number;
  /** Latency budget of the operation. */
  budgetMs: number;
  withinBudget: boolean;
  decisionId: string;
  /** Every path considered, in order. */
  attempts: DecisionAttempt[];
  /** Prompt-injection markers found in the request's facts (untrusted data, sent fenced). */
  injection: InjectionReport;
}

/** The subset of a pino logger the router uses. */
export interface RouterLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

export interface LlmRouterDeps {
  providers: { direct?: LlmProvider; mcp?: LlmProvider; local: LlmProvider };
  matrix: RoutingMatrix;
  breaker: CircuitBreaker;
  budget: Budget;
  residency: RouterResidency;
  store: { decisions: DecisionStore };
  redact: (request: LlmRequest) => Redaction;
  /** Wall clock, epoch ms (decision times, metrics windows). Default `Date.now`. */
  clock?: () => number;
  /** Monotonic clock in ms for measuring latency. Default `performance.now`. */
  monotonic?: () => number;
  logger?: RouterLogger;
  /**
   * Share of an operation's latency budget kept back for the fallback: when a usable fallback
   * exists, the primary is aborted after `(1 - fallbackReserve) * budgetMs`. Default 0.3.
   */
  fallbackReserve?: number;
  /** How many characters of the REDACTED prompt each stored decision keeps (0 to 500). Default 200. */
  promptExcerptChars?: number;
}

/** Share of decisions served by their primary path, successfully and within the latency budget. */
export interface RoutingEfficiency {
  /** ISO 8601, UTC. */
  windowStart: string;
  windowEnd: string;
  /**
   * Decisions counted: all in the window except those the caller aborted and those answered
   * locally because no remote path is configured (there was no routing to judge).
   */
  decisions: number;
  /** Decisions in the window left out of the efficiency, by why. */
  notCounted: { aborted: number; noRemotePath: number };
  servedByPrimaryWithinBudget: number;
  /** 0..1; null when there were no decisions. */
  efficiency: number | null;
}

export interface PathMetrics {
  /** Calls actually made on this path (not skipped). */
  attempts: number;
  success: number;
  /** Failures including timeouts (not throttling, not caller aborts). */
  errors: number;
  timeouts: number;
  throttled: number;
  aborted: number;
  skipped: number;
  /** Decisions this path answered. */
  served: number;
  /** Nearest-rank percentiles of the measured call durations; null without calls. */
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
}

export interface OperationMetrics {
  decisions: number;
  servedByPrimaryWithinBudget: number;
  fallbackUsed: number;
  efficiency: number | null;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
}

export interface RoutingMetrics extends RoutingEfficiency {
  windowMs: number;
  /** All decisions in the window, aborted included. */
  totalDecisions: number;
  outcomes: Record<DecisionOutcome, number>;
  /** Share of answered decisions (success + fallback_local) not answered by the primary; null without any. */
  fallbackRate: number | null;
  /** Share of answered decisions within their latency budget; null without any. */
  withinBudgetRate: number | null;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  reasons: Record<string, number>;
  paths: Record<LlmPath, PathMetrics>;
  operations: Record<OperationType, OperationMetrics>;
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
}

/** A breaker's state as the health endpoint shows it: its times as ISO 8601 (UTC). */
export type BreakerView = Omit<BreakerSnapshot, 'openedAt' | 'retryAt' | 'lastSuccessAt' | 'lastErrorAt' | 'changedAt'> & {
  openedAt: string | null;
  retryAt: string | null;
  lastSuccessAt: string | null;
  lastErrorAt: string | null;
  changedAt: string | null;
};

const isoOrNull = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function breakerView(s: BreakerSnapshot): BreakerView {
  return {
    ...s,
    openedAt: isoOrNull(s.openedAt),
    retryAt: isoOrNull(s.retryAt),
    lastSuccessAt: isoOrNull(s.lastSuccessAt),
    lastErrorAt: isoOrNull(s.lastErrorAt),
    changedAt: isoOrNull(s.changedAt),
  };
}

/** One path, for the health endpoint. Times are ISO 8601 (UTC). */
export interface PathStatus {
  path: LlmPath;
  configured: boolean;
  model: string | null;
  /** null for `local` (it has no breaker). */
  breaker: BreakerView | null;
  /** Residency verdict; null when not checked (`local`, or `mcp` without `mcpRegion`). */
  residency: ResidencyVerdict | null;
  /** Why the router would skip this path right now, breaker aside; null when it would not. */
  refusedBecause: string | null;
  /** Configured, not refused and breaker not open. */
  available: boolean;
  lastSuccessAt: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
}

export interface LlmRouter {
  /**
   * Redacts the request, routes it (primary, fallback, then local) and returns the restored answer.
   * @throws LlmThrottledError when every remote path tried was throttled (back the queue off).
   * @throws an `AbortError` when `options.signal` aborts.
   * @throws LlmProviderError when even the local provider failed.
   */
  ask(request: RoutedRequest, options?: { signal?: AbortSignal }): Promise<LlmAnswer>;
  routingEfficiency(windowMs: number): Promise<RoutingEfficiency>;
  routingMetrics(windowMs: number): Promise<RoutingMetrics>;
  pathStatus(): Promise<PathStatus[]>;
  /** The newest stored decisions (redacted), newest first. */
  recentDecisions(limit: number): Promise<RoutingDecision[]>;
  /** Each path's residency verdict, as `ask` applies it (the compliance check reports the same). */
  residency(): PathResidency[];
}

const MAX_DETAIL_CHARS = 300;

function errorMessage(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, MAX_DETAIL_CHARS);
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') {
    return reason;
  }
  return new DOMException(`The LLM request was aborted by its caller: ${String(reason)}`, 'AbortError');
}


function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}

/** Whether a decision says anything about routing: not aborted by its caller, and a remote path existed. */
function countsForEfficiency(d: RoutingDecision): boolean {
  return d.outcome !== 'aborted' && d.reason !== 'no_remote_path';
}

function servedByPrimaryWithinBudget(d: RoutingDecision): boolean {
  return d.outcome === 'success' && d.path === d.primary && d.withinBudget;
}

function reasonFromPrimary(attempt: DecisionAttempt | undefined): RouteReason {
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

function describe(attempt: DecisionAttempt): string {
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

function emptyPathMetrics(): PathMetrics {
  return {
    attempts: 0,
    success: 0,
    errors: 0,
    timeouts: 0,
    throttled: 0,
    aborted: 0,
    skipped: 0,
    served: 0,
    p50LatencyMs: null,
    p95LatencyMs: null,
  };
}

export function createLlmRouter(deps: LlmRouterDeps): LlmRouter {
  const { providers, matrix, breaker, budget, residency, store, redact, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const monotonic = deps.monotonic ?? (() => performance.now());
  const fallbackReserve = deps.fallbackReserve ?? 0.3;
  if (!(fallbackReserve >= 0 && fallbackReserve < 1)) {
    throw new Error(`fallbackReserve must be in [0, 1), got ${fallbackReserve}`);
  }
  const excerptChars = Math.max(0, Math.min(deps.promptExcerptChars ?? 200, 500));

  const residencyOf = (path: RemotePath): ResidencyVerdict | null => pathResidency(path, residency, providers.direct?.model);

  function isPaid(path: RemotePath): boolean {
    const provider = providers[path];
    return provider !== undefined && isPaidPath(path, provider.model, budget.pricing);
  }

  /** Why `path` may not be called at all (configuration, residency, money); null when it may. */
  function refusal(path: RemotePath, budgetStatus: BudgetStatus | null): { cause: SkipCause; detail: string } | null {
    if (!providers[path]) {
      return { cause: 'not_configured', detail: `${path} is not configured` };
    }
    const verdict = residencyOf(path);
    if (verdict && !verdict.ok) {
      return { cause: 'region_not_allowed', detail: verdict.reason };
    }
    // Paid paths stop when the money is gone: `direct`, and `mcp` when its model has a price.
    if (budgetStatus?.exhausted === true && isPaidPath(path, providers[path].model, budget.pricing)) {
      return { cause: 'budget_exhausted', detail: budgetStatus.reason ?? 'the LLM budget is exhausted' };
    }
    return null;
  }

  async function ask(input: RoutedRequest, options: { signal?: AbortSignal } = {}): Promise<LlmAnswer> {
    const callerSignal = options.signal;
    if (callerSignal?.aborted) {
      throw abortError(callerSignal);
    }
    const { component, ...request } = input;
    const route: RouteSpec = matrix[request.operation];
    const at = clock();
    const t0 = monotonic();
    const elapsed = (): number => monotonic() - t0;
    const redaction = redact(request);
    const safe = redaction.request;
    // Facts carry outside text (logs, tickets, tool output): they travel fenced as data, and
    // markers of an injection attempt are flagged on the decision.
    const injection: InjectionReport = detectInjectionDeep(safe.facts);
    if (injection.flagged) {
      logger?.warn({ component, operation: request.operation, task: request.task, markers: injection.markers }, 'prompt-injection markers in LLM request facts');
    }
    const attempts: DecisionAttempt[] = [];
    const throttles: LlmThrottledError[] = [];
    const candidates: RemotePath[] = route.fallback === null ? [route.primary] : [route.primary, route.fallback];
    const budgetStatus = candidates.some((p) => isPaid(p)) ? await budget.status() : null;
    const refusals = new Map(candidates.map((p) => [p, refusal(p, budgetStatus)] as const));
    // Keep time back for the fallback only when it could actually be tried.
    let fallbackUsable = route.fallback !== null && refusals.get(route.fallback) === null;
    if (route.fallback !== null && fallbackUsable) {
      const snapshot = await breaker.snapshot(route.fallback);
      fallbackUsable = snapshot.retryAt === null;
    }
    const decisionId = randomUUID();

    async function record(
      outcome: DecisionOutcome,
      path: LlmPath | null,
      reason: RouteReason,
      result: { model: string; usage: TokenUsage; costUsd: number; priceKnown: boolean } | null,
      latencyMs: number,
    ): Promise<RoutingDecision> {
      const decision: RoutingDecision = {
        id: decisionId,
        at,
        component,
        operation: request.operation,
        task: request.task,
        primary: route.primary,
        fallback: route.fallback,
        path,
        reason,
        fallbackUsed: path !== null && path !== route.primary,
        latencyMs,
        budgetMs: route.budgetMs,
        withinBudget: latencyMs <= route.budgetMs,
        inputTokens: result?.usage.inputTokens ?? 0,
        outputTokens: result?.usage.outputTokens ?? 0,
        tokensEstimated: result?.usage.estimated === true,
        costUsd: result?.costUsd ?? 0,
        priceKnown: result?.priceKnown ?? true,
        model: result?.model ?? null,
        outcome,
        attempts,
        promptChars: safe.prompt.length,
        promptExcerpt: safe.prompt.slice(0, excerptChars),
        redactions: redaction.counts,
        injectionMarkers: injection.markers,
      };
      await store.decisions.append(decision);
      return decision;
    }

    async function aborted(signal: AbortSignal): Promise<never> {
      await record('aborted', null, 'aborted', null, elapsed());
      throw abortError(signal);
    }

    async function answer(path: LlmPath, result: ProviderResult, reason: RouteReason): Promise<LlmAnswer> {
      const latencyMs = elapsed();
      const priced = budget.price(path, result.model, result.usage);
      const explanation =
        reason === 'primary'
          ? `Answered by ${path}, the primary path for ${request.operation}.`
          : `Answered by ${path} instead of ${route.primary}: ` +
            attempts
              .filter((a) => a.result !== 'success')
              .map(describe)
              .join('; ') +
            '.';
      const costed = { model: result.model, usage: result.usage, ...priced };
      const [decision] = await Promise.all([
        record(path === 'local' ? 'fallback_local' : 'success', path, reason, costed, latencyMs),
        budget.record({ component, path, ...costed }),
      ]);
      const fields = { component, operation: request.operation, primary: route.primary, path, reason, decisionId };
      if (reason === 'no_remote_path') {
        // An install without Bedrock or MCP: expected, not a warning.
        logger?.info(fields, 'llm request answered locally: no remote path configured');
      } else if (reason !== 'primary') {
        logger?.warn(fields, 'llm request not served by its primary path');
      }
      return {
        text: path === 'local' ? withWhy(redaction.restore(result.text), explanation) : redaction.restore(result.text),
        path,
        primary: route.primary,
        fallbackUsed: decision.fallbackUsed,
        reason,
        explanation,
        model: result.model,
        usage: result.usage,
        costUsd: priced.costUsd,
        priceKnown: priced.priceKnown,
        latencyMs,
        budgetMs: route.budgetMs,
        withinBudget: decision.withinBudget,
        decisionId,
        attempts,
        injection,
      };
    }

    for (const path of candidates) {
      if (callerSignal?.aborted) {
        return aborted(callerSignal);
      }
      const isPrimary = path === route.primary;
      const refused = refusals.get(path) ?? null;
      if (refused) {
        attempts.push({ path, result: 'skipped', skipped: refused.cause, latencyMs: 0, detail: refused.detail });
        continue;
      }
      const provider = providers[path];
      if (!provider) {
        continue; // refusal() already reported it as not configured
      }
      const timeoutMs = Math.floor(route.budgetMs - elapsed() - (isPrimary && fallbackUsable ? fallbackReserve * route.budgetMs : 0));
      if (timeoutMs <= 0) {
        attempts.push({
          path,
          result: 'skipped',
          skipped: 'latency_budget_spent',
          latencyMs: 0,
          detail: `the ${route.budgetMs} ms latency budget was spent`,
        });
        continue;
      }
      const pass = await breaker.canPass(path);
      if (!pass.allowed) {
        attempts.push({
          path,
          result: 'skipped',
          skipped: 'breaker_open',
          latencyMs: 0,
          detail: pass.state === 'open' ? 'circuit breaker is open' : 'circuit breaker is half-open and its trial call is in flight',
        });
        continue;
      }
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
      const started = monotonic();
      let result: ProviderResult;
      try {
        result = await untilAborted(provider.complete(safe, signal), signal);
      } catch (error) {
        const latencyMs = monotonic() - started;
        if (callerSignal?.aborted) {
          attempts.push({ path, result: 'aborted', skipped: null, latencyMs, detail: null });
          await breaker.release(path, pass.trial);
          return aborted(callerSignal);
        }
        if (error instanceof LlmThrottledError) {
          // Throttling says nothing about the path's health: not a breaker failure.
          attempts.push({ path, result: 'throttled', skipped: null, latencyMs, detail: errorMessage(error) });
          throttles.push(error);
          await breaker.release(path, pass.trial);
        } else if (timeout.aborted) {
          const detail = `no answer within ${timeoutMs} ms`;
          attempts.push({ path, result: 'timeout', skipped: null, latencyMs, detail });
          await breaker.recordFailure(path, detail);
        } else {
          const detail = errorMessage(error);
          attempts.push({ path, result: 'failed', skipped: null, latencyMs, detail });
          await breaker.recordFailure(path, detail);
        }
        continue;
      }
      attempts.push({ path, result: 'success', skipped: null, latencyMs: monotonic() - started, detail: null });
      await breaker.recordSuccess(path, pass.trial);
      return answer(path, result, isPrimary ? 'primary' : reasonFromPrimary(attempts[0]));
    }

    const called = attempts.filter((a) => a.result !== 'skipped');
    if (called.length > 0 && called.every((a) => a.result === 'throttled')) {
      const retries = throttles.map((t) => t.retryAfterMs).filter((ms): ms is number => ms !== undefined);
      await record('throttled', null, 'all_throttled', null, elapsed());
      throw new LlmThrottledError(
        throttles[0]?.path ?? route.primary,
        `every remote path tried was throttled (${called.map((a) => a.path).join(', ')})`,
        retries.length > 0 ? Math.max(...retries) : undefined,
      );
    }

    const reason: RouteReason = candidates.every((p) => !providers[p]) ? 'no_remote_path' : reasonFromPrimary(attempts[0]);
    const started = monotonic();
    let result: ProviderResult;
    try {
      result = await untilAborted(providers.local.complete(safe, callerSignal ?? new AbortController().signal), callerSignal);
    } catch (error) {
      if (callerSignal?.aborted) {
        attempts.push({ path: 'local', result: 'aborted', skipped: null, latencyMs: monotonic() - started, detail: null });
        return aborted(callerSignal);
      }
      const detail = errorMessage(error);
      attempts.push({ path: 'local', result: 'failed', skipped: null, latencyMs: monotonic() - started, detail });
      await record('error', null, 'local_failed', null, elapsed());
      throw new LlmProviderError('local', `no provider could answer: ${attempts.map(describe).join('; ')}`, {
        cause: error,
      });
    }
    attempts.push({ path: 'local', result: 'success', skipped: null, latencyMs: monotonic() - started, detail: null });
    return answer('local', result, reason);
  }

  async function decisionsIn(windowMs: number): Promise<{ from: number; to: number; decisions: RoutingDecision[] }> {
    if (!(windowMs > 0)) {
      throw new RangeError(`windowMs must be positive, got ${windowMs}`);
    }
    const to = clock();
    const from = to - windowMs;
    return { from, to, decisions: await store.decisions.range(from, to) };
  }

  function efficiencyOf(from: number, to: number, decisions: readonly RoutingDecision[]): RoutingEfficiency {
    const counted = decisions.filter(countsForEfficiency);
    const served = counted.filter(servedByPrimaryWithinBudget).length;
    return {
      windowStart: new Date(from).toISOString(),
      windowEnd: new Date(to).toISOString(),
      decisions: counted.length,
      notCounted: { aborted: decisions.filter((d) => d.outcome === 'aborted').length, noRemotePath: decisions.filter((d) => d.outcome !== 'aborted' && d.reason === 'no_remote_path').length },
      servedByPrimaryWithinBudget: served,
      efficiency: ratio(served, counted.length),
    };
  }

  return {
    ask,
    residency: () => residencyReport(residency, providers.direct?.model),

    async routingEfficiency(windowMs) {
      const { from, to, decisions } = await decisionsIn(windowMs);
      return efficiencyOf(from, to, decisions);
    },

    async routingMetrics(windowMs) {
      const { from, to, decisions } = await decisionsIn(windowMs);
      const outcomes = Object.fromEntries(decisionOutcomes.map((o) => [o, 0])) as Record<DecisionOutcome, number>;
      const reasons: Record<string, number> = {};
      const paths = Object.fromEntries(llmPaths.map((p) => [p, emptyPathMetrics()])) as Record<LlmPath, PathMetrics>;
      const pathLatencies: Record<LlmPath, number[]> = { direct: [], mcp: [], local: [] };
      let costUsd = 0;
      let inputTokens = 0;
      let outputTokens = 0;
      for (const d of decisions) {
        outcomes[d.outcome] += 1;
        reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
        costUsd += d.costUsd;
        inputTokens += d.inputTokens;
        outputTokens += d.outputTokens;
        if (d.path !== null) {
          paths[d.path].served += 1;
        }
        for (const a of d.attempts) {
          const m = paths[a.path];
          switch (a.result) {
            case 'skipped':
              m.skipped += 1;
              continue;
            case 'success':
              m.success += 1;
              break;
            case 'failed':
              m.errors += 1;
              break;
            case 'timeout':
              m.errors += 1;
              m.timeouts += 1;
              break;
            case 'throttled':
              m.throttled += 1;
              break;
            case 'aborted':
              m.aborted += 1;
              break;
          }
          m.attempts += 1;
          pathLatencies[a.path].push(a.latencyMs);
        }
      }
      for (const p of llmPaths) {
        paths[p].p50LatencyMs = percentile(pathLatencies[p], 50);
        paths[p].p95LatencyMs = percentile(pathLatencies[p], 95);
      }
      const operations = Object.fromEntries(
        operationTypes.map((op) => {
          const mine = decisions.filter((d) => d.operation === op);
          const counted = mine.filter(countsForEfficiency);
          const served = counted.filter(servedByPrimaryWithinBudget).length;
          const latencies = mine.map((d) => d.latencyMs);
          const metrics: OperationMetrics = {
            decisions: counted.length,
            servedByPrimaryWithinBudget: served,
            fallbackUsed: mine.filter((d) => d.fallbackUsed).length,
            efficiency: ratio(served, counted.length),
            p50LatencyMs: percentile(latencies, 50),
            p95LatencyMs: percentile(latencies, 95),
          };
          return [op, metrics];
        }),
      ) as Record<OperationType, OperationMetrics>;
      const answered = decisions.filter((d) => d.outcome === 'success' || d.outcome === 'fallback_local');
      const latencies = decisions.map((d) => d.latencyMs);
      return {
        ...efficiencyOf(from, to, decisions),
        windowMs,
        totalDecisions: decisions.length,
        outcomes,
        fallbackRate: ratio(answered.filter((d) => d.fallbackUsed).length, answered.length),
        withinBudgetRate: ratio(answered.filter((d) => d.withinBudget).length, answered.length),
        p50LatencyMs: percentile(latencies, 50),
        p95LatencyMs: percentile(latencies, 95),
        reasons,
        paths,
        operations,
        costUsd,
        inputTokens,
        outputTokens,
      };
    },

    async pathStatus() {
      const budgetStatus = remotePaths.some((p) => isPaid(p)) ? await budget.status() : null;
      const remote = await Promise.all(
        remotePaths.map(async (path): Promise<PathStatus> => {
          const snapshot = await breaker.snapshot(path);
          const provider = providers[path];
          const refused = refusal(path, budgetStatus);
          return {
            path,
            configured: provider !== undefined,
            model: provider?.model ?? null,
            breaker: breakerView(snapshot),
            residency: residencyOf(path),
            refusedBecause: refused?.detail ?? null,
            // Open, or half-open with another caller's trial in flight: calls are skipped until retryAt.
            available: refused === null && snapshot.retryAt === null,
            lastSuccessAt: isoOrNull(snapshot.lastSuccessAt),
            lastError: snapshot.lastError,
            lastErrorAt: isoOrNull(snapshot.lastErrorAt),
          };
        }),
      );
      const local: PathStatus = {
        path: 'local',
        configured: true,
        model: providers.local.model,
        breaker: null,
        residency: null,
        refusedBecause: null,
        available: true,
        lastSuccessAt: null,
        lastError: null,
        lastErrorAt: null,
      };
      return [...remote, local];
    },

    async recentDecisions(limit) {
      return store.decisions.recent(limit);
    },
  };
}

/**
 * A local answer says why it is local right under its banner line: a reader of a stored narrative
 * sees "budget exhausted" or "direct is down" without looking up the routing decision.
 */
function withWhy(localText: string, explanation: string): string {
  const newline = localText.indexOf('\n');
  const why = `Why no language model: ${explanation}`;
  return newline === -1 ? `${localText}\n${why}` : `${localText.slice(0, newline)}\n${why}${localText.slice(newline)}`;
}
