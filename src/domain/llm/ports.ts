import { z } from 'zod';
import { llmPaths, operationTypes } from './types.js';
import type { RemotePath } from './routing-matrix.js';

/*
 * What the LLM router keeps between calls and processes, as interfaces (ports): the circuit
 * breakers, the spend and budget alerts, and the routing decisions with their running counters.
 * `src/store/llm.store.ts` (breaker, cost and decision stores in `llm-*.store.ts`) implements
 * them on Redis; the data types live here, with the domain that reasons about them.
 */

/** The states a path's circuit breaker can be in. */
export const breakerStates = ['closed', 'open', 'half_open'] as const;
/** State of one path's circuit breaker. */
export type BreakerState = (typeof breakerStates)[number];

/** Everything stored about one path's breaker. Times are epoch milliseconds. */
export interface BreakerRecord {
  state: BreakerState;
  consecutiveFailures: number;
  /** When the breaker last opened; null while it has never opened since it last closed. */
  openedAt: number | null;
  halfOpenSuccesses: number;
  /** While half-open: until when the current trial holds the single trial slot. */
  trialUntil: number | null;
  lastSuccessAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** When the state last changed. */
  changedAt: number | null;
}

/** Result of asking to pass; `trial` is the ticket of the half-open trial this caller now holds. */
export interface PassResult {
  allowed: boolean;
  state: BreakerState;
  trial: string | null;
  /** True when this call moved the breaker from open to half-open. */
  changed: boolean;
}

/** Result of recording an outcome: the state afterwards and whether it changed. */
export interface TransitionResult {
  state: BreakerState;
  changed: boolean;
}

/** Atomic breaker transitions (each a Lua script on one key). Time comes from the caller. */
export interface BreakerStore {
  tryPass(path: RemotePath, input: { now: number; openMs: number; trialLeaseMs: number; trial: string }): Promise<PassResult>;
  recordSuccess(path: RemotePath, input: { now: number; closeAfterSuccesses: number; trial: string | null }): Promise<TransitionResult>;
  recordFailure(path: RemotePath, input: { now: number; failureThreshold: number; message: string }): Promise<TransitionResult>;
  /** Frees the half-open trial slot held by `trial` without a verdict (throttled, aborted). */
  releaseTrial(path: RemotePath, trial: string): Promise<void>;
  read(path: RemotePath): Promise<BreakerRecord>;
  /** Forgets the breaker state (back to closed). */
  reset(path: RemotePath): Promise<void>;
}

/** How many days routing decisions are kept (the longest window the routing figures can cover). */
export const decisionRetentionDays = 30;

/** How many days per-day spend and alerts are kept (the TTL of their keys), and so how far a cost report reaches back. */
export const costDayRetentionDays = 40;

/** One priced call, as added to the day, month and day x component x model totals. */
export interface SpendEntry {
  day: string;
  month: string;
  component: string;
  model: string;
  path: RemotePath | 'local';
  costUsd: number;
  priceKnown: boolean;
  inputTokens: number;
  outputTokens: number;
}

/** Spend totals of one period. */
export interface SpendTotals {
  costUsd: number;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  /** Calls whose model had no known price (counted at the default price, or 0 for MCP). */
  unpricedCalls: number;
}

/** Spend of one component with one model on one day. */
export interface SpendRow extends SpendTotals {
  component: string;
  model: string;
}

export interface DaySpend {
  day: string;
  totals: SpendTotals;
  rows: SpendRow[];
}

/** A budget threshold crossed; recorded once per period and threshold. */
export interface BudgetAlert {
  period: 'day' | 'month';
  /** `YYYY-MM-DD` or `YYYY-MM` (UTC). */
  periodId: string;
  thresholdPct: number;
  spentUsd: number;
  budgetUsd: number;
  at: number;
}

