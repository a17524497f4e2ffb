import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionCatalog, ActionSpec } from '../../src/domain/actions/index.js';
import { inventorySchema } from '../../src/domain/audit/inventory.js';
import { makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { closedPort, fakeService, type FakeService } from '../helpers/http-service.js';

const approver = { actor: 'approver-key', cause: 'gap remediation' };
/** The HTTP action's secret, read from the environment of the process that applies it (this one). */
const tokenVariable = 'BSM_TEST_HOOK_TOKEN';

const entriesOf = async (t: TestFleet, action: string) => (await t.adapters.auditTrail.range()).flatMap((e) => (e.event?.action === action ? [e.event] : []));

describe('http.hook against real services', () => {
  let t: TestFleet;
  let actions: ActionCatalog<ActionSpec>;
  let hook: FakeService;
  let broken: FakeService;
  let stuck: FakeService;

  beforeAll(async () => {
    t = await makeTestFleet('actions-http-hook');
    actions = t.adapters.actions;
    hook = await fakeService({ status: 202, body: '{"status":"restarted","pods":3}', type: 'application/json' });
    broken = await fakeService({ status: 500, body: 'Internal Server Error: restart failed, page ops@example.com', type: 'text/plain' });
    stuck = await fakeService({ status: 202, body: '{}', type: 'application/json' });
    stuck.hang = true;
    process.env[tokenVariable] = 'Bearer hook-secret-7731';
    const inventory = inventorySchema.parse({
      targets: [{ id: 'api-health', kind: 'http', component: 'api', criticality: 'critical', url: `http://127.0.0.1:${hook.port}/health` }],
      actions: [
        {
          id: 'restart-api',
          component: 'api',
          url: `http://127.0.0.1:${hook.port}/admin/restart?force=1`,
          headers: { Authorization: { env: tokenVariable } },
          body: { graceful: true, pods: ['web-1', 'web-2'] },
          expectStatus: [200, 202],
          expectJson: { status: 'restarted' },
          risk: 'low',
          targets: ['api-health'],
        },
        { id: 'restart-billing', component: 'billing', url: `http://127.0.0.1:${broken.port}/admin/restart`, expectStatus: 202 },
        { id: 'restart-gone', component: 'api', url: `http://127.0.0.1:${await closedPort()}/admin/restart` },
        { id: 'restart-stuck', component: 'api', url: `http://127.0.0.1:${stuck.port}/admin/restart`, timeoutMs: 300, risk: 'high' },
      ],
    });
    await t.adapters.inventory.replace(inventory, 'admin-key');
  });

  afterAll(async () => {
    delete process.env[tokenVariable];
    await Promise.all([hook.close(), broken.close(), stuck.close()]);
    await t.cleanup();
  });

  it('calls the declared action once, with its secret header and body: the expected answer verifies', async () => {
    const spec = actions.parse({ kind: 'http.hook', hook: 'restart-api' });
    const plan = await actions.dryRun(spec);
    expect(plan).toMatchObject({ risk: 'low', reversible: false });
    expect(plan.description).toContain(`POST http://127.0.0.1:${hook.port}/admin/restart, within 10000 ms, expecting status 200 or 202 and status = "restarted"`);
    expect(hook.received).toEqual([]);

    const app = await actions.apply(spec, approver);
    expect(hook.received).toHaveLength(1);
    const [request] = hook.received;
    expect(request).toMatchObject({ method: 'POST', url: '/admin/restart?force=1', headers: { authorization: 'Bearer hook-secret-7731', 'content-type': 'application/json' } });
    expect(JSON.parse(request?.body ?? '')).toEqual({ graceful: true, pods: ['web-1', 'web-2'] });
    expect(app).toMatchObject({
      status: 'applied',
      risk: 'low',
      before: { response: null },
      verification: { verified: true, read: { response: { status: 202, json: { status: { observed: '"restarted"', met: true } }, text: null, unmet: [] } } },
    });
    expect((app.after as { response: { latencyMs: number } }).response.latencyMs).toBeGreaterThan(0);
    const [audited] = (await entriesOf(t, 'action.apply')).filter((e) => e.target === app.id);
    expect(audited).toMatchObject({ actor: 'approver-key', details: { kind: 'http.hook', spec: { kind: 'http.hook', hook: 'restart-api' }, risk: 'low' } });
    // The secret and the query string are in no record.
    expect(JSON.stringify([app, audited])).not.toMatch(/hook-secret-7731|force=1/);
    await expect(actions.rollback(app.id, { actor: 'admin-key' })).rejects.toMatchObject({ reason: 'not_reversible' });
  });

  it('an answer with another status is recorded, not thrown: applied, unverified, the 500 and its body (redacted) in the read-back', async () => {
    const app = await actions.apply(actions.parse({ kind: 'http.hook', hook: 'restart-billing' }), approver);
    expect(broken.received).toHaveLength(1);
    // The call was made and answered: what the service said is the outcome, so the record is applied and says it did not verify.
    expect(app).toMatchObject({
      status: 'applied',
      error: null,
      risk: 'medium',
      verification: { verified: false, read: { response: { status: 500, unmet: ['status: expected 202, observed 500'], text: 'Internal Server Error: restart failed, page [EMAIL_1]' } } },
    });
    expect(JSON.stringify(await actions.get(app.id))).not.toContain('ops@example.com');
  });

  it('no answer (a closed port, a timeout) fails the application with the error, after it was audited', async () => {
    await expect(actions.apply(actions.parse({ kind: 'http.hook', hook: 'restart-gone' }), approver)).rejects.toThrow(/HTTP action restart-gone .* did not answer: .*ECONNREFUSED/);
    const [gone] = await actions.recent(1);
    expect(gone).toMatchObject({ kind: 'http.hook', status: 'failed', verification: null, error: expect.stringContaining('ECONNREFUSED') as unknown });
    expect((await entriesOf(t, 'action.apply')).some((e) => e.target === gone?.id && e.details?.kind === 'http.hook')).toBe(true);

    const started = Date.now();
    await expect(actions.apply(actions.parse({ kind: 'http.hook', hook: 'restart-stuck' }), approver)).rejects.toThrow('did not answer: no answer within 300 ms');
    expect(Date.now() - started).toBeLessThan(2_500);
    expect(stuck.received).toHaveLength(1);
    const [timedOut] = await actions.recent(1);
    expect(timedOut).toMatchObject({ status: 'failed', risk: 'high', error: expect.stringContaining('no answer within 300 ms') as unknown });
  });

  it('an id the inventory does not declare is a validation error naming hook and the declared ids', async () => {
    await expect(actions.dryRun(actions.parse({ kind: 'http.hook', hook: 'restart-web' }))).rejects.toMatchObject({
      field: 'hook',
      message: expect.stringContaining('its actions: restart-api, restart-billing, restart-gone, restart-stuck') as unknown,
    });
  });
});
