import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RemotePath } from '../domain/llm/routing-matrix.js';
import {
  costDayRetentionDays,
  decisionRetentionDays,
  decisionSchema,
  type BreakerState,
  type BreakerStore,
  type BudgetAlert,
  type CostStore,
  type DecisionStore,
  type LlmStore,
  type RoutingDecision,
  type SpendTotals,
  type TransitionResult,
} from '../domain/llm/ports.js';

/*
 * Redis state of the LLM router, all under `<keyPrefix>:llm:`:
 *
 *   <p>:llm:breaker:<direct|mcp>          hash   circuit breaker of one path (no TTL, two keys in all)
 *   <p>:llm:decisions                     zset   routing decisions, score = decision time (ms), member = JSON;
 *                                                capped by count and by age on every append
 *   <p>:llm:cost:day:<YYYY-MM-DD>         hash   spend totals of one UTC day (TTL 40 days)
 *   <p>:llm:cost:day:<YYYY-MM-DD>:by      hash   the same day per component x model (TTL 40 days)
 *   <p>:llm:cost:month:<YYYY-MM>          hash   spend totals of one UTC month (TTL 400 days)
 *   <p>:llm:budget:alerts:day:<day>       hash   budget alerts fired that day, field = threshold % (TTL 40 days)
 *   <p>:llm:budget:alerts:month:<month>   hash   budget alerts fired that month (TTL 400 days)
 *
 * Money is stored as integer nano-dollars (1e-9 USD) so sums are exact.
 * For Redis Cluster give `keyPrefix` a hash tag (`{bsm}`): the spend transaction touches several keys.
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

const DAY_MS = 86_400_000;

interface Script {
  lua: string;
  sha: string;
}

function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

/** EVALSHA, loading the script with EVAL when the server does not know it yet. */
async function runScript(redis: Redis, s: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
      return redis.eval(s.lua, keys.length, ...keys, ...args);
    }
    throw error;
  }
}

// ARGV: now, openMs, trialUntil, trial ticket. Returns {allowed 0|1, state, changed 0|1}.
const tryPassScript = script(`
local key = KEYS[1]
local now = tonumber(ARGV[1])
local state = redis.call('HGET', key, 'state')
if (not state) or state == 'closed' then
  return {1, 'closed', 0}
end
if state == 'open' then
  local openedAt = tonumber(redis.call('HGET', key, 'openedAt')) or 0
  if now < openedAt + tonumber(ARGV[2]) then
    return {0, 'open', 0}
  end
  redis.call('HSET', key, 'state', 'half_open', 'halfOpenSuccesses', 0, 'trialUntil', ARGV[3], 'trial', ARGV[4], 'changedAt', ARGV[1])
  return {1, 'half_open', 1}
end
local trialUntil = tonumber(redis.call('HGET', key, 'trialUntil')) or 0
if trialUntil > now then
  return {0, 'half_open', 0}
end
redis.call('HSET', key, 'trialUntil', ARGV[3], 'trial', ARGV[4])
return {1, 'half_open', 0}
`);

// ARGV: now, closeAfterSuccesses, trial ticket ('' when none). Returns {state, changed 0|1}.
const recordSuccessScript = script(`
local key = KEYS[1]
local state = redis.call('HGET', key, 'state') or 'closed'
redis.call('HSET', key, 'lastSuccessAt', ARGV[1])
if state == 'half_open' then
  if ARGV[3] == '' or redis.call('HGET', key, 'trial') ~= ARGV[3] then
    return {'half_open', 0}
  end
  local successes = redis.call('HINCRBY', key, 'halfOpenSuccesses', 1)
  if successes >= tonumber(ARGV[2]) then
    redis.call('HSET', key, 'state', 'closed', 'failures', 0, 'halfOpenSuccesses', 0, 'changedAt', ARGV[1])
    redis.call('HDEL', key, 'openedAt', 'trialUntil', 'trial')
    return {'closed', 1}
  end
  redis.call('HDEL', key, 'trialUntil', 'trial')
  return {'half_open', 0}
end
if state == 'open' then
  return {'open', 0}
end
redis.call('HSET', key, 'state', 'closed', 'failures', 0)
return {'closed', 0}
`);

