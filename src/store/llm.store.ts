import type { Redis } from 'ioredis';
import { costDayRetentionDays, decisionRetentionDays, type LlmStore } from '../domain/llm/ports.js';
import { createBreakerStore } from './llm-breaker.store.js';
import { createCostStore } from './llm-costs.store.js';
import { createDecisionStore } from './llm-decisions.store.js';

/*
 * Redis state of the LLM router, all under `<keyPrefix>:llm:`:
 *
 *   <p>:llm:breaker:<direct|mcp>          hash   circuit breaker of one path (no TTL, two keys in all)
 *   <p>:llm:decisions                     zset   routing decisions, score = decision time (ms), member = JSON;
 *                                                capped by count and by age on every append
 *   <p>:llm:tally:hour:<YYYY-MM-DDTHH>    hash   counters of the decisions of one UTC hour (TTL 30 days + 1 hour)
 *   <p>:llm:tally:day:<YYYY-MM-DD>        hash   counters of the decisions of one UTC day (TTL 31 days)
 *   <p>:llm:tally:since                   string time (ms) of the first decision counted (no TTL)
 *   <p>:llm:cost:day:<YYYY-MM-DD>         hash   spend totals of one UTC day (TTL 40 days)
 *   <p>:llm:cost:day:<YYYY-MM-DD>:by      hash   the same day per component x model (TTL 40 days)
 *   <p>:llm:cost:month:<YYYY-MM>          hash   spend totals of one UTC month (TTL 400 days)
 *   <p>:llm:budget:alerts:day:<day>       hash   budget alerts fired that day, field = threshold % (TTL 40 days)
 *   <p>:llm:budget:alerts:month:<month>   hash   budget alerts fired that month (TTL 400 days)
 *
 * Money is stored as integer nano-dollars (1e-9 USD) so sums are exact.
 * For Redis Cluster give `keyPrefix` a hash tag (`{bsm}`): the spend and decision transactions and
 * the counter-summing script touch several keys.
 */

export interface LlmStoreOptions {
  /** Most decisions kept (oldest dropped first). Default 50 000. */
  maxDecisions?: number;
  /** Decisions older than this (relative to the newest appended) are dropped. Default 30 days. */
  decisionMaxAgeMs?: number;
  /** TTL of per-day cost and alert keys. Default 40 days. */
  dayTtlSeconds?: number;
  /** TTL of per-month cost and alert keys. Default 400 days. */
  monthTtlSeconds?: number;
}

const DAY_SECONDS = 86_400;

/**
 * Creates the router's Redis repository. Every key starts with `keyPrefix + ':llm:'`.
 * The caller owns `redis` (and closes it).
 */
export function createLlmStore(redis: Redis, keyPrefix: string, options: LlmStoreOptions = {}): LlmStore {
  const base = `${keyPrefix}:llm`;
  return {
    breaker: createBreakerStore(redis, base),
    costs: createCostStore(redis, base, {
      dayTtlSeconds: options.dayTtlSeconds ?? costDayRetentionDays * DAY_SECONDS,
      monthTtlSeconds: options.monthTtlSeconds ?? 400 * DAY_SECONDS,
    }),
    decisions: createDecisionStore(redis, base, {
      maxDecisions: options.maxDecisions ?? 50_000,
      decisionMaxAgeMs: options.decisionMaxAgeMs ?? decisionRetentionDays * DAY_SECONDS * 1000,
    }),
  };
}
