import { Worker, type Job } from 'bullmq';
import { Hono } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorHandler } from '../../src/api/errors.js';
import { ActionRollbackRefusedError, type ActionCatalog, type ActionSpec } from '../../src/domain/actions/index.js';
import { createCircuitBreaker } from '../../src/domain/llm/circuit-breaker.js';
import type { QueueName } from '../../src/domain/queue-names.js';
import { SupportModeConflictError } from '../../src/domain/support-mode/state.js';
import { createRedis } from '../../src/redis.js';
import { createLlmStore } from '../../src/store/llm.store.js';
import { failingJobs, failureClustersOf } from '../helpers/actions.js';
import { eventually, makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { testRedisUrl } from '../helpers/redis.js';

const approver = { actor: 'approver-key', cause: 'remediation requested' };
const admin = { actor: 'admin-key', cause: 'revert requested' };

/** Audit entries of one action, from a fleet's trail. */
const entriesOf = async (t: TestFleet, action: string) => (await t.adapters.auditTrail.range()).flatMap((e) => (e.event?.action === action ? [e.event] : []));

describe('remediation actions on BullMQ queues', () => {
  let t: TestFleet;
  let actions: ActionCatalog<ActionSpec>;
  let jobs: ReturnType<typeof failingJobs>;
  const failingWorker = (queue: QueueName) => jobs.worker(queue);
  const stateOf = (queue: QueueName, id: string) => t.fleet.queue(queue).getJobState(id);
  const count = async (queue: QueueName, state: 'failed' | 'completed' | 'delayed' | 'wait') => (await t.fleet.queue(queue).getJobCounts(state))[state] ?? 0;

  const plantFailures = (queue: QueueName, reasons: string[]) => jobs.plant(queue, reasons);

  beforeAll(async () => {
    // One attempt per job: a failure is final at once.
    t = await makeTestFleet('actions-remediation', { BSM_ATTEMPTS: '1' });
    actions = t.adapters.actions;
    jobs = failingJobs(t);
  });

  afterEach(() => {
    jobs.fix(false);
    vi.useRealTimers();
  });

  afterAll(async () => {
    await jobs.close();
    await t.cleanup();
  });

  describe('queue.retry-failed', () => {
    it('retries every failed job: out of the failed set, read back by id, and with the cause fixed they complete', async () => {
      const worker = await failingWorker('compliance');
      const ids = await plantFailures('compliance', ['disk full on /var/lib/a', 'disk full on /var/lib/b', 'timeout after 30000 ms']);
      const spec = actions.parse({ kind: 'queue.retry-failed', queue: 'compliance' });

      const plan = await actions.dryRun(spec);
      expect(plan).toMatchObject({ risk: 'low', reversible: false });
      expect(plan.changes).toEqual([...ids].reverse().map((id) => ({ target: `queue:compliance:job:${id}`, from: 'failed', to: 'waiting' })));
      expect(plan.description).toContain('Retries 3 of queue compliance');
      expect(await count('compliance', 'failed')).toBe(3);

      // The worker is held, so the retried jobs wait where the retry put them.
      await worker.pause();
      const app = await actions.apply(spec, approver);
      expect(await Promise.all(ids.map((id) => stateOf('compliance', id)))).toEqual(['waiting', 'waiting', 'waiting']);
      expect(await count('compliance', 'failed')).toBe(0);
      expect(app).toMatchObject({ status: 'applied', changed: true, reversible: false, verification: { verified: true } });
      const after = app.after as { retried: { id: string; state: string }[] };
      expect(after.retried.map((r) => [r.id, r.state]).sort()).toEqual(ids.map((id) => [id, 'waiting']).sort());

      jobs.fix();
      await worker.resume();
      await eventually(async () => (await Promise.all(ids.map((id) => stateOf('compliance', id)))).every((s) => s === 'completed'));

      const [audited] = (await entriesOf(t, 'action.apply')).filter((e) => e.target === app.id);
      expect(audited).toMatchObject({ actor: 'approver-key', details: { kind: 'queue.retry-failed', changes: plan.changes } });
      await expect(actions.rollback(app.id, admin)).rejects.toMatchObject({ reason: 'not_reversible' });

      // Nothing failed any more: applying again changes nothing.
      const again = await actions.dryRun(spec);
      expect(again.changes).toEqual([]);
      expect(again.description).toContain('no failed job');
    });

    it('with a clusterId retries only the jobs of that failure cluster, as the analysis clusters them', async () => {
      const worker = await failingWorker('bedrock-support');
      const refused = ['db-17.internal:5432', 'db-3.internal:5432', 'db-42.internal:6432', 'db-8.internal:5432'].map((h, i) => `connection refused by ${h} after ${120 + i * 37} ms`);
      const rejected = [4711, 815, 90210, 1234].map((n, i) => `invoice INV-${n} rejected: amount ${(n / 7).toFixed(2)} exceeds limit ${100 + i}`);
      const refusedIds = await plantFailures('bedrock-support', refused);
      const rejectedIds = await plantFailures('bedrock-support', rejected);

      // The meta-monitor's analysis of these jobs (source fleet), as its job runs it.
      const clusters = await failureClustersOf(t.fleet.queue('bedrock-support'), 'bedrock-support');
      expect(clusters.map((c) => c.count)).toEqual([4, 4]);
      const refusedCluster = clusters.find((c) => c.template.startsWith('connection refused'));
      expect(refusedCluster?.id).toMatch(/^cl-[0-9a-f]{12}$/);

      const spec = actions.parse({ kind: 'queue.retry-failed', queue: 'bedrock-support', clusterId: refusedCluster?.id });
      const plan = await actions.dryRun(spec);
      expect(plan.changes.map((c) => c.target).sort()).toEqual(refusedIds.map((id) => `queue:bedrock-support:job:${id}`).sort());
      expect(plan.description).toContain(refusedCluster?.template);

      await worker.pause();
      const app = await actions.apply(spec, approver);
      expect(app.verification?.verified).toBe(true);
      expect(await Promise.all(refusedIds.map((id) => stateOf('bedrock-support', id)))).toEqual(['waiting', 'waiting', 'waiting', 'waiting']);
      expect(await Promise.all(rejectedIds.map((id) => stateOf('bedrock-support', id)))).toEqual(['failed', 'failed', 'failed', 'failed']);

      // A cluster none of the queue's failed jobs is in: nothing would change, and the plan names the clusters there are.
      const other = await actions.dryRun(actions.parse({ kind: 'queue.retry-failed', queue: 'bedrock-support', clusterId: 'cl-000000000000' }));
      expect(other.changes).toEqual([]);
      expect(other.description).toContain(clusters.find((c) => c.template.startsWith('invoice'))?.id);
      expect(await count('bedrock-support', 'failed')).toBe(4);
      await worker.resume();
    });
  });

  describe('queue.clean', () => {
    /** Completes (or fails) one job with BullMQ's clock set `agoMs` in the past, so it finished then. */
    async function finishAt(queue: QueueName, state: 'completed' | 'failed', agoMs: number): Promise<string> {
      const connection = createRedis(testRedisUrl, 'blocking');
      jobs.connections.push(connection);
      const manual = new Worker(queue, null, { connection, prefix: t.prefix });
      jobs.workers.push(manual);
      const added = await t.fleet.queue(queue).add('remediation-test', { reason: 'old' });
      const now = Date.now();
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(now - agoMs);
      try {
        const job = (await manual.getNextJob('token', { block: false })) as Job | undefined;
        expect(job?.id).toBe(added.id);
        await (state === 'completed' ? job?.moveToCompleted('done', 'token', false) : job?.moveToFailed(new Error('old failure'), 'token', false));
      } finally {
        vi.useRealTimers();
      }
      await manual.close();
      const finished = await t.fleet.queue(queue).getJob(added.id ?? '');
      expect(finished?.finishedOn).toBe(now - agoMs);
      return added.id ?? '';
    }

    it('removes the completed jobs older than the age, keeps the newer ones and the failed ones', async () => {
      const hour = 3_600_000;
      const old = [await finishAt('infrastructure-auditor', 'completed', 3 * hour), await finishAt('infrastructure-auditor', 'completed', 2 * hour), await finishAt('infrastructure-auditor', 'completed', 61 * 60_000)];
      const young = [await finishAt('infrastructure-auditor', 'completed', 59 * 60_000), await finishAt('infrastructure-auditor', 'completed', 1_000)];
      const oldFailed = await finishAt('infrastructure-auditor', 'failed', 2 * hour);
      const spec = actions.parse({ kind: 'queue.clean', queue: 'infrastructure-auditor', state: 'completed', olderThanMs: hour });

      const plan = await actions.dryRun(spec);
      expect(plan).toMatchObject({ risk: 'medium', reversible: false, changes: [{ target: 'queue:infrastructure-auditor:completed', from: 5, to: 2 }] });
      expect(plan.description).toContain('Removes 3 of');
      expect(await count('infrastructure-auditor', 'completed')).toBe(5);

      const app = await actions.apply(spec, approver);
      expect(app).toMatchObject({ status: 'applied', verification: { verified: true } });
      for (const id of old) {
        expect(await stateOf('infrastructure-auditor', id)).toBe('unknown');
      }
      for (const id of young) {
        expect(await stateOf('infrastructure-auditor', id)).toBe('completed');
      }
      expect(await stateOf('infrastructure-auditor', oldFailed)).toBe('failed');
      expect((await entriesOf(t, 'action.apply')).some((e) => e.target === app.id && e.details?.kind === 'queue.clean')).toBe(true);
      await expect(actions.rollback(app.id, admin)).rejects.toMatchObject({ reason: 'not_reversible' });

      // The failed ones go by their own spec.
      const failedPlan = await actions.dryRun(actions.parse({ kind: 'queue.clean', queue: 'infrastructure-auditor', state: 'failed', olderThanMs: hour }));
      expect(failedPlan.changes).toEqual([{ target: 'queue:infrastructure-auditor:failed', from: 1, to: 0 }]);
      await actions.apply(actions.parse({ kind: 'queue.clean', queue: 'infrastructure-auditor', state: 'failed', olderThanMs: hour }), approver);
      expect(await stateOf('infrastructure-auditor', oldFailed)).toBe('unknown');
      expect(await count('infrastructure-auditor', 'completed')).toBe(2);

      const nothing = await actions.dryRun(spec);
      expect(nothing.changes).toEqual([]);
    });
  });

  describe('queue.promote-delayed', () => {
    it('promotes the delayed jobs to waiting', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        ids.push((await t.fleet.queue('implementation-support').add('remediation-test', { reason: 'later' }, { delay: 3_600_000 })).id ?? '');
      }
      const spec = actions.parse({ kind: 'queue.promote-delayed', queue: 'implementation-support' });
      const plan = await actions.dryRun(spec);
      expect(plan).toMatchObject({ risk: 'low', reversible: false, changes: [{ target: 'queue:implementation-support:delayed', from: 3, to: 0 }] });
      expect(await count('implementation-support', 'delayed')).toBe(3);

      const app = await actions.apply(spec, approver);
      expect(app).toMatchObject({ before: { delayed: 3 }, after: { delayed: 0 }, verification: { verified: true } });
      expect(await Promise.all(ids.map((id) => stateOf('implementation-support', id)))).toEqual(['waiting', 'waiting', 'waiting']);
      await expect(actions.rollback(app.id, admin)).rejects.toBeInstanceOf(ActionRollbackRefusedError);
      await expect(actions.rollback(app.id, admin)).rejects.toMatchObject({ reason: 'not_reversible' });
      expect(await count('implementation-support', 'wait')).toBe(3);
    });
  });
});

