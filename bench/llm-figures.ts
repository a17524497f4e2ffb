/**
 * The routing figures read from running counters against the recomputation they replaced, in
 * one run on one Redis: 50 000 decisions spread over 30 days, then `routingMetrics` over 30 days
 * and over 24 hours, the new way (router -> hour/day counters + the stored decisions at the two
 * ends) and the old way (every stored decision in the window, parsed and folded). Also the cost
 * on the write side: appending with the counters against the bare ZADD and trims.
 *
 * Run with `tsx scripts/with-redis.ts tsx bench/llm-figures.ts` (a throwaway redis-server).
 * BENCH_DECISIONS (default 50000) and BENCH_ROUNDS (default 15) change the size.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { createBudget } from '../src/domain/llm/budget.js';
import { createCircuitBreaker } from '../src/domain/llm/circuit-breaker.js';
import { routeReasons } from '../src/domain/llm/decision.js';
import { attemptResults, decisionOutcomes, decisionRetentionDays } from '../src/domain/llm/ports.js';
import type { DecisionOutcome, RoutingDecision } from '../src/domain/llm/ports.js';
import { createLlmRouter } from '../src/domain/llm/router.js';
import type { OperationMetrics, PathMetrics, RoutingEfficiency, RoutingMetrics } from '../src/domain/llm/routing-metrics.js';
import { defaultRoutingMatrix } from '../src/domain/llm/routing-matrix.js';
import { llmPaths, operationTypes } from '../src/domain/llm/types.js';
import type { LlmPath, OperationType } from '../src/domain/llm/types.js';
import { percentile } from '../src/domain/stats.js';
import { createLocalProvider } from '../src/providers/local.provider.js';
import { createLlmStore } from '../src/store/llm.store.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const total = Number(process.env.BENCH_DECISIONS ?? 50_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 15);
const DAY = 86_400_000;

// ---- The figures as the router computed them before the counters (commit 6259421), the baseline. ----

function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}

function countsForEfficiency(d: RoutingDecision): boolean {
  return d.outcome !== 'aborted' && d.reason !== 'no_remote_path';
}

function servedByPrimaryWithinBudget(d: RoutingDecision): boolean {
  return d.outcome === 'success' && d.path === d.primary && d.withinBudget;
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

function recomputedMetrics(from: number, to: number, decisions: readonly RoutingDecision[]): RoutingMetrics {
  const outcomes = Object.fromEntries(decisionOutcomes.map((o) => [o, 0])) as Record<DecisionOutcome, number>;
  const reasons: Record<string, number> = {};
  const empty = (): PathMetrics => ({ attempts: 0, success: 0, errors: 0, timeouts: 0, throttled: 0, aborted: 0, skipped: 0, served: 0, p50LatencyMs: null, p95LatencyMs: null });
  const paths: Record<LlmPath, PathMetrics> = { direct: empty(), mcp: empty(), local: empty() };
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
    windowMs: to - from,
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
}

// ---- Data and timing. ----

function pick<T>(options: readonly T[]): T {
  const chosen = options[Math.floor(Math.random() * options.length)];
  if (chosen === undefined) {
    throw new Error('nothing to pick from');
  }
  return chosen;
}

/** A decision as the router writes one, with a realistic spread of outcomes and LLM latencies. */
function someDecision(i: number, at: number): RoutingDecision {
  const operation = pick(operationTypes);
  const { primary, fallback, budgetMs } = defaultRoutingMatrix[operation];
  const outcome = pick(decisionOutcomes);
  const path = outcome === 'success' ? pick([primary, fallback ?? primary]) : outcome === 'fallback_local' ? 'local' : null;
  const latencyMs = 300 + Math.random() * Math.random() * 20_000;
  return {
    id: `bench-${i}`,
    at,
    component: 'meta-monitor',
    operation,
    task: 'analysis-narrative',
    primary,
    fallback,
    path,
    reason: outcome === 'aborted' ? 'aborted' : pick(routeReasons),
    fallbackUsed: path !== null && path !== primary,
    latencyMs,
    budgetMs,
    withinBudget: latencyMs <= budgetMs,
    inputTokens: Math.floor(Math.random() * 4000),
    outputTokens: Math.floor(Math.random() * 1000),
    tokensEstimated: false,
    costUsd: Math.random() * 0.02,
    priceKnown: true,
    model: 'anthropic.claude-3-sonnet-20240229-v1:0',
    outcome,
    attempts: ([primary, fallback ?? 'local'] as LlmPath[]).map((p) => ({ path: p, result: pick(attemptResults.filter((r) => r !== 'skipped')), skipped: null, latencyMs: latencyMs / 2, detail: null })),
    promptChars: 1800,
    promptExcerpt: 'Summarise the meta-monitor analysis of the last hour: [EMAIL_1] reported 3 failures in the bedrock-support queue, waits over 2 s…'.slice(0, 200),
    redactions: { email: 1 },
    injectionMarkers: [],
  };
}

