import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditEventInput } from '../../src/domain/audit-trail/chain.js';
import {
  ActionValidationError,
  actionSpecSchema,
  builtinActionKinds,
  createActionCatalog,
  HttpHookChangedError,
  maxRetriedPerAction,
  type ActionSpec,
  type AuditTargets,
  type HookResponse,
  type HttpHooks,
  type LlmBreakers,
  type QueueJob,
  type QueueJobs,
  type SupportModeControl,
} from '../../src/domain/actions/index.js';
import { inventorySchema, type HookAction, type InventoryInput, type InventoryVersion } from '../../src/domain/audit/inventory.js';
import type { ProbeOutcome } from '../../src/domain/audit/probe.js';
import type { GapSighting } from '../../src/domain/gaps/gap.js';
import type { BreakerRecord } from '../../src/domain/llm/ports.js';
import { defaultRoutingMatrix } from '../../src/domain/llm/routing-matrix.js';
import { apply, initialState, type SupportModeState } from '../../src/domain/support-mode/state.js';
import { memoryRecords, unusedQueueLimits } from '../helpers/actions.js';


type JobState = 'failed' | 'completed' | 'delayed' | 'waiting';
interface FakeJob {
  id: string;
  state: JobState;
  finishedOn: number;
  failedReason: string;
}

/**
 * A queue in memory with BullMQ's orderings: finished sets by finish time, `clean` removing what
 * finished at or before now - grace. `onRetry` decides where a retried job goes.
 */
function fakeQueue() {
  const jobs = new Map<string, FakeJob>();
  const q = {
    jobs,
    onRetry: (job: FakeJob): void => {
      job.state = 'waiting';
    },
    cleanCalls: 0,
    add(id: string, state: JobState, finishedOn: number, failedReason = '') {
      jobs.set(id, { id, state, finishedOn, failedReason });
    },
    view(job: FakeJob): QueueJob {
      return {
        id: job.id,
        name: 'work',
        timestamp: job.finishedOn - 10,
        finishedOn: job.finishedOn,
        attemptsMade: 1,
        failedReason: job.failedReason,
        retry: () => {
          if (job.state !== 'failed') {
            return Promise.reject(new Error(`Job ${job.id} is not in the failed state`));
          }
          q.onRetry(job);
          return Promise.resolve();
        },
      };
    },
    api: {} as QueueJobs,
  };
  q.api = {
    getJobs(types, start, end, asc) {
      const list = [...jobs.values()].filter((j) => j.state === types[0]).sort((a, b) => (asc ? a.finishedOn - b.finishedOn : b.finishedOn - a.finishedOn));
      return Promise.resolve(list.slice(start, end === -1 ? undefined : end + 1).map((j) => q.view(j)));
    },
    getJob: (id) => Promise.resolve(jobs.has(id) ? q.view(jobs.get(id) as FakeJob) : undefined),
    getJobCounts: (...types) => Promise.resolve(Object.fromEntries(types.map((t) => [t, [...jobs.values()].filter((j) => j.state === t).length]))),
    getJobState: (id) => Promise.resolve(jobs.get(id)?.state ?? 'unknown'),
    clean(grace, _limit, type) {
      q.cleanCalls += 1;
      const cutoff = Date.now() - grace;
      const gone = [...jobs.values()].filter((j) => j.state === type && j.finishedOn <= cutoff).map((j) => j.id);
      gone.forEach((id) => jobs.delete(id));
      return Promise.resolve(gone);
    },
    promoteJobs() {
      jobs.forEach((j) => {
        if (j.state === 'delayed') {
          j.state = 'waiting';
        }
      });
      return Promise.resolve();
    },
  };
  return q;
}

function fakeSupportMode(initial: SupportModeState = initialState()): SupportModeControl & { state: SupportModeState; calls: unknown[] } {
  const s = {
    state: initial,
    calls: [] as unknown[],
    read: () => Promise.resolve(structuredClone(s.state)),
    execute: ((command, actor) => {
      s.calls.push({ command, actor });
      const before = s.state;
      s.state = apply(before, command, actor, new Date('2025-03-01T10:00:00Z'));
      return Promise.resolve({ from: 'inactive', to: 'inactive', changed: s.state !== before, state: s.state });
    }) as SupportModeControl['execute'],
  };
  return s;
}

