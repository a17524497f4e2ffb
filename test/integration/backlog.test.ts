import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GapSighting } from '../../src/domain/gaps/gap.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { dumpKeys } from '../helpers/redis.js';

const base = '/admin/bedrock-support/implementation';
const start = new Date('2026-03-01T10:00:00.000Z');
let now = new Date(start.getTime() + 3_600_000);
let t: TestApp;

interface Item {
  rank: number;
  id: string;
  origin: string;
  title: string;
  score: number;
  computedScore: number;
  rankScore: number;
  parts: Record<string, number>;
  inputs: { criticality: string | null; count: number };
  effort: number;
  effortFrom: string;
  override: { priority: string | number; setBy: string; setAt: string; score: number } | null;
  blockedBy: { id: string; open: boolean }[];
  sprint: number;
}
interface Backlog {
  counts: { total: number; byOrigin: Record<string, number>; byType: Record<string, number>; bySeverity: Record<string, number> };
  items: Item[];
  cycles: string[][];
  sprints: { number: number; points: number; items: string[] }[];
}
interface ErrorAnswer {
  error: { code: string; message: string; details: unknown };
}

const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
const backlog = async (query = '') => {
  const res = await t.call('GET', `${base}/backlog${query}`, { role: 'viewer' });
  expect(res.status).toBe(200);
  return json<Backlog>(res);
};

// fleet-redis is a critical target of the built-in inventory; meta-monitor's queue target is high.
const drift: GapSighting = {
  source: 'audit',
  subject: 'fleet-redis',
  check: 'eviction-policy',
  type: 'configuration_drift',
  severity: 'critical',
  title: 'fleet-redis: eviction policy',
  components: ['bedrock-support'],
  evidence: { expected: 'noeviction', observed: 'allkeys-lru' },
};
const slow: GapSighting = {
  source: 'meta-monitor',
  subject: 'bottleneck:meta-monitor',
  check: 'bottleneck',
  type: 'performance_issue',
  severity: 'medium',
  title: 'meta-monitor waits',
  components: ['meta-monitor'],
  evidence: { expected: 'p95 < 1 s', observed: 'p95 4 s' },
};
const fixed: GapSighting = { ...drift, check: 'aof', title: 'fleet-redis: AOF' };

let driftId = '';
let slowId = '';
let itemId = '';

beforeAll(async () => {
  t = await makeTestApp('backlog', { clock: () => now });
  const [a, b] = await Promise.all([
    t.adapters.gaps.observe({ source: 'audit', runId: 'audit-1', at: start, scope: ['fleet-redis'] }, [drift, fixed]),
    t.adapters.gaps.observe({ source: 'meta-monitor', runId: 'analysis-1', at: start, scope: [] }, [slow]),
  ]);
  driftId = a.opened.find((g) => g.check === 'eviction-policy')?.id ?? '';
  slowId = b.opened[0]?.id ?? '';
  // A second audit no longer sees the AOF gap: resolved, so out of the backlog.
  await t.adapters.gaps.observe({ source: 'audit', runId: 'audit-2', at: start, scope: ['fleet-redis'] }, [drift]);
});

afterAll(async () => {
  await t.close();
});

