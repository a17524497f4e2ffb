import { describe, expect, it } from 'vitest';
import { buildBacklog, criticalityOf, cyclesOf, scoreOf, type BacklogEntry } from '../../src/domain/implementation/backlog.js';

const now = new Date('2026-03-01T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
const hour = 3_600_000;
const day = 24 * hour;

function entry(id: string, over: Partial<BacklogEntry> = {}): BacklogEntry {
  return {
    id,
    origin: 'item',
    title: id,
    type: 'broken_integration',
    severity: 'medium',
    status: 'open',
    components: [],
    count: 1,
    firstSeenAt: ago(hour),
    lastSeenAt: ago(hour),
    blockedBy: [],
    effort: 1,
    effortFrom: 'item',
    criticality: null,
    override: null,
    ...over,
  };
}

describe('backlog score', () => {
  it('adds up the parts as the README states them', () => {
    // high 30 + critical 20 + 2·(4−1) 6 + seen 2 days ago 5 + 28 days old 2·4 8 + 3 components 6 − effort 3 = 72
    const a = scoreOf(entry('a', { severity: 'high', criticality: 'critical', count: 4, lastSeenAt: ago(2 * day), firstSeenAt: ago(28 * day), components: ['x', 'y', 'z'], effort: 3 }), now);
    expect(a.parts).toEqual({ severity: 30, criticality: 20, frequency: 6, recency: 5, age: 8, blastRadius: 6, effort: -3 });
    expect(a.score).toBe(72);
    expect(a.inputs).toEqual({ severity: 'high', criticality: 'critical', count: 4, daysSinceLastSeen: 2, ageDays: 28, components: 3, effort: 3 });

    // caps: critical 40 + unknown criticality 10 + 2·5 10 + seen an hour ago 10 + 2·5 weeks 10 + 2·5 components 10 − 10 = 80
    const b = scoreOf(entry('b', { severity: 'critical', count: 20, lastSeenAt: ago(hour), firstSeenAt: ago(100 * day), components: ['1', '2', '3', '4', '5', '6', '7'], effort: 13 }), now);
    expect(b.parts).toEqual({ severity: 40, criticality: 10, frequency: 10, recency: 10, age: 10, blastRadius: 10, effort: -10 });
    expect(b.score).toBe(80);

    // low 10 + low 5 + 0 + last seen 7 days ago 0 + one week 2 + 0 − 1 = 16
    const c = scoreOf(entry('c', { severity: 'low', criticality: 'low', lastSeenAt: ago(7 * day), firstSeenAt: ago(8 * day), effort: 1 }), now);
    expect(c.parts).toEqual({ severity: 10, criticality: 5, frequency: 0, recency: 0, age: 2, blastRadius: 0, effort: -1 });
    expect(c.score).toBe(16);
    // Six days and 23 hours is still within the week.
    expect(scoreOf(entry('d', { lastSeenAt: ago(7 * day - hour) }), now).parts.recency).toBe(5);
  });

  it('takes an audit gap’s own target, else the most critical target of its components', () => {
    const targets = [
      { id: 'api-health', component: 'api', criticality: 'low' as const },
      { id: 'api-db', component: 'api', criticality: 'critical' as const },
      { id: 'search', component: 'search', criticality: 'medium' as const },
    ];
    expect(criticalityOf({ source: 'audit', subject: 'api-health', components: ['api'] }, targets)).toBe('low');
    expect(criticalityOf({ source: 'manual', subject: 'api-health', components: ['api'] }, targets)).toBe('critical');
    expect(criticalityOf({ components: ['search', 'nowhere'] }, targets)).toBe('medium');
    expect(criticalityOf({ components: ['nowhere'] }, targets)).toBeNull();
  });

  it('an override replaces the score the ranking uses; the computed one stays visible', () => {
    const low = entry('low', { severity: 'low', override: { priority: 'critical', setBy: 'ops', setAt: now.toISOString() } });
    const high = entry('high', { severity: 'critical' });
    const numeric = entry('numeric', { severity: 'critical', override: { priority: 5, setBy: 'ops', setAt: now.toISOString() } });
    const { items } = buildBacklog([high, numeric, low], { now, capacity: 10 });
    expect(items.map((i) => [i.id, i.score])).toEqual([
      ['low', 100],
      ['high', 59],
      ['numeric', 5],
    ]);
    expect(items[0]?.computedScore).toBe(29);
    expect(items[0]?.override).toMatchObject({ priority: 'critical', setBy: 'ops', score: 100 });
  });
});

describe('backlog ranking with blockers', () => {
  it('an item comes after an open item that blocks it, and the blocker moves up with it', () => {
    const top = entry('top', { severity: 'critical', blockedBy: ['base'] });
    const middle = entry('middle', { severity: 'high' });
    const base = entry('base', { severity: 'low' });
    const { items } = buildBacklog([middle, top, base], { now, capacity: 10 });
    expect(items.map((i) => i.id)).toEqual(['base', 'top', 'middle']);
    expect(items.find((i) => i.id === 'base')).toMatchObject({ rank: 1, score: 29, rankScore: 59, blocks: ['top'] });
    expect(items.find((i) => i.id === 'top')?.blockedBy).toEqual([{ id: 'base', open: true }]);
  });

  it('a closed or unknown blocker holds nothing back', () => {
    const blocked = entry('blocked', { severity: 'critical', blockedBy: ['gap-0000000000000000'] });
    const other = entry('other', { severity: 'low' });
    const { items, cycles } = buildBacklog([other, blocked], { now, capacity: 10 });
    expect(items.map((i) => i.id)).toEqual(['blocked', 'other']);
    expect(items[0]?.blockedBy).toEqual([{ id: 'gap-0000000000000000', open: false }]);
    expect(cycles).toEqual([]);
  });

  it('reports a cycle instead of following it, and still ranks every item once', () => {
    const a = entry('a', { severity: 'high', blockedBy: ['c'] });
    const b = entry('b', { severity: 'critical', blockedBy: ['a'] });
    const c = entry('c', { severity: 'low', blockedBy: ['b'] });
    const d = entry('d', { severity: 'critical', blockedBy: ['a'] });
    const self = entry('self', { severity: 'medium', blockedBy: ['self'] });
    const { items, cycles } = buildBacklog([a, b, c, d, self], { now, capacity: 10 });
    expect(cycles).toEqual([['a', 'b', 'c'], ['self']]);
    expect(items.map((i) => i.id).sort()).toEqual(['a', 'b', 'c', 'd', 'self']);
    expect(items.filter((i) => i.inCycle).map((i) => i.id).sort()).toEqual(['a', 'b', 'c', 'self']);
    const rank = (id: string) => items.findIndex((i) => i.id === id);
    // d is blocked by a, which is not in a cycle with d: d still waits for it.
    expect(rank('d')).toBeGreaterThan(rank('a'));
  });

  it('finds cycles in a long chain without overflowing the stack', () => {
    const ids = Array.from({ length: 50_000 }, (_, i) => `n${i}`);
    const blockers = new Map(ids.map((id, i) => [id, [ids[(i + 1) % ids.length] ?? '']]));
    const cycles = cyclesOf(ids, blockers);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]).toHaveLength(50_000);
  });
});