function fakeBreakers(state: BreakerRecord['state'], failures: number): LlmBreakers & { record: BreakerRecord; stuck: boolean } {
  const b = {
    stuck: false,
    record: { state, consecutiveFailures: failures, openedAt: state === 'open' ? 1_000 : null, halfOpenSuccesses: 0, trialUntil: null, lastSuccessAt: null, lastError: 'boom', lastErrorAt: 1_000, changedAt: 1_000 } as BreakerRecord,
    read: () => Promise.resolve({ ...b.record }),
    reset() {
      if (!b.stuck) {
        b.record = { ...b.record, state: 'closed', consecutiveFailures: 0, openedAt: null };
      }
      return Promise.resolve();
    },
  };
  return b;
}

/** The inventory the audit and hook kinds read, unless a test gives its own. */
const inventoryInput: InventoryInput = {
  targets: [
    { id: 'api-health', kind: 'http', component: 'api', criticality: 'critical', url: 'http://127.0.0.1:9/health' },
    { id: 'db-port', kind: 'tcp', component: 'db', criticality: 'high', host: '127.0.0.1', port: 9 },
    { id: 'cache', kind: 'tcp', component: 'cache', criticality: 'low', host: '127.0.0.1', port: 9 },
  ],
  actions: [
    {
      id: 'restart-api',
      component: 'api',
      url: 'https://ops:s3cret@api.example.test/admin/restart?token=abc',
      headers: { 'X-Admin-Key': 'literal-key-123' },
      body: { graceful: true },
      expectStatus: 202,
      expectJson: { status: 'restarted' },
      risk: 'low',
      targets: ['api-health'],
    },
    { id: 'flush-cache', component: 'cache', url: 'http://cache.test/flush' },
  ],
};

type Found = Pick<ProbeOutcome, 'status' | 'reach' | 'observations' | 'error'>;
const passes: Found = { status: 'pass', reach: { reachable: true }, observations: [{ check: 'reachable', title: 'reachable', expected: 'reachable', observed: 'reachable', met: true, gapType: 'broken_integration' }] };
const failsStatus = (observed: string): Found => ({
  status: 'fail',
  reach: { reachable: true },
  observations: [...passes.observations, { check: 'status', title: 'GET http://127.0.0.1:9/health answers with status 200', expected: '200', observed, met: false, gapType: 'broken_integration' }],
});
const probeError: Found = { status: 'error', reach: { reachable: false, cause: 'other', detail: 'the probe failed: boom' }, observations: [], error: 'boom' };

/** The auditor's inventory, prober and gap store in memory: `found(id, n)` is what the n-th probe of a target (0 first) finds. */
function fakeAudit(input: InventoryInput = inventoryInput) {
  const a = {
    version: { version: 3, source: 'api', setBy: 'admin-key', setAt: '2025-03-01T09:00:00.000Z', inventory: inventorySchema.parse(input) } as InventoryVersion,
    found: (_id: string, _n: number): Found => passes,
    probes: [] as string[],
    observed: [] as { run: { source: string; runId: string; at: Date; scope: readonly string[] }; sightings: readonly GapSighting[] }[],
    port: {} as AuditTargets,
  };
  a.port = {
    inventory: () => Promise.resolve(structuredClone(a.version)),
    prober: {
      probe(target) {
        const n = a.probes.filter((id) => id === target.id).length;
        a.probes.push(target.id);
        return Promise.resolve({ targetId: target.id, kind: target.kind, durationMs: 1, ...a.found(target.id, n) });
      },
    },
    gaps: {
      observe(run, sightings) {
        a.observed.push({ run, sightings });
        return Promise.resolve({ opened: [], reopened: [], recurring: [], resolved: [] });
      },
    },
    clock: () => new Date('2025-03-01T10:00:00.000Z'),
  };
  return a;
}

/** HTTP actions answered in memory: `answer` decides what each call gets. */
function fakeHooks() {
  const h = {
    calls: [] as HookAction[],
    answer: (_hook: HookAction): Promise<HookResponse> => Promise.resolve({ status: 202, latencyMs: 12.34, body: '{"status":"restarted"}', truncated: false }),
    port: {} as HttpHooks,
  };
  h.port = {
    call(hook) {
      h.calls.push(hook);
      return h.answer(hook);
    },
  };
  return h;
}

