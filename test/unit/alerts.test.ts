import { describe, expect, it } from 'vitest';
import { acknowledged, AlertConflictError, alertIdOf, pendingEvents, reconcile, type Alert, type AlertCondition } from '../../src/domain/alerts/alert.js';
import { shutdownCause } from '../../src/domain/alerts/auto-shutdown.js';
import { notificationBody } from '../../src/domain/alerts/notification.js';
import { evaluateRules, type AlertInputs, type AlertThresholds } from '../../src/domain/alerts/rules.js';
import type { FleetSnapshot } from '../../src/domain/fleet/ports.js';
import { queueNames, type QueueName } from '../../src/domain/queue-names.js';
import { componentHealthOf } from '../../src/domain/support-mode/health.js';
import { apply, initialState, type SupportModeState } from '../../src/domain/support-mode/state.js';
import { quietQueue } from '../helpers/fleet-state.js';

const now = new Date('2026-11-30T12:00:00.000Z');
const thresholds: AlertThresholds = {
  minSamples: 20,
  errorRatePct: 10,
  consecutiveFailures: 5,
  degradation: { p1Pct: 50, p2Pct: 20, minP95Ms: 1_000 },
  routing: { p1Pct: 60, p2Pct: 80 },
  llmHourlySpendUsd: 0.5,
};

const active = (): SupportModeState => apply(initialState(), { type: 'enable', activate: true }, { by: 'test' }, now);

function snapshot(mode: SupportModeState, queues: Partial<Record<QueueName, Parameters<typeof quietQueue>[1]>> = {}): FleetSnapshot {
  return {
    at: now.toISOString(),
    ageMs: 0,
    redis: { latencyMs: 1 },
    mode,
    queues: Object.fromEntries(queueNames.map((q) => [q, quietQueue(q, queues[q])])) as FleetSnapshot['queues'],
  };
}

/** What a quiet, active fleet measures: nothing to alert on, and enough samples everywhere that every rule is judged. */
function inputs(over: Partial<AlertInputs> = {}, fleet: FleetSnapshot = snapshot(active())): AlertInputs {
  return {
    at: now,
    fleet,
    health: componentHealthOf(fleet, now),
    compliance: { checkedAt: now.toISOString(), items: [{ id: 'gdpr.residency', status: 'pass', detail: 'ok' }] },
    auditTrail: { ok: true, checked: 10, breaks: [] },
    lastFinished: { 'infrastructure-auditor': [], 'meta-monitor': [], 'implementation-support': [] },
    runTimes: {},
    routing: { decisions: 0, efficiency: null },
    llmSpendLastHourUsd: 0,
    drift: [],
    ...over,
  };
}

const fired = (i: AlertInputs) => evaluateRules(i, thresholds).firing.map((c) => `${c.level} ${c.rule} ${c.subject}`);