// ARGV: now, failureThreshold, message. Returns {state, changed 0|1}.
const recordFailureScript = script(`
local key = KEYS[1]
local state = redis.call('HGET', key, 'state') or 'closed'
redis.call('HSET', key, 'lastError', ARGV[3], 'lastErrorAt', ARGV[1])
local failures = redis.call('HINCRBY', key, 'failures', 1)
if state == 'half_open' then
  redis.call('HSET', key, 'state', 'open', 'openedAt', ARGV[1], 'halfOpenSuccesses', 0, 'changedAt', ARGV[1])
  redis.call('HDEL', key, 'trialUntil', 'trial')
  return {'open', 1}
end
if state == 'open' then
  return {'open', 0}
end
if failures >= tonumber(ARGV[2]) then
  redis.call('HSET', key, 'state', 'open', 'openedAt', ARGV[1], 'changedAt', ARGV[1])
  return {'open', 1}
end
redis.call('HSET', key, 'state', 'closed')
return {'closed', 0}
`);

// ARGV: trial ticket. Frees the half-open slot if that ticket holds it.
const releaseTrialScript = script(`
local key = KEYS[1]
if redis.call('HGET', key, 'state') == 'half_open' and redis.call('HGET', key, 'trial') == ARGV[1] then
  redis.call('HDEL', key, 'trialUntil', 'trial')
  return 1
end
return 0
`);

function parseState(value: unknown): BreakerState {
  if (value === 'open' || value === 'half_open' || value === 'closed') {
    return value;
  }
  throw new Error(`unexpected breaker state from Redis: ${String(value)}`);
}

function parseTransition(reply: unknown): TransitionResult {
  if (!Array.isArray(reply)) {
    throw new Error('unexpected breaker script reply');
  }
  const [state, changed] = reply as unknown[];
  return { state: parseState(state), changed: changed === 1 };
}

