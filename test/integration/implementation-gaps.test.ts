import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { dumpKeys } from '../helpers/redis.js';

const base = '/admin/bedrock-support/implementation';
let t: TestApp;

interface GapAnswer {
  id: string;
  status: string;
  count: number;
  title: string;
  type: string;
  severity: string;
  components: string[];
  dismissed?: { by: string; reason: string };
}

const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

beforeAll(async () => {
  t = await makeTestApp('implementation-gaps');
});

afterAll(async () => {
  await t.close();
});

describe('gaps through the implementation-support API', () => {
  let first: GapAnswer;

  it('a gap reported by hand is stored redacted, once per subject and type, and counted again', async () => {
    const body = { title: 'Checkout retries call mia.meyer@example.com twice', type: 'broken_integration', severity: 'high', components: ['checkout'], subject: 'checkout-retries', observed: 'two charges for order 1183' };
    const res = await t.call('POST', `${base}/gaps`, { role: 'operator', body });
    expect(res.status).toBe(200);
    const created = await json<{ created: boolean; gap: GapAnswer }>(res);
    expect(created.created).toBe(true);
    first = created.gap;
    expect(first).toMatchObject({ status: 'detected', count: 1, type: 'broken_integration', severity: 'high', components: ['checkout'] });
    expect(first.id).toMatch(/^gap-[0-9a-f]{16}$/);
    expect(first.title).not.toContain('mia.meyer');
    const again = await json<{ created: boolean; gap: GapAnswer }>(await t.call('POST', `${base}/gaps`, { role: 'operator', body }));
    expect(again.created).toBe(false);
    expect(again.gap).toMatchObject({ id: first.id, count: 2 });
    expect(await dumpKeys(t.client, t.prefix)).not.toContain('mia.meyer');
  });

  it('lists with filters, and reads one gap', async () => {
    await t.call('POST', `${base}/gaps`, { role: 'operator', body: { title: 'Search p95 over budget', type: 'performance_issue', severity: 'low', components: ['search'] } });
    const all = await json<{ count: number; gaps: GapAnswer[] }>(await t.call('GET', `${base}/gaps`, { role: 'viewer' }));
    expect(all.count).toBe(2);
    const byType = await json<{ gaps: GapAnswer[] }>(await t.call('GET', `${base}/gaps?type=performance_issue`, { role: 'viewer' }));
    expect(byType.gaps.map((g) => g.components)).toEqual([['search']]);
    const byComponent = await json<{ gaps: GapAnswer[] }>(await t.call('GET', `${base}/gaps?component=checkout&severity=high,critical`, { role: 'viewer' }));
    expect(byComponent.gaps.map((g) => g.id)).toEqual([first.id]);
    expect((await json<GapAnswer>(await t.call('GET', `${base}/gaps/${first.id}`, { role: 'viewer' }))).id).toBe(first.id);
  });

  it('dismisses with a redacted reason, once, and the trail says who', async () => {
    const res = await t.call('POST', `${base}/gaps/${first.id}/dismiss`, { role: 'operator', body: { reason: 'accepted by jonas.wolf@example.com until Q3' } });
    expect(res.status).toBe(200);
    const gap = await json<GapAnswer>(res);
    expect(gap.status).toBe('dismissed');
    expect(gap.dismissed?.by).toBe('operator-key');
    expect(gap.dismissed?.reason).not.toContain('jonas.wolf');
    expect((await t.call('POST', `${base}/gaps/${first.id}/dismiss`, { role: 'operator', body: { reason: 'again' } })).status).toBe(409);
    const open = await json<{ gaps: GapAnswer[] }>(await t.call('GET', `${base}/gaps?open=true`, { role: 'viewer' }));
    expect(open.gaps.map((g) => g.id)).not.toContain(first.id);
    const trail = (await t.auditTrail.range()).map((e) => e.event);
    expect(trail.filter((e) => e?.action === 'gap.dismiss').map((e) => [e?.actor, e?.target])).toEqual([['operator-key', first.id]]);
    expect(JSON.stringify(trail)).not.toContain('jonas.wolf');
  });

  it('refuses bad input naming the field, unknown ids, and roles that may not', async () => {
    const badFilter = await t.call('GET', `${base}/gaps?type=leaky`, { role: 'viewer' });
    expect(badFilter.status).toBe(400);
    expect(JSON.stringify(await badFilter.json())).toContain('type');
    const badBody = await t.call('POST', `${base}/gaps`, { role: 'operator', body: { title: 'x', type: 'nope' } });
    expect(badBody.status).toBe(400);
    expect(JSON.stringify(await badBody.json())).toContain('type');
    expect((await t.call('GET', `${base}/gaps/gap-0000000000000000`, { role: 'viewer' })).status).toBe(404);
    expect((await t.call('GET', `${base}/gaps/nope`, { role: 'viewer' })).status).toBe(404);
    expect((await t.call('POST', `${base}/gaps`, { role: 'viewer', body: { title: 'x', type: 'broken_integration' } })).status).toBe(403);
    expect((await t.call('POST', `${base}/gaps`, { role: 'ingest', body: { title: 'x', type: 'broken_integration' } })).status).toBe(403);
    expect((await t.call('POST', `${base}/gaps/${first.id}/dismiss`, { role: 'operator' })).status).toBe(400);
  });
});