async function inBatches(count: number, work: (i: number) => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, count - i) }, (_, j) => work(i + j)));
  }
  return performance.now() - started;
}

/** Median of `rounds` timed runs, after two warm-up runs. */
async function medianMs(run: () => Promise<unknown>): Promise<number> {
  await run();
  await run();
  const times: number[] = [];
  for (let i = 0; i < rounds; i += 1) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return percentile(times, 50) ?? NaN;
}

// id, time, microseconds, command and arguments (then client address and name).
const slowlogEntries = z.array(z.tuple([z.number(), z.number(), z.number(), z.array(z.string())]).rest(z.unknown()));

/** How long Redis itself spent on the commands `run` sent (SLOWLOG, every command logged meanwhile). */
async function redisMicroseconds(run: () => Promise<unknown>): Promise<number> {
  const [, threshold = '10000'] = await redis.config('GET', 'slowlog-log-slower-than');
  await redis.config('SET', 'slowlog-log-slower-than', '0');
  await redis.slowlog('RESET');
  await run();
  const entries = slowlogEntries.parse(await redis.slowlog('GET', 1000));
  await redis.config('SET', 'slowlog-log-slower-than', String(threshold));
  return entries.filter(([, , , command]) => !['slowlog', 'config'].includes(String(command[0]).toLowerCase())).reduce((us, [, , took]) => us + took, 0);
}

const redis = new Redis(url, { maxRetriesPerRequest: null });
const prefix = `{bench-llm-${randomBytes(3).toString('hex')}}`;
const now = Date.now();
// In time order, as the router records them (each decision is appended when its request ends).
const decisions = Array.from({ length: total }, () => now - Math.floor(Math.random() * decisionRetentionDays * DAY))
  .sort((a, b) => a - b)
  .map((at, i) => someDecision(i, at));
const store = createLlmStore(redis, prefix);

const appendMs = await inBatches(total, (i) => store.decisions.append(decisions[i] ?? someDecision(i, now)));
const bareKey = `${prefix}:bare-decisions`;
const bareAppendMs = await inBatches(total, async (i) => {
  const d = decisions[i] ?? someDecision(i, now);
  await redis
    .multi()
    .zadd(bareKey, d.at, JSON.stringify(d))
    .zremrangebyscore(bareKey, '-inf', `(${d.at - decisionRetentionDays * DAY}`)
    .zremrangebyrank(bareKey, 0, -50_001)
    .exec();
});

const clock = () => now;
const router = createLlmRouter({
  providers: { local: createLocalProvider() },
  matrix: defaultRoutingMatrix,
  breaker: createCircuitBreaker({ store: store.breaker, clock }),
  budget: createBudget({ store: store.costs, clock }),
  residency: { region: 'eu-central-1', allowNonEu: false, extraAllowed: [] },
  store,
  redact: (request) => ({ request, restore: (text) => text, counts: {} }),
  clock,
});

const rows: Record<string, string | number>[] = [];
for (const [label, windowMs] of [
  ['30d', 30 * DAY],
  ['24h', DAY],
] as const) {
  const oldWay = async () => recomputedMetrics(now - windowMs, now, await store.decisions.range(now - windowMs, now));
  const newWay = () => router.routingMetrics(windowMs);
  const [before, after] = [await oldWay(), await newWay()];
  for (const figure of ['totalDecisions', 'decisions', 'servedByPrimaryWithinBudget', 'efficiency', 'fallbackRate', 'withinBudgetRate', 'inputTokens'] as const) {
    if (before[figure] !== after[figure]) {
      throw new Error(`${label}: ${figure} differs: recomputed ${before[figure]}, from counters ${after[figure]}`);
    }
  }
  const oldMs = await medianMs(oldWay);
  const newMs = await medianMs(newWay);
  const [oldRedisUs, newRedisUs] = [await redisMicroseconds(oldWay), await redisMicroseconds(newWay)];
  rows.push({
    'routingMetrics window': label,
    decisions: after.totalDecisions,
    'recomputed (old), ms': Number(oldMs.toFixed(2)),
    'counters (new), ms': Number(newMs.toFixed(2)),
    'new / old': Number((newMs / oldMs).toFixed(4)),
    'Redis busy old -> new, µs': `${oldRedisUs} -> ${newRedisUs}`,
    'p95 old -> new, ms': `${before.p95LatencyMs?.toFixed(0) ?? '-'} -> ${after.p95LatencyMs ?? '-'}`,
  });
}
console.log(`${total} decisions over ${decisionRetentionDays} days; median of ${rounds} runs each`);
console.table(rows);
console.table([
  {
    'append of': `${total} decisions, 500 at a time`,
    'ZADD + trims (old), ms': Math.round(bareAppendMs),
    'with counters (new), ms': Math.round(appendMs),
    'new / old': Number((appendMs / bareAppendMs).toFixed(2)),
  },
]);

let cursor = '0';
do {
  const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
  cursor = next;
  if (keys.length > 0) {
    await redis.del(...keys);
  }
} while (cursor !== '0');
await redis.quit();
