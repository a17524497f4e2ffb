import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { eventually, spawnBsm, waitForExit } from '../helpers/fleet.js';

/** Two worker processes of their own, and the API in this process: the runbook's "restart the infrastructure auditor component". */
describe('restarting a component', () => {
  let t: TestApp;
  const children: ReturnType<typeof spawnBsm>[] = [];

  beforeAll(async () => {
    t = await makeTestApp('component-restart');
    expect((await t.call('POST', '/admin/bedrock-support/enable', { body: { active: true } })).status).toBe(200);
    for (const queues of ['infrastructure-auditor,compliance', 'compliance']) {
      children.push(spawnBsm(['worker', '--queues', queues], { BSM_PREFIX: t.bsmPrefix }));
    }
    await eventually(async () => (await t.queueState('compliance')).workers.count === 2 && (await t.queueState('infrastructure-auditor')).workers.count === 1, 30_000);
  }, 60_000);

  afterAll(async () => {
    for (const c of children) {
      c.kill('SIGTERM');
      await waitForExit(c);
    }
    await t.close();
  });

  it('every worker process restarts its workers of the queue and answers; the answer comes when all have', async () => {
    const res = await t.call('POST', '/admin/bedrock-support/components/infrastructure-auditor/restart', { role: 'operator' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { processes: number; restarted: number; answers: { worker: string; restarted: boolean }[] };
    expect(body.processes).toBe(2);
    expect(body.restarted).toBe(1);
    expect(body.answers.map((a) => a.restarted).sort()).toEqual([false, true]);
    for (const c of children.slice(0, 1)) {
      expect(c.output()).toContain('workers of the queue restarted');
    }
    // The restarted worker works: a canary through it passes.
    await eventually(async () => (await t.queueState('infrastructure-auditor')).workers.count === 1);
    expect((await t.call('POST', '/test/bedrock-support/infrastructure-auditor')).status).toBe(200);
    expect((await t.auditTrail.range()).map((e) => e.event?.action)).toContain('component.restart');
  });

  it('both processes restart compliance; an unknown component is a 404 naming it; a queue nobody runs is a 409', async () => {
    const both = (await (await t.call('POST', '/admin/bedrock-support/components/compliance/restart')).json()) as { restarted: number };
    expect(both.restarted).toBe(2);
    const unknown = await t.call('POST', '/admin/bedrock-support/components/nope/restart');
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain('"nope"');
    expect((await t.call('POST', '/admin/bedrock-support/components/meta-monitor/restart')).status).toBe(409);
    expect((await t.call('POST', '/admin/bedrock-support/components/compliance/restart', { role: 'viewer' })).status).toBe(403);
  });
});