describe('alert rules', () => {
  it('a quiet active fleet raises nothing; too few samples leave the rate and p95 rules unjudged', () => {
    const r = evaluateRules(inputs(), thresholds);
    expect(r.firing).toEqual([]);
    expect(r.unjudged.has('routing.efficiency.p1')).toBe(true);
    expect(r.unjudged.has('support-operations.error-rate')).toBe(true);
    expect(evaluateRules(inputs({ runTimes: { 'meta-monitor/canary': { current: [5_000], previous: [] } } }), thresholds).unjudged.has(alertIdOf('performance.degradation.p1', 'meta-monitor/canary'))).toBe(true);
    expect(evaluateRules(inputs({ compliance: null }), thresholds).unjudged.has('compliance.violation')).toBe(true);
  });

  it('support mode disabled on purpose raises nothing, though its queues are paused and without workers', () => {
    const fleet = snapshot(initialState(), Object.fromEntries(queueNames.filter((q) => q !== 'compliance').map((q) => [q, { paused: true, workers: { count: 0 } }])));
    expect(fired(inputs({}, fleet))).toEqual([]);
    // Compliance keeps running while support mode is disabled: without a worker, that is a problem of its own.
    const alone = snapshot(initialState(), Object.fromEntries(queueNames.map((q) => [q, { paused: q !== 'compliance', workers: { count: q === 'bedrock-support' ? 1 : 0 } }])));
    expect(fired(inputs({}, alone))).toEqual(['P1 component.unhealthy compliance']);
  });

  it('an emergency shutdown is a P0 naming who and why; the health of the queues it paused raises nothing more', () => {
    const mode = apply(active(), { type: 'emergency', reason: 'drill', initiatedBy: 'ops', immediate: true }, { by: 'operator-key' }, now);
    const fleet = snapshot(mode, Object.fromEntries(queueNames.map((q) => [q, { paused: true }])));
    const r = evaluateRules(inputs({}, fleet), thresholds);
    expect(r.firing).toEqual([
      {
        rule: 'support-mode.emergency-shutdown',
        subject: 'bedrock-support',
        level: 'P0',
        title: 'Support mode emergency shutdown',
        detail: `shut down at ${now.toISOString()} by ops (requested by operator-key): drill; recover with POST /admin/feature-flags/bedrock-support/enable, then activate components one at a time`,
      },
    ]);
  });

  it('support mode unavailable: enabled with no worker on any active component; one component unhealthy is a P1', () => {
    const none = snapshot(active(), { 'infrastructure-auditor': { workers: { count: 0 } }, 'meta-monitor': { workers: { count: 0 } }, 'implementation-support': { workers: { count: 0 } } });
    expect(fired(inputs({}, none))).toEqual([
      'P0 support-mode.unavailable bedrock-support',
      'P1 component.unhealthy infrastructure-auditor',
      'P1 component.unhealthy meta-monitor',
      'P1 component.unhealthy implementation-support',
    ]);
    const one = snapshot(active(), { 'meta-monitor': { workers: { count: 0 } } });
    expect(fired(inputs({}, one))).toEqual(['P1 component.unhealthy meta-monitor']);
    // Every running component unhealthy (here: each fails half its jobs).
    const failing = snapshot(active(), Object.fromEntries(queueNames.map((q) => [q, { recent: { windowMinutes: 15, completed: 2, failed: 2 } }])));
    expect(fired(inputs({}, failing))[0]).toBe('P0 components.all-failing fleet');
    // A component left inactive on purpose is not judged.
    const partial = apply(apply(initialState(), { type: 'enable', activate: false }, { by: 't' }, now), { type: 'activate', components: ['meta-monitor'] }, { by: 't' }, now);
    expect(fired(inputs({}, snapshot(partial, { 'infrastructure-auditor': { paused: true, workers: { count: 0 } } })))).toEqual([]);
  });

  it('a non-critical warning (health degraded) is a P2', () => {
    expect(fired(inputs({}, snapshot(active(), { compliance: { stalled: 1 } })))).toEqual(['P2 component.degraded compliance']);
  });

  it('compliance violations and audit-trail breaks are P0', () => {
    const i = inputs({
      compliance: { checkedAt: now.toISOString(), items: [{ id: 'gdpr.residency', status: 'fail', detail: 'direct: not allowed' }, { id: 'gdpr.retention', status: 'pass', detail: '' }] },
      auditTrail: { ok: false, checked: 1000, breaks: [{ seq: 7, problem: 'hash_mismatch', detail: 'content does not match its hash' }] },
    });
    expect(fired(i)).toEqual(['P0 compliance.violation gdpr.residency', 'P0 audit-trail.corruption audit-trail']);
    expect(evaluateRules(i, thresholds).firing[1]?.detail).toBe('1 break(s) in the newest 1000 entries, first at seq 7: hash_mismatch (content does not match its hash)');
  });

  it('error rate of the support operations: above the threshold with enough samples, not at it', () => {
    const rate = (completed: number, failed: number) => fired(inputs({}, snapshot(active(), { 'meta-monitor': { recent: { windowMinutes: 15, completed, failed } } }))).filter((a) => a.includes('error-rate'));
    expect(rate(18, 2)).toEqual([]); // exactly 10 %
    expect(rate(18, 3)).toEqual(['P1 support-operations.error-rate support-operations']); // 14.3 %
    expect(evaluateRules(inputs({}, snapshot(active(), { 'meta-monitor': { recent: { windowMinutes: 15, completed: 10, failed: 9 } } })), thresholds).unjudged.has('support-operations.error-rate')).toBe(true);
  });

  it('consecutive failures: the last N finished jobs of a component all failed', () => {
    const f = 'failed' as const;
    const c = 'completed' as const;
    const run = (last: ('failed' | 'completed')[]) => fired(inputs({ lastFinished: { 'infrastructure-auditor': [], 'meta-monitor': last, 'implementation-support': [] } }));
    expect(run([f, f, f, f])).toEqual([]);
    expect(run([f, f, f, f, c])).toEqual([]);
    expect(run([f, f, f, f, f])).toEqual(['P1 component.consecutive-failures meta-monitor']);
  });

  it('routing efficiency: below 60 % P1, 60-80 % P2, from 80 % nothing; fewer than 20 decisions unjudged', () => {
    const at = (efficiency: number, decisions = 20) => fired(inputs({ routing: { decisions, efficiency } }));
    expect(at(0.59)).toEqual(['P1 routing.efficiency.p1 llm-router']);
    expect(at(0.6)).toEqual(['P2 routing.efficiency.p2 llm-router']);
    expect(at(0.8)).toEqual([]);
    expect(at(0, 19)).toEqual([]);
  });

  it('degradation: a job\'s p95 on its queue, last 15 min against the 15 min before, above 50 % P1, 20-50 % P2, short jobs and few samples not judged', () => {
    const times = (ms: number) => Array.from({ length: 20 }, () => ms);
    const slower = (before: number, nowMs: number, n = 20) => fired(inputs({ runTimes: { 'infrastructure-auditor/audit': { current: times(nowMs).slice(0, n), previous: times(before) }, 'infrastructure-auditor/canary': { current: times(1), previous: times(1) } } }));
    expect(slower(2_000, 3_020)).toEqual(['P1 performance.degradation.p1 infrastructure-auditor/audit']);
    expect(slower(2_000, 3_000)).toEqual(['P2 performance.degradation.p2 infrastructure-auditor/audit']);
    expect(slower(2_000, 2_400)).toEqual([]);
    expect(slower(200, 900)).toEqual([]);
    expect(slower(2_000, 9_000, 19)).toEqual([]);
  });

  it('LLM spend above the hourly limit; no limit, no rule', () => {
    expect(fired(inputs({ llmSpendLastHourUsd: 0.5 }))).toEqual([]);
    expect(fired(inputs({ llmSpendLastHourUsd: 0.500001 }))).toEqual(['P1 llm.spend llm']);
    expect(evaluateRules(inputs({ llmSpendLastHourUsd: 9 }), { ...thresholds, llmHourlySpendUsd: null }).firing).toEqual([]);
  });

  it('configuration drift: one P2 per target with open drift gaps', () => {
    const drift = [
      { id: 'gap-1', subject: 'fleet-redis', title: 'maxmemory-policy is allkeys-lru' },
      { id: 'gap-2', subject: 'fleet-redis', title: 'appendonly is no' },
      { id: 'gap-3', subject: 'api', title: 'TLS 1.0 accepted' },
    ];
    const r = evaluateRules(inputs({ drift }), thresholds).firing;
    expect(r.map((c) => `${c.level} ${c.rule} ${c.subject}`)).toEqual(['P2 config.drift fleet-redis', 'P2 config.drift api']);
    expect(r[0]?.detail).toBe('2 open configuration-drift gap(s): gap-1 maxmemory-policy is allkeys-lru; gap-2 appendonly is no');
  });
});