function numberOrNull(value: string | undefined): number | null {
  if (value === undefined || value === '') {
    return null;
  }
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function int(value: string | undefined | null): number {
  const n = Number(value ?? 0);
  return Number.isFinite(n) ? n : 0;
}

const NANO = 1_000_000_000;

function toNano(usd: number): number {
  return Math.round(usd * NANO);
}

function fromNano(nano: string | number | undefined | null): number {
  return int(nano === undefined || nano === null ? null : String(nano)) / NANO;
}

const totalsFields = ['nanoUsd', 'calls', 'inputTokens', 'outputTokens', 'unpricedCalls'] as const;
type TotalsField = (typeof totalsFields)[number];

function totalsFrom(get: (field: TotalsField) => string | undefined): SpendTotals {
  return {
    costUsd: fromNano(get('nanoUsd')),
    calls: int(get('calls')),
    inputTokens: int(get('inputTokens')),
    outputTokens: int(get('outputTokens')),
    unpricedCalls: int(get('unpricedCalls')),
  };
}

const breakdownFieldSchema = z.tuple([z.string(), z.string(), z.enum(totalsFields)]);
const alertSchema = z.object({
  period: z.enum(['day', 'month']),
  periodId: z.string(),
  thresholdPct: z.number(),
  spentUsd: z.number(),
  budgetUsd: z.number(),
  at: z.number(),
});

/** Execs a MULTI and returns the replies, throwing the first command error. */
async function execAll(multi: ReturnType<Redis['multi']>): Promise<unknown[]> {
  const replies = await multi.exec();
  if (replies === null) {
    throw new Error('Redis transaction was aborted');
  }
  return replies.map(([error, value]) => {
    if (error) {
      throw error;
    }
    return value;
  });
}

/**
 * Creates the router's Redis repository. Every key starts with `keyPrefix + ':llm:'`.
 * The caller owns `redis` (and closes it).
 */
export function createLlmStore(redis: Redis, keyPrefix: string, options: LlmStoreOptions = {}): LlmStore {
  const maxDecisions = options.maxDecisions ?? 50_000;
  const decisionMaxAgeMs = options.decisionMaxAgeMs ?? decisionRetentionDays * DAY_MS;
  const dayTtl = options.dayTtlSeconds ?? costDayRetentionDays * 86_400;
  const monthTtl = options.monthTtlSeconds ?? 400 * 86_400;
  const base = `${keyPrefix}:llm`;
  const keys = {
    breaker: (path: RemotePath) => `${base}:breaker:${path}`,
    decisions: `${base}:decisions`,
    day: (day: string) => `${base}:cost:day:${day}`,
    dayBy: (day: string) => `${base}:cost:day:${day}:by`,
    month: (month: string) => `${base}:cost:month:${month}`,
    alerts: (period: 'day' | 'month', id: string) => `${base}:budget:alerts:${period}:${id}`,
  };

  const breaker: BreakerStore = {
    async tryPass(path, input) {
      const reply = await runScript(
        redis,
        tryPassScript,
        [keys.breaker(path)],
        [input.now, input.openMs, input.now + input.trialLeaseMs, input.trial],
      );
      if (!Array.isArray(reply)) {
        throw new Error('unexpected breaker script reply');
      }
      const [allowed, state, changed] = reply as unknown[];
      const parsed = parseState(state);
      const pass = allowed === 1;
      return { allowed: pass, state: parsed, trial: pass && parsed === 'half_open' ? input.trial : null, changed: changed === 1 };
    },
    async recordSuccess(path, input) {
      return parseTransition(
        await runScript(redis, recordSuccessScript, [keys.breaker(path)], [input.now, input.closeAfterSuccesses, input.trial ?? '']),
      );
    },
    async recordFailure(path, input) {
      return parseTransition(
        await runScript(redis, recordFailureScript, [keys.breaker(path)], [input.now, input.failureThreshold, input.message]),
      );
    },
    async releaseTrial(path, trial) {
      await runScript(redis, releaseTrialScript, [keys.breaker(path)], [trial]);
    },
    async read(path) {
      const h = await redis.hgetall(keys.breaker(path));
      return {
        state: h.state === undefined ? 'closed' : parseState(h.state),
        consecutiveFailures: int(h.failures),
        openedAt: numberOrNull(h.openedAt),
        halfOpenSuccesses: int(h.halfOpenSuccesses),
        trialUntil: numberOrNull(h.trialUntil),
        lastSuccessAt: numberOrNull(h.lastSuccessAt),
        lastError: h.lastError ?? null,
        lastErrorAt: numberOrNull(h.lastErrorAt),
        changedAt: numberOrNull(h.changedAt),
      };
    },
    async reset(path) {
      await redis.del(keys.breaker(path));
    },
  };

  const costs: CostStore = {
    async addSpend(entry) {
      const nano = toNano(entry.costUsd);
      const unpriced = entry.priceKnown ? 0 : 1;
      const by = (field: TotalsField) => JSON.stringify([entry.component, entry.model, field]);
      const multi = redis.multi();
      for (const key of [keys.day(entry.day), keys.month(entry.month)]) {
        multi
          .hincrby(key, 'nanoUsd', nano)
          .hincrby(key, 'calls', 1)
          .hincrby(key, 'inputTokens', entry.inputTokens)
          .hincrby(key, 'outputTokens', entry.outputTokens)
          .hincrby(key, 'unpricedCalls', unpriced);
      }
      multi
        .hincrby(keys.dayBy(entry.day), by('nanoUsd'), nano)
        .hincrby(keys.dayBy(entry.day), by('calls'), 1)
        .hincrby(keys.dayBy(entry.day), by('inputTokens'), entry.inputTokens)
        .hincrby(keys.dayBy(entry.day), by('outputTokens'), entry.outputTokens)
        .hincrby(keys.dayBy(entry.day), by('unpricedCalls'), unpriced)
        .expire(keys.day(entry.day), dayTtl)
        .expire(keys.dayBy(entry.day), dayTtl)
        .expire(keys.month(entry.month), monthTtl);
      const replies = await execAll(multi);
      // Replies 0 and 5 are the day's and the month's nanoUsd after the increment.
      return { dayUsd: fromNano(replies[0] as number), monthUsd: fromNano(replies[5] as number) };
    },
    async readSpend(day, month) {
      const [dayNano, monthNano] = await Promise.all([
        redis.hget(keys.day(day), 'nanoUsd'),
        redis.hget(keys.month(month), 'nanoUsd'),
      ]);
      return { dayUsd: fromNano(dayNano), monthUsd: fromNano(monthNano) };
    },
    async readDay(day) {
      const [totals, byFields] = await Promise.all([redis.hgetall(keys.day(day)), redis.hgetall(keys.dayBy(day))]);
      const rows = new Map<string, Partial<Record<TotalsField, string>> & { component: string; model: string }>();
      for (const [field, value] of Object.entries(byFields)) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(field);
        } catch {
          continue;
        }
        const tuple = breakdownFieldSchema.safeParse(parsed);
        if (!tuple.success) {
          continue;
        }
        const [component, model, metric] = tuple.data;
        const id = JSON.stringify([component, model]);
        const row = rows.get(id) ?? { component, model };
        row[metric] = value;
        rows.set(id, row);
      }
      return {
        day,
        totals: totalsFrom((f) => totals[f]),
        rows: [...rows.values()]
          .map((row) => ({ component: row.component, model: row.model, ...totalsFrom((f) => row[f]) }))
          .sort((a, b) => b.costUsd - a.costUsd || a.component.localeCompare(b.component) || a.model.localeCompare(b.model)),
      };
    },
    async readMonth(month) {
      const totals = await redis.hgetall(keys.month(month));
      return totalsFrom((f) => totals[f]);
    },
    async markAlert(alert) {
      const key = keys.alerts(alert.period, alert.periodId);
      const replies = await execAll(
        redis
          .multi()
          .hsetnx(key, String(alert.thresholdPct), JSON.stringify(alert))
          .expire(key, alert.period === 'day' ? dayTtl : monthTtl),
      );
      return replies[0] === 1;
    },
    async listAlerts(period, periodId) {
      const h = await redis.hgetall(keys.alerts(period, periodId));
      const alerts: BudgetAlert[] = [];
      for (const value of Object.values(h)) {
        const parsed = alertSchema.safeParse(safeJson(value));
        if (parsed.success) {
          alerts.push(parsed.data);
        }
      }
      return alerts.sort((a, b) => a.thresholdPct - b.thresholdPct);
    },
  };

  const decisions: DecisionStore = {
    async append(decision) {
      await execAll(
        redis
          .multi()
          .zadd(keys.decisions, decision.at, JSON.stringify(decision))
          .zremrangebyscore(keys.decisions, '-inf', `(${decision.at - decisionMaxAgeMs}`)
          .zremrangebyrank(keys.decisions, 0, -(maxDecisions + 1)),
      );
    },
    async range(from, to) {
      return parseDecisions(await redis.zrangebyscore(keys.decisions, from, to));
    },
    async recent(limit) {
      if (limit < 1) {
        return [];
      }
      return parseDecisions(await redis.zrevrange(keys.decisions, 0, limit - 1));
    },
  };

  return { breaker, costs, decisions };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Parses stored decisions, skipping any member that is not a valid decision. */
function parseDecisions(members: string[]): RoutingDecision[] {
  const out: RoutingDecision[] = [];
  for (const member of members) {
    const parsed = decisionSchema.safeParse(safeJson(member));
    if (parsed.success) {
      out.push(parsed.data);
    }
  }
  return out;
}
