/**
 * The probes that read the service's own ports (queue figures, flags, LLM paths), and what the
 * prober does around every probe: its timeout, a cancelled audit, a probe that throws. The ports
 * are plain objects here; the network kinds are tested on loopback in test/integration/probes.test.ts.
 */
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { targetSchema, type Target } from '../../src/domain/audit/inventory.js';
import type { ProbeOutcome } from '../../src/domain/audit/probe.js';
import type { QueueState } from '../../src/domain/fleet/fleet-state.js';
import type { FleetSnapshot } from '../../src/domain/fleet/ports.js';
import type { PathStatus } from '../../src/domain/llm/path-status.js';
import { queueNames, type QueueName } from '../../src/domain/queue-names.js';
import { initialState } from '../../src/domain/support-mode/state.js';
import { createProber, type ProberDeps } from '../../src/probes/index.js';
import { quietQueue } from '../helpers/fleet-state.js';

const now = Date.parse('2026-05-04T10:00:00Z');
// Never connects: the kinds tested here do not use it.
const unusedRedis = new Redis({ lazyConnect: true });
afterAll(() => unusedRedis.disconnect());


function snapshotWith(name: QueueName, state: Partial<QueueState>): FleetSnapshot {
  const queues = Object.fromEntries(queueNames.map((q) => [q, quietQueue(q, q === name ? state : {})])) as Record<QueueName, QueueState>;
  return { at: new Date(now).toISOString(), redis: { latencyMs: 1 }, queues, mode: initialState(), ageMs: 0 };
}

const closedBreaker = {
  state: 'closed',
  consecutiveFailures: 0,
  openedAt: null,
  retryAt: null,
  lastSuccessAt: null,
  lastError: null,
  lastErrorAt: null,
  changedAt: null,
} as const;

function path(overrides: Partial<PathStatus> & Pick<PathStatus, 'path'>): PathStatus {
  return {
    configured: true,
    model: 'anthropic.claude-3-sonnet-20240229-v1:0',
    breaker: { ...closedBreaker, path: overrides.path === 'local' ? 'direct' : overrides.path },
    residency: { ok: true, region: 'eu-central-1', basis: 'eu' },
    refusedBecause: null,
    available: true,
    lastSuccessAt: null,
    lastError: null,
    lastErrorAt: null,
    ...overrides,
  };
}

interface Fakes {
  snapshot?: FleetSnapshot;
  oldestWaitingAt?: number | null;
  flag?: ProberDeps['flag'];
  paths?: PathStatus[];
  ping?: ProberDeps['llm']['ping'];
}

function proberWith(fakes: Fakes) {
  const pinged: string[] = [];
  const deps: ProberDeps = {
    fleetReader: { snapshot: () => Promise.resolve(fakes.snapshot ?? snapshotWith('compliance', {})) },
    oldestWaitingAt: () => Promise.resolve(fakes.oldestWaitingAt ?? null),
    flag: fakes.flag ?? (() => Promise.resolve(true)),
    llm: {
      pathStatus: () => Promise.resolve(fakes.paths ?? []),
      ping: (p, signal) => {
        pinged.push(p);
        return (fakes.ping ?? (() => Promise.resolve({ latencyMs: 120 })))(p, signal);
      },
    },
    fleetRedis: unusedRedis,
    env: {},
    readFile: () => Promise.reject(new Error('no files here')),
    now: () => now,
  };
  return { prober: createProber(deps), pinged };
}

const base = { component: 'probe-tests', criticality: 'high' } as const;

function target(fields: Record<string, unknown>): Target {
  return targetSchema.parse({ ...base, ...fields });
}

