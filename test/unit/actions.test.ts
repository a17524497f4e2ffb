import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AuditEventInput } from '../../src/domain/audit-trail/chain.js';
import { AuditUnavailableError } from '../../src/domain/audit-trail/ports.js';
import {
  ActionNotFoundError,
  ActionRollbackRefusedError,
  ActionValidationError,
  actionSpecSchema,
  builtinActionKinds,
  createActionCatalog,
  registerKind,
  type ActionKind,
} from '../../src/domain/actions/index.js';
import { defaultRoutingMatrix } from '../../src/domain/llm/routing-matrix.js';
import { cachedRoutingOverrides, noOverrides, type RoutingOverrides } from '../../src/domain/llm/routing-overrides.js';
import { memoryRecords, unusedQueueLimits } from '../helpers/actions.js';


/** A trail in memory that can be made to refuse entries. */
function memoryTrail() {
  const entries: AuditEventInput[] = [];
  const trail = {
    entries,
    down: false,
    append(input: AuditEventInput) {
      if (trail.down) {
        return Promise.reject(new Error('Connection is closed.'));
      }
      entries.push(structuredClone(input));
      return Promise.resolve();
    },
  };
  return trail;
}

type DialSpec = { kind: 'test.dial'; value: number | null };

/** A dial with a value; `stuck` makes writes do nothing (a change that does not take). */
function dialKind(dial: { value: number | null; stuck: boolean; writes: number }): ActionKind<DialSpec, { value: number | null }> {
  return {
    kind: 'test.dial',
    risk: 'low',
    description: 'a dial',
    reversible: true,
    schema: z.strictObject({ kind: z.literal('test.dial'), value: z.int().min(1).nullable() }),
    stateSchema: z.object({ value: z.int().nullable() }),
    read: () => Promise.resolve({ value: dial.value }),
    desired: (spec) => ({ value: spec.value }),
    changes: (_spec, from, to) => (from.value === to.value ? [] : [{ target: 'dial', from: from.value, to: to.value }]),
    describe: (_spec, from, to) => `dial ${from.value} -> ${to.value}`,
    write(_spec, _from, to) {
      dial.writes += 1;
      if (!dial.stuck) {
        dial.value = to.value;
      }
      return Promise.resolve();
    },
  };
}

function rig(value: number | null = null) {
  const dial = { value, stuck: false, writes: 0 };
  const records = memoryRecords();
  const trail = memoryTrail();
  let n = 0;
  const catalog = createActionCatalog<DialSpec>({
    kinds: [registerKind(dialKind(dial))],
    records,
    audit: trail,
    clock: () => new Date('2025-03-01T10:00:00Z'),
    newId: () => `act-${(++n).toString(16).padStart(16, '0')}`,
  });
  return { dial, records, trail, catalog };
}

const by = { actor: 'approver-key', cause: 'opt-abc', note: 'mail ops@example.com when done' };

