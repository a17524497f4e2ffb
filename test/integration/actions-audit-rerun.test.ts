import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionValidationError, type ActionCatalog, type ActionSpec } from '../../src/domain/actions/index.js';
import { inventorySchema } from '../../src/domain/audit/inventory.js';
import { runAudit } from '../../src/domain/audit/run.js';
import { makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { fakeService, type FakeService } from '../helpers/http-service.js';

const approver = { actor: 'approver-key', cause: 'gap remediation' };

const entriesOf = async (t: TestFleet, action: string) => (await t.adapters.auditTrail.range()).flatMap((e) => (e.event?.action === action ? [e.event] : []));

describe('audit.rerun against real services, gaps in Redis', () => {
  let t: TestFleet;
  let actions: ActionCatalog<ActionSpec>;
  let api: FakeService;
  let billing: FakeService;

  /** Runs a targeted audit of `targets` as the audit job does: the real prober, the gap store. */
  async function audit(targets: string[], auditId: string) {
    const { audit: machinery, gaps } = t.adapters.jobDeps;
    return runAudit(
      { auditId, type: 'targeted', trigger: { by: 'operator-key', reason: null, priority: 'high' }, inventory: await machinery.inventory(), targetIds: targets },
      { prober: machinery.prober, gaps, history: new Map(), previous: null, clock: () => new Date(), signal: new AbortController().signal },
    );
  }

  /** The one audit gap of a target. */
  async function gapOf(subject: string) {
    const found = await t.adapters.gaps.list({ source: 'audit', subject });
    expect(found).toHaveLength(1);
    return found[0] as NonNullable<(typeof found)[number]>;
  }

  beforeAll(async () => {
    t = await makeTestFleet('actions-audit-rerun');
    actions = t.adapters.actions;
    api = await fakeService({ status: 503, body: '{"status":"starting"}', type: 'application/json' });
    billing = await fakeService({ status: 500, body: 'Internal Server Error', type: 'text/plain' });
    const inventory = inventorySchema.parse({
      defaults: { timeoutMs: 3_000 },
      targets: [
        { id: 'api-health', kind: 'http', component: 'api', criticality: 'critical', url: `http://127.0.0.1:${api.port}/health`, latencyBudgetMs: 2_000 },
        { id: 'billing-health', kind: 'http', component: 'billing', criticality: 'high', url: `http://127.0.0.1:${billing.port}/health`, latencyBudgetMs: 2_000 },
      ],
    });
    await t.adapters.inventory.replace(inventory, 'admin-key');
  });

  afterAll(async () => {
    await Promise.all([api.close(), billing.close()]);
    await t.cleanup();
  });

  it('a fixed target: the dry run lists the failing check, the apply probes it passing and resolves its audit gap in the name of the action', async () => {
    const report = await audit(['api-health'], 'audit-rerun-1');
    expect(report.gaps.map((g) => [g.subject, g.check])).toEqual([['api-health', 'status']]);
    const gap = await gapOf('api-health');
    expect(gap).toMatchObject({ status: 'detected', count: 1, evidence: { expected: '200', observed: '503' } });

    const spec = actions.parse({ kind: 'audit.rerun', targets: ['api-health'] });
    const plan = await actions.dryRun(spec);
    expect(plan).toMatchObject({ risk: 'low', reversible: false, changes: [{ target: 'audit-target:api-health:status', from: '503', to: '200' }] });
    expect(plan.description).toContain('api-health fails status: expected 200, observed 503');
    // A dry run records nothing: the gap is as the audit left it.
    expect(await t.adapters.gaps.get(gap.id)).toMatchObject({ status: 'detected', count: 1 });

    // The team fixes the service; the approver re-runs the target.
    api.answer = { status: 200, body: '{"status":"ok"}', type: 'application/json' };
    const probesBefore = api.received.length;
    const app = await actions.apply(spec, approver);
    expect(app).toMatchObject({ status: 'applied', verification: { verified: true, read: { targets: [{ id: 'api-health', status: 'pass', unmet: [] }] } } });
    expect(app.after).toMatchObject({ recorded: { resolved: [gap.id], sighted: [] } });
    // One probe for the plan, one for the verification: the write records what the plan saw.
    expect(api.received.length - probesBefore).toBe(2);
    expect(await t.adapters.gaps.get(gap.id)).toMatchObject({ status: 'resolved', resolvedBy: app.id, count: 1 });
    expect((await entriesOf(t, 'action.apply')).some((e) => e.target === app.id && e.details?.kind === 'audit.rerun')).toBe(true);
    await expect(actions.rollback(app.id, { actor: 'admin-key' })).rejects.toMatchObject({ reason: 'not_reversible' });
  });

  it('a target that still fails: its gap is sighted again (count + 1) and the application is recorded unverified, with what was observed', async () => {
    await audit(['billing-health'], 'audit-rerun-2');
    const gap = await gapOf('billing-health');
    expect(gap).toMatchObject({ status: 'detected', count: 1 });

    const app = await actions.apply(actions.parse({ kind: 'audit.rerun', targets: ['billing-health'] }), approver);
    expect(app.status).toBe('applied');
    expect(app.verification).toMatchObject({
      verified: false,
      read: { targets: [{ id: 'billing-health', status: 'fail', unmet: [{ check: 'status', expected: '200', observed: '500', gapType: 'broken_integration', severity: 'high' }] }] },
    });
    expect(await t.adapters.gaps.get(gap.id)).toMatchObject({ status: 'detected', count: 2, lastSeenBy: app.id });
    expect(app.after).toMatchObject({ recorded: { resolved: [], sighted: [gap.id] } });
  });

  it('a target id the inventory lacks is a validation error naming targets: nothing probed, applied or audited', async () => {
    const spec = actions.parse({ kind: 'audit.rerun', targets: ['api-health', 'api-healht'] });
    const [recorded, audited, probed] = [(await actions.recent(100)).length, (await entriesOf(t, 'action.apply')).length, api.received.length];
    await expect(actions.dryRun(spec)).rejects.toBeInstanceOf(ActionValidationError);
    await expect(actions.apply(spec, approver)).rejects.toMatchObject({ field: 'targets', message: expect.stringContaining('"api-healht" is not a target of the inventory in force') as unknown });
    expect([(await actions.recent(100)).length, (await entriesOf(t, 'action.apply')).length, api.received.length]).toEqual([recorded, audited, probed]);
  });
});
