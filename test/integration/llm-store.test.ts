import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBudget, defaultPriceTable, priceCall, utcDay, utcMonth } from '../../src/domain/llm/budget.js';
import type { BudgetAlert } from '../../src/domain/llm/budget.js';
import type { SupportModeState } from '../../src/domain/support-mode/state.js';
import { createAuditTrail } from '../../src/store/audit-trail.store.js';
import { createLlmStore } from '../../src/store/llm.store.js';
import { createSupportModeStore } from '../../src/store/support-mode.store.js';
import { attemptResults, decisionOutcomes, skipCauses } from '../../src/domain/llm/ports.js';
import type { LlmStore, RoutingDecision } from '../../src/domain/llm/ports.js';
import { routeReasons } from '../../src/domain/llm/decision.js';
import { metricsFrom } from '../../src/domain/llm/routing-metrics.js';
import type { RoutingMetrics } from '../../src/domain/llm/routing-metrics.js';
import { planWindow } from '../../src/domain/llm/tally-window.js';
import { llmPaths, operationTypes } from '../../src/domain/llm/types.js';
import type { LlmPath, OperationType } from '../../src/domain/llm/types.js';
import { binUpperBound, percentile } from '../../src/domain/stats.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

const prefix = `{${uniquePrefix('llmstore')}}`;
let redis: Redis;
let testNo = 0;

