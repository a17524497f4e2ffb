import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createBedrockProvider } from '../providers/bedrock.provider.js';
import { createBudget, defaultPriceTable, type Budget } from '../domain/llm/budget.js';
import { createCircuitBreaker } from '../domain/llm/circuit-breaker.js';
import type { BreakerStore, DecisionStore, RoutingDecision } from '../domain/llm/ports.js';
import { createLocalProvider } from '../providers/local.provider.js';
import { createMcpProvider, type McpArgumentMapping } from '../providers/mcp.provider.js';
import { createLlmRouter, type LlmRouter, type Redaction } from '../domain/llm/router.js';
import type { LlmProvider, LlmRequest } from '../domain/llm/types.js';
import type { Config } from '../config.js';
import { Redactor } from '../domain/compliance/pii.js';
import type { Logger } from '../observability/logger.js';
import { createLlmStore } from '../store/llm.store.js';
import { createPiiCounter } from '../store/pii-counter.store.js';
import type { PiiCounter } from '../domain/compliance/ports.js';
import type { RateLimiter } from '../domain/rate-limit.js';
import { createRateLimiter } from '../store/rate-limit.store.js';
import { cachedRoutingOverrides, type RoutingOverrideStore } from '../domain/llm/routing-overrides.js';
import { createRoutingOverrideStore } from '../store/routing-overrides.store.js';
import type { AuditEventInput } from '../domain/audit-trail/chain.js';
import { decisionEntry, directCallEntry, regionsOf } from '../domain/llm/call-audit.js';

/** The LLM layer as the rest of the service uses it. */
export interface Llm {
  router: LlmRouter;
  budget: Budget;
  pii: PiiCounter;
  /** Which remote paths are configured. */
  configured: { direct: boolean; mcp: boolean };
  /**
   * One minimal request on `path` alone (no fallback), for the auditor's `llm` targets: its
   * latency, its spend recorded like any call's; rejects when the path does not answer.
   */
  ping(path: 'direct' | 'mcp', signal: AbortSignal): Promise<{ latencyMs: number }>;
  /** Questions per API key (`BSM_ASSIST_RATE_*`). */
  assistLimit: RateLimiter;
  /** The local template writer: narratives written without a model (the `llm-narratives` flag off). */
  local: LlmProvider;
  /**
   * The routing overrides in Redis (the `llm.route` action writes them): this process's router
   * follows a change made through this store at once, other processes' within a second.
   */
  routeOverrides: RoutingOverrideStore;
  /** The breakers the router trips, as stored (the `llm.reset-breaker` action resets them). */
  breakers: BreakerStore;
  /** The routing decisions as stored (the CloudWatch figures read a window of them). */
  decisions: Pick<DecisionStore, 'range'>;
  close(): Promise<void>;
}

type LlmSettings = Pick<
  Config,
  | 'BEDROCK_ENABLED'
  | 'BEDROCK_MODEL_ID'
  | 'AWS_REGION'
  | 'MCP_URL'
  | 'MCP_REGION'
  | 'MCP_TOOL_NAME'
  | 'MCP_TOOL_ARGUMENTS'
  | 'MCP_MODEL'
  | 'BSM_LLM_DAILY_BUDGET_USD'
  | 'BSM_LLM_MONTHLY_BUDGET_USD'
  | 'BSM_LLM_PRICES'
  | 'BSM_ALLOW_NON_EU_REGION'
  | 'BSM_EXTRA_ALLOWED_REGIONS'
  | 'BSM_LLM_FALLBACK_RESERVE'
  | 'routingMatrix'
  | 'BSM_ASSIST_RATE_MAX'
  | 'BSM_ASSIST_RATE_WINDOW_MS'
>;

function mapping(spec: string): McpArgumentMapping {
  const entries = Object.fromEntries(spec.split(',').map((e) => e.split('=') as [string, string]));
  return { prompt: entries.prompt ?? 'prompt', system: entries.system, operation: entries.operation, maxTokens: entries.maxTokens };
}

/**
 * Every request is redacted before any provider sees it; detections are counted for the
 * compliance status. The mapping stays in this closure, in memory, for the answer only.
 */
export function redactorFor(pii: PiiCounter, logger: Logger): (request: LlmRequest) => Redaction {
  return (request) => {
    const r = new Redactor();
    const redacted: LlmRequest = {
      ...request,
      system: r.redact(request.system),
      prompt: r.redact(request.prompt),
      facts: request.facts === undefined ? undefined : r.redactDeep(request.facts),
    };
    const counts = { ...r.counts } as Record<string, number>;
    pii.add(counts).catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not record PII detection counts'));
    return { request: redacted, restore: (text) => r.restore(text), counts };
  };
}

/** Where every LLM call is written as an audit-trail entry (`call-audit.ts`). */
export interface LlmCallTrail {
  append(input: AuditEventInput): Promise<unknown>;
}

/**
 * The LLM layer on `redis`. `onDecision` hears of every routing decision once it is stored (the
 * metrics recorder counts calls, tokens, cost and latency from it). With `trail`, every call (each
 * routed request, each ping) is an `llm.call` entry, written after the call and before its answer
 * is returned; an entry the trail does not take is logged at error level and does not fail the
 * call (see `call-audit.ts` for why).
 */