function run(fakes: Fakes, fields: Record<string, unknown>, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ProbeOutcome> {
  return proberWith(fakes).prober.probe(target(fields), { signal: options.signal ?? new AbortController().signal, timeoutMs: options.timeoutMs ?? 5_000 });
}

function unmet(outcome: ProbeOutcome): Record<string, string> {
  return Object.fromEntries(outcome.observations.filter((o) => !o.met).map((o) => [o.check, o.gapType]));
}

function observed(outcome: ProbeOutcome, check: string): string | undefined {
  return outcome.observations.find((o) => o.check === check)?.observed;
}

describe('queue', () => {
  const q = { id: 'queue-compliance', kind: 'queue', queue: 'compliance' };

  it('judges the failed share once 4 jobs have finished in the window', async () => {
    const o = await run({ snapshot: snapshotWith('compliance', { recent: { windowMinutes: 15, completed: 6, failed: 4 } }) }, q);
    expect(o.status).toBe('fail');
    expect(unmet(o)).toEqual({ 'failed-ratio': 'broken_integration' });
    expect(observed(o, 'failed-ratio')).toBe('40% (4 of 10 in the last 15 min)');
  });

  it('does not judge a failed share from fewer than 4 jobs', async () => {
    const o = await run({ snapshot: snapshotWith('compliance', { recent: { windowMinutes: 15, completed: 0, failed: 3 } }) }, q);
    expect(o.status).toBe('pass');
    expect(observed(o, 'failed-ratio')).toBe('too few jobs: 3 finished in the last 15 min, 4 needed to judge');
  });

  it('reports too few workers and a job waiting too long', async () => {
    const o = await run({ snapshot: snapshotWith('compliance', { workers: { count: 1 } }), oldestWaitingAt: now - 1_000_000 }, { ...q, minWorkers: 2, maxOldestWaitingSeconds: 600 });
    expect(unmet(o)).toEqual({ workers: 'broken_integration', 'oldest-waiting': 'performance_issue' });
    expect(observed(o, 'workers')).toBe('1 worker');
    expect(observed(o, 'oldest-waiting')).toBe('1000 s');
  });
});

describe('feature-flag', () => {
  it('reports a flag with another value than expected as drift', async () => {
    const asked: string[] = [];
    const flag = (name: string) => {
      asked.push(name);
      return Promise.resolve(false);
    };
    const o = await run({ flag }, { id: 'master', kind: 'feature-flag', flag: 'bedrock-support', expected: true });
    expect(asked).toEqual(['bedrock-support']);
    expect(o.status).toBe('fail');
    expect(unmet(o)).toEqual({ value: 'configuration_drift' });
    expect(o.observations[0]).toMatchObject({ expected: 'enabled', observed: 'disabled' });
  });

  it('passes a flag as expected', async () => {
    const o = await run({ flag: () => Promise.resolve(true) }, { id: 'narratives', kind: 'feature-flag', flag: 'llm-narratives', expected: true });
    expect(o.status).toBe('pass');
  });
});

describe('llm', () => {
  const direct = { id: 'llm-direct', kind: 'llm', path: 'direct' };

  it('passes a configured path in the EU with a closed breaker that answers in time', async () => {
    const { prober, pinged } = proberWith({ paths: [path({ path: 'direct' }), path({ path: 'mcp', configured: false })] });
    const o = await prober.probe(target(direct), { signal: new AbortController().signal, timeoutMs: 5_000 });
    expect(o.status).toBe('pass');
    expect(o.observations.map((x) => x.check)).toEqual(['configured', 'residency', 'breaker', 'answers', 'latency']);
    expect(pinged).toEqual(['direct']);
  });

  it('reports a path that is not configured as missing, asking nothing', async () => {
    const { prober, pinged } = proberWith({ paths: [path({ path: 'direct' }), path({ path: 'mcp', configured: false })] });
    const o = await prober.probe(target({ id: 'llm-mcp', kind: 'llm', path: 'mcp' }), { signal: new AbortController().signal, timeoutMs: 5_000 });
    expect(o.reach).toMatchObject({ reachable: false, cause: 'not_configured' });
    expect(unmet(o)).toEqual({ configured: 'missing_implementation' });
    expect(pinged).toEqual([]);
  });

  it('never sends a request where residency forbids it', async () => {
    const reason = 'region us-east-1 is outside the EU allow-list';
    const { prober, pinged } = proberWith({ paths: [path({ path: 'direct', residency: { ok: false, region: 'us-east-1', reason }, refusedBecause: reason, available: false })] });
    const o = await prober.probe(target(direct), { signal: new AbortController().signal, timeoutMs: 5_000 });
    expect(pinged).toEqual([]);
    expect(unmet(o)).toEqual({ residency: 'security_vulnerability', answers: 'broken_integration' });
    expect(observed(o, 'residency')).toBe(reason);
    expect(o.reach).toMatchObject({ reachable: false, cause: 'other' });
  });

  it('reports an open breaker, and a slow answer as a performance issue', async () => {
    const open = { ...closedBreaker, path: 'direct' as const, state: 'open' as const, consecutiveFailures: 3, openedAt: '2026-05-04T09:59:00.000Z' };
    const o = await run({ paths: [path({ path: 'direct', breaker: open, available: false })], ping: () => Promise.resolve({ latencyMs: 12_000 }) }, { ...direct, latencyBudgetMs: 10_000 });
    expect(unmet(o)).toEqual({ breaker: 'broken_integration', latency: 'performance_issue' });
    expect(observed(o, 'breaker')).toBe('open since 2026-05-04T09:59:00.000Z (3 consecutive failures)');
    expect(observed(o, 'latency')).toBe('12000 ms');
  });

  it('reports a path that fails to answer', async () => {
    const o = await run({ paths: [path({ path: 'direct' })], ping: () => Promise.reject(new Error('ValidationException: model not enabled')) }, direct);
    expect(o.status).toBe('fail');
    expect(unmet(o)).toEqual({ answers: 'broken_integration' });
    expect(observed(o, 'answers')).toBe('no answer: ValidationException: model not enabled');
  });

  it('reports an MCP path whose region nobody declared, and still asks it as the router would', async () => {
    const { prober, pinged } = proberWith({ paths: [path({ path: 'mcp', model: 'mcp:write', residency: null })] });
    const o = await prober.probe(target({ id: 'llm-mcp', kind: 'llm', path: 'mcp' }), { signal: new AbortController().signal, timeoutMs: 5_000 });
    expect(unmet(o)).toEqual({ residency: 'security_vulnerability' });
    expect(pinged).toEqual(['mcp']);
  });
});

describe('the prober around every probe', () => {
  const flagTarget = { id: 'flag', kind: 'feature-flag', flag: 'auto-remediation', expected: false };
  const never = () => new Promise<boolean>(() => undefined);

  it('ends a probe that does not finish in time as a timeout', async () => {
    const o = await run({ flag: never }, flagTarget, { timeoutMs: 50 });
    expect(o.status).toBe('fail');
    expect(o.reach).toEqual({ reachable: false, cause: 'timeout', detail: 'no answer within 50 ms' });
    expect(unmet(o)).toEqual({ reachable: 'broken_integration' });
    // A timer may fire a fraction of a millisecond before the clock that measures it says 50 ms.
    expect(o.durationMs).toBeGreaterThanOrEqual(49);
  });

  it("takes the caller's timeout signal as a timeout too", async () => {
    const o = await run({ flag: never }, flagTarget, { timeoutMs: 60_000, signal: AbortSignal.timeout(30) });
    expect(o.reach).toMatchObject({ reachable: false, cause: 'timeout' });
  });

  it('reports a cancelled audit as an error, not as a finding', async () => {
    const audit = new AbortController();
    const pending = run({ flag: never }, flagTarget, { signal: audit.signal });
    audit.abort();
    const o = await pending;
    expect(o.status).toBe('error');
    expect(o.observations).toEqual([]);
    expect(o.error).toMatch(/^the probe was cancelled/);
  });

  it('turns a probe that throws into status error', async () => {
    const o = await run({ flag: () => Promise.reject(new Error('flag store unavailable')) }, flagTarget);
    expect(o).toMatchObject({ targetId: 'flag', kind: 'feature-flag', status: 'error', error: 'flag store unavailable', observations: [] });
  });
});