function rig(options: { supportMode?: SupportModeState; breaker?: [BreakerRecord['state'], number]; inventory?: InventoryInput } = {}) {
  const queue = fakeQueue();
  const supportMode = fakeSupportMode(options.supportMode);
  const breakers = fakeBreakers(...(options.breaker ?? ['open', 3]));
  const audited = fakeAudit(options.inventory);
  const hooks = fakeHooks();
  const unused = () => {
    throw new Error('not used here');
  };
  const limits = unusedQueueLimits();
  const records = memoryRecords();
  const audit: AuditEventInput[] = [];
  const catalog = createActionCatalog<ActionSpec>({
    kinds: builtinActionKinds({
      queues: () => limits,
      featureFlags: { get: unused, set: unused },
      llm: { matrix: defaultRoutingMatrix, overrides: { get: unused, put: unused } },
      remediation: { queueJobs: () => queue.api, supportMode, breakers, audit: audited.port, hooks: hooks.port },
    }),
    records,
    audit: { append: (e) => (audit.push(e), Promise.resolve()) },
    clock: () => new Date(),
  });
  return { queue, supportMode, breakers, audited, hooks, records, audit, catalog };
}

const by = { actor: 'approver-key', cause: 'gap-1' };

afterEach(() => {
  vi.useRealTimers();
});

