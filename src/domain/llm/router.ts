/**
 * The hybrid LLM router: the one way components reach a model.
 *
 * For each request: redact first (only the redacted request reaches any provider, and only
 * redacted text is stored), then try the operation's primary and fallback paths from the routing
 * matrix (or the operation's routing override, `routing-overrides.ts`), then the local provider. A remote path is skipped when it is not configured, its region
 * is outside the residency policy, it is paid (`isPaidPath`) and a budget is exhausted, or its breaker is open.
 * Each call is aborted at the operation's latency budget (covering all tries; the primary leaves
 * `fallbackReserve` of it for a usable fallback). Failures and timeouts are breaker failures;
 * throttling is not, and when every path tried was throttled the router rethrows
 * `LlmThrottledError` so the worker can back its queue off. Every request is recorded as a decision.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LlmBlockedError } from '../compliance/llm-gate.js';
import { detectInjectionDeep } from '../compliance/prompt-injection.js';
import { decisionOf, describeAttempt, explanationOf, reasonFromPrimary, withWhy } from './decision.js';
import type { Ending, Exchange, RouteReason } from './decision.js';
import { createPathPolicy } from './path-policy.js';
import type { Refusal } from './path-policy.js';
import { readPathStatus } from './path-status.js';
import type { RoutingDecision, RoutingTally } from './ports.js';
import { callProvider, calledAttempt, errorDetail, skippedAttempt } from './provider-call.js';
import { residencyReport } from './residency.js';
import type { RemotePath, RouteSpec } from './routing-matrix.js';
import { effectiveRoute } from './routing-overrides.js';
import type { LlmAnswer, LlmRouter, LlmRouterDeps, RoutedRequest } from './router-types.js';
import { efficiencyFrom, metricsFrom } from './routing-metrics.js';
import { LlmProviderError, LlmThrottledError } from './types.js';
import type { LlmPath, ProviderResult } from './types.js';

export { routeReasons } from './decision.js';
export type { Redaction, RouteReason } from './decision.js';
export type { BreakerView, PathStatus } from './path-status.js';
export type { OperationMetrics, PathMetrics, RoutingEfficiency, RoutingMetrics } from './routing-metrics.js';
export type { LlmAnswer, LlmRouter, LlmRouterDeps, RoutedRequest, RouterLogger, RouterResidency } from './router-types.js';

/** The remote paths a request may try, and what is known about them before the first call. */
interface PathPlan {
  candidates: RemotePath[];
  refusals: Map<RemotePath, Refusal | null>;
  /** Whether the fallback could be tried: only then is time kept back for it. */
  fallbackUsable: boolean;
}

/** How trying one remote path ended. */
type RemoteOutcome =
  | { kind: 'answered'; result: ProviderResult }
  | { kind: 'aborted'; signal: AbortSignal }
  | { kind: 'throttled'; error: LlmThrottledError }
  | { kind: 'no_answer' };

const noAnswer: RemoteOutcome = { kind: 'no_answer' };

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'AbortError') {
    return reason;
  }
  return new DOMException(`The LLM request was aborted by its caller: ${String(reason)}`, 'AbortError');
}