export function createLlm(
  config: LlmSettings,
  redis: Redis,
  keyPrefix: string,
  logger: Logger,
  clock: () => number = Date.now,
  onDecision?: (decision: RoutingDecision) => void,
  trail?: LlmCallTrail,
): Llm {
  const store = createLlmStore(redis, keyPrefix);
  const regionOf = regionsOf({ region: config.AWS_REGION, mcpRegion: config.MCP_REGION });
  const writeEntry = async (entry: AuditEventInput): Promise<void> => {
    if (!trail) {
      return;
    }
    try {
      await trail.append(entry);
    } catch (err) {
      logger.error({ component: 'llm', callId: entry.target, err: (err as Error).message }, 'LLM call made but not written to the audit trail');
    }
  };
  const decisions: DecisionStore =
    onDecision || trail
      ? {
          async append(decision) {
            await store.decisions.append(decision);
            onDecision?.(decision);
            await writeEntry(decisionEntry(decision, regionOf));
          },
          range: (from, to) => store.decisions.range(from, to),
          recent: (limit) => store.decisions.recent(limit),
          tally: (from, to) => store.decisions.tally(from, to),
        }
      : store.decisions;
  const pii = createPiiCounter(redis, keyPrefix);
  const direct: LlmProvider | undefined = config.BEDROCK_ENABLED ? createBedrockProvider({ region: config.AWS_REGION, modelId: config.BEDROCK_MODEL_ID }) : undefined;
  const mcp: LlmProvider | undefined = config.MCP_URL
    ? createMcpProvider({ url: config.MCP_URL, toolName: config.MCP_TOOL_NAME, argumentMapping: mapping(config.MCP_TOOL_ARGUMENTS), model: config.MCP_MODEL })
    : undefined;
  const local = createLocalProvider();
  const budget = createBudget({
    store: store.costs,
    clock,
    settings: {
      dailyUsd: config.BSM_LLM_DAILY_BUDGET_USD,
      monthlyUsd: config.BSM_LLM_MONTHLY_BUDGET_USD,
      prices: { ...defaultPriceTable, ...config.BSM_LLM_PRICES },
    },
    onAlert: (alert) => logger.warn({ alert }, 'LLM budget threshold crossed'),
  });
  const overrideStore = createRoutingOverrideStore(redis, keyPrefix);
  const overrides = cachedRoutingOverrides(overrideStore, {
    onError: (err) => logger.warn({ err: err.message }, 'could not read the LLM routing overrides: routing by the last ones read (or the static matrix)'),
  });
  const router = createLlmRouter({
    providers: { direct, mcp, local },
    matrix: config.routingMatrix,
    overrides,
    fallbackReserve: config.BSM_LLM_FALLBACK_RESERVE,
    breaker: createCircuitBreaker({ store: store.breaker, clock, onTransition: (e) => logger.warn(e, 'LLM circuit breaker changed state') }),
    budget,
    residency: { region: config.AWS_REGION, mcpRegion: config.MCP_REGION, allowNonEu: config.BSM_ALLOW_NON_EU_REGION, extraAllowed: config.BSM_EXTRA_ALLOWED_REGIONS ?? [] },
    store: { decisions },
    redact: redactorFor(pii, logger),
    clock,
    logger,
  });
  return {
    router,
    budget,
    pii,
    configured: { direct: direct !== undefined, mcp: mcp !== undefined },
    breakers: store.breaker,
    decisions: store.decisions,
    async ping(path, signal) {
      const provider = path === 'direct' ? direct : mcp;
      if (!provider) {
        throw new Error(`the ${path} path is not configured`);
      }
      const task = 'reachability-ping';
      const call = { id: randomUUID(), component: 'infrastructure-auditor', task, path };
      const started = performance.now();
      let result;
      try {
        result = await provider.complete({ operation: 'infrastructure', task, system: 'Answer with the single word: ok.', prompt: 'ping', maxTokens: 8, temperature: 0 }, signal);
      } catch (err) {
        const latencyMs = performance.now() - started;
        await writeEntry(
          directCallEntry({ ...call, model: provider.model, outcome: signal.aborted ? 'aborted' : 'error', latencyMs, inputTokens: 0, outputTokens: 0, tokensEstimated: false, costUsd: 0 }, regionOf),
        );
        throw err;
      }
      const latencyMs = performance.now() - started;
      const priced = budget.price(path, result.model, result.usage);
      await budget.record({ component: 'infrastructure-auditor', path, model: result.model, usage: result.usage, ...priced });
      await writeEntry(
        directCallEntry(
          {
            ...call,
            model: result.model,
            outcome: 'success',
            latencyMs,
            inputTokens: result.usage.inputTokens,
            outputTokens: result.usage.outputTokens,
            tokensEstimated: result.usage.estimated === true,
            costUsd: priced.costUsd,
          },
          regionOf,
        ),
      );
      return { latencyMs };
    },
    routeOverrides: {
      read: () => overrideStore.read(),
      get: (operation) => overrideStore.get(operation),
      put: (operation, route, meta) => overrideStore.put(operation, route, meta).finally(() => overrides.invalidate()),
    },
    assistLimit: createRateLimiter(redis, keyPrefix, 'assist', { max: config.BSM_ASSIST_RATE_MAX, windowMs: config.BSM_ASSIST_RATE_WINDOW_MS }),
    local,
    async close() {
      await Promise.allSettled([direct?.close(), mcp?.close()]);
    },
  };
}