describe('remediation actions on the lifecycle and the LLM breakers', () => {
  let t: TestFleet;
  let actions: ActionCatalog<ActionSpec>;

  beforeAll(async () => {
    t = await makeTestFleet('actions-remediation-lifecycle');
    await t.adapters.supportMode.reconcileQueues();
    actions = t.adapters.actions;
  });

  afterAll(async () => {
    await t.cleanup();
  });

  describe('component.active', () => {
    it('activating while support mode is disabled is a conflict, in the dry run and the apply, and changes nothing', async () => {
      const before = await t.adapters.supportMode.read();
      expect(before.flag.enabled).toBe(false);
      const spec = actions.parse({ kind: 'component.active', component: 'meta-monitor', active: true });
      await expect(actions.dryRun(spec)).rejects.toBeInstanceOf(SupportModeConflictError);
      await expect(actions.apply(spec, approver)).rejects.toThrow('cannot activate component meta-monitor: support mode is disabled');
      expect(await t.adapters.supportMode.read()).toEqual(before);
      expect(await t.fleet.queue('meta-monitor').isPaused()).toBe(true);
      expect(await actions.recent(10)).toEqual([]);
      expect(await entriesOf(t, 'action.apply')).toEqual([]);

      // Through the API's error handler it is a 409 naming the cause, not a 500.
      const app = new Hono();
      app.onError(errorHandler(t.logger));
      app.post('/x', async (c) => c.json(await actions.dryRun(spec)));
      const res = await app.request('/x', { method: 'POST' });
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({ error: { code: 'conflict', message: expect.stringContaining('enable it first') as unknown } });
    });

    it('brings a deactivated component back through the service, and the rollback deactivates it again', async () => {
      await t.adapters.supportMode.execute({ type: 'enable', activate: true }, { by: 'operator-key' });
      await t.adapters.supportMode.execute({ type: 'deactivate', components: ['infrastructure-auditor'] }, { by: 'operator-key' });
      expect(await t.fleet.queue('infrastructure-auditor').isPaused()).toBe(true);

      const spec = actions.parse({ kind: 'component.active', component: 'infrastructure-auditor', active: true });
      const plan = await actions.dryRun(spec);
      expect(plan).toMatchObject({ risk: 'medium', reversible: true, changes: [{ target: 'component:infrastructure-auditor:active', from: false, to: true }] });
      expect((await t.adapters.supportMode.read()).components['infrastructure-auditor'].active).toBe(false);

      const app = await actions.apply(spec, approver);
      expect(app).toMatchObject({ status: 'applied', verification: { verified: true, read: { active: true, supportMode: true } } });
      const state = await t.adapters.supportMode.read();
      expect(state.components['infrastructure-auditor']).toMatchObject({ active: true, by: 'approver-key' });
      expect(await t.fleet.queue('infrastructure-auditor').isPaused()).toBe(false);
      const [activated] = (await entriesOf(t, 'support-mode.activate')).slice(-1);
      expect(activated).toMatchObject({ actor: 'approver-key', details: { command: { type: 'activate', components: ['infrastructure-auditor'] } } });
      expect(String(activated?.details?.reason)).toContain(app.id);

      const back = await actions.rollback(app.id, admin);
      expect(back.rolledBack).toMatchObject({ by: 'admin-key', verification: { verified: true, read: { active: false } } });
      expect((await t.adapters.supportMode.read()).components['infrastructure-auditor']).toMatchObject({ active: false, by: 'admin-key' });
      expect(await t.fleet.queue('infrastructure-auditor').isPaused()).toBe(true);
      const [deactivated] = (await entriesOf(t, 'support-mode.deactivate')).slice(-1);
      expect(deactivated).toMatchObject({ actor: 'admin-key', details: { command: { type: 'deactivate', components: ['infrastructure-auditor'] } } });
    });

    it('refuses to roll back a deactivation once support mode was switched off since', async () => {
      const app = await actions.apply(actions.parse({ kind: 'component.active', component: 'meta-monitor', active: false }), approver);
      expect(await t.fleet.queue('meta-monitor').isPaused()).toBe(true);
      await t.adapters.supportMode.execute({ type: 'flag.disable' }, { by: 'operator-key' });
      await expect(actions.rollback(app.id, admin)).rejects.toMatchObject({ reason: 'changed_since' });
      expect((await t.adapters.supportMode.read()).components['meta-monitor'].active).toBe(false);
    });
  });

  describe('llm.reset-breaker', () => {
    it('resets a breaker the real breaker opened, as the router reads it', async () => {
      const breaker = createCircuitBreaker({ store: createLlmStore(t.client, t.prefix).breaker });
      for (let i = 0; i < breaker.settings.failureThreshold; i++) {
        await breaker.recordFailure('direct', 'ThrottlingException: slow down');
      }
      const status = async () => (await t.adapters.llm.router.pathStatus()).find((p) => p.path === 'direct')?.breaker;
      expect(await status()).toMatchObject({ state: 'open', consecutiveFailures: 3 });

      const spec = actions.parse({ kind: 'llm.reset-breaker', path: 'direct' });
      const plan = await actions.dryRun(spec);
      expect(plan).toMatchObject({
        risk: 'low',
        reversible: false,
        changes: [
          { target: 'llm-breaker:direct:state', from: 'open', to: 'closed' },
          { target: 'llm-breaker:direct:consecutiveFailures', from: 3, to: 0 },
        ],
      });
      expect((await status())?.state).toBe('open');

      const app = await actions.apply(spec, approver);
      expect(app).toMatchObject({ status: 'applied', changed: true, verification: { verified: true, read: { state: 'closed', consecutiveFailures: 0 } } });
      expect(await status()).toMatchObject({ state: 'closed', consecutiveFailures: 0, openedAt: null });
      expect((await breaker.canPass('direct')).allowed).toBe(true);
      expect((await status())?.state).toBe('closed');
      await expect(actions.rollback(app.id, admin)).rejects.toMatchObject({ reason: 'not_reversible' });
      expect((await status())?.state).toBe('closed');
      expect((await actions.dryRun(spec)).changes).toEqual([]);
      expect((await entriesOf(t, 'action.apply')).some((e) => e.target === app.id && e.details?.kind === 'llm.reset-breaker')).toBe(true);
    });
  });
});