describe('remediation kinds in the catalog', () => {
  const { catalog } = rig();

  it('are listed after the optimization kinds, with their risk and whether they can be undone', () => {
    expect(catalog.kinds().map((k) => [k.kind, k.risk, k.reversible])).toEqual([
      ['queue.concurrency', 'medium', true],
      ['queue.rate-limit', 'medium', true],
      ['feature-flag', 'high', true],
      ['llm.route', 'medium', true],
      ['queue.retry-failed', 'low', false],
      ['queue.clean', 'medium', false],
      ['queue.promote-delayed', 'low', false],
      ['component.active', 'medium', true],
      ['llm.reset-breaker', 'low', false],
      ['audit.rerun', 'low', false],
      ['http.hook', 'high', false],
    ]);
    expect(catalog.kinds().find((k) => k.kind === 'queue.retry-failed')?.description).toContain('At most 1,000 jobs per action');
  });

  it.each([
    { kind: 'queue.retry-failed', queue: 'compliance' },
    { kind: 'queue.retry-failed', queue: 'compliance', clusterId: 'cl-0123456789ab' },
    { kind: 'queue.clean', queue: 'meta-monitor', state: 'failed', olderThanMs: 60_000 },
    { kind: 'queue.promote-delayed', queue: 'bedrock-support' },
    { kind: 'component.active', component: 'implementation-support', active: false },
    { kind: 'llm.reset-breaker', path: 'mcp' },
    { kind: 'audit.rerun', targets: ['api-health'] },
    { kind: 'audit.rerun', targets: Array.from({ length: 50 }, (_, i) => `t-${i}`) },
    { kind: 'http.hook', hook: 'restart-api' },
  ])('parses %j, as the documentation schema does', (spec) => {
    expect(catalog.parse(spec)).toEqual(spec);
    expect(actionSpecSchema.parse(spec)).toEqual(spec);
  });

  it.each([
    [{ kind: 'queue.retry-failed', queue: 'nope' }, 'queue', 'queue:'],
    [{ kind: 'queue.retry-failed', queue: 'compliance', clusterId: 'cluster-7' }, 'clusterId', 'cl- and 12 hex digits'],
    [{ kind: 'queue.retry-failed', queue: 'compliance', limit: 5 }, 'limit', 'limit is not a known field'],
    [{ kind: 'queue.clean', queue: 'compliance', state: 'waiting', olderThanMs: 60_000 }, 'state', 'state:'],
    [{ kind: 'queue.clean', queue: 'compliance', state: 'completed', olderThanMs: 59_999 }, 'olderThanMs', 'at least 60000'],
    [{ kind: 'queue.clean', queue: 'compliance', state: 'completed' }, 'olderThanMs', 'olderThanMs:'],
    [{ kind: 'queue.clean', queue: 'compliance', state: 'completed', olderThanMs: 90_000.5 }, 'olderThanMs', 'olderThanMs:'],
    [{ kind: 'queue.promote-delayed' }, 'queue', 'queue:'],
    [{ kind: 'component.active', component: 'compliance', active: true }, 'component', 'component:'],
    [{ kind: 'component.active', component: 'meta-monitor' }, 'active', 'active:'],
    [{ kind: 'llm.reset-breaker', path: 'local' }, 'path', 'path:'],
    [{ kind: 'audit.rerun', targets: [] }, 'targets', 'targets:'],
    [{ kind: 'audit.rerun' }, 'targets', 'targets:'],
    [{ kind: 'audit.rerun', targets: Array.from({ length: 51 }, (_, i) => `t-${i}`) }, 'targets', 'targets:'],
    [{ kind: 'audit.rerun', targets: ['api-health', 'db-port', 'api-health'] }, 'targets.2', 'target "api-health" is named twice (targets 0 and 2)'],
    [{ kind: 'audit.rerun', targets: ['API Health'] }, 'targets.0', 'lower-case letters'],
    [{ kind: 'audit.rerun', targets: 'api-health' }, 'targets', 'targets:'],
    [{ kind: 'audit.rerun', targets: ['api-health'], type: 'comprehensive' }, 'type', 'type is not a known field'],
    [{ kind: 'http.hook' }, 'hook', 'hook:'],
    [{ kind: 'http.hook', hook: 'Restart API' }, 'hook', 'lower-case letters'],
    [{ kind: 'http.hook', hook: 'restart-api', url: 'http://elsewhere.test' }, 'url', 'url is not a known field'],
  ])('%j is refused naming %s', (input, field, message) => {
    let error: unknown;
    try {
      catalog.parse(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ActionValidationError);
    expect((error as ActionValidationError).field).toBe(field);
    expect((error as ActionValidationError).message).toContain(message);
  });
});

describe('queue.retry-failed', () => {
  it('retries at most 1,000 failed jobs per action, the newest first, and says how many stay', async () => {
    const { queue, catalog } = rig();
    for (let i = 0; i < 1_500; i++) {
      queue.add(`j${i}`, 'failed', 10_000 + i, 'boom');
    }
    const plan = await catalog.dryRun(catalog.parse({ kind: 'queue.retry-failed', queue: 'compliance' }));
    expect(plan.changes).toHaveLength(maxRetriedPerAction);
    expect(plan.changes[0]).toEqual({ target: 'queue:compliance:job:j1499', from: 'failed', to: 'waiting' });
    expect(plan.changes.at(-1)?.target).toBe('queue:compliance:job:j500');
    expect(plan.description).toContain('500 more stay failed');
    expect([...queue.jobs.values()].every((j) => j.state === 'failed')).toBe(true);

    const app = await catalog.apply(catalog.parse({ kind: 'queue.retry-failed', queue: 'compliance' }), by);
    expect(app.verification?.verified).toBe(true);
    expect([...queue.jobs.values()].filter((j) => j.state === 'failed').map((j) => j.id)).toHaveLength(500);
    expect(queue.jobs.get('j499')?.state).toBe('failed');
    expect(queue.jobs.get('j500')?.state).toBe('waiting');
  });

  it('reads each retried job back by id: one that failed again makes the application unverified', async () => {
    const { queue, catalog } = rig();
    queue.add('a', 'failed', 1_000, 'boom');
    queue.add('b', 'failed', 2_000, 'boom');
    queue.onRetry = (job) => {
      // b fails again at once (its cause is still there); a runs to completion.
      job.state = job.id === 'b' ? 'failed' : 'completed';
    };
    const app = await catalog.apply(catalog.parse({ kind: 'queue.retry-failed', queue: 'compliance' }), by);
    expect(app.verification).toMatchObject({ verified: false });
    expect((app.after as { retried: { id: string; state: string }[] }).retried).toEqual([
      { id: 'b', state: 'failed' },
      { id: 'a', state: 'completed' },
    ]);
  });

  it('a job retried or removed by someone else meanwhile is no error; a retry refused while the job is still failed is', async () => {
    const { queue, catalog, records } = rig();
    queue.add('a', 'failed', 1_000, 'boom');
    queue.add('b', 'failed', 2_000, 'boom');
    const spec = catalog.parse({ kind: 'queue.retry-failed', queue: 'compliance' });
    // Between the plan and the write: a is retried elsewhere, b removed.
    const getJob = queue.api.getJob.bind(queue.api);
    queue.api.getJob = async (id) => {
      const job = await getJob(id);
      if (id === 'a') {
        (queue.jobs.get('a') as FakeJob).state = 'waiting';
      } else {
        queue.jobs.delete('b');
        return undefined;
      }
      return job;
    };
    const app = await catalog.apply(spec, by);
    expect(app.verification).toMatchObject({ verified: true, read: { retried: [{ id: 'b', state: 'unknown' }, { id: 'a', state: 'waiting' }] } });

    queue.api.getJob = getJob;
    queue.add('c', 'failed', 3_000, 'boom');
    queue.onRetry = () => {
      throw new Error('READONLY You can not write against a read only replica.');
    };
    await expect(catalog.apply(spec, by)).rejects.toThrow('READONLY');
    expect([...records.all.values()].map((r) => r.status)).toEqual(['applied', 'failed']);
  });
});

describe('queue.clean', () => {
  it('counts the jobs that finished at or before now - age, as BullMQ removes them, and verifies none is left', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(10_000_000);
    const { queue, catalog } = rig();
    const cutoff = 10_000_000 - 60_000;
    // The boundary: finished exactly at the cutoff is old enough (BullMQ's range is inclusive).
    [cutoff - 5_000, cutoff - 1, cutoff, cutoff + 1, cutoff + 30_000].forEach((t, i) => queue.add(`c${i}`, 'completed', t));
    queue.add('f0', 'failed', cutoff - 5_000);
    const spec = catalog.parse({ kind: 'queue.clean', queue: 'compliance', state: 'completed', olderThanMs: 60_000 });

    const plan = await catalog.dryRun(spec);
    expect(plan.changes).toEqual([{ target: 'queue:compliance:completed', from: 5, to: 2 }]);
    expect(plan.description).toContain('Removes 3 of');
    expect(queue.cleanCalls).toBe(0);

    const app = await catalog.apply(spec, by);
    expect(app.verification?.verified).toBe(true);
    expect([...queue.jobs.keys()].sort()).toEqual(['c3', 'c4', 'f0']);
  });

  it('counts exactly over a large set (a binary search, not a scan)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(100_000_000);
    const { queue, catalog } = rig();
    for (let i = 0; i < 5_000; i++) {
      queue.add(`c${i}`, 'completed', 100_000_000 - 120_000 + i * 20);
    }
    const getJobs = queue.api.getJobs.bind(queue.api);
    let reads = 0;
    queue.api.getJobs = (...args) => (reads++, getJobs(...args));
    const plan = await catalog.dryRun(catalog.parse({ kind: 'queue.clean', queue: 'compliance', state: 'completed', olderThanMs: 60_000 }));
    // Finished at or before 100_000_000 - 60_000: i * 20 <= 60_000, i = 0..3000.
    expect(plan.changes).toEqual([{ target: 'queue:compliance:completed', from: 5_000, to: 1_999 }]);
    expect(reads).toBeLessThan(20);
  });

  it('an older job left behind makes the application unverified', async () => {
    const { queue, catalog } = rig();
    queue.add('old', 'failed', Date.now() - 3_600_000);
    queue.api.clean = () => Promise.resolve([]);
    const app = await catalog.apply(catalog.parse({ kind: 'queue.clean', queue: 'compliance', state: 'failed', olderThanMs: 60_000 }), by);
    expect(app.verification?.verified).toBe(false);
  });
});