describe('alert lifecycle', () => {
  const cond: AlertCondition = { rule: 'component.unhealthy', subject: 'meta-monitor', level: 'P1', title: 'meta-monitor fails', detail: 'no live worker' };
  const at = (minutes: number) => new Date(now.getTime() + minutes * 60_000);
  const store = (alerts: Alert[]) => new Map(alerts.map((a) => [a.id, a]));

  it('fires once across evaluations, is resolved when the condition ends, and fires again as the same alert', () => {
    const first = reconcile(new Map(), { firing: [cond], unjudged: new Set() }, 'eval', at(0));
    expect(first.transitions.map((t) => [t.from, t.to, t.firing])).toEqual([[null, 'firing', 1]]);
    const alert = first.alerts[0] as Alert;
    expect(alert.id).toBe(alertIdOf('component.unhealthy', 'meta-monitor'));
    expect(alert.id).toMatch(/^alert-[0-9a-f]{16}$/);
    expect(alertIdOf('component.unhealthy', 'compliance')).not.toBe(alert.id);

    const again = reconcile(store([alert]), { firing: [{ ...cond, detail: 'still no live worker' }], unjudged: new Set() }, 'eval', at(1));
    expect(again.transitions).toEqual([]);
    expect(again.alerts[0]).toMatchObject({ state: 'firing', firedAt: at(0).toISOString(), lastSeenAt: at(1).toISOString(), detail: 'still no live worker', firings: 1 });

    // A rule that could not be judged leaves its alert alone.
    expect(reconcile(store([alert]), { firing: [], unjudged: new Set([cond.rule]) }, 'eval', at(2))).toEqual({ alerts: [], transitions: [] });
    expect(reconcile(store([alert]), { firing: [], unjudged: new Set([alert.id]) }, 'eval', at(2))).toEqual({ alerts: [], transitions: [] });

    const acked = acknowledged(alert, 'operator-key', 'on it', at(2)).alert;
    const gone = reconcile(store([acked]), { firing: [], unjudged: new Set() }, 'eval', at(3));
    expect(gone.transitions.map((t) => [t.from, t.to])).toEqual([['acknowledged', 'resolved']]);
    const done = gone.alerts[0] as Alert;
    expect(done).toMatchObject({ state: 'resolved', resolvedAt: at(3).toISOString() });

    const back = reconcile(store([{ ...done, notified: { firing: 'x', resolved: 'y', escalation: null } }]), { firing: [cond], unjudged: new Set() }, 'eval', at(4));
    expect(back.transitions.map((t) => [t.from, t.to, t.firing])).toEqual([['resolved', 'firing', 2]]);
    expect(back.alerts[0]).toMatchObject({ id: alert.id, firings: 2, acknowledged: null, resolvedAt: null, firedAt: at(4).toISOString(), notified: { firing: null, resolved: null, escalation: null } });
  });

  it('only a firing alert is acknowledged', () => {
    const alert = reconcile(new Map(), { firing: [cond], unjudged: new Set() }, 'eval', at(0)).alerts[0] as Alert;
    const acked = acknowledged(alert, 'operator-key', null, at(1));
    expect(acked.alert).toMatchObject({ state: 'acknowledged', acknowledged: { by: 'operator-key', at: at(1).toISOString(), note: null } });
    expect(() => acknowledged(acked.alert, 'admin-key', null, at(2))).toThrow(AlertConflictError);
    expect(() => acknowledged(acked.alert, 'admin-key', null, at(2))).toThrow(`alert ${alert.id} is acknowledged by operator-key at ${at(1).toISOString()}: only a firing alert can be acknowledged`);
    const resolved = reconcile(store([alert]), { firing: [], unjudged: new Set() }, 'eval', at(3)).alerts[0] as Alert;
    expect(() => acknowledged(resolved, 'admin-key', null, at(4))).toThrow(`alert ${alert.id} is resolved at ${at(3).toISOString()}`);
  });

  it('owes a firing and a resolved notification to the webhook, an escalation while it fires unacknowledged', () => {
    const alert = reconcile(new Map(), { firing: [cond], unjudged: new Set() }, 'eval', at(0)).alerts[0] as Alert;
    expect(pendingEvents(alert, { main: true, escalation: true })).toEqual(['firing', 'escalation']);
    expect(pendingEvents(alert, { main: false, escalation: false })).toEqual([]);
    expect(pendingEvents({ ...alert, notified: { firing: 'x', resolved: null, escalation: null }, state: 'acknowledged' }, { main: true, escalation: true })).toEqual([]);
    expect(pendingEvents({ ...alert, notified: { firing: 'x', resolved: null, escalation: null }, state: 'resolved' }, { main: true, escalation: true })).toEqual(['resolved']);
  });
});