/** Builds the router over its providers, breakers, budget and decision store (see the module comment). */
export function createLlmRouter(deps: LlmRouterDeps): LlmRouter {
  const { providers, matrix, breaker, budget, residency, store, redact, logger } = deps;
  const clock = deps.clock ?? Date.now;
  const monotonic = deps.monotonic ?? (() => performance.now());
  const fallbackReserve = deps.fallbackReserve ?? 0.3;
  if (!(fallbackReserve >= 0 && fallbackReserve < 1)) {
    throw new Error(`fallbackReserve must be in [0, 1), got ${fallbackReserve}`);
  }
  const excerptChars = Math.max(0, Math.min(deps.promptExcerptChars ?? 200, 500));
  const policy = createPathPolicy(providers, residency, budget);

  async function ask(input: RoutedRequest, options: { signal?: AbortSignal } = {}): Promise<LlmAnswer> {
    const signal = options.signal;
    if (signal?.aborted) {
      throw abortError(signal);
    }
    const blocked = deps.gate ? await deps.gate.violations() : [];
    if (blocked.length > 0) {
      logger?.warn({ component: input.component, operation: input.operation, task: input.task, violations: blocked.map((v) => v.check) }, 'llm request refused: critical compliance violation');
      throw new LlmBlockedError(blocked);
    }
    const overrides = deps.overrides ? (await deps.overrides.current()).routes : {};
    const exchange = prepare(input, effectiveRoute(matrix, overrides, input.operation));
    const plan = await planPaths(exchange);
    const throttles: LlmThrottledError[] = [];
    for (const path of plan.candidates) {
      if (signal?.aborted) {
        return abandon(exchange, signal);
      }
      const outcome = await tryRemote(exchange, plan, path, signal);
      switch (outcome.kind) {
        case 'answered':
          return finish(exchange, path, outcome.result, path === exchange.route.primary ? 'primary' : reasonFromPrimary(exchange.attempts[0]));
        case 'aborted':
          return abandon(exchange, outcome.signal);
        case 'throttled':
          throttles.push(outcome.error);
          break;
        case 'no_answer':
          break;
      }
    }
    await throwIfAllThrottled(exchange, throttles);
    const reason: RouteReason = plan.candidates.every((p) => !providers[p]) ? 'no_remote_path' : reasonFromPrimary(exchange.attempts[0]);
    return answerLocally(exchange, reason, signal);
  }

  /** Redacts the request and scans its facts for injection markers. */
  function prepare(input: RoutedRequest, route: RouteSpec): Exchange {
    const { component, ...request } = input;
    const at = clock();
    const t0 = monotonic();
    const redaction = redact(request);
    const safe = redaction.request;
    // Facts carry outside text (logs, tickets, tool output): they travel fenced as data, and
    // markers of an injection attempt are flagged on the decision.
    const injection = detectInjectionDeep(safe.facts);
    if (injection.flagged) {
      logger?.warn({ component, operation: request.operation, task: request.task, markers: injection.markers }, 'prompt-injection markers in LLM request facts');
    }
    return { id: randomUUID(), at, component, request, redaction, safe, injection, route, elapsed: () => monotonic() - t0, attempts: [] };
  }

  /** The primary and the fallback, and which of them may be called at all. */
  async function planPaths(exchange: Exchange): Promise<PathPlan> {
    const { primary, fallback } = exchange.route;
    const candidates = fallback === null ? [primary] : [primary, fallback];
    const budgetStatus = await policy.budgetStatusFor(candidates);
    const refusals = new Map(candidates.map((p) => [p, policy.refusal(p, budgetStatus)] as const));
    const fallbackUsable = fallback !== null && refusals.get(fallback) === null && (await breaker.snapshot(fallback)).retryAt === null;
    return { candidates, refusals, fallbackUsable };
  }

  /** One remote path: refused, out of time, held by its breaker, or called within what is left of the budget. */
  async function tryRemote(exchange: Exchange, plan: PathPlan, path: RemotePath, signal: AbortSignal | undefined): Promise<RemoteOutcome> {
    const { attempts, route } = exchange;
    const refused = plan.refusals.get(path) ?? null;
    if (refused) {
      attempts.push(skippedAttempt(path, refused.cause, refused.detail));
      return noAnswer;
    }
    const provider = providers[path];
    if (!provider) {
      return noAnswer; // refusal() already reported it as not configured
    }
    const reserve = path === route.primary && plan.fallbackUsable ? fallbackReserve * route.budgetMs : 0;
    const timeoutMs = Math.floor(route.budgetMs - exchange.elapsed() - reserve);
    if (timeoutMs <= 0) {
      attempts.push(skippedAttempt(path, 'latency_budget_spent', `the ${route.budgetMs} ms latency budget was spent`));
      return noAnswer;
    }
    const pass = await breaker.canPass(path);
    if (!pass.allowed) {
      const detail = pass.state === 'open' ? 'circuit breaker is open' : 'circuit breaker is half-open and its trial call is in flight';
      attempts.push(skippedAttempt(path, 'breaker_open', detail));
      return noAnswer;
    }
    const call = await callProvider(provider, exchange.safe, { timeoutMs, callerSignal: signal, monotonic });
    switch (call.kind) {
      case 'success':
        attempts.push(calledAttempt(path, 'success', call.latencyMs));
        await breaker.recordSuccess(path, pass.trial);
        return { kind: 'answered', result: call.result };
      case 'aborted':
        attempts.push(calledAttempt(path, 'aborted', call.latencyMs));
        await breaker.release(path, pass.trial);
        return { kind: 'aborted', signal: call.signal };
      case 'throttled':
        // Throttling says nothing about the path's health: not a breaker failure.
        attempts.push(calledAttempt(path, 'throttled', call.latencyMs, errorDetail(call.error)));
        await breaker.release(path, pass.trial);
        return { kind: 'throttled', error: call.error };
      case 'timeout':
      case 'failed': {
        const detail = call.kind === 'timeout' ? `no answer within ${timeoutMs} ms` : errorDetail(call.error);
        attempts.push(calledAttempt(path, call.kind, call.latencyMs, detail));
        await breaker.recordFailure(path, detail);
        return noAnswer;
      }
    }
  }

  /** When every remote path called was throttled, the caller should back off, not read a local answer. */
  async function throwIfAllThrottled(exchange: Exchange, throttles: readonly LlmThrottledError[]): Promise<void> {
    const called = exchange.attempts.filter((a) => a.result !== 'skipped');
    if (called.length === 0 || !called.every((a) => a.result === 'throttled')) {
      return;
    }
    const retries = throttles.map((t) => t.retryAfterMs).filter((ms): ms is number => ms !== undefined);
    await record(exchange, { outcome: 'throttled', path: null, reason: 'all_throttled', result: null, latencyMs: exchange.elapsed() });
    throw new LlmThrottledError(
      throttles[0]?.path ?? exchange.route.primary,
      `every remote path tried was throttled (${called.map((a) => a.path).join(', ')})`,
      retries.length > 0 ? Math.max(...retries) : undefined,
    );
  }

  /** The local provider, when no remote path answered. */
  async function answerLocally(exchange: Exchange, reason: RouteReason, signal: AbortSignal | undefined): Promise<LlmAnswer> {
    const call = await callProvider(providers.local, exchange.safe, { callerSignal: signal, monotonic });
    switch (call.kind) {
      case 'success':
        exchange.attempts.push(calledAttempt('local', 'success', call.latencyMs));
        return finish(exchange, 'local', call.result, reason);
      case 'aborted':
        exchange.attempts.push(calledAttempt('local', 'aborted', call.latencyMs));
        return abandon(exchange, call.signal);
      case 'throttled':
      case 'timeout':
      case 'failed':
        exchange.attempts.push(calledAttempt('local', 'failed', call.latencyMs, errorDetail(call.error)));
        await record(exchange, { outcome: 'error', path: null, reason: 'local_failed', result: null, latencyMs: exchange.elapsed() });
        throw new LlmProviderError('local', `no provider could answer: ${exchange.attempts.map(describeAttempt).join('; ')}`, { cause: call.error });
    }
  }

  /** Prices the answer, records the decision and the spend, and restores the redacted values. */
  async function finish(exchange: Exchange, path: LlmPath, result: ProviderResult, reason: RouteReason): Promise<LlmAnswer> {
    const latencyMs = exchange.elapsed();
    const priced = budget.price(path, result.model, result.usage);
    const explanation = explanationOf(exchange, path, reason);
    const costed = { model: result.model, usage: result.usage, ...priced };
    const [decision] = await Promise.all([
      record(exchange, { outcome: path === 'local' ? 'fallback_local' : 'success', path, reason, result: costed, latencyMs }),
      budget.record({ component: exchange.component, path, ...costed }),
    ]);
    logRoute(exchange, path, reason);
    const text = exchange.redaction.restore(result.text);
    return {
      text: path === 'local' ? withWhy(text, explanation) : text,
      path,
      primary: exchange.route.primary,
      fallbackUsed: decision.fallbackUsed,
      reason,
      explanation,
      model: result.model,
      usage: result.usage,
      costUsd: priced.costUsd,
      priceKnown: priced.priceKnown,
      latencyMs,
      budgetMs: exchange.route.budgetMs,
      withinBudget: decision.withinBudget,
      decisionId: exchange.id,
      attempts: exchange.attempts,
      injection: exchange.injection,
    };
  }

  function logRoute(exchange: Exchange, path: LlmPath, reason: RouteReason): void {
    const fields = { component: exchange.component, operation: exchange.request.operation, primary: exchange.route.primary, path, reason, decisionId: exchange.id };
    if (reason === 'no_remote_path') {
      // An install without Bedrock or MCP: expected, not a warning.
      logger?.info(fields, 'llm request answered locally: no remote path configured');
    } else if (reason !== 'primary') {
      logger?.warn(fields, 'llm request not served by its primary path');
    }
  }

  /** Records the caller's abort and rethrows it. */
  async function abandon(exchange: Exchange, signal: AbortSignal): Promise<never> {
    await record(exchange, { outcome: 'aborted', path: null, reason: 'aborted', result: null, latencyMs: exchange.elapsed() });
    throw abortError(signal);
  }

  async function record(exchange: Exchange, ending: Ending): Promise<RoutingDecision> {
    const decision = decisionOf(exchange, ending, excerptChars);
    await store.decisions.append(decision);
    return decision;
  }

  /** The tally of the `windowMs` up to now. */
  async function tallyOf(windowMs: number): Promise<{ tally: RoutingTally; to: number }> {
    if (!(windowMs > 0)) {
      throw new RangeError(`windowMs must be positive, got ${windowMs}`);
    }
    const to = clock();
    return { tally: await store.decisions.tally(to - windowMs, to), to };
  }

  return {
    ask,
    residency: () => residencyReport(residency, providers.direct?.model),
    async routingEfficiency(windowMs) {
      const { tally, to } = await tallyOf(windowMs);
      return efficiencyFrom(tally, to - windowMs, to);
    },
    async routingMetrics(windowMs) {
      const { tally, to } = await tallyOf(windowMs);
      return metricsFrom(tally, to, windowMs);
    },
    pathStatus: () => readPathStatus(providers, policy, breaker),
    recentDecisions: (limit) => store.decisions.recent(limit),
  };
}