beforeAll(() => {
  redis = testRedis();
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

function freshPrefix(): string {
  testNo += 1;
  return `${prefix}:t${testNo}`;
}

async function keysUnder(keyPrefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

function decision(id: string, at: number, overrides: Partial<RoutingDecision> = {}): RoutingDecision {
  return {
    id,
    at,
    component: 'infrastructure-auditor',
    operation: 'infrastructure',
    task: 'audit-narrative',
    primary: 'direct',
    fallback: 'mcp',
    path: 'direct',
    reason: 'primary',
    fallbackUsed: false,
    latencyMs: 120,
    budgetMs: 10_000,
    withinBudget: true,
    inputTokens: 10,
    outputTokens: 20,
    tokensEstimated: false,
    costUsd: 0.001,
    priceKnown: true,
    model: 'anthropic.claude-3-sonnet-20240229-v1:0',
    outcome: 'success',
    attempts: [{ path: 'direct', result: 'success', skipped: null, latencyMs: 120, detail: null }],
    promptChars: 42,
    promptExcerpt: 'Summarise [EMAIL_1]',
    redactions: { email: 1 },
    injectionMarkers: [],
    ...overrides,
  };
}

const sonnet = 'anthropic.claude-3-sonnet-20240229-v1:0';

describe('llm store: keys', () => {
  it('puts every key under keyPrefix + ":llm:" with the documented names and TTLs', async () => {
    const keyPrefix = freshPrefix();
    const store = createLlmStore(redis, keyPrefix);
    const at = Date.UTC(2025, 2, 31, 23, 0, 0);
    await store.breaker.recordFailure('direct', { now: at, failureThreshold: 3, message: 'x' });
    await store.breaker.recordFailure('mcp', { now: at, failureThreshold: 3, message: 'x' });
    await store.decisions.append(decision('d1', at));
    await store.costs.addSpend({
      day: '2025-03-31',
      month: '2025-03',
      component: 'meta-monitor',
      model: sonnet,
      path: 'direct',
      costUsd: 0.5,
      priceKnown: true,
      inputTokens: 1,
      outputTokens: 2,
    });
    await store.costs.markAlert({ period: 'day', periodId: '2025-03-31', thresholdPct: 50, spentUsd: 0.5, budgetUsd: 1, at });
    await store.costs.markAlert({ period: 'month', periodId: '2025-03', thresholdPct: 50, spentUsd: 0.5, budgetUsd: 1, at });

    expect(await keysUnder(keyPrefix)).toEqual(
      [
        `${keyPrefix}:llm:breaker:direct`,
        `${keyPrefix}:llm:breaker:mcp`,
        `${keyPrefix}:llm:budget:alerts:day:2025-03-31`,
        `${keyPrefix}:llm:budget:alerts:month:2025-03`,
        `${keyPrefix}:llm:cost:day:2025-03-31`,
        `${keyPrefix}:llm:cost:day:2025-03-31:by`,
        `${keyPrefix}:llm:cost:month:2025-03`,
        `${keyPrefix}:llm:decisions`,
        `${keyPrefix}:llm:tally:day:2025-03-31`,
        `${keyPrefix}:llm:tally:hour:2025-03-31T23`,
        `${keyPrefix}:llm:tally:since`,
      ].sort(),
    );
    const day = 86_400;
    // Counters live as long as a window of the decision age limit (30 days) can reach them.
    const hourTtl = await redis.ttl(`${keyPrefix}:llm:tally:hour:2025-03-31T23`);
    expect(hourTtl).toBeGreaterThan(30 * day + 3_500);
    expect(hourTtl).toBeLessThanOrEqual(30 * day + 3_600);
    const dayTtl = await redis.ttl(`${keyPrefix}:llm:tally:day:2025-03-31`);
    expect(dayTtl).toBeGreaterThan(31 * day - 100);
    expect(dayTtl).toBeLessThanOrEqual(31 * day);
    expect(await redis.ttl(`${keyPrefix}:llm:tally:since`)).toBe(-1);
    for (const key of [`cost:day:2025-03-31`, `cost:day:2025-03-31:by`, `budget:alerts:day:2025-03-31`]) {
      const ttl = await redis.ttl(`${keyPrefix}:llm:${key}`);
      expect(ttl).toBeGreaterThan(39 * day);
      expect(ttl).toBeLessThanOrEqual(40 * day);
    }
    for (const key of [`cost:month:2025-03`, `budget:alerts:month:2025-03`]) {
      const ttl = await redis.ttl(`${keyPrefix}:llm:${key}`);
      expect(ttl).toBeGreaterThan(399 * day);
      expect(ttl).toBeLessThanOrEqual(400 * day);
    }
  });
});

describe('llm store: costs', () => {
  it('adds spend exactly per day, month and component x model', async () => {
    const store = createLlmStore(redis, freshPrefix());
    const base = { day: '2025-04-01', month: '2025-04', path: 'direct' as const, priceKnown: true };
    // 0.1 + 0.2 is not 0.3 in floating point; stored as nano-dollars it is.
    let totals = await store.costs.addSpend({ ...base, component: 'a', model: sonnet, costUsd: 0.1, inputTokens: 100, outputTokens: 10 });
    expect(totals).toEqual({ dayUsd: 0.1, monthUsd: 0.1 });
    totals = await store.costs.addSpend({ ...base, component: 'a', model: sonnet, costUsd: 0.2, inputTokens: 200, outputTokens: 20 });
    expect(totals).toEqual({ dayUsd: 0.3, monthUsd: 0.3 });
    await store.costs.addSpend({ ...base, component: 'b', model: 'mystery', costUsd: 0, priceKnown: false, inputTokens: 5, outputTokens: 5, path: 'mcp' });
    await store.costs.addSpend({ ...base, day: '2025-04-02', component: 'a', model: sonnet, costUsd: 0.05, inputTokens: 1, outputTokens: 1 });

    const day = await store.costs.readDay('2025-04-01');
    expect(day.totals).toEqual({ costUsd: 0.3, calls: 3, inputTokens: 305, outputTokens: 35, unpricedCalls: 1 });
    expect(day.rows).toEqual([
      { component: 'a', model: sonnet, costUsd: 0.3, calls: 2, inputTokens: 300, outputTokens: 30, unpricedCalls: 0 },
      { component: 'b', model: 'mystery', costUsd: 0, calls: 1, inputTokens: 5, outputTokens: 5, unpricedCalls: 1 },
    ]);
    expect(await store.costs.readMonth('2025-04')).toEqual({
      costUsd: 0.35,
      calls: 4,
      inputTokens: 306,
      outputTokens: 36,
      unpricedCalls: 1,
    });
    expect(await store.costs.readSpend('2025-04-02', '2025-04')).toEqual({ dayUsd: 0.05, monthUsd: 0.35 });
    expect(await store.costs.readDay('2025-01-01')).toEqual({
      day: '2025-01-01',
      totals: { costUsd: 0, calls: 0, inputTokens: 0, outputTokens: 0, unpricedCalls: 0 },
      rows: [],
    });
  });

  it('records an alert once per period and threshold', async () => {
    const store = createLlmStore(redis, freshPrefix());
    const alert: BudgetAlert = { period: 'day', periodId: '2025-04-01', thresholdPct: 75, spentUsd: 7.5, budgetUsd: 10, at: 1 };
    expect(await store.costs.markAlert(alert)).toBe(true);
    expect(await store.costs.markAlert({ ...alert, spentUsd: 8, at: 2 })).toBe(false);
    expect(await store.costs.markAlert({ ...alert, periodId: '2025-04-02' })).toBe(true);
    expect(await store.costs.listAlerts('day', '2025-04-01')).toEqual([alert]);
  });
});

describe('llm store: decisions', () => {
  it('returns decisions by time window and newest first', async () => {
    const store = createLlmStore(redis, freshPrefix());
    await store.decisions.append(decision('a', 1_000));
    await store.decisions.append(decision('b', 2_000));
    await store.decisions.append(decision('c', 3_000));
    expect((await store.decisions.range(1_500, 3_000)).map((d) => d.id)).toEqual(['b', 'c']);
    expect((await store.decisions.recent(2)).map((d) => d.id)).toEqual(['c', 'b']);
    expect(await store.decisions.range(0, 999)).toEqual([]);
    expect((await store.decisions.range(0, 1_000))[0]).toEqual(decision('a', 1_000));
  });

  it('keeps at most maxDecisions, dropping the oldest', async () => {
    const keyPrefix = freshPrefix();
    const store = createLlmStore(redis, keyPrefix, { maxDecisions: 5 });
    for (let i = 1; i <= 8; i += 1) {
      await store.decisions.append(decision(`d${i}`, i * 1_000));
    }
    expect(await redis.zcard(`${keyPrefix}:llm:decisions`)).toBe(5);
    expect((await store.decisions.range(0, Number.MAX_SAFE_INTEGER)).map((d) => d.id)).toEqual(['d4', 'd5', 'd6', 'd7', 'd8']);
  });

  it('drops decisions older than the age limit', async () => {
    const store = createLlmStore(redis, freshPrefix(), { decisionMaxAgeMs: 10_000 });
    await store.decisions.append(decision('old', 1_000));
    await store.decisions.append(decision('edge', 5_000));
    await store.decisions.append(decision('new', 15_000));
    expect((await store.decisions.range(0, Number.MAX_SAFE_INTEGER)).map((d) => d.id)).toEqual(['edge', 'new']);
  });

  it('skips members that are not valid decisions', async () => {
    const keyPrefix = freshPrefix();
    const store = createLlmStore(redis, keyPrefix);
    await redis.zadd(`${keyPrefix}:llm:decisions`, 500, 'not json', 600, JSON.stringify({ id: 'half' }));
    await store.decisions.append(decision('ok', 700));
    expect((await store.decisions.range(0, 1_000)).map((d) => d.id)).toEqual(['ok']);
  });
});

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** A small seeded generator, so a failing mix can be replayed. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Decisions of every outcome, reason and attempt result, with latencies from 0 to 30 s (fractions too). */
function mixedDecisions(seed: number, times: readonly number[]): RoutingDecision[] {
  const random = seeded(seed);
  const pick = <T>(options: readonly T[]): T => {
    const chosen = options[Math.floor(random() * options.length)];
    if (chosen === undefined) {
      throw new Error('nothing to pick from');
    }
    return chosen;
  };
  const latency = () => pick([0, random() * 2, Math.round(random() * 500), random() * 30_000, 100, 12_000, 1234.5678]);
  return times.map((at, i) => {
    const primary = pick(['direct', 'mcp'] as const);
    const fallback = pick([primary === 'direct' ? 'mcp' : 'direct', null] as const);
    const outcome = pick(decisionOutcomes);
    const path = outcome === 'success' ? pick([primary, fallback ?? primary]) : outcome === 'fallback_local' ? 'local' : null;
    return decision(`m${seed}-${i}`, at, {
      operation: pick(operationTypes),
      primary,
      fallback,
      path,
      outcome,
      reason: outcome === 'aborted' ? 'aborted' : pick(routeReasons),
      fallbackUsed: path !== null && path !== primary,
      latencyMs: latency(),
      withinBudget: random() < 0.7,
      inputTokens: Math.floor(random() * 3000),
      outputTokens: Math.floor(random() * 800),
      // Whole nano-dollars, so the expected float sum is exact to 1e-12.
      costUsd: Math.round(random() * 5_000_000) / 1e9,
      attempts: Array.from({ length: Math.floor(random() * 4) }, () => {
        const result = pick(attemptResults);
        return result === 'skipped'
          ? { path: pick(llmPaths), result, skipped: pick(skipCauses), latencyMs: 0, detail: 'skipped' }
          : { path: pick(llmPaths), result, skipped: null, latencyMs: latency(), detail: null };
      }),
    });
  });
}

/**
 * The figures recomputed from the decisions themselves, the way the definitions read; a latency
 * percentile is the upper bound of the histogram bin of the exact nearest-rank value, as documented.
 */
function recomputed(all: readonly RoutingDecision[], from: number, to: number): RoutingMetrics {
  const ds = all.filter((d) => d.at >= from && d.at <= to);
  const count = (keep: (d: RoutingDecision) => boolean, among: readonly RoutingDecision[] = ds) => among.filter(keep).length;
  const share = (part: number, whole: number) => (whole === 0 ? null : part / whole);
  const pct = (values: number[], p: number) => {
    const exact = percentile(values, p);
    return exact === null ? null : binUpperBound(exact);
  };
  const judged = (d: RoutingDecision) => d.outcome !== 'aborted' && d.reason !== 'no_remote_path';
  const primaryOnTime = (d: RoutingDecision) => judged(d) && d.outcome === 'success' && d.path === d.primary && d.withinBudget;
  const answered = ds.filter((d) => d.outcome === 'success' || d.outcome === 'fallback_local');
  const reasons: Record<string, number> = {};
  for (const d of ds) {
    reasons[d.reason] = (reasons[d.reason] ?? 0) + 1;
  }
  const pathFigures = (path: LlmPath) => {
    const mine = ds.flatMap((d) => d.attempts).filter((a) => a.path === path);
    const results = (...wanted: string[]) => mine.filter((a) => wanted.includes(a.result)).length;
    const calls = mine.filter((a) => a.result !== 'skipped').map((a) => a.latencyMs);
    return {
      attempts: calls.length,
      success: results('success'),
      errors: results('failed', 'timeout'),
      timeouts: results('timeout'),
      throttled: results('throttled'),
      aborted: results('aborted'),
      skipped: results('skipped'),
      served: count((d) => d.path === path),
      p50LatencyMs: pct(calls, 50),
      p95LatencyMs: pct(calls, 95),
    };
  };
  const operationFigures = (op: OperationType) => {
    const mine = ds.filter((d) => d.operation === op);
    return {
      decisions: count(judged, mine),
      servedByPrimaryWithinBudget: count(primaryOnTime, mine),
      fallbackUsed: count((d) => d.fallbackUsed, mine),
      efficiency: share(count(primaryOnTime, mine), count(judged, mine)),
      p50LatencyMs: pct(mine.map((d) => d.latencyMs), 50),
      p95LatencyMs: pct(mine.map((d) => d.latencyMs), 95),
    };
  };
  return {
    windowStart: new Date(from).toISOString(),
    windowEnd: new Date(to).toISOString(),
    decisions: count(judged),
    notCounted: { aborted: count((d) => d.outcome === 'aborted'), noRemotePath: count((d) => d.outcome !== 'aborted' && d.reason === 'no_remote_path') },
    servedByPrimaryWithinBudget: count(primaryOnTime),
    efficiency: share(count(primaryOnTime), count(judged)),
    windowMs: to - from,
    totalDecisions: ds.length,
    outcomes: { success: 0, fallback_local: 0, throttled: 0, error: 0, aborted: 0, ...Object.fromEntries(decisionOutcomes.map((o) => [o, count((d) => d.outcome === o)])) },
    fallbackRate: share(count((d) => d.fallbackUsed, answered), answered.length),
    withinBudgetRate: share(count((d) => d.withinBudget, answered), answered.length),
    p50LatencyMs: pct(ds.map((d) => d.latencyMs), 50),
    p95LatencyMs: pct(ds.map((d) => d.latencyMs), 95),
    reasons,
    paths: { direct: pathFigures('direct'), mcp: pathFigures('mcp'), local: pathFigures('local') },
    operations: Object.fromEntries(operationTypes.map((op) => [op, operationFigures(op)])) as RoutingMetrics['operations'],
    costUsd: ds.reduce((sum, d) => sum + d.costUsd, 0),
    inputTokens: ds.reduce((sum, d) => sum + d.inputTokens, 0),
    outputTokens: ds.reduce((sum, d) => sum + d.outputTokens, 0),
  };
}

/** Checks the figures of each window against a recomputation from `all`, the decisions stored. */
async function expectFiguresOfStored(store: LlmStore, all: readonly RoutingDecision[], windows: readonly (readonly [number, number])[]): Promise<void> {
  for (const [from, to] of windows) {
    const label = `${new Date(from).toISOString()} .. ${new Date(to).toISOString()}`;
    const figures = metricsFrom(await store.decisions.tally(from, to), to, to - from);
    const expected = recomputed(all, from, to);
    expect({ ...figures, costUsd: 0 }, label).toEqual({ ...expected, costUsd: 0 });
    expect(figures.costUsd, label).toBeCloseTo(expected.costUsd, 12);
  }
}

describe('llm store: routing figures from running counters', () => {
  const base = Date.UTC(2025, 5, 9); // a UTC midnight

  it('equal a recomputation from the stored decisions, for windows inside a bucket, across bucket edges and outside the decisions', async () => {
    const store = createLlmStore(redis, freshPrefix());
    const random = seeded(7);
    const times = [
      ...Array.from({ length: 300 }, () => base - DAY + Math.floor(random() * 3 * DAY)),
      // A burst in one hour bucket, and decisions on and next to hour and day edges.
      ...Array.from({ length: 25 }, () => base + 5 * HOUR + Math.floor(random() * 60_000)),
      ...[base, base - 1, base + 3 * HOUR, base + 3 * HOUR - 1, base + 3 * HOUR + 1, base + DAY, base + DAY - 1, base + DAY + 1],
    ];
    const all = mixedDecisions(7, times);
    const earliest = all.reduce((a, b) => (b.at < a.at ? b : a));
    // Counting starts with the first decision appended; the rest arrive out of time order, as
    // slow requests (timed at their start) are recorded after quick ones.
    await store.decisions.append(earliest);
    for (const d of all.filter((d) => d !== earliest).sort(() => random() - 0.5)) {
      await store.decisions.append(d);
    }
    const windows = [
      [base - DAY - HOUR, base + 3 * DAY],
      [base, base + DAY],
      [base + 3 * HOUR, base + 27 * HOUR],
      [base + 3 * HOUR + 1, base + 26 * HOUR - 1],
      [base + 3 * HOUR - 1, base + 5 * HOUR + 30_000],
      [base + 5 * HOUR + 10_000, base + 5 * HOUR + 40_000],
      [base - DAY + 7 * HOUR + 123, base + DAY + 2 * HOUR + 456],
      [base - 30 * DAY, base - 2 * DAY],
      [base + 10 * DAY, base + 11 * DAY],
    ] as const;
    // The long windows do read day and hour counters (not only stored decisions).
    expect(planWindow(base - DAY + 7 * HOUR + 123, base + DAY + 2 * HOUR + 456, earliest.at).buckets.map((b) => b.unit)).toEqual([
      ...Array<'hour'>(16).fill('hour'),
      'day',
      'hour',
      'hour',
    ]);
    expect(planWindow(base, base + DAY, earliest.at)).toEqual({
      buckets: [{ unit: 'day', start: base }],
      spans: [{ from: base + DAY, to: base + DAY, toInclusive: true }],
    });
    await expectFiguresOfStored(store, all, windows);
  });

  it('count decisions stored before the counters existed from the stored decisions themselves', async () => {
    const keyPrefix = freshPrefix();
    const store = createLlmStore(redis, keyPrefix);
    const random = seeded(11);
    // As an earlier version left them: the decisions, no counters (the last in the hour counting starts).
    const before = mixedDecisions(11, Array.from({ length: 120 }, () => base + Math.floor(random() * (20 * HOUR + 17 * 60_000))));
    for (const d of before) {
      await redis.zadd(`${keyPrefix}:llm:decisions`, d.at, JSON.stringify(d));
    }
    // Counting starts at 20:17; a slow request that started before it is recorded after it.
    const after = mixedDecisions(12, [base + 20 * HOUR + 17 * 60_000, ...Array.from({ length: 120 }, () => base + 10 * HOUR + Math.floor(random() * 50 * HOUR))]);
    for (const d of after) {
      await store.decisions.append(d);
    }
    await expectFiguresOfStored(store, [...before, ...after], [
      [base, base + 60 * HOUR],
      [base + 5 * HOUR, base + 40 * HOUR + 1],
      [base + 21 * HOUR, base + 50 * HOUR],
      [base + 20 * HOUR + 17 * 60_000, base + 2 * DAY],
    ]);
  });
});

describe('Lua scripts after SCRIPT FLUSH (a restarted Redis has an empty script cache)', () => {
  it('the decision store sums its counters', async () => {
    const store = createLlmStore(redis, freshPrefix());
    const at = Date.UTC(2025, 5, 9, 10);
    const all = mixedDecisions(5, Array.from({ length: 30 }, (_, i) => at + i * 10 * 60_000));
    for (const d of all) {
      await store.decisions.append(d);
    }
    const window = [at, at + 5 * HOUR] as const;
    expect(planWindow(...window, at).buckets).toHaveLength(5);
    await expectFiguresOfStored(store, all, [window]);
    await redis.script('FLUSH');
    await expectFiguresOfStored(store, all, [window]);
  });
});

describe('Lua scripts of the other stores after SCRIPT FLUSH (a restarted Redis has an empty script cache)', () => {
  it('the audit trail appends and drops archived entries', async () => {
    const keyPrefix = freshPrefix();
    const trail = createAuditTrail(redis, keyPrefix);
    await trail.append({ actor: 'test', action: 'first' });
    await trail.append({ actor: 'test', action: 'second' });
    const [first] = await trail.range({ count: 1 });
    await trail.dropArchived(first ? [first] : []);
    await redis.script('FLUSH');
    const third = await trail.append({ actor: 'test', action: 'third' });
    expect(third.seq).toBe(3);
    const [second] = await trail.range({ count: 1 });
    await redis.script('FLUSH');
    await trail.dropArchived(second ? [second] : []);
    expect((await trail.range()).map((e) => e.event?.action)).toEqual(['third']);
    expect(await trail.anchor()).toEqual({ seq: 2, hash: second?.hash });
  });

  it('support mode updates under its lock', async () => {
    const store = createSupportModeStore(redis, freshPrefix());
    const bump = (state: SupportModeState): SupportModeState => ({ ...state, version: state.version + 1 });
    await store.exclusive(() => store.update(bump));
    await redis.script('FLUSH');
    const { after } = await store.exclusive(() => store.update(bump));
    expect(after.version).toBe(2);
    await redis.script('FLUSH');
    // The lock was released by its script: taking it again does not wait for its TTL.
    expect((await store.exclusive(() => store.update(bump))).after.version).toBe(3);
    expect((await store.read()).version).toBe(3);
  });
});

describe('pricing', () => {
  const pricing = { prices: defaultPriceTable, unknownModelPrice: { inputPer1k: 0.01, outputPer1k: 0.02 } };

  it('prices Claude 3 Sonnet at 0.003 / 0.015 USD per 1k tokens', () => {
    expect(priceCall('direct', sonnet, { inputTokens: 2000, outputTokens: 1000 }, pricing)).toEqual({
      costUsd: 0.006 + 0.015,
      priceKnown: true,
    });
    expect(priceCall('direct', `eu.${sonnet}`, { inputTokens: 1000, outputTokens: 0 }, pricing)).toEqual({
      costUsd: 0.003,
      priceKnown: true,
    });
    expect(priceCall('mcp', sonnet, { inputTokens: 1000, outputTokens: 0 }, pricing).costUsd).toBe(0.003);
  });

  it('charges an unknown direct model the default price, an unknown MCP model nothing, local nothing', () => {
    expect(priceCall('direct', 'who-knows', { inputTokens: 1000, outputTokens: 1000 }, pricing)).toEqual({
      costUsd: 0.03,
      priceKnown: false,
    });
    expect(priceCall('mcp', 'who-knows', { inputTokens: 1000, outputTokens: 1000 }, pricing)).toEqual({
      costUsd: 0,
      priceKnown: false,
    });
    expect(priceCall('local', 'local-template', { inputTokens: 1000, outputTokens: 1000 }, pricing)).toEqual({
      costUsd: 0,
      priceKnown: true,
    });
  });

  it('gives UTC period ids', () => {
    const at = Date.UTC(2025, 11, 31, 23, 59, 59);
    expect(utcDay(at)).toBe('2025-12-31');
    expect(utcMonth(at)).toBe('2025-12');
  });
});

describe('budget', () => {
  it('fires each threshold once per period and reports exhaustion', async () => {
    const store = createLlmStore(redis, freshPrefix());
    let now = Date.UTC(2025, 5, 10, 8, 0, 0);
    const fired: BudgetAlert[] = [];
    const budget = createBudget({
      store: store.costs,
      settings: { dailyUsd: 1, monthlyUsd: 10 },
      clock: () => now,
      onAlert: (a) => fired.push(a),
    });
    const spend = (costUsd: number) =>
      budget.record({ component: 'c', path: 'direct', model: sonnet, usage: { inputTokens: 1, outputTokens: 1 }, costUsd, priceKnown: true });

    expect(await spend(0.4)).toEqual([]);
    // 0.4 -> 0.8 crosses 50 and 75 at once.
    expect((await spend(0.4)).map((a) => `${a.period}:${a.thresholdPct}`)).toEqual(['day:50', 'day:75']);
    expect((await spend(0.1)).map((a) => `${a.period}:${a.thresholdPct}`)).toEqual(['day:90']);
    expect((await budget.status()).exhausted).toBe(false);
    expect((await spend(0.1)).map((a) => `${a.period}:${a.thresholdPct}`)).toEqual(['day:100']);
    expect(await spend(0.1)).toEqual([]);

    const status = await budget.status();
    expect(status.exhausted).toBe(true);
    expect(status.day).toMatchObject({ id: '2025-06-10', spentUsd: 1.1, budgetUsd: 1, exhausted: true });
    expect(status.day.usedPct).toBeCloseTo(110);
    expect(status.month).toMatchObject({ id: '2025-06', spentUsd: 1.1, budgetUsd: 10, exhausted: false });
    expect(status.reason).toContain('daily LLM budget is exhausted');
    expect(fired.map((a) => a.thresholdPct)).toEqual([50, 75, 90, 100]);

    // A new UTC day has a fresh daily budget; the month keeps counting.
    now = Date.UTC(2025, 5, 11, 0, 0, 1);
    expect((await budget.status()).exhausted).toBe(false);
    expect(await spend(0.2)).toEqual([]);
    expect((await budget.status()).month.spentUsd).toBeCloseTo(1.3, 10);

    const report = await budget.report({ days: 2 });
    expect(report.days.map((d) => [d.day, d.totals.costUsd])).toEqual([
      ['2025-06-11', 0.2],
      ['2025-06-10', 1.1],
    ]);
    expect(report.month.calls).toBe(6);
    expect(report.alerts).toEqual([]);
  });

  it('treats 0 or missing budgets as unlimited and does not record local calls', async () => {
    const store = createLlmStore(redis, freshPrefix());
    const budget = createBudget({ store: store.costs, settings: { dailyUsd: 0 }, clock: () => Date.UTC(2025, 0, 1) });
    await budget.record({ component: 'c', path: 'direct', model: sonnet, usage: { inputTokens: 0, outputTokens: 0 }, costUsd: 1000, priceKnown: true });
    await budget.record({ component: 'c', path: 'local', model: 'local', usage: { inputTokens: 9, outputTokens: 9 }, costUsd: 0, priceKnown: true });
    const status = await budget.status();
    expect(status).toMatchObject({ exhausted: false, reason: null });
    expect(status.day).toMatchObject({ spentUsd: 1000, budgetUsd: null, usedPct: null });
    expect((await store.costs.readDay('2025-01-01')).totals.calls).toBe(1);
  });
});