describe('notifications and triggers', () => {
  const alert = reconcile(new Map(), { firing: [{ rule: 'llm.spend', subject: 'llm', level: 'P1', title: 'LLM spend above 1 USD an hour', detail: 'spent <2> & more' }], unjudged: new Set() }, 'eval', now).alerts[0] as Alert;

  it('Slack: text and blocks, markup escaped; generic JSON: the event and the alert', () => {
    expect(notificationBody(alert, 'firing', 'slack', 1_800_000)).toEqual({
      text: '[P1] FIRING: LLM spend above 1 USD an hour: spent &lt;2&gt; &amp; more',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '[P1] FIRING: LLM spend above 1 USD an hour' } },
        { type: 'section', text: { type: 'mrkdwn', text: 'spent &lt;2&gt; &amp; more' } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `${alert.id} · rule llm.spend · subject llm · fired ${now.toISOString()} · acknowledge: POST /admin/bedrock-support/alerts/${alert.id}/ack` }] },
      ],
    });
    expect((notificationBody(alert, 'escalation', 'slack', 1_800_000) as { text: string }).text).toMatch(/^\[P1\] ESCALATED, not acknowledged for 30 min: /);
    expect(notificationBody(alert, 'resolved', 'json', 0)).toEqual({
      event: 'resolved',
      alert: { id: alert.id, rule: 'llm.spend', subject: 'llm', level: 'P1', state: 'firing', title: alert.title, detail: alert.detail, firedAt: alert.firedAt, lastSeenAt: alert.lastSeenAt, firings: 1, acknowledged: null, resolvedAt: null },
    });
  });

  it('the first firing condition of a configured trigger shuts down, in the order the triggers are listed', () => {
    const c = (rule: string): AlertCondition => ({ rule, subject: 's', level: 'P1', title: rule, detail: '' });
    const firing = [c('component.unhealthy'), c('llm.spend'), c('component.consecutive-failures')];
    expect(shutdownCause(firing, ['error-rate', 'consecutive-failures', 'llm-spend'])?.rule).toBe('component.consecutive-failures');
    expect(shutdownCause(firing, ['llm-spend', 'consecutive-failures'])?.rule).toBe('llm.spend');
    expect(shutdownCause(firing, ['error-rate'])).toBeNull();
  });
});
