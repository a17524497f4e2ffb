import type { LlmGate } from '../compliance/llm-gate.js';
/**
 * What the LLM router offers and what it is built from: see {@link LlmRouter}.
 */
import type { InjectionReport } from '../compliance/prompt-injection.js';
import type { Budget } from './budget.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { Redaction, RouteReason } from './decision.js';
import type { RouterProviders } from './path-policy.js';
import type { PathStatus } from './path-status.js';
import type { DecisionAttempt, DecisionStore, RoutingDecision } from './ports.js';
import type { PathResidency, ResidencySettings } from './residency.js';
import type { RemotePath, RoutingMatrix } from './routing-matrix.js';
import type { RoutingOverrideReader } from './routing-overrides.js';
import type { RoutingEfficiency, RoutingMetrics } from './routing-metrics.js';
import type { LlmPath, LlmRequest, TokenUsage } from './types.js';

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

/** What a router is built from; only `providers.local` must exist. */
export interface LlmRouterDeps {
  providers: RouterProviders;
  matrix: RoutingMatrix;
  /**
   * Runtime routing overrides (the `llm.route` action), read before each request: an operation
   * with one routes by it instead of `matrix`. The reader decides how fresh they are.
   */
  overrides?: RoutingOverrideReader;
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
  /**
   * The critical compliance violations, read before each request: while there is one, the request
   * is refused with `LlmBlockedError` before anything is redacted, sent or recorded.
   */
  gate?: Pick<LlmGate, 'violations'>;
}

/** The one way components reach a model, and the figures and health view of how that went. */
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
