import type { Redis } from 'ioredis';
import { z } from 'zod';
import { decisionSchema, type DecisionStore, type RoutingDecision, type RoutingTally } from '../domain/llm/ports.js';
import { addTally, tallyDecision } from '../domain/llm/routing-tally.js';
import { bucketMs, bucketsOf, planWindow, type TallyBucket } from '../domain/llm/tally-window.js';
import { execAll, intText, jsonOrUndefined, numberText, parseFrom } from './llm-values.js';

/*
 *   <base>:decisions                      zset    routing decisions, score = decision time (ms), member = JSON;
 *                                                 capped by count and by age on every append
 *   <base>:tally:hour:<YYYY-MM-DDTHH>     hash    counters of the decisions made in that UTC hour
 *   <base>:tally:day:<YYYY-MM-DD>         hash    counters of the decisions made that UTC day
 *   <base>:tally:since                    string  time (ms) of the first decision counted
 *
 * A decision and its counters are written in one MULTI. The counter keys expire once no window
 * can reach them (the decision age limit plus their own length).
 */

export interface DecisionStoreOptions {
  /** Most decisions kept (oldest dropped first). The counters count every decision regardless. */
  maxDecisions: number;
  /** Decisions older than this (relative to the newest appended) are dropped; the longest window. */
  decisionMaxAgeMs: number;
}

const counterHash = z.record(z.string(), intText).transform((fields): RoutingTally => new Map(Object.entries(fields)));
const members = z.array(z.string());

/** The routing decisions, newest kept, with running counters per hour and day. */
export function createDecisionStore(redis: Redis, base: string, options: DecisionStoreOptions): DecisionStore {
  const key = `${base}:decisions`;
  const sinceKey = `${base}:tally:since`;
  const bucketKey = (b: TallyBucket) => `${base}:tally:${b.unit}:${new Date(b.start).toISOString().slice(0, b.unit === 'hour' ? 13 : 10)}`;
  const ttlSeconds = (b: TallyBucket) => Math.ceil((options.decisionMaxAgeMs + bucketMs[b.unit]) / 1000);

  return {
    async append(decision) {
      const multi = redis
        .multi()
        .zadd(key, decision.at, JSON.stringify(decision))
        .zremrangebyscore(key, '-inf', `(${decision.at - options.decisionMaxAgeMs}`)
        .zremrangebyrank(key, 0, -(options.maxDecisions + 1))
        .set(sinceKey, String(decision.at), 'NX');
      const counters = tallyDecision(decision);
      for (const bucket of bucketsOf(decision.at)) {
        for (const [field, n] of counters) {
          multi.hincrby(bucketKey(bucket), field, n);
        }
        multi.expire(bucketKey(bucket), ttlSeconds(bucket));
      }
      await execAll(multi);
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
    async tally(from, to) {
      const since = await redis.get(sinceKey);
      const plan = planWindow(from, to, since === null ? null : parseFrom(numberText, since, 'tally start'));
      const pipeline = redis.pipeline();
      for (const bucket of plan.buckets) {
        pipeline.hgetall(bucketKey(bucket));
      }
      for (const span of plan.spans) {
        pipeline.zrangebyscore(key, span.from, span.toInclusive ? span.to : `(${span.to}`);
      }
      const replies = await execAll(pipeline);
      const tally: RoutingTally = new Map();
      plan.buckets.forEach((bucket, i) => addTally(tally, parseFrom(counterHash, replies[i], bucketKey(bucket))));
      for (const reply of replies.slice(plan.buckets.length)) {
        for (const decision of parseDecisions(parseFrom(members, reply, 'decisions'))) {
          addTally(tally, tallyDecision(decision));
        }
      }
      return tally;
    },
  };
}

/** Parses stored decisions, skipping any member that is not a valid decision. */
function parseDecisions(stored: string[]): RoutingDecision[] {
  const out: RoutingDecision[] = [];
  for (const member of stored) {
    const parsed = decisionSchema.safeParse(jsonOrUndefined(member));
    if (parsed.success) {
      out.push(parsed.data);
    }
  }
  return out;
}