describe('the implementation-support backlog', () => {
  it('a hand-posted item is redacted, audited, and names blockers that exist', async () => {
    const body = { title: 'Ask lena.schulz@example.com about the Redis AOF rollout', type: 'missing_implementation', severity: 'high', components: ['implementation-support'], effort: 4, blockedBy: [driftId] };
    const res = await t.call('POST', `${base}/backlog/items`, { role: 'operator', body });
    expect(res.status).toBe(201);
    const item = await json<{ id: string; title: string; effort: number; blockedBy: string[]; createdBy: string }>(res);
    expect(item.id).toMatch(/^item-[0-9a-f]{16}$/);
    expect(item).toMatchObject({ effort: 4, blockedBy: [driftId], createdBy: 'operator-key' });
    expect(item.title).not.toContain('lena.schulz');
    itemId = item.id;
    expect(await dumpKeys(t.client, t.prefix)).not.toContain('lena.schulz');
    const trail = (await t.auditTrail.range()).map((e) => e.event).filter((e) => e?.action === 'backlog.item.add');
    expect(trail.map((e) => [e?.actor, e?.target])).toEqual([['operator-key', itemId]]);
  });

  it('lists the open gaps and hand items with scores whose parts add up, counts and sprints', async () => {
    const b = await backlog();
    // drift: critical 40 + critical target 20 + 2·(2−1) 2 + seen within a day 10 + 0 weeks 0 + 1 component 2 − effort 1 (drift default) = 73
    // item: high 30 + implementation-support's queue target (high) 15 + 0 + 10 + 0 + 2 − 4 = 53
    // slow: medium 20 + meta-monitor's queue target (high) 15 + 0 + 10 + 0 + 2 − 3 (performance default) = 44
    expect(b.items.map((i) => [i.id, i.score])).toEqual([
      [driftId, 73],
      [itemId, 53],
      [slowId, 44],
    ]);
    const drifted = b.items[0];
    expect(drifted?.parts).toEqual({ severity: 40, criticality: 20, frequency: 2, recency: 10, age: 0, blastRadius: 2, effort: -1 });
    expect(drifted?.inputs).toMatchObject({ criticality: 'critical', count: 2 });
    expect(drifted?.effortFrom).toBe('type-default');
    expect(b.items[1]?.blockedBy).toEqual([{ id: driftId, open: true }]);
    expect(b.counts).toMatchObject({ total: 3, byOrigin: { gap: 2, item: 1 }, bySeverity: { critical: 1, high: 1, medium: 1, low: 0 } });
    expect(b.counts.byType).toMatchObject({ configuration_drift: 1, missing_implementation: 1, performance_issue: 1, broken_integration: 0 });
    expect(b.sprints).toEqual([{ number: 1, capacity: 10, points: 8, items: [driftId, itemId, slowId], overCapacity: false }]);
    // Four points a sprint: the item (4) no longer fits beside the drift (1); the slow gap (3) does.
    const small = await backlog('?capacity=4');
    expect(small.sprints.map((s) => s.items)).toEqual([[driftId, slowId], [itemId]]);
  });

  it('an override ranks the item, says who set it and when, and survives a new sighting of the gap', async () => {
    const res = await t.call('POST', `${base}/backlog/prioritize`, { role: 'operator', body: { items: [{ id: slowId, priority: 'critical', effort: 8 }] } });
    expect(res.status).toBe(200);
    expect(await json<{ applied: number }>(res)).toMatchObject({ applied: 1 });
    const setAt = now.toISOString();
    // 20 + 15 + 10 + 2 − 8 (the effort set) = 39 computed; one more sighting adds 2.
    const check = (b: Backlog, computedScore: number) => {
      expect(b.items[0]?.id).toBe(slowId);
      expect(b.items[0]).toMatchObject({ score: 100, computedScore, effort: 8, effortFrom: 'override', override: { priority: 'critical', setBy: 'operator-key', setAt, score: 100 } });
    };
    check(await backlog(), 39);
    // The meta-monitor sees the bottleneck again: the gap is rewritten, the override stays.
    now = new Date(now.getTime() + 60_000);
    await t.adapters.gaps.observe({ source: 'meta-monitor', runId: 'analysis-2', at: now, scope: ['bottleneck:meta-monitor'] }, [slow]);
    const again = await backlog();
    check(again, 41);
    expect(again.items[0]?.inputs.count).toBe(2);
    const trail = (await t.auditTrail.range()).map((e) => e.event).filter((e) => e?.action === 'backlog.prioritize');
    expect(trail.map((e) => e?.actor)).toEqual(['operator-key']);
  });

  it('an unknown id in a batch is a 404 naming it, and nothing of the batch is applied', async () => {
    const before = await backlog();
    const res = await t.call('POST', `${base}/backlog/prioritize`, {
      role: 'operator',
      body: { items: [{ id: driftId, priority: 1 }, { id: 'gap-0000000000000000', priority: 'high' }, { id: itemId, priority: 'low' }] },
    });
    expect(res.status).toBe(404);
    const answer = await json<ErrorAnswer>(res);
    expect(answer.error.message).toContain('gap-0000000000000000');
    expect(answer.error.details).toMatchObject({ field: 'items', unknown: ['gap-0000000000000000'] });
    const after = await backlog();
    expect(after.items.map((i) => [i.id, i.score, i.override])).toEqual(before.items.map((i) => [i.id, i.score, i.override]));
    expect(after.items.find((i) => i.id === driftId)?.override).toBeNull();
    const trail = (await t.auditTrail.range()).map((e) => e.event).filter((e) => e?.action === 'backlog.prioritize');
    expect(trail).toHaveLength(1);
  });

  it('refuses bad input naming the field, and roles that may not', async () => {
    const tooHigh = await t.call('POST', `${base}/backlog/prioritize`, { role: 'operator', body: { items: [{ id: driftId, priority: 101 }] } });
    expect(tooHigh.status).toBe(400);
    expect((await json<ErrorAnswer>(tooHigh)).error.message).toContain('items.0.priority');
    const twice = await t.call('POST', `${base}/backlog/prioritize`, { role: 'operator', body: { items: [{ id: driftId, priority: 1 }, { id: driftId, priority: 2 }] } });
    expect(twice.status).toBe(400);
    expect((await json<ErrorAnswer>(twice)).error.message).toContain('items.1.id');
    const capacity = await t.call('GET', `${base}/backlog?capacity=0`, { role: 'viewer' });
    expect(capacity.status).toBe(400);
    expect((await json<ErrorAnswer>(capacity)).error.message).toContain('capacity');
    const blocker = await t.call('POST', `${base}/backlog/items`, { role: 'operator', body: { title: 'x', type: 'broken_integration', blockedBy: ['item-0000000000000000'] } });
    expect(blocker.status).toBe(404);
    expect((await json<ErrorAnswer>(blocker)).error.message).toMatch(/blockedBy.*item-0000000000000000/);
    const badType = await t.call('POST', `${base}/backlog/items`, { role: 'operator', body: { title: 'x', type: 'nope' } });
    expect(badType.status).toBe(400);
    expect((await json<ErrorAnswer>(badType)).error.message).toContain('type');
    expect((await backlog()).counts.byOrigin.item).toBe(1);

    expect((await t.call('POST', `${base}/backlog/prioritize`, { role: 'viewer', body: { items: [{ id: driftId, priority: 1 }] } })).status).toBe(403);
    expect((await t.call('POST', `${base}/backlog/items`, { role: 'viewer', body: { title: 'x', type: 'broken_integration' } })).status).toBe(403);
    expect((await t.call('GET', `${base}/backlog`, { role: 'ingest' })).status).toBe(403);
    expect((await t.call('GET', `${base}/backlog`, { role: null })).status).toBe(401);
    expect((await backlog()).items.find((i) => i.id === driftId)?.override).toBeNull();
  });
});