describe('queue.promote-delayed', () => {
  it('expects no delayed job left; one delayed again since shows as unverified', async () => {
    const { queue, catalog } = rig();
    queue.add('d1', 'delayed', 0);
    queue.add('d2', 'delayed', 0);
    const promote = queue.api.promoteJobs.bind(queue.api);
    queue.api.promoteJobs = async () => {
      await promote();
      queue.add('d3', 'delayed', 0); // a retry backing off right after
    };
    const app = await catalog.apply(catalog.parse({ kind: 'queue.promote-delayed', queue: 'compliance' }), by);
    expect(app).toMatchObject({ before: { delayed: 2 }, after: { delayed: 1 }, verification: { verified: false } });
  });
});

describe('component.active', () => {
  const enabled = () => apply(initialState(), { type: 'enable', activate: false }, { by: 'op' }, new Date());

  it('runs the lifecycle command as the approver, with the action in the reason', async () => {
    const { supportMode, catalog } = rig({ supportMode: enabled() });
    const app = await catalog.apply(catalog.parse({ kind: 'component.active', component: 'meta-monitor', active: true }), by);
    expect(supportMode.calls).toEqual([{ command: { type: 'activate', components: ['meta-monitor'] }, actor: { by: 'approver-key', reason: expect.stringContaining(app.id) as unknown } }]);
    expect(app.verification?.verified).toBe(true);
  });

  it('deactivating needs no enabled support mode; activating does, and is refused before anything is written', async () => {
    const { supportMode, catalog, audit } = rig();
    const plan = await catalog.dryRun(catalog.parse({ kind: 'component.active', component: 'meta-monitor', active: false }));
    expect(plan.changes).toEqual([]);
    await expect(catalog.apply(catalog.parse({ kind: 'component.active', component: 'meta-monitor', active: true }), by)).rejects.toMatchObject({
      name: 'SupportModeConflictError',
      status: 'disabled',
    });
    expect([supportMode.calls, audit]).toEqual([[], []]);
  });
});

