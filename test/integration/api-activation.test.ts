import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyChain } from '../../src/domain/audit-trail/chain.js';
import { queueNames } from '../../src/domain/queue-names.js';
import { reconcileSchedules } from '../../src/scheduler/reconcile.js';
import { declaredSchedules } from '../../src/jobs/registry.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/fleet.js';

interface Json {
  [k: string]: unknown;
}
const json = async (r: Response) => (await r.json()) as Json & Record<string, Json>;

/** The runbook's Activation Procedures, Daily Operations (status, health) and Monitoring: each step from the state it needs. */
describe('runbook: activation, daily operations, monitoring', () => {
  let t: TestApp;

  // Each step gets a fleet of its own, with workers on every queue, and brings it to the state it starts from.
  beforeEach(async () => {
    t = await makeTestApp('activation', { workers: [...queueNames] });
    await eventually(async () => (await Promise.all(queueNames.map((q) => t.queueState(q)))).every((q) => q.workers.count === 1));
  });

  afterEach(async () => {
    await t.close();
  });

  /** Step 2's start: enabled, every component inactive. */
  const enableInactive = async () => {
    const enable = await t.call('POST', '/admin/bedrock-support/enable', { body: { active: false, reason: 'Initial activation' } });
    expect(enable.status).toBe(200);
    return enable;
  };
  /** Step 2's end: the infrastructure auditor is the one active component. */
  const activateAuditor = async () => {
    await enableInactive();
    const activate = await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component: 'infrastructure-auditor' } });
    expect(activate.status).toBe(200);
    return activate;
  };
  /** Step 3's end: every component active. */
  const activateAll = async () => {
    await activateAuditor();
    const r = await t.call('POST', '/admin/bedrock-support/activate', { body: { components: ['all'], reason: 'Full production activation' } });
    expect(r.status).toBe(200);
    return r;
  };

  it('Step 1: environment validation (health/detailed, feature flag)', async () => {
    const health = await t.call('GET', '/health/detailed', { role: null });
    expect(health.status).toBe(200);
    const h = await json(health);
    expect(h.mode).toBe('disabled');
    expect(h.redis).toMatchObject({ status: 'up' });
    expect(Object.keys(h.components ?? {}).sort()).toEqual([...queueNames].sort());
    // Disabled, the support queues do no work: the morning check's filter lists them, and says why.
    expect(h.components?.['meta-monitor']).toMatchObject({ status: 'degraded', active: false, reasons: expect.arrayContaining([expect.stringContaining('support mode is disabled')]) as unknown });
    // Compliance runs whatever the mode.
    expect(h.components?.compliance).toMatchObject({ active: true });
    expect(JSON.stringify(h.components?.compliance)).not.toContain('inactive');

    const flag = await json(await t.call('GET', '/admin/feature-flags/bedrock-support'));
    expect(flag).toMatchObject({ name: 'bedrock-support', enabled: false });
  });

  it('Step 2: enable (initially inactive), activate the infrastructure auditor only, watch its health', async () => {
    const enable = await enableInactive();
    expect(await json(enable)).toMatchObject({ from: 'disabled', to: 'inactive' });
    expect(await t.fleet.queue('infrastructure-auditor').isPaused()).toBe(true);
    expect(await t.fleet.queue('bedrock-support').isPaused()).toBe(false);

    const activate = await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component: 'infrastructure-auditor' } });
    expect(await json(activate)).toMatchObject({ from: 'inactive', to: 'partial' });
    expect(await t.fleet.queue('infrastructure-auditor').isPaused()).toBe(false);
    expect(await t.fleet.queue('meta-monitor').isPaused()).toBe(true);

    const health = await json(await t.call('GET', '/health/component/infrastructure-auditor', { role: null }));
    expect(health).toMatchObject({ component: 'infrastructure-auditor', status: 'healthy', active: true });
    expect(health.signals).toMatchObject({ workers: 1, paused: false });
  });

  it('an inactive component keeps its jobs waiting; its test says it is inactive', async () => {
    await activateAuditor();
    const job = await t.fleet.add('meta-monitor', 'analyze-executions', { timeframe: 'last-1h' });
    // The same process' workers take work meanwhile: a canary on the active auditor, added after it, completes.
    const canary = await t.fleet.add('infrastructure-auditor', 'canary', {});
    expect(await (await t.fleet.waitForFinish('infrastructure-auditor', canary.id as string, 10_000))?.getState()).toBe('completed');
    // Waiting in priority order (every job has a priority, `medium` by default).
    expect(await job.getState()).toBe('prioritized');
    expect(await t.fleet.queue('meta-monitor').getWorkersCount()).toBe(1);
    await job.remove();
    const test = await t.call('POST', '/test/bedrock-support/meta-monitor');
    expect(test.status).toBe(409);
    expect((await json(test)).error?.message).toBe('cannot test meta-monitor: inactive: queue paused, its jobs wait; activate it with POST /admin/bedrock-support/activate-component');
    const health = await json(await t.call('GET', '/health/meta-monitor', { role: null }));
    expect(health).toMatchObject({ status: 'degraded', active: false, reasons: expect.arrayContaining([expect.stringContaining('activate it with POST /admin/bedrock-support/activate-component')]) as unknown });
  });

  it('Step 3: full activation and status', async () => {
    const r = await activateAll();
    expect(await json(r)).toMatchObject({ from: 'partial', to: 'active' });
    const status = await json(await t.call('GET', '/admin/bedrock-support/status', { role: 'viewer' }));
    expect(status.status).toBe('active');
    expect(status.featureFlag).toMatchObject({ enabled: true, updatedBy: 'admin-key', reason: 'Initial activation' });
    for (const c of ['infrastructure-auditor', 'meta-monitor', 'implementation-support']) {
      expect(status.components?.[c]).toMatchObject({ active: true, queue: { paused: false, workers: 1 } });
    }
  });

  it('post-activation validation: detailed health has every component healthy; each component test passes through its queue', async () => {
    await activateAll();
    const detailed = await json(await t.call('GET', '/health/bedrock-support/detailed', { role: null }));
    const unhealthy = Object.entries(detailed.components as Record<string, { status: string }>).filter(([, v]) => v.status !== 'healthy');
    expect(unhealthy).toEqual([]);
    expect(detailed.mode).toBe('active');

    for (const component of ['infrastructure-auditor', 'meta-monitor', 'implementation-support']) {
      const r = await t.call('POST', `/test/bedrock-support/${component}`, { role: 'operator' });
      expect(r.status).toBe(200);
      const body = await json(r);
      expect(body).toMatchObject({ component, status: 'passed', workerPid: process.pid });
      // The component's LLM call went through the router; nothing is configured, so the local provider answered.
      expect(body.llm).toMatchObject({ outcome: 'fallback_local', path: 'local', reason: 'no_remote_path' });
      const job = await t.fleet.queue(component as 'meta-monitor').getJob(body.jobId as unknown as string);
      expect(job?.name).toBe('canary');
      expect(await job?.getState()).toBe('completed');
      // The times it reports are the canary's own, as BullMQ recorded them.
      expect(body.latencyMs).toBe((job?.finishedOn ?? NaN) - (job?.timestamp ?? NaN));
      expect(body.queueWaitMs).toBe((job?.processedOn ?? NaN) - (job?.timestamp ?? NaN));
    }
    const bs = await json(await t.call('GET', '/health/bedrock-support', { role: null }));
    expect(bs.status).toBe('healthy');
  });

  it('monitoring: every component health endpoint answers, under both paths', async () => {
    await activateAll();
    for (const c of ['bedrock-support', 'infrastructure-auditor', 'meta-monitor', 'implementation-support']) {
      const a = await json(await t.call('GET', `/health/component/${c}`, { role: null }));
      expect(a).toMatchObject({ component: c, status: 'healthy' });
    }
    for (const c of ['infrastructure-auditor', 'meta-monitor', 'implementation-support']) {
      expect(await json(await t.call('GET', `/health/${c}`, { role: null }))).toMatchObject({ component: c });
    }
    const unknown = await t.call('GET', '/health/component/nope', { role: null });
    expect(unknown.status).toBe(404);
    expect((await json(unknown)).error?.message).toContain('valid components are bedrock-support, infrastructure-auditor');
  });

  it('deactivate pauses the components; schedules are listed with their next runs', async () => {
    await activateAll();
    const r = await json(await t.call('POST', '/admin/bedrock-support/deactivate', { body: { components: ['meta-monitor'] } }));
    expect(r).toMatchObject({ from: 'active', to: 'partial' });
    expect(await t.fleet.queue('meta-monitor').isPaused()).toBe(true);
    await reconcileSchedules(t.fleet, declaredSchedules(t.config));
    const listed = (await (await t.call('GET', '/admin/bedrock-support/schedules', { role: 'viewer' })).json()) as { schedules: { id: string; queue: string; pattern: string; nextRunAt: string }[] };
    expect(listed.schedules).toHaveLength(declaredSchedules(t.config).length);
    const daily = listed.schedules.find((x) => x.id === 'daily-support-check');
    expect(daily).toMatchObject({ queue: 'bedrock-support', pattern: '15 8 * * *' });
    expect(new Date(daily?.nextRunAt ?? 0).toISOString()).toMatch(/T08:15:00\.000Z$/);
  });

  it('every transition and mutating request is in the hash-chained audit trail', async () => {
    // The runbook's day: activation step by step, the component tests, then a deactivation.
    await activateAll();
    for (const component of ['infrastructure-auditor', 'meta-monitor', 'implementation-support']) {
      expect((await t.call('POST', `/test/bedrock-support/${component}`, { role: 'operator' })).status).toBe(200);
    }
    expect((await t.call('POST', '/admin/bedrock-support/deactivate', { body: { components: ['meta-monitor'] } })).status).toBe(200);

    const entries = await t.auditTrail.range();
    const actions = entries.map((e) => e.event?.action);
    expect(actions.filter((a) => a?.startsWith('support-mode.') === true)).toEqual(['support-mode.enable', 'support-mode.activate', 'support-mode.activate', 'support-mode.deactivate']);
    expect(verifyChain(entries, await t.auditTrail.anchor())).toMatchObject({ ok: true });
    const requests = entries.filter((e) => e.event?.action === 'http.request').map((e) => e.event?.target);
    expect(requests).toEqual([
      'POST /admin/bedrock-support/enable',
      'POST /admin/bedrock-support/activate-component',
      'POST /admin/bedrock-support/activate',
      'POST /test/bedrock-support/infrastructure-auditor',
      'POST /test/bedrock-support/meta-monitor',
      'POST /test/bedrock-support/implementation-support',
      'POST /admin/bedrock-support/deactivate',
    ]);
    const enable = entries.find((e) => e.event?.target === 'POST /admin/bedrock-support/enable');
    expect(enable?.event?.actor).toBe('admin-key');
    expect(enable?.event?.details).toMatchObject({ status: 200, body: { active: false, reason: 'Initial activation' } });
  });
});