describe('the action catalog core', () => {
  it('applies: audit entry first, the change, the read-back, a record with before, after and who', async () => {
    const { dial, trail, catalog, records } = rig(2);
    const plan = await catalog.dryRun({ kind: 'test.dial', value: 5 });
    expect(plan).toEqual({ spec: { kind: 'test.dial', value: 5 }, risk: 'low', description: 'dial 2 -> 5', changes: [{ target: 'dial', from: 2, to: 5 }], reversible: true });
    expect(dial.writes).toBe(0);

    const app = await catalog.apply({ kind: 'test.dial', value: 5 }, by);
    expect(dial.value).toBe(5);
    expect(app).toMatchObject({
      id: 'act-0000000000000001',
      kind: 'test.dial',
      status: 'applied',
      changed: true,
      before: { value: 2 },
      after: { value: 5 },
      appliedBy: 'approver-key',
      appliedAt: '2025-03-01T10:00:00.000Z',
      cause: 'opt-abc',
      verification: { verified: true, expected: { value: 5 }, read: { value: 5 } },
      rolledBack: null,
    });
    // The note is redacted before it is stored or audited.
    expect(app.note).not.toContain('ops@example.com');
    expect(trail.entries).toEqual([
      { actor: 'approver-key', action: 'action.apply', target: app.id, details: expect.objectContaining({ kind: 'test.dial', changes: [{ target: 'dial', from: 2, to: 5 }], cause: 'opt-abc' }) as unknown },
    ]);
    expect(JSON.stringify(trail.entries)).not.toContain('ops@example.com');
    expect(await catalog.get(app.id)).toEqual(app);
    expect(records.all.size).toBe(1);
  });

  it('when the trail cannot record the change, nothing changes and nothing is recorded', async () => {
    const { dial, trail, catalog, records } = rig(2);
    trail.down = true;
    await expect(catalog.apply({ kind: 'test.dial', value: 5 }, by)).rejects.toBeInstanceOf(AuditUnavailableError);
    expect([dial.value, dial.writes, records.all.size]).toEqual([2, 0, 0]);
  });

  it('a change that does not take is recorded as not verified, with what was read', async () => {
    const { dial, catalog } = rig(2);
    dial.stuck = true;
    const app = await catalog.apply({ kind: 'test.dial', value: 5 }, by);
    expect(app.verification).toMatchObject({ verified: false, expected: { value: 5 }, read: { value: 2 } });
    expect(app.after).toEqual({ value: 2 });
  });

  it('rolls back once, audited and verified; a second rollback and an unknown id are clear errors', async () => {
    const { dial, trail, catalog } = rig(null);
    const app = await catalog.apply({ kind: 'test.dial', value: 7 }, by);
    const back = await catalog.rollback(app.id, { actor: 'admin-key', cause: 'revert' });
    expect(dial.value).toBeNull();
    expect(back.rolledBack).toMatchObject({ by: 'admin-key', cause: 'revert', changes: [{ target: 'dial', from: 7, to: null }], verification: { verified: true, expected: { value: null }, read: { value: null } } });
    expect(trail.entries.map((e) => [e.action, e.target, e.actor])).toEqual([
      ['action.apply', app.id, 'approver-key'],
      ['action.rollback', app.id, 'admin-key'],
    ]);
    expect((await catalog.get(app.id))?.rolledBack?.by).toBe('admin-key');

    const again = catalog.rollback(app.id, { actor: 'admin-key' });
    await expect(again).rejects.toBeInstanceOf(ActionRollbackRefusedError);
    await expect(catalog.rollback(app.id, { actor: 'admin-key' })).rejects.toMatchObject({ reason: 'already_rolled_back', message: expect.stringContaining('already rolled back') as unknown });
    expect(dial.writes).toBe(2);
    await expect(catalog.rollback('act-ffffffffffffffff', { actor: 'admin-key' })).rejects.toThrow(new ActionNotFoundError('act-ffffffffffffffff'));
    await expect(catalog.rollback('act-ffffffffffffffff', { actor: 'admin-key' })).rejects.toThrow('act-ffffffffffffffff');
  });

  it('two rollbacks at once restore once', async () => {
    const { dial, catalog } = rig(1);
    const app = await catalog.apply({ kind: 'test.dial', value: 3 }, by);
    const results = await Promise.allSettled([catalog.rollback(app.id, { actor: 'a' }), catalog.rollback(app.id, { actor: 'b' })]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect([dial.value, dial.writes]).toEqual([1, 2]);
  });

  it('refuses a rollback that would undo a later change, and leaves the state alone', async () => {
    const { dial, catalog } = rig(1);
    const first = await catalog.apply({ kind: 'test.dial', value: 3 }, by);
    const second = await catalog.apply({ kind: 'test.dial', value: 4 }, by);
    await expect(catalog.rollback(first.id, { actor: 'a' })).rejects.toMatchObject({ reason: 'changed_since' });
    expect(dial.value).toBe(4);
    await catalog.rollback(second.id, { actor: 'a' });
    await catalog.rollback(first.id, { actor: 'a' });
    expect(dial.value).toBe(1);
  });

  it('when the trail cannot record a rollback, nothing is restored and it can be rolled back later', async () => {
    const { dial, trail, catalog } = rig(1);
    const app = await catalog.apply({ kind: 'test.dial', value: 3 }, by);
    trail.down = true;
    await expect(catalog.rollback(app.id, { actor: 'a' })).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(dial.value).toBe(3);
    expect((await catalog.get(app.id))?.rolledBack).toBeNull();
    trail.down = false;
    await catalog.rollback(app.id, { actor: 'a' });
    expect(dial.value).toBe(1);
  });

  it('a write that throws leaves a failed record and cannot be rolled back', async () => {
    const { trail, records } = rig(1);
    const catalog = createActionCatalog<DialSpec>({
      kinds: [registerKind({ ...dialKind({ value: 1, stuck: false, writes: 0 }), write: () => Promise.reject(new Error('READONLY You can\'t write against a read only replica.')) })],
      records,
      audit: trail,
      clock: () => new Date(),
    });
    await expect(catalog.apply({ kind: 'test.dial', value: 3 }, by)).rejects.toThrow('READONLY');
    const [stored] = records.all.values();
    expect(stored).toMatchObject({ status: 'failed', error: expect.stringContaining('READONLY') as unknown, verification: null });
    await expect(catalog.rollback(stored?.id ?? '', { actor: 'a' })).rejects.toMatchObject({ reason: 'not_applied' });
  });

  it("a kind's riskOf may read the state: the plan, the audit entry and the record carry the risk of the state read", async () => {
    const { trail, records } = rig();
    const dial = { value: 9, stuck: false, writes: 0 };
    // A dial above 5 is risky to turn: what it reads now decides, not the spec.
    const catalog = createActionCatalog<DialSpec>({
      kinds: [registerKind({ ...dialKind(dial), risk: 'high', riskOf: (_spec, before) => ((before.value ?? 0) > 5 ? 'high' : 'low') })],
      records,
      audit: trail,
      clock: () => new Date(),
    });
    expect(catalog.kinds()[0]?.risk).toBe('high');
    expect((await catalog.dryRun({ kind: 'test.dial', value: 2 })).risk).toBe('high');
    const app = await catalog.apply({ kind: 'test.dial', value: 2 }, by);
    expect(app.risk).toBe('high');
    expect(trail.entries.at(-1)?.details).toMatchObject({ risk: 'high' });
    expect((await catalog.dryRun({ kind: 'test.dial', value: 7 })).risk).toBe('low');
    expect((await catalog.apply({ kind: 'test.dial', value: 7 }, by)).risk).toBe('low');
    expect(trail.entries.at(-1)?.details).toMatchObject({ risk: 'low' });
  });
});

describe('action specs', () => {
  const unused = () => {
    throw new Error('not called by parse');
  };
  const queue = unusedQueueLimits();
  const catalog = createActionCatalog({
    kinds: builtinActionKinds({ queues: () => queue, featureFlags: { get: unused, set: unused }, llm: { matrix: defaultRoutingMatrix, overrides: { get: unused, put: unused } } }),
    records: memoryRecords(),
    audit: memoryTrail(),
    clock: () => new Date(),
  });
  const fieldOf = (input: unknown) => {
    try {
      catalog.parse(input);
    } catch (err) {
      expect(err).toBeInstanceOf(ActionValidationError);
      return { field: (err as ActionValidationError).field, message: (err as ActionValidationError).message };
    }
    throw new Error('parsed');
  };

  it('lists the kinds with their risk', () => {
    expect(catalog.kinds().map((k) => [k.kind, k.risk, k.reversible])).toEqual([
      ['queue.concurrency', 'medium', true],
      ['queue.rate-limit', 'medium', true],
      ['feature-flag', 'high', true],
      ['llm.route', 'medium', true],
    ]);
    for (const k of catalog.kinds()) {
      expect(k.description.length).toBeGreaterThan(40);
    }
  });

  it('the documentation schema takes the same specs', () => {
    const spec = { kind: 'queue.rate-limit', queue: 'meta-monitor', limit: { max: 5, durationMs: 1000 } };
    expect(actionSpecSchema.parse(spec)).toEqual(catalog.parse(spec));
    expect(actionSpecSchema.safeParse({ kind: 'llm.route', operation: 'standard', primary: 'mcp', fallback: 'mcp' }).success).toBe(false);
  });

  it('parses valid specs', () => {
    expect(catalog.parse({ kind: 'queue.concurrency', queue: 'compliance', concurrency: null })).toEqual({ kind: 'queue.concurrency', queue: 'compliance', concurrency: null });
    expect(catalog.parse({ kind: 'queue.rate-limit', queue: 'meta-monitor', limit: { max: 5, durationMs: 1000 } })).toEqual({ kind: 'queue.rate-limit', queue: 'meta-monitor', limit: { max: 5, durationMs: 1000 } });
    expect(catalog.parse({ kind: 'feature-flag', flag: 'llm-narratives', enabled: false })).toEqual({ kind: 'feature-flag', flag: 'llm-narratives', enabled: false });
    expect(catalog.parse({ kind: 'llm.route', operation: 'standard', budgetMs: 20_000 })).toEqual({ kind: 'llm.route', operation: 'standard', budgetMs: 20_000 });
  });

  it.each([
    [null, 'kind', 'kind is required'],
    [{}, 'kind', 'kind is required'],
    [{ kind: 'queue.drain' }, 'kind', 'kind must be one of queue.concurrency, queue.rate-limit, feature-flag, llm.route'],
    [{ kind: 'queue.concurrency', queue: 'nope', concurrency: 2 }, 'queue', 'queue:'],
    [{ kind: 'queue.concurrency', queue: 'compliance', concurrency: 0 }, 'concurrency', 'concurrency:'],
    [{ kind: 'queue.concurrency', queue: 'compliance', concurrency: 2.5 }, 'concurrency', 'concurrency:'],
    [{ kind: 'queue.concurrency', queue: 'compliance' }, 'concurrency', 'concurrency:'],
    [{ kind: 'queue.concurrency', queue: 'compliance', concurrency: 2, extra: 1 }, 'extra', 'extra is not a known field'],
    [{ kind: 'queue.rate-limit', queue: 'compliance', limit: { max: 0, durationMs: 1000 } }, 'limit.max', 'limit.max:'],
    [{ kind: 'queue.rate-limit', queue: 'compliance', limit: { max: 1 } }, 'limit.durationMs', 'limit.durationMs:'],
    [{ kind: 'feature-flag', flag: 'bedrock-support', enabled: true }, 'flag', 'master switch'],
    [{ kind: 'feature-flag', flag: 'nope', enabled: true }, 'flag', 'must be one of auto-remediation, auto-emergency-shutdown, llm-narratives, cloudwatch-publishing'],
    [{ kind: 'feature-flag', flag: 'llm-narratives', enabled: 'yes' }, 'enabled', 'enabled:'],
    [{ kind: 'llm.route', operation: 'nope', primary: 'mcp' }, 'operation', 'operation:'],
    [{ kind: 'llm.route', operation: 'standard' }, 'primary', 'at least one of primary, fallback, budgetMs'],
    [{ kind: 'llm.route', operation: 'standard', primary: 'mcp', fallback: 'mcp' }, 'fallback', 'must differ from primary'],
    [{ kind: 'llm.route', operation: 'standard', primary: 'local' }, 'primary', 'primary:'],
    [{ kind: 'llm.route', operation: 'standard', budgetMs: 50 }, 'budgetMs', 'budgetMs:'],
    [{ kind: 'llm.route', operation: 'standard', budgetMs: 600_001 }, 'budgetMs', 'budgetMs:'],
  ])('%j is refused naming %s', (input, field, message) => {
    const got = fieldOf(input);
    expect(got.field).toBe(field);
    expect(got.message).toContain(message);
  });
});

describe('the routing-override reader', () => {
  const v = (version: number): RoutingOverrides => ({ version, routes: { standard: { primary: 'direct', fallback: null, budgetMs: 1000 } } });

  it('keeps what it read for maxAgeMs, then reads again; invalidate reads at once', async () => {
    let now = 0;
    let reads = 0;
    let stored = v(1);
    const reader = cachedRoutingOverrides({ read: () => (reads++, Promise.resolve(stored)) }, { maxAgeMs: 1000, clock: () => now });
    expect(await reader.current()).toEqual(v(1));
    stored = v(2);
    now = 999;
    expect((await reader.current()).version).toBe(1);
    now = 1000;
    expect((await reader.current()).version).toBe(2);
    stored = v(3);
    reader.invalidate();
    expect((await reader.current()).version).toBe(3);
    expect(reads).toBe(3);
  });

  it('answers with the last overrides (or none) when Redis cannot be read, and says so once per maxAgeMs', async () => {
    let now = 0;
    let fail = true;
    const errors: string[] = [];
    const reader = cachedRoutingOverrides({ read: () => (fail ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve(v(4))) }, { maxAgeMs: 1000, clock: () => now, onError: (e) => errors.push(e.message) });
    expect(await reader.current()).toEqual(noOverrides);
    expect(await reader.current()).toEqual(noOverrides);
    expect(errors).toEqual(['ECONNREFUSED']);
    fail = false;
    now = 1000;
    expect((await reader.current()).version).toBe(4);
    fail = true;
    now = 2000;
    expect((await reader.current()).version).toBe(4);
    expect(errors).toHaveLength(2);
  });
});