describe('llm.reset-breaker', () => {
  it('a closed breaker with failures counted is a change too; a reset that does not take is unverified', async () => {
    const counted = rig({ breaker: ['closed', 2] });
    const plan = await counted.catalog.dryRun(counted.catalog.parse({ kind: 'llm.reset-breaker', path: 'mcp' }));
    expect(plan.changes).toEqual([{ target: 'llm-breaker:mcp:consecutiveFailures', from: 2, to: 0 }]);

    const { breakers, catalog } = rig({ breaker: ['open', 3] });
    breakers.stuck = true;
    const app = await catalog.apply(catalog.parse({ kind: 'llm.reset-breaker', path: 'direct' }), by);
    expect(app).toMatchObject({ changed: true, verification: { verified: false, read: { state: 'open' } } });
  });
});

/** The error `work` rejects with. */
async function rejectionOf(work: Promise<unknown>): Promise<unknown> {
  return work.then(
    () => null,
    (err: unknown) => err,
  );
}

describe('audit.rerun', () => {
  it('a target id the inventory in force lacks is refused naming targets, in the dry run and the apply: nothing probed, audited or recorded', async () => {
    const { audited, catalog, audit, records } = rig();
    const spec = catalog.parse({ kind: 'audit.rerun', targets: ['api-health', 'api-helth', 'db'] });
    for (const attempt of [catalog.dryRun(spec), catalog.apply(spec, by)]) {
      const err = await rejectionOf(attempt);
      expect(err).toBeInstanceOf(ActionValidationError);
      expect(err).toMatchObject({ field: 'targets', message: 'targets: "api-helth", "db" are not targets of the inventory in force (version 3; GET /admin/bedrock-support/audit/config lists its targets)' });
    }
    expect([audited.probes, audited.observed, audit, records.all.size]).toEqual([[], [], [], 0]);
  });

  it('plans from a probe of each target now: the failing checks as changes, what fails in words', async () => {
    const { audited, catalog } = rig();
    audited.found = (id) => (id === 'api-health' ? failsStatus('503') : id === 'cache' ? probeError : passes);
    const plan = await catalog.dryRun(catalog.parse({ kind: 'audit.rerun', targets: ['api-health', 'db-port', 'cache'] }));
    expect(plan).toMatchObject({ risk: 'low', reversible: false });
    expect(plan.changes).toEqual([
      { target: 'audit-target:api-health:status', from: '503', to: '200' },
      { target: 'audit-target:cache', from: 'error: boom', to: 'pass' },
    ]);
    expect(plan.description).toContain('api-health fails status: expected 200, observed 503; cache could not be probed: boom. db-port passes.');
    expect(audited.probes).toEqual(['api-health', 'db-port', 'cache']);
    expect(audited.observed).toEqual([]);
  });

  it('records the outcomes the plan probed as an audit run named by the application (no probe for the write), then probes again to verify', async () => {
    const { audited, catalog } = rig();
    // api-health fails at the plan and passes from then on; cache's probe cannot run at the plan.
    audited.found = (id, n) => (id === 'api-health' && n === 0 ? failsStatus('503') : id === 'cache' && n === 0 ? probeError : passes);
    const app = await catalog.apply(catalog.parse({ kind: 'audit.rerun', targets: ['api-health', 'db-port', 'cache'] }), by);

    // Three probes for the plan, three for the verification: none for the write.
    expect(audited.probes).toEqual(['api-health', 'db-port', 'cache', 'api-health', 'db-port', 'cache']);
    expect(audited.observed).toEqual([
      {
        // The target whose probe could not run is out of scope: its gaps are neither seen nor resolved.
        run: { source: 'audit', runId: app.id, at: new Date('2025-03-01T10:00:00.000Z'), scope: ['api-health', 'db-port'] },
        sightings: [
          {
            source: 'audit',
            subject: 'api-health',
            check: 'status',
            type: 'broken_integration',
            severity: 'critical',
            title: 'api-health: GET http://127.0.0.1:9/health answers with status 200',
            components: ['api'],
            evidence: { expected: '200', observed: '503' },
          },
        ],
      },
    ]);
    expect(app).toMatchObject({ status: 'applied', changed: true, verification: { verified: true } });
    expect(app.after).toMatchObject({ recorded: { resolved: [], sighted: [] }, targets: [{ id: 'api-health', status: 'pass' }, { id: 'db-port', status: 'pass' }, { id: 'cache', status: 'pass' }] });
  });

  it('a target still failing at the read-back leaves the application unverified, with what was observed', async () => {
    const { audited, catalog } = rig();
    audited.found = (id) => (id === 'api-health' ? failsStatus('502') : passes);
    const app = await catalog.apply(catalog.parse({ kind: 'audit.rerun', targets: ['api-health', 'db-port'] }), by);
    expect(app.status).toBe('applied');
    expect(app.verification).toMatchObject({
      verified: false,
      read: { targets: [{ id: 'api-health', status: 'fail', unmet: [{ check: 'status', expected: '200', observed: '502', gapType: 'broken_integration', severity: 'critical' }] }, { id: 'db-port', status: 'pass', unmet: [] }] },
    });
    expect(audited.observed[0]?.sightings.map((s) => [s.subject, s.check])).toEqual([['api-health', 'status']]);
  });

  it('every target passing already: no change listed, and applying still records the run (it resolves their open gaps)', async () => {
    const { audited, catalog } = rig();
    const spec = catalog.parse({ kind: 'audit.rerun', targets: ['db-port'] });
    const plan = await catalog.dryRun(spec);
    expect(plan.changes).toEqual([]);
    expect(plan.description).toContain('every one passes now');
    const app = await catalog.apply(spec, by);
    expect(app).toMatchObject({ changed: false, verification: { verified: true } });
    expect(audited.observed.map((o) => [o.run.scope, o.sightings.length])).toEqual([[['db-port'], 0]]);
  });
});

