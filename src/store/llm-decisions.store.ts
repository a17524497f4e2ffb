import type { Redis } from 'ioredis';
import { z } from 'zod';
import { decisionSchema, type DecisionStore, type RoutingDecision, type RoutingTally } from '../domain/llm/ports.js';
import { addTally, tallyDecision } from '../domain/llm/routing-tally.js';
import { bucketMs, bucketsOf, planWindow, type TallyBucket } from '../domain/llm/tally-window.js';
import { execAll, jsonOrUndefined, numberText, parseFrom } from './llm-values.js';
import { bindManyKeyScript, type ManyKeyLuaScript } from './redis-scripts.js';

/*
 * Keys: see llm.store.ts. A decision and its counters are written in one MULTI; the counter keys
 * expire once no window can reach them (the decision age limit plus their own length).
 */

export interface DecisionStoreOptions {
  /** Most decisions kept (oldest dropped first). The counters count every decision regardless. */
  maxDecisions: number;
  /** Decisions older than this (relative to the newest appended) are dropped; the longest window. */
  decisionMaxAgeMs: number;
}

const members = z.array(z.string());

/** `[field, total, field, total, …]` as the sum script returns it. */
const fieldTotals = z.array(z.union([z.string(), z.number()])).transform((flat, ctx): RoutingTally => {
  const tally: RoutingTally = new Map();
  for (let i = 0; i < flat.length; i += 2) {
    const [field, total] = [flat[i], flat[i + 1]];
    if (typeof field !== 'string' || typeof total !== 'number' || !Number.isSafeInteger(total)) {
      ctx.addIssue({ code: 'custom', message: `counter ${String(field)} = ${String(total)} is not a field and a whole number` });
      return z.NEVER;
    }
    tally.set(field, total);
  }
  return tally;
});

// Adds up the counter hashes server-side: a 30-day window sums some 75 hashes into one reply of
// the distinct fields, instead of shipping every field of every hash to be added up here.
const sumHashesScript: ManyKeyLuaScript<RoutingTally> = {
  name: 'bsmLlmSumCounters',
  reply: fieldTotals,
  lua: `
local totals = {}
local fields = {}
for i = 1, #KEYS do
  local h = redis.call('HGETALL', KEYS[i])
  for j = 1, #h, 2 do
    local field = h[j]
    local n = tonumber(h[j + 1])
    if totals[field] == nil then
      fields[#fields + 1] = field
      totals[field] = n
    else
      totals[field] = totals[field] + n
    end
  end
end
local reply = {}
for _, field in ipairs(fields) do
  reply[#reply + 1] = field
  reply[#reply + 1] = totals[field]
end
return reply
`,
};

/** The routing decisions, newest kept, with running counters per hour and day. */
export function createDecisionStore(redis: Redis, base: string, options: DecisionStoreOptions): DecisionStore {
  const key = `${base}:decisions`;
  const sinceKey = `${base}:tally:since`;
  const bucketKey = (b: TallyBucket) => `${base}:tally:${b.unit}:${new Date(b.start).toISOString().slice(0, b.unit === 'hour' ? 13 : 10)}`;
  const ttlSeconds = (b: TallyBucket) => Math.ceil((options.decisionMaxAgeMs + bucketMs[b.unit]) / 1000);
  const sumHashes = bindManyKeyScript(redis, sumHashesScript);

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
      const [counted, ...spans] = await Promise.all([
        plan.buckets.length === 0 ? new Map<string, number>() : sumHashes(plan.buckets.map(bucketKey)),
        ...plan.spans.map((span) => redis.zrangebyscore(key, span.from, span.toInclusive ? span.to : `(${span.to}`)),
      ]);
      const tally: RoutingTally = new Map(counted);
      for (const span of spans) {
        for (const decision of parseDecisions(parseFrom(members, span, 'decisions'))) {
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