describe('backlog sprints', () => {
  it('fills sprints by effort in rank order, first fit, never before a blocker', () => {
    // Scores fall with severity; efforts 6, 5, 1, 3, 12: capacity 10. e4 would fit in sprint 1, but its blocker e2 is in sprint 2.
    const e1 = entry('e1', { severity: 'critical', effort: 6 });
    const e2 = entry('e2', { severity: 'high', effort: 5 });
    const e3 = entry('e3', { severity: 'medium', effort: 1 });
    const e4 = entry('e4', { severity: 'low', effort: 3, blockedBy: ['e2'] });
    const big = entry('big', { severity: 'low', criticality: 'low', effort: 12 });
    const { sprints, items } = buildBacklog([big, e4, e3, e2, e1], { now, capacity: 10 });
    expect(items.map((i) => i.id)).toEqual(['e1', 'e2', 'e3', 'e4', 'big']);
    expect(sprints).toEqual([
      { number: 1, capacity: 10, points: 7, items: ['e1', 'e3'], overCapacity: false },
      { number: 2, capacity: 10, points: 8, items: ['e2', 'e4'], overCapacity: false },
      { number: 3, capacity: 10, points: 12, items: ['big'], overCapacity: true },
    ]);
    expect(items.map((i) => i.sprint)).toEqual([1, 2, 1, 2, 3]);
  });

  it('counts by origin, type and severity', () => {
    const { counts } = buildBacklog([entry('a', { origin: 'gap', type: 'performance_issue', severity: 'high' }), entry('b'), entry('b')], { now, capacity: 10 });
    expect(counts.total).toBe(2);
    expect(counts.byOrigin).toEqual({ gap: 1, item: 1 });
    expect(counts.byType).toMatchObject({ performance_issue: 1, broken_integration: 1, security_vulnerability: 0 });
    expect(counts.bySeverity).toEqual({ critical: 0, high: 1, medium: 1, low: 0 });
  });
});
