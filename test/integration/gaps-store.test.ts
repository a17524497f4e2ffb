import { afterAll, describe, expect, it } from 'vitest';
import { gapFingerprint, gapIdOf, type GapSighting, type GapSource, type GapStore } from '../../src/domain/gaps/gap.js';
import { gapHistoryLimit } from '../../src/domain/gaps/lifecycle.js';
import { createGapStore } from '../../src/store/gaps.store.js';
import { StoredDataError } from '../../src/store/parse.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

const redis = testRedis();
const prefix = `{${uniquePrefix('gaps')}}`;
let stores = 0;
/** A store of its own for each test, under the file's prefix. */
const freshStore = (connection = redis): { store: GapStore; at: string } => {
  const at = `${prefix}:${++stores}`;
  return { store: createGapStore(connection, at), at };
};

afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

function sighting(subject: string, check = 'status', over: Partial<GapSighting> = {}): GapSighting {
  return {
    source: 'audit',
    subject,
    check,
    type: 'broken_integration',
    severity: 'high',
    title: `${subject} ${check} is not met`,
    components: ['api'],
    evidence: { expected: '200', observed: '503' },
    ...over,
  };
}
const idOf = (s: GapSighting) => gapIdOf(gapFingerprint(s));
const run = (runId: string, minute: number, scope: string[], source: GapSource = 'audit') => ({ source, runId, at: new Date(Date.UTC(2026, 0, 1, 10, minute)), scope });
const iso = (minute: number) => new Date(Date.UTC(2026, 0, 1, 10, minute)).toISOString();

