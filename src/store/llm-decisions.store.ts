import type { Redis } from 'ioredis';
import { decisionSchema, type DecisionStore, type RoutingDecision } from '../domain/llm/ports.js';
import { execAll, jsonOrUndefined } from './llm-values.js';

/*
 *   <base>:decisions   zset   routing decisions, score = decision time (ms), member = JSON;
 *                             capped by count and by age on every append
 */

export interface DecisionStoreOptions {
  /** Most decisions kept (oldest dropped first). */
  maxDecisions: number;
  /** Decisions older than this (relative to the newest appended) are dropped. */
  decisionMaxAgeMs: number;
}

/** The routing decisions, newest kept. */
export function createDecisionStore(redis: Redis, base: string, options: DecisionStoreOptions): DecisionStore {
  const key = `${base}:decisions`;
  return {
    async append(decision) {
      await execAll(
        redis
          .multi()
          .zadd(key, decision.at, JSON.stringify(decision))
          .zremrangebyscore(key, '-inf', `(${decision.at - options.decisionMaxAgeMs}`)
          .zremrangebyrank(key, 0, -(options.maxDecisions + 1)),
      );
    },
    async range(from, to) {
      return parseDecisions(await redis.zrangebyscore(key, from, to));
    },
    async recent(limit) {
      if (limit < 1) {
        return [];
      }
      return parseDecisions(await redis.zrevrange(key, 0, limit - 1));
    },
  };
}

/** Parses stored decisions, skipping any member that is not a valid decision. */
function parseDecisions(members: string[]): RoutingDecision[] {
  const out: RoutingDecision[] = [];
  for (const member of members) {
    const parsed = decisionSchema.safeParse(jsonOrUndefined(member));
    if (parsed.success) {
      out.push(parsed.data);
    }
  }
  return out;
}