describe('http.hook', () => {
  it('an id the inventory in force does not declare is refused naming hook and listing the declared ones; nothing called or recorded', async () => {
    const { hooks, catalog, audit, records } = rig();
    const spec = catalog.parse({ kind: 'http.hook', hook: 'restart-web' });
    for (const attempt of [catalog.dryRun(spec), catalog.apply(spec, by)]) {
      const err = await rejectionOf(attempt);
      expect(err).toBeInstanceOf(ActionValidationError);
      expect(err).toMatchObject({ field: 'hook', message: 'hook: "restart-web" is not an action of the inventory in force (version 3; its actions: restart-api, flush-cache)' });
    }
    expect([hooks.calls, audit, records.all.size]).toEqual([[], [], 0]);

    const bare = rig({ inventory: { targets: inventoryInput.targets } });
    await expect(bare.catalog.dryRun(spec)).rejects.toThrow('(version 3; it declares no actions)');
  });

  it("plans with the hook's declared risk and without its secrets: no headers, no body, no user info or query in the URL", async () => {
    const { hooks, catalog } = rig();
    const plan = await catalog.dryRun(catalog.parse({ kind: 'http.hook', hook: 'restart-api' }));
    expect(plan).toMatchObject({ risk: 'low', reversible: false, changes: [{ target: 'http-hook:restart-api', from: null, to: 'POST https://api.example.test/admin/restart answers with status 202 and status = "restarted"' }] });
    expect(plan.description).toBe(
      'Calls HTTP action restart-api of component api: POST https://api.example.test/admin/restart, within 10000 ms, expecting status 202 and status = "restarted". Risk low, as the inventory declares it. It is declared to fix target api-health: an audit.rerun of it afterwards records whether it did. Not reversible.',
    );
    expect((await catalog.dryRun(catalog.parse({ kind: 'http.hook', hook: 'flush-cache' }))).risk).toBe('medium');
    expect(hooks.calls).toEqual([]);
    expect(JSON.stringify(plan)).not.toMatch(/s3cret|token=abc|literal-key-123|graceful/);
  });

  it('calls the hook as declared once; the read-back is the answer it got: the expected one verifies', async () => {
    const { hooks, catalog, audit } = rig();
    const app = await catalog.apply(catalog.parse({ kind: 'http.hook', hook: 'restart-api' }), by);
    expect(hooks.calls).toHaveLength(1);
    expect(hooks.calls[0]).toMatchObject({ id: 'restart-api', method: 'POST', headers: { 'X-Admin-Key': 'literal-key-123' }, body: { graceful: true } });
    expect(app).toMatchObject({ risk: 'low', status: 'applied', changed: true, before: { response: null }, verification: { verified: true } });
    expect(app.after).toEqual({
      hook: expect.objectContaining({ id: 'restart-api', url: 'https://api.example.test/admin/restart', expect: { status: [202], json: { status: 'restarted' } } }) as unknown,
      response: { status: 202, latencyMs: 12.3, json: { status: { observed: '"restarted"', met: true } }, text: null, unmet: [] },
    });
    expect(audit[0]).toMatchObject({ action: 'action.apply', details: { kind: 'http.hook', risk: 'low' } });
    expect(JSON.stringify([app, audit])).not.toMatch(/s3cret|token=abc|literal-key-123/);
  });

  it('another status or field is an answer, not an error: applied, unverified, with what came back and why', async () => {
    const { hooks, catalog } = rig();
    hooks.answer = () => Promise.resolve({ status: 202, latencyMs: 5, body: '{"status":"queued","eta":30}', truncated: false });
    const queued = await catalog.apply(catalog.parse({ kind: 'http.hook', hook: 'restart-api' }), by);
    expect(queued).toMatchObject({ status: 'applied', error: null, verification: { verified: false, read: { response: { status: 202, json: { status: { observed: '"queued"', met: false } }, unmet: ['json.status: expected "restarted", observed "queued"'] } } } });

    // A body that is not JSON: its first 200 characters, redacted before the cut (the address straddles it).
    const page = `${'x'.repeat(180)} mail ops@example.com for help ${'y'.repeat(500)}`;
    hooks.answer = () => Promise.resolve({ status: 500, latencyMs: 5, body: page, truncated: false });
    const failed = await catalog.apply(catalog.parse({ kind: 'http.hook', hook: 'restart-api' }), by);
    const response = (failed.verification?.read as { response: { status: number; text: string; unmet: string[] } }).response;
    expect(failed).toMatchObject({ status: 'applied', verification: { verified: false } });
    expect(response.status).toBe(500);
    expect(response.unmet).toEqual(['status: expected 202, observed 500', 'json.status: expected "restarted", observed no JSON body (not JSON)']);
    expect(response.text).toHaveLength(201);
    expect(response.text).toBe(`${'x'.repeat(180)} mail [EMAIL_1] for …`);
    expect(JSON.stringify(failed)).not.toContain('ops@example');
  });

  it('no answer fails the application with the error; a hook changed since its plan was read is not called', async () => {
    const { hooks, audited, catalog, records } = rig();
    hooks.answer = () => Promise.reject(new Error('HTTP action restart-api (POST https://api.example.test/admin/restart) did not answer: connect ECONNREFUSED 127.0.0.1:443'));
    await expect(catalog.apply(catalog.parse({ kind: 'http.hook', hook: 'restart-api' }), by)).rejects.toThrow('did not answer: connect ECONNREFUSED');
    expect([...records.all.values()].map((r) => [r.status, r.error, r.verification])).toEqual([['failed', expect.stringContaining('ECONNREFUSED') as unknown, null]]);

    // Between the plan and the call, an admin points the action elsewhere.
    const calls = hooks.calls.length;
    const inventory = audited.port.inventory.bind(audited.port);
    let reads = 0;
    audited.port.inventory = async () => {
      const v = await inventory();
      if (++reads > 1) {
        v.inventory.actions = v.inventory.actions?.map((a) => (a.id === 'restart-api' ? { ...a, url: 'https://other.example.test/restart' } : a));
      }
      return v;
    };
    await expect(catalog.apply(catalog.parse({ kind: 'http.hook', hook: 'restart-api' }), by)).rejects.toBeInstanceOf(HttpHookChangedError);
    expect(hooks.calls).toHaveLength(calls);
    expect([...records.all.values()].at(-1)).toMatchObject({ status: 'failed', error: expect.stringContaining('changed in the inventory since its plan was read') as unknown });
  });
});