describe('gap store', () => {
  it('opens, counts recurring sightings, resolves only what its run looked at, and reopens', async () => {
    const { store } = freshStore();
    const a = sighting('api-health');
    const b = sighting('db', 'latency', { type: 'performance_issue' });
    const c = sighting('cache');

    const first = await store.observe(run('audit-1', 0, ['api-health', 'db', 'cache']), [a, b, c]);
    expect(first.opened.map((g) => g.id).sort()).toEqual([idOf(a), idOf(b), idOf(c)].sort());
    expect(first.recurring).toEqual([]);
    const opened = await store.get(idOf(a));
    expect(opened).toMatchObject({ status: 'detected', count: 1, firstSeenAt: iso(0), lastSeenAt: iso(0), lastSeenBy: 'audit-1', reopenedCount: 0 });
    expect(opened?.history).toEqual([{ at: iso(0), from: null, to: 'detected', by: 'audit-1' }]);

    // Another source's gap about the same subject is not the auditor's to resolve.
    const mm = sighting('db', 'slow-executions', { source: 'meta-monitor' });
    await store.observe(run('analysis-1', 1, ['db'], 'meta-monitor'), [mm]);

    // The second audit looks at api-health and db only: it sees a again (worse), not b; c is out of scope.
    const worse = { ...a, severity: 'critical' as const, title: 'api-health answers 500', evidence: { expected: '200', observed: '500' } };
    const second = await store.observe(run('audit-2', 5, ['api-health', 'db']), [worse]);
    expect(second.opened).toEqual([]);
    expect(second.recurring.map((g) => [g.id, g.count])).toEqual([[idOf(a), 2]]);
    expect(second.resolved.map((g) => g.id)).toEqual([idOf(b)]);
    expect(await store.get(idOf(a))).toMatchObject({ status: 'detected', count: 2, firstSeenAt: iso(0), lastSeenAt: iso(5), lastSeenBy: 'audit-2', severity: 'critical', title: 'api-health answers 500', evidence: { observed: '500' } });
    expect(await store.get(idOf(b))).toMatchObject({ status: 'resolved', resolvedAt: iso(5), resolvedBy: 'audit-2', count: 1 });
    expect((await store.get(idOf(c)))?.status).toBe('detected');
    expect((await store.get(idOf(mm)))?.status).toBe('detected');

    // b comes back.
    const third = await store.observe(run('audit-3', 9, ['api-health', 'db']), [worse, b]);
    expect(third.reopened.map((g) => g.id)).toEqual([idOf(b)]);
    const reopened = await store.get(idOf(b));
    expect(reopened).toMatchObject({ status: 'detected', count: 2, reopenedCount: 1, lastSeenBy: 'audit-3' });
    expect(reopened?.resolvedAt).toBeUndefined();
    expect(reopened?.history.map((h) => [h.from, h.to, h.by])).toEqual([
      [null, 'detected', 'audit-1'],
      ['detected', 'resolved', 'audit-2'],
      ['resolved', 'detected', 'audit-3'],
    ]);
    // a, b, c and the meta-monitor's gap are open; nothing else.
    expect(await store.countByStatus()).toEqual({ detected: 4, remediation_suggested: 0, awaiting_approval: 0, auto_resolving: 0, resolved: 0, failed: 0, dismissed: 0 });
  });

  it('resolves an open gap in any status of its remediation, but leaves a dismissed one dismissed while its count rises', async () => {
    const { store } = freshStore();
    const a = sighting('api-health');
    const d = sighting('legacy', 'tls');
    await store.observe(run('audit-1', 0, ['api-health', 'legacy']), [a, d]);
    await store.transition(idOf(a), 'awaiting_approval', 'ops', new Date(Date.UTC(2026, 0, 1, 10, 1)));
    await store.transition(idOf(d), 'dismissed', 'ops', new Date(Date.UTC(2026, 0, 1, 10, 1)), { reason: 'retired next month' });

    const seen = await store.observe(run('audit-2', 5, ['api-health', 'legacy']), [d]);
    expect(seen.recurring.map((g) => g.id)).toEqual([idOf(d)]);
    expect(seen.resolved.map((g) => g.id)).toEqual([idOf(a)]);
    expect(await store.get(idOf(d))).toMatchObject({ status: 'dismissed', count: 2, lastSeenAt: iso(5), lastSeenBy: 'audit-2', dismissed: { by: 'ops', reason: 'retired next month' } });

    // Not seen: a dismissed gap is not resolved either.
    const unseen = await store.observe(run('audit-3', 9, ['api-health', 'legacy']), []);
    expect(unseen.resolved).toEqual([]);
    expect(await store.get(idOf(d))).toMatchObject({ status: 'dismissed', count: 2 });
  });

  it('counts a problem sighted twice in one run once, with the last sighting', async () => {
    const { store } = freshStore();
    const a = sighting('api-health');
    const result = await store.observe(run('audit-1', 0, ['api-health']), [a, { ...a, title: 'the last word' }]);
    expect(result.opened).toHaveLength(1);
    expect(await store.get(idOf(a))).toMatchObject({ count: 1, title: 'the last word' });
    await store.observe(run('audit-2', 1, ['api-health']), [a, a, a]);
    expect((await store.get(idOf(a)))?.count).toBe(2);
  });

  it('loses no count when two runs record the same gaps at once', async () => {
    const other = testRedis();
    try {
      await other.ping(); // both connections up, so the two runs' reads really overlap
      const { store, at } = freshStore();
      const second = createGapStore(other, at);
      const sightings = Array.from({ length: 50 }, (_, i) => sighting(`target-${i}`));
      const scope = sightings.map((s) => s.subject);
      const [x, y] = await Promise.all([store.observe(run('audit-1', 0, scope), sightings), second.observe(run('audit-2', 0, scope), sightings)]);
      expect([x.opened.length, y.opened.length].sort()).toEqual([0, 50]);
      expect([x.recurring.length, y.recurring.length].sort()).toEqual([0, 50]);
      const counts = await Promise.all(sightings.map(async (s) => (await store.get(idOf(s)))?.count));
      expect(counts).toEqual(sightings.map(() => 2));
    } finally {
      other.disconnect();
    }
  });

  it('lists newest sighting first, filtered by status, source and subject, within the limit', async () => {
    const { store } = freshStore();
    const g1 = sighting('api-health');
    const g2 = sighting('db', 'latency');
    const g3 = sighting('db', 'replicas');
    const m1 = sighting('db', 'slow', { source: 'meta-monitor' });
    await store.observe(run('audit-1', 0, []), [g1]);
    await store.observe(run('audit-2', 1, []), [g2]);
    await store.observe(run('audit-3', 2, []), [g3]);
    await store.observe(run('analysis-1', 3, [], 'meta-monitor'), [m1]);
    await store.transition(idOf(g2), 'dismissed', 'ops', new Date(Date.UTC(2026, 0, 1, 10, 4)), { reason: 'known' });
    await store.transition(idOf(g1), 'remediation_suggested', 'implementation-support', new Date(Date.UTC(2026, 0, 1, 10, 4)));

    const ids = async (filter: Parameters<GapStore['list']>[0]) => (await store.list(filter)).map((g) => g.id);
    expect(await ids({})).toEqual([idOf(m1), idOf(g3), idOf(g2), idOf(g1)]);
    expect(await ids({ limit: 2 })).toEqual([idOf(m1), idOf(g3)]);
    expect(await ids({ limit: 0 })).toEqual([idOf(m1)]);
    expect(await ids({ limit: Number.NaN })).toHaveLength(4);
    expect(await ids({ source: 'audit' })).toEqual([idOf(g3), idOf(g2), idOf(g1)]);
    expect(await ids({ status: ['detected'] })).toEqual([idOf(m1), idOf(g3)]);
    expect(await ids({ status: ['detected'], source: 'audit' })).toEqual([idOf(g3)]);
    expect(await ids({ status: ['detected'], source: 'audit', limit: 1 })).toEqual([idOf(g3)]);
    expect(await ids({ status: ['dismissed', 'remediation_suggested'] })).toEqual([idOf(g2), idOf(g1)]);
    expect(await ids({ status: ['detected', 'dismissed'], source: 'audit', limit: 1 })).toEqual([idOf(g3)]);
    expect(await ids({ status: [] })).toEqual([]);
    expect(await ids({ subject: 'db' })).toEqual([idOf(m1), idOf(g3), idOf(g2)]);
    expect(await ids({ subject: 'db', source: 'audit', status: ['detected'] })).toEqual([idOf(g3)]);
    expect(await ids({ subject: 'd' })).toEqual([]);
    expect(await ids({ source: 'spec' })).toEqual([]);

    // The newest gap leaves `detected`: the next one is the newest detected gap.
    await store.transition(idOf(m1), 'failed', 'implementation-support', new Date(Date.UTC(2026, 0, 1, 10, 5)));
    expect(await ids({ status: ['detected'], limit: 1 })).toEqual([idOf(g3)]);
    expect(await ids({ status: ['dismissed', 'remediation_suggested'], limit: 1 })).toEqual([idOf(g2)]);
    expect(await ids({ status: ['failed'] })).toEqual([idOf(m1)]);
  });

  it('moves a gap by hand: dismissed with who and why, resolved with who, each in the history (last 50)', async () => {
    const { store } = freshStore();
    const a = sighting('api-health');
    await store.observe(run('audit-1', 0, []), [a]);
    const at = new Date(Date.UTC(2026, 0, 1, 11, 0));

    const dismissed = await store.transition(idOf(a), 'dismissed', 'alice', at, { reason: 'accepted risk' });
    expect(dismissed).toMatchObject({ status: 'dismissed', dismissed: { by: 'alice', reason: 'accepted risk', at: at.toISOString() } });
    expect(dismissed?.history.at(-1)).toEqual({ at: at.toISOString(), from: 'detected', to: 'dismissed', by: 'alice' });
    expect(await store.list({ status: ['dismissed'] })).toHaveLength(1);

    const resolved = await store.transition(idOf(a), 'resolved', 'bob', at);
    expect(resolved).toMatchObject({ status: 'resolved', resolvedAt: at.toISOString(), resolvedBy: 'bob' });
    expect(resolved?.dismissed).toBeUndefined();
    expect(await store.get(idOf(a))).toEqual(resolved);
    expect(await store.list({ status: ['dismissed'] })).toEqual([]);
    expect((await store.list({ status: ['resolved'] })).map((g) => g.id)).toEqual([idOf(a)]);

    // Same status: nothing changes.
    expect(await store.transition(idOf(a), 'resolved', 'carol', at)).toEqual(resolved);

    for (let i = 0; i < gapHistoryLimit + 10; i++) {
      await store.transition(idOf(a), i % 2 === 0 ? 'remediation_suggested' : 'auto_resolving', 'implementation-support', new Date(at.getTime() + i * 1000));
    }
    const history = (await store.get(idOf(a)))?.history ?? [];
    expect(history).toHaveLength(gapHistoryLimit);
    expect(history.at(-1)).toMatchObject({ from: 'remediation_suggested', to: 'auto_resolving', at: new Date(at.getTime() + (gapHistoryLimit + 9) * 1000).toISOString() });

    expect(await store.transition('gap-0000000000000000', 'dismissed', 'alice', at)).toBeNull();
    expect(await store.transition('status:detected', 'dismissed', 'alice', at)).toBeNull();
    expect(await store.get('gap-0000000000000000')).toBeNull();
  });

  it('takes any text as a subject: spaces, colons and new lines', async () => {
    const { store } = freshStore();
    const subject = 'task 3: retry\nthe upload';
    const t = sighting(subject, 'done', { source: 'spec', type: 'missing_implementation' });
    await store.observe(run('spec-1', 0, [subject], 'spec'), [t]);
    expect((await store.list({ subject })).map((g) => g.subject)).toEqual([subject]);
    expect(await store.list({ subject: 'task 3: retry' })).toEqual([]);
    const later = await store.observe(run('spec-2', 1, [subject], 'spec'), []);
    expect(later.resolved.map((g) => g.subject)).toEqual([subject]);
  });

  it('refuses a sighting of another source, and a stored gap that does not parse', async () => {
    const { store, at } = freshStore();
    await expect(store.observe(run('audit-1', 0, []), [sighting('x', 'y', { source: 'manual' })])).rejects.toThrow(RangeError);
    const a = sighting('api-health');
    await store.observe(run('audit-1', 0, []), [a]);
    await redis.set(`${at}:gaps:${idOf(a)}`, JSON.stringify({ id: idOf(a), status: 'lost' }));
    await expect(store.get(idOf(a))).rejects.toThrow(StoredDataError);
  });

  it('records 1,000 sightings in one observe', async () => {
    const { store } = freshStore();
    const sightings = Array.from({ length: 1_000 }, (_, i) => sighting(`target-${i}`, 'status', { components: [`svc-${i % 7}`] }));
    const scope = sightings.map((s) => s.subject);
    const time = async (runId: string, minute: number) => {
      const started = performance.now();
      const result = await store.observe(run(runId, minute, scope), sightings);
      return { ms: performance.now() - started, result };
    };
    const opened = await time('audit-1', 0);
    const again = await time('audit-2', 1);
    // A worker records run after run: the later ones show the time once the code is warm.
    const warm: number[] = [];
    for (let minute = 2; minute < 7; minute++) {
      warm.push((await time(`audit-${minute + 1}`, minute)).ms);
    }
    const resolveAll = performance.now();
    const resolved = await store.observe(run('audit-9', 8, scope), []);
    const resolveMs = performance.now() - resolveAll;
    const median = [...warm].sort((x, y) => x - y)[2] ?? NaN;
    console.log(
      `observe of 1,000 sightings: ${opened.ms.toFixed(1)} ms all new, ${again.ms.toFixed(1)} ms all recurring (first time), ` +
        `${median.toFixed(1)} ms recurring (median of 5 later runs: ${warm.map((ms) => ms.toFixed(1)).join(', ')}); resolving 1,000: ${resolveMs.toFixed(1)} ms`,
    );
    expect(opened.result.opened).toHaveLength(1_000);
    expect(again.result.recurring).toHaveLength(1_000);
    expect(resolved.resolved).toHaveLength(1_000);
    expect(opened.ms).toBeLessThan(2_000);
    expect(again.ms).toBeLessThan(2_000);
    expect(Math.max(...warm)).toBeLessThan(2_000);
    await store.observe(run('audit-10', 9, []), [sighting('one-more')]);
    expect(await store.list()).toHaveLength(100);
    expect(await store.list({ limit: 5_000 })).toHaveLength(1_000);
  });
});
