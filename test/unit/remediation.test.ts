import { describe, expect, it } from 'vitest';
import { targetSchema, type Target } from '../../src/domain/audit/inventory.js';
import { gapFingerprint, gapIdOf, type Gap, type GapSighting } from '../../src/domain/gaps/gap.js';
import { differences } from '../../src/domain/implementation/remediation-service.js';
import { rateOf, runsWithoutApproval, suggestRemediations, type HookInfo } from '../../src/domain/implementation/remediation.js';

const at = '2026-11-30T08:00:00.000Z';

function gap(over: Partial<GapSighting>): Gap {
  const s: GapSighting = { source: 'audit', subject: 'x', check: 'status', type: 'broken_integration', severity: 'high', title: 't', components: [], evidence: { expected: 'a', observed: 'b' }, ...over };
  const fingerprint = gapFingerprint(s);
  return { ...s, id: gapIdOf(fingerprint), fingerprint, status: 'detected', count: 1, firstSeenAt: at, lastSeenAt: at, lastSeenBy: 'audit-1', reopenedCount: 0, history: [] };
}

const target = (input: Record<string, unknown>): Target => targetSchema.parse({ component: 'c', criticality: 'high', ...input });
const keys = (g: Gap, t: Target | null, hooks: HookInfo[] = []) => suggestRemediations(g, { target: t, hooks }).map((s) => s.key);

describe('remediation suggestions', () => {
  it('fits the queue, flag and breaker checks of audit gaps, then hooks, then a re-run of the target', () => {
    const queue = target({ id: 'mm-queue', kind: 'queue', queue: 'meta-monitor' });
    expect(keys(gap({ subject: 'mm-queue', check: 'failed-ratio' }), queue)).toEqual(['queue.retry-failed', 'audit.rerun']);
    expect(suggestRemediations(gap({ subject: 'mm-queue', check: 'workers' }), { target: queue, hooks: [] })[0]?.action).toEqual({ kind: 'component.active', component: 'meta-monitor', active: true });
    // The compliance queue is no component: nothing activates it.
    expect(keys(gap({ subject: 'c-queue', check: 'workers' }), target({ id: 'c-queue', kind: 'queue', queue: 'compliance' }))).toEqual(['audit.rerun']);
    expect(keys(gap({ subject: 'mm-queue', check: 'oldest-waiting' }), queue)).toEqual(['audit.rerun']);

    const flag = target({ id: 'flag', kind: 'feature-flag', flag: 'auto-remediation', expected: true });
    expect(suggestRemediations(gap({ subject: 'flag', check: 'value' }), { target: flag, hooks: [] })[0]?.action).toEqual({ kind: 'feature-flag', flag: 'auto-remediation', enabled: true });
    // The master switch belongs to the lifecycle: no action sets it.
    expect(keys(gap({ subject: 'master', check: 'value' }), target({ id: 'master', kind: 'feature-flag', flag: 'bedrock-support', expected: true }))).toEqual(['audit.rerun']);

    const llm = target({ id: 'direct', kind: 'llm', path: 'direct' });
    expect(suggestRemediations(gap({ subject: 'direct', check: 'breaker' }), { target: llm, hooks: [] })[0]?.action).toEqual({ kind: 'llm.reset-breaker', path: 'direct' });
    expect(keys(gap({ subject: 'direct', check: 'answers' }), llm)).toEqual(['audit.rerun']);

    const api = target({ id: 'api', kind: 'http', url: 'http://127.0.0.1:1/health' });
    const hooks = [
      { id: 'restart-api', component: 'other', targets: ['api'] },
      { id: 'scale-c', component: 'c', targets: [] },
      { id: 'unrelated', component: 'z', targets: ['db'] },
    ];
    expect(keys(gap({ subject: 'api', components: ['c'] }), api, hooks)).toEqual(['http.hook:restart-api', 'http.hook:scale-c', 'audit.rerun']);
  });

  it('retries the failure cluster of a meta-monitor gap on each queue it names; spec gaps get none; a target that left the inventory is not re-run', () => {
    const cluster = gap({ source: 'meta-monitor', subject: 'fleet:cluster:cl-0123456789ab', check: 'failure_cluster', components: ['compliance', 'meta-monitor'] });
    expect(suggestRemediations(cluster, { target: null, hooks: [] }).map((s) => s.action)).toEqual([
      { kind: 'queue.retry-failed', queue: 'compliance', clusterId: 'cl-0123456789ab' },
      { kind: 'queue.retry-failed', queue: 'meta-monitor', clusterId: 'cl-0123456789ab' },
    ]);
    // An agent's cluster is not the fleet's: only hooks of its component.
    expect(keys(gap({ source: 'meta-monitor', subject: 'agent:cluster:cl-0123456789ab', check: 'failure_cluster', components: ['agent'] }), null, [{ id: 'restart-agent', component: 'agent', targets: [] }])).toEqual([
      'http.hook:restart-agent',
    ]);
    expect(keys(gap({ source: 'spec', subject: 'specs:a:tasks.md:3', components: ['c'] }), null, [{ id: 'h', component: 'c', targets: [] }])).toEqual([]);
    expect(keys(gap({ subject: 'gone' }), null)).toEqual([]);
  });

  it('runs low risk at once, medium only with the auto-remediation flag, high never; rates to four places against 0.7', () => {
    expect([runsWithoutApproval('low', false), runsWithoutApproval('medium', false), runsWithoutApproval('medium', true), runsWithoutApproval('high', true)]).toEqual([true, false, true, false]);
    expect(rateOf(0, 0)).toEqual({ attempted: 0, verified: 0, failed: 0, rate: null, meetsTarget: null });
    expect(rateOf(2, 1)).toEqual({ attempted: 3, verified: 2, failed: 1, rate: 0.6667, meetsTarget: false });
    expect(rateOf(7, 3)).toMatchObject({ rate: 0.7, meetsTarget: false });
    expect(rateOf(8, 2)).toMatchObject({ rate: 0.8, meetsTarget: true });
  });
});

describe('what a failed read-back says', () => {
  it('names the paths the expectation sets that read otherwise, ignoring what it leaves open', () => {
    const expected = { hook: { id: 'restart-api' }, response: { status: 202, latencyMs: null, json: { status: { ok: true, value: 'restarted' } } } };
    const read = { hook: { id: 'restart-api' }, response: { status: 500, latencyMs: 3.5, json: { status: { ok: false, value: null } } } };
    expect(differences(expected, read)).toBe('response.status: expected 202, read 500; response.json.status.ok: expected true, read false; response.json.status.value: expected "restarted", read null');
    expect(differences({ a: [1, 2] }, { a: [1, 2] })).toBe('the state read differs from the one expected');
    expect(differences(5, 6)).toBe('(state): expected 5, read 6');
  });
});
