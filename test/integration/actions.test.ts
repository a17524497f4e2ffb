import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ActionRollbackRefusedError,
  ActionValidationError,
  createBuiltinActionCatalog,
  type ActionCatalog,
  type ActionSpec,
} from '../../src/domain/actions/index.js';
import { AuditUnavailableError } from '../../src/domain/audit-trail/ports.js';
import { verifyChain } from '../../src/domain/audit-trail/chain.js';
import type { RoutedRequest } from '../../src/domain/llm/router.js';
import { createLlm, type Llm } from '../../src/runtime/llm.js';
import { createActionRecordStore } from '../../src/store/actions.store.js';
import { createRedis, waitReady } from '../../src/redis.js';
import { startBedrockFake, type BedrockFake } from '../fakes/bedrock-fake.js';
import { stubAwsEnv } from '../helpers/aws.js';
import { eventually, makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { testRedisUrl } from '../helpers/redis.js';

const approver = { actor: 'approver-key', cause: 'opt-0123abcd' };
const admin = { actor: 'admin-key', cause: 'revert requested' };

describe('the action catalog on Redis and BullMQ', () => {
  let t: TestFleet;
  let bedrock: BedrockFake;
  let actions: ActionCatalog<ActionSpec>;
  /** A second process's LLM layer: its own connection, its own override cache. */
  let other: { redis: Redis; llm: Llm };

  const entries = async (action: string) => (await t.adapters.auditTrail.range()).flatMap((e) => (e.event?.action === action ? [e.event] : []));
  const ask = (llm: Llm, operation: RoutedRequest['operation']) => llm.router.ask({ component: 'meta-monitor', operation, task: 'test', system: 'Answer briefly.', prompt: 'How are the queues?' });

  beforeAll(async () => {
    bedrock = await startBedrockFake();
    stubAwsEnv(bedrock.url);
    t = await makeTestFleet('actions', { BEDROCK_ENABLED: 'true' });
    actions = t.adapters.actions;
    const redis = createRedis(testRedisUrl, 'client');
    await waitReady(redis);
    other = { redis, llm: createLlm(t.config, redis, t.prefix, t.logger) };
  });

  afterAll(async () => {
    await other.llm.close();
    await other.redis.quit();
    await t.cleanup();
    await bedrock.close();
    vi.unstubAllEnvs();
  });

  describe('queue.concurrency', () => {
    it('sets the global concurrency through BullMQ, reads it back, and rolls back to none', async () => {
      const queue = t.fleet.queue('compliance');
      expect(await queue.getGlobalConcurrency()).toBeNull();
      const spec = actions.parse({ kind: 'queue.concurrency', queue: 'compliance', concurrency: 3 });

      const plan = await actions.dryRun(spec);
      expect(plan).toMatchObject({ risk: 'medium', changes: [{ target: 'queue:compliance:global-concurrency', from: null, to: 3 }] });
      expect(plan.description).toContain('compliance');
      expect(await queue.getGlobalConcurrency()).toBeNull();

      const app = await actions.apply(spec, approver);
      expect(app.id).toMatch(/^act-[0-9a-f]{16}$/);
      expect(await queue.getGlobalConcurrency()).toBe(3);
      expect(app).toMatchObject({ status: 'applied', before: { concurrency: null }, after: { concurrency: 3 }, cause: 'opt-0123abcd', appliedBy: 'approver-key' });
      expect(app.verification).toMatchObject({ verified: true, read: { concurrency: 3 } });

      const back = await actions.rollback(app.id, admin);
      expect(await queue.getGlobalConcurrency()).toBeNull();
      expect(back.rolledBack).toMatchObject({ by: 'admin-key', verification: { verified: true, read: { concurrency: null } } });
      expect((await actions.get(app.id))?.rolledBack?.by).toBe('admin-key');
    });

    it('rolls back to the value before, not to none, and refuses to undo a later change', async () => {
      const queue = t.fleet.queue('meta-monitor');
      const first = await actions.apply(actions.parse({ kind: 'queue.concurrency', queue: 'meta-monitor', concurrency: 4 }), approver);
      const second = await actions.apply(actions.parse({ kind: 'queue.concurrency', queue: 'meta-monitor', concurrency: 9 }), approver);
      expect(second.before).toEqual({ concurrency: 4 });
      await expect(actions.rollback(first.id, admin)).rejects.toMatchObject({ reason: 'changed_since' });
      expect(await queue.getGlobalConcurrency()).toBe(9);
      await actions.rollback(second.id, admin);
      expect(await queue.getGlobalConcurrency()).toBe(4);
      await actions.rollback(first.id, admin);
      expect(await queue.getGlobalConcurrency()).toBeNull();
    });
  });

  describe('queue.rate-limit', () => {
    it('sets the global rate limit through BullMQ, reads it back, and rolls back to none', async () => {
      const queue = t.fleet.queue('infrastructure-auditor');
      expect(await queue.getGlobalRateLimit()).toBeNull();
      const app = await actions.apply(actions.parse({ kind: 'queue.rate-limit', queue: 'infrastructure-auditor', limit: { max: 10, durationMs: 2000 } }), approver);
      expect(await queue.getGlobalRateLimit()).toEqual({ max: 10, duration: 2000 });
      expect(app.verification).toMatchObject({ verified: true, read: { limit: { max: 10, durationMs: 2000 } } });
      expect(app.changes).toEqual([{ target: 'queue:infrastructure-auditor:global-rate-limit', from: null, to: { max: 10, durationMs: 2000 } }]);

      const second = await actions.apply(actions.parse({ kind: 'queue.rate-limit', queue: 'infrastructure-auditor', limit: null }), approver);
      expect(await queue.getGlobalRateLimit()).toBeNull();
      await actions.rollback(second.id, admin);
      expect(await queue.getGlobalRateLimit()).toEqual({ max: 10, duration: 2000 });
      await actions.rollback(app.id, admin);
      expect(await queue.getGlobalRateLimit()).toBeNull();
    });
  });

  describe('feature-flag', () => {
    it('sets a stored flag through the flag service (its own audit entry too) and restores it', async () => {
      const flags = t.adapters.featureFlags;
      expect(await flags.enabled('llm-narratives')).toBe(true);
      const app = await actions.apply(actions.parse({ kind: 'feature-flag', flag: 'llm-narratives', enabled: false }), { ...approver, note: 'narratives cost too much this week' });
      expect(app).toMatchObject({ risk: 'medium', before: { enabled: true }, after: { enabled: false }, verification: { verified: true } });
      expect(await flags.enabled('llm-narratives')).toBe(false);
      const stored = await flags.get('llm-narratives');
      expect(stored.state).toMatchObject({ enabled: false, updatedBy: 'approver-key' });
      expect(stored.state.reason).toContain(app.id);

      await actions.rollback(app.id, admin);
      expect(await flags.enabled('llm-narratives')).toBe(true);
      const flagEntries = (await entries('feature-flag.set')).filter((e) => e.target === 'llm-narratives');
      expect(flagEntries.map((e) => [e.actor, e.details?.to])).toEqual([
        ['approver-key', false],
        ['admin-key', true],
      ]);
    });

    it('an administer flag is a high-risk action', async () => {
      const plan = await actions.dryRun(actions.parse({ kind: 'feature-flag', flag: 'auto-remediation', enabled: true }));
      expect(plan).toMatchObject({ risk: 'high', changes: [{ target: 'feature-flag:auto-remediation', from: false, to: true }] });
    });
  });

  describe('llm.route', () => {
    it('the router of this process and of another one follows an override, and the old route after the rollback', async () => {
      bedrock.setDefault({ kind: 'ok', text: 'direct answered' });
      // Both processes have read the overrides (none) before the change.
      const before = await ask(t.adapters.llm, 'infrastructure');
      expect([before.primary, before.path, before.budgetMs]).toEqual(['direct', 'direct', 10_000]);
      expect((await ask(other.llm, 'infrastructure')).path).toBe('direct');

      const spec = actions.parse({ kind: 'llm.route', operation: 'infrastructure', primary: 'mcp', fallback: null, budgetMs: 2500 });
      const plan = await actions.dryRun(spec);
      expect(plan.changes).toEqual([
        { target: 'llm-route:infrastructure:primary', from: 'direct', to: 'mcp' },
        { target: 'llm-route:infrastructure:fallback', from: 'mcp', to: null },
        { target: 'llm-route:infrastructure:budgetMs', from: 10_000, to: 2500 },
        { target: 'llm-route:infrastructure:source', from: 'matrix', to: 'override' },
      ]);
      const app = await actions.apply(spec, approver);
      expect(app).toMatchObject({ before: { override: null }, after: { override: { primary: 'mcp', fallback: null, budgetMs: 2500 } }, verification: { verified: true } });

      // This process: at once. MCP is not configured here, so the request goes to the local provider, never to Bedrock.
      let calls = bedrock.requests.length;
      const here = await ask(t.adapters.llm, 'infrastructure');
      expect(bedrock.requests.length).toBe(calls);
      expect([here.primary, here.path, here.budgetMs]).toEqual(['mcp', 'local', 2500]);
      expect(here.attempts.map((a) => [a.path, a.result])).toEqual([
        ['mcp', 'skipped'],
        ['local', 'success'],
      ]);
      const [decision] = await t.adapters.llm.router.recentDecisions(1);
      expect(decision).toMatchObject({ id: here.decisionId, primary: 'mcp', fallback: null, budgetMs: 2500, path: 'local' });
      // The other process: within its cache's second (until then it still asks Bedrock).
      const there = await eventually(async () => {
        const a = await ask(other.llm, 'infrastructure');
        return a.primary === 'mcp' ? a : null;
      }, 3_000);
      expect([there.path, there.budgetMs]).toEqual(['local', 2500]);
      calls = bedrock.requests.length;
      expect((await ask(other.llm, 'infrastructure')).path).toBe('local');
      expect(bedrock.requests.length).toBe(calls);
      // Other operations keep the matrix's route.
      expect((await ask(t.adapters.llm, 'emergency')).path).toBe('direct');

      await actions.rollback(app.id, admin);
      expect(await t.adapters.llm.routeOverrides.get('infrastructure')).toBeNull();
      const after = await ask(t.adapters.llm, 'infrastructure');
      expect([after.primary, after.path, after.budgetMs]).toEqual(['direct', 'direct', 10_000]);
      const otherAfter = await eventually(async () => {
        const a = await ask(other.llm, 'infrastructure');
        return a.primary === 'direct' ? a : null;
      }, 3_000);
      expect(otherAfter.path).toBe('direct');
    });

    it('the budget of an override is the timeout the router gives the path', async () => {
      bedrock.setDefault({ kind: 'slow', delayMs: 3_000, then: { kind: 'ok', text: 'too late' } });
      const app = await actions.apply(actions.parse({ kind: 'llm.route', operation: 'emergency', budgetMs: 300 }), approver);
      expect(app.changes).toEqual([
        { target: 'llm-route:emergency:budgetMs', from: 5_000, to: 300 },
        { target: 'llm-route:emergency:source', from: 'matrix', to: 'override' },
      ]);
      const slow = await ask(t.adapters.llm, 'emergency');
      expect(slow.path).toBe('local');
      // The whole budget (no fallback to keep time for), less the time spent before the call (breaker and budget reads).
      expect(slow.attempts[0]).toMatchObject({ path: 'direct', result: 'timeout' });
      const timeoutMs = Number(/^no answer within (\d+) ms$/.exec(slow.attempts[0]?.detail ?? '')?.[1]);
      expect(timeoutMs).toBeGreaterThan(100);
      expect(timeoutMs).toBeLessThanOrEqual(300);
      expect(slow.latencyMs).toBeLessThan(1_500);
      await actions.rollback(app.id, admin);
      bedrock.setDefault({ kind: 'ok', text: 'direct answered' });
      const fine = await ask(t.adapters.llm, 'emergency');
      expect([fine.path, fine.budgetMs]).toEqual(['direct', 5_000]);
    });

    it('a partial spec keeps the fields in force, and one that would make fallback equal primary is refused naming the field', async () => {
      // standard is mcp first, direct as fallback: making direct primary alone would make both direct.
      const spec = actions.parse({ kind: 'llm.route', operation: 'standard', primary: 'direct' });
      const refused = actions.dryRun(spec);
      await expect(refused).rejects.toBeInstanceOf(ActionValidationError);
      await expect(actions.dryRun(spec)).rejects.toMatchObject({ field: 'fallback' });
      const ok = await actions.dryRun(actions.parse({ kind: 'llm.route', operation: 'standard', primary: 'direct', fallback: 'mcp' }));
      expect(ok.changes.map((c) => c.target)).toEqual(['llm-route:standard:primary', 'llm-route:standard:fallback', 'llm-route:standard:source']);
      expect(await t.adapters.llm.routeOverrides.get('standard')).toBeNull();
    });
  });

  describe('the audit trail', () => {
    it('has an entry before every apply and every rollback, in one unbroken chain', async () => {
      const app = await actions.apply(actions.parse({ kind: 'queue.concurrency', queue: 'implementation-support', concurrency: 2 }), approver);
      await actions.rollback(app.id, admin);
      const applied = (await entries('action.apply')).find((e) => e.target === app.id);
      const rolledBack = (await entries('action.rollback')).find((e) => e.target === app.id);
      expect(applied).toMatchObject({ actor: 'approver-key', details: { kind: 'queue.concurrency', cause: 'opt-0123abcd', changes: [{ target: 'queue:implementation-support:global-concurrency', from: null, to: 2 }] } });
      expect(rolledBack).toMatchObject({ actor: 'admin-key', details: { cause: 'revert requested', changes: [{ from: 2, to: null }] } });
      expect((applied?.seq ?? 0) < (rolledBack?.seq ?? 0)).toBe(true);
      const stored = await t.adapters.auditTrail.range();
      expect(verifyChain(stored, await t.adapters.auditTrail.anchor())).toMatchObject({ ok: true, breaks: [] });
    });

    it('when the trail cannot take the entry, nothing changes: not the queue, not the flag, not the route', async () => {
      const records = createActionRecordStore(t.client, t.prefix);
      const down = createBuiltinActionCatalog({
        queues: (name) => t.fleet.queue(name),
        featureFlags: t.adapters.featureFlags,
        llm: { matrix: t.config.routingMatrix, overrides: t.adapters.llm.routeOverrides },
        records,
        audit: { append: () => Promise.reject(new Error('OOM command not allowed when used memory > maxmemory')) },
        clock: () => new Date(),
      });
      const known = (await records.recent(1000)).length;
      for (const input of [
        { kind: 'queue.concurrency', queue: 'bedrock-support', concurrency: 2 },
        { kind: 'queue.rate-limit', queue: 'bedrock-support', limit: { max: 1, durationMs: 1000 } },
        { kind: 'feature-flag', flag: 'cloudwatch-publishing', enabled: true },
        { kind: 'llm.route', operation: 'background', budgetMs: 1000 },
      ]) {
        await expect(down.apply(down.parse(input), approver), input.kind).rejects.toBeInstanceOf(AuditUnavailableError);
      }
      expect(await t.fleet.queue('bedrock-support').getGlobalConcurrency()).toBeNull();
      expect(await t.fleet.queue('bedrock-support').getGlobalRateLimit()).toBeNull();
      expect(await t.adapters.featureFlags.enabled('cloudwatch-publishing')).toBe(false);
      expect(await t.adapters.llm.routeOverrides.get('background')).toBeNull();
      expect((await records.recent(1000)).length).toBe(known);

      // A rollback the trail cannot record restores nothing either; it can be done later.
      const app = await actions.apply(actions.parse({ kind: 'queue.concurrency', queue: 'bedrock-support', concurrency: 6 }), approver);
      await expect(down.rollback(app.id, admin)).rejects.toBeInstanceOf(AuditUnavailableError);
      expect(await t.fleet.queue('bedrock-support').getGlobalConcurrency()).toBe(6);
      await actions.rollback(app.id, admin);
      expect(await t.fleet.queue('bedrock-support').getGlobalConcurrency()).toBeNull();
    });
  });

  describe('rollback', () => {
    it('happens once: a second rollback is refused and changes nothing; an unknown id is not found, by name', async () => {
      const queue = t.fleet.queue('compliance');
      const app = await actions.apply(actions.parse({ kind: 'queue.concurrency', queue: 'compliance', concurrency: 5 }), approver);
      await actions.rollback(app.id, admin);
      await queue.setGlobalConcurrency(8); // someone changes it afterwards
      const again = actions.rollback(app.id, admin);
      await expect(again).rejects.toBeInstanceOf(ActionRollbackRefusedError);
      await expect(actions.rollback(app.id, admin)).rejects.toMatchObject({ reason: 'already_rolled_back' });
      expect(await queue.getGlobalConcurrency()).toBe(8);
      await queue.removeGlobalConcurrency();
      await expect(actions.rollback('act-0000000000000000', admin)).rejects.toThrow('no action application act-0000000000000000');
      expect(await actions.get('act-0000000000000000')).toBeNull();
    });

    it('lists the newest applications first', async () => {
      const a = await actions.apply(actions.parse({ kind: 'queue.rate-limit', queue: 'compliance', limit: { max: 3, durationMs: 1000 } }), approver);
      const recent = await actions.recent(1);
      expect(recent.map((r) => r.id)).toEqual([a.id]);
      await actions.rollback(a.id, admin);
    });
  });
});