export interface CostStore {
  /** Adds one call's spend; returns the day and month totals after it. */
  addSpend(entry: SpendEntry): Promise<{ dayUsd: number; monthUsd: number }>;
  /** Current spend of a day and a month. */
  readSpend(day: string, month: string): Promise<{ dayUsd: number; monthUsd: number }>;
  readDay(day: string): Promise<DaySpend>;
  readMonth(month: string): Promise<SpendTotals>;
  /** Records the alert unless one for the same period and threshold exists; true when it was new. */
  markAlert(alert: BudgetAlert): Promise<boolean>;
  listAlerts(period: 'day' | 'month', periodId: string): Promise<BudgetAlert[]>;
}

/** How one path fared within one request. */
export const attemptResults = ['success', 'failed', 'timeout', 'throttled', 'aborted', 'skipped'] as const;
export type AttemptResult = (typeof attemptResults)[number];

/** Why a path was not called at all. */
export const skipCauses = [
  'not_configured',
  'region_not_allowed',
  'budget_exhausted',
  'breaker_open',
  'latency_budget_spent',
] as const;
export type SkipCause = (typeof skipCauses)[number];

export const decisionOutcomes = ['success', 'fallback_local', 'throttled', 'error', 'aborted'] as const;
/** `success`: a remote path answered; `fallback_local`: the local provider answered; the rest did not answer. */
export type DecisionOutcome = (typeof decisionOutcomes)[number];

export const attemptSchema = z.object({
  path: z.enum(llmPaths),
  result: z.enum(attemptResults),
  /** Set when result is `skipped`. */
  skipped: z.enum(skipCauses).nullable(),
  /** Measured duration of the call; 0 when skipped. */
  latencyMs: z.number(),
  /**
   * Why it was skipped or how it failed, as a sentence (error messages come from providers that
   * saw only redacted text), at most 300 chars; null on success.
   */
  detail: z.string().nullable(),
});
export type DecisionAttempt = z.infer<typeof attemptSchema>;

export const decisionSchema = z.object({
  id: z.string(),
  at: z.number(),
  component: z.string(),
  operation: z.enum(operationTypes),
  task: z.string(),
  primary: z.enum(['direct', 'mcp']),
  fallback: z.enum(['direct', 'mcp']).nullable(),
  /** The path that answered; null when none did (throttled, aborted, error). */
  path: z.enum(llmPaths).nullable(),
  reason: z.string(),
  fallbackUsed: z.boolean(),
  latencyMs: z.number(),
  budgetMs: z.number(),
  withinBudget: z.boolean(),
  inputTokens: z.number(),
  outputTokens: z.number(),
  /** The token counts are estimates (the provider reported none); records older than this field read false. */
  tokensEstimated: z.boolean().default(false),
  costUsd: z.number(),
  priceKnown: z.boolean(),
  model: z.string().nullable(),
  outcome: z.enum(decisionOutcomes),
  attempts: z.array(attemptSchema),
  /** Length of the redacted prompt. */
  promptChars: z.number(),
  /** The first characters of the REDACTED prompt (never the original). */
  promptExcerpt: z.string(),
  /** Redactions made, by kind. */
  redactions: z.record(z.string(), z.number()),
  /** Prompt-injection markers found in the facts; records older than this field read []. */
  injectionMarkers: z.array(z.string()).default([]),
});
/** One routing decision as stored. Contains only redacted text. */
export type RoutingDecision = z.infer<typeof decisionSchema>;

/** Running counters of routing decisions, field name -> count (see `routing-tally.ts`). */
export type RoutingTally = Map<string, number>;

export interface DecisionStore {
  /** Stores the decision and adds its counters (`tallyDecision`) to those of its hour and its day. */
  append(decision: RoutingDecision): Promise<void>;
  /** Decisions with `from <= at <= to`, oldest first. */
  range(from: number, to: number): Promise<RoutingDecision[]>;
  /** The newest decisions, newest first. */
  recent(limit: number): Promise<RoutingDecision[]>;
  /**
   * The counters of every decision with `from <= at <= to`: exactly what adding up
   * `tallyDecision` of each would give, read mostly from the running counters.
   */
  tally(from: number, to: number): Promise<RoutingTally>;
}

/** The router's Redis repository. */
export interface LlmStore {
  readonly breaker: BreakerStore;
  readonly costs: CostStore;
  readonly decisions: DecisionStore;
}

