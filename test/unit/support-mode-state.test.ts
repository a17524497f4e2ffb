import { describe, expect, it } from 'vitest';
import { apply, desiredQueueStates, initialState, isRecovering, statusOf, SupportModeConflictError, type Command } from '../../src/domain/support-mode/state.js';

const at = new Date('2026-11-26T08:15:00Z');
const run = (...commands: Command[]) => commands.reduce((s, c) => apply(s, c, { by: 'ops' }, at), initialState());

describe('support mode lifecycle', () => {
  it('starts disabled with only compliance running', () => {
    const s = initialState();
    expect(statusOf(s)).toBe('disabled');
    expect(desiredQueueStates(s)).toEqual({
      'bedrock-support': 'paused',
      compliance: 'running',
      'infrastructure-auditor': 'paused',
      'meta-monitor': 'paused',
      'implementation-support': 'paused',
    });
  });

  it('enable → inactive → gradual activation → active', () => {
    const enabled = run({ type: 'enable', activate: false });
    expect(statusOf(enabled)).toBe('inactive');
    expect(desiredQueueStates(enabled)['bedrock-support']).toBe('running');
    const one = apply(enabled, { type: 'activate', components: ['infrastructure-auditor'] }, { by: 'ops' }, at);
    expect(statusOf(one)).toBe('partial');
    expect(desiredQueueStates(one)['infrastructure-auditor']).toBe('running');
    expect(desiredQueueStates(one)['meta-monitor']).toBe('paused');
    const all = apply(one, { type: 'activate', components: ['meta-monitor', 'implementation-support'] }, { by: 'ops' }, at);
    expect(statusOf(all)).toBe('active');
    expect(all.version).toBe(3);
    expect(enabled.version).toBe(1);
  });

  it('enable with active: true activates everything at once', () => {
    expect(statusOf(run({ type: 'enable', activate: true }))).toBe('active');
  });

  it('refuses to activate while the flag is off, naming how to fix it', () => {
    expect(() => run({ type: 'activate', components: ['meta-monitor'] })).toThrow(SupportModeConflictError);
    expect(() => run({ type: 'activate', components: ['meta-monitor'] })).toThrow(/enable it first with POST \/admin\/feature-flags\/bedrock-support\/enable/);
  });

  it('emergency pauses everything, records who and why; recovery re-enables inactive', () => {
    const e = run({ type: 'enable', activate: true }, { type: 'emergency', reason: 'breach', initiatedBy: 'alice', immediate: true });
    expect(statusOf(e)).toBe('emergency');
    expect(Object.values(desiredQueueStates(e))).toEqual(['paused', 'paused', 'paused', 'paused', 'paused']);
    expect(e.emergency).toMatchObject({ reason: 'breach', initiatedBy: 'alice', requestedBy: 'ops', immediate: true });
    const recovered = apply(e, { type: 'flag.enable' }, { by: 'ops' }, at);
    expect(statusOf(recovered)).toBe('inactive');
    expect(recovered.emergency).toBeNull();
    expect(recovered.lastEmergency).toMatchObject({ reason: 'breach', initiatedBy: 'alice', recoveredAt: at.toISOString(), recoveredBy: 'ops' });
    expect(desiredQueueStates(recovered).compliance).toBe('running');
  });

  it('after an emergency, enable with active: true is refused: recovery is one component at a time', () => {
    const e = run({ type: 'enable', activate: true }, { type: 'emergency', reason: 'breach', initiatedBy: 'alice', immediate: true });
    expect(() => apply(e, { type: 'enable', activate: true }, { by: 'ops' }, at)).toThrow(SupportModeConflictError);
    expect(() => apply(e, { type: 'enable', activate: true }, { by: 'ops' }, at)).toThrow(/one at a time with POST \/admin\/bedrock-support\/activate-component/);
    expect(statusOf(apply(e, { type: 'enable', activate: false }, { by: 'ops' }, at))).toBe('inactive');
  });

  it('after recovery, components come back one at a time until all are active again', () => {
    const later = (m: number) => new Date(at.getTime() + m * 60_000);
    const e = run({ type: 'enable', activate: true }, { type: 'emergency', reason: 'breach', initiatedBy: 'alice', immediate: true });
    const recovered = apply(e, { type: 'flag.enable' }, { by: 'ops' }, later(1));
    expect(isRecovering(recovered)).toBe(true);
    expect(recovered.lastEmergency?.reactivatedAt).toBeNull();
    // Neither "all" nor enable with active: true skips the gradual step once the flag is back.
    expect(() => apply(recovered, { type: 'activate', components: ['infrastructure-auditor', 'meta-monitor', 'implementation-support'] }, { by: 'ops' }, later(2))).toThrow(
      /recovering from the emergency shutdown of 2026-11-26T08:15:00.000Z: activate one component at a time .*active again: none; not yet: infrastructure-auditor, meta-monitor, implementation-support/,
    );
    expect(() => apply(recovered, { type: 'enable', activate: true }, { by: 'ops' }, later(2))).toThrow(SupportModeConflictError);

    const one = apply(recovered, { type: 'activate', components: ['infrastructure-auditor'] }, { by: 'ops' }, later(2));
    expect(() => apply(one, { type: 'activate', components: ['meta-monitor', 'implementation-support'] }, { by: 'ops' }, later(3))).toThrow(/active again: infrastructure-auditor; not yet: meta-monitor, implementation-support/);
    // Naming an already active component with one new one is still one at a time.
    const two = apply(one, { type: 'activate', components: ['infrastructure-auditor', 'meta-monitor'] }, { by: 'ops' }, later(3));
    expect(isRecovering(two)).toBe(true);
    const three = apply(two, { type: 'activate', components: ['implementation-support'] }, { by: 'ops' }, later(4));
    expect(statusOf(three)).toBe('active');
    expect(isRecovering(three)).toBe(false);
    expect(three.lastEmergency).toMatchObject({ reason: 'breach', recoveredAt: later(1).toISOString(), reactivatedAt: later(4).toISOString() });

    // Recovered: deactivating and activating everything at once is allowed again.
    const off = apply(three, { type: 'deactivate', components: ['meta-monitor', 'implementation-support'] }, { by: 'ops' }, later(5));
    expect(statusOf(apply(off, { type: 'activate', components: ['meta-monitor', 'implementation-support'] }, { by: 'ops' }, later(6)))).toBe('active');
  });

  it('a command that changes nothing leaves the state as it was, version and records included', () => {
    const active = run({ type: 'enable', activate: true });
    expect(apply(active, { type: 'activate', components: ['meta-monitor'] }, { by: 'ops' }, at)).toBe(active);
    expect(apply(active, { type: 'enable', activate: true }, { by: 'ops' }, at)).toBe(active);
    const e = apply(active, { type: 'emergency', reason: 'breach', initiatedBy: 'alice', immediate: true }, { by: 'ops', reason: 'breach' }, at);
    // The runbook's follow-up flag disable finds the flag already off: the emergency's reason stays.
    const after = apply(e, { type: 'flag.disable' }, { by: 'ops' }, new Date(at.getTime() + 60_000));
    expect(after).toBe(e);
    expect(after.flag.reason).toBe('breach');
    expect(after.emergency?.reason).toBe('breach');
  });

  it('disabling the flag deactivates every component', () => {
    const s = run({ type: 'enable', activate: true }, { type: 'flag.disable' });
    expect(statusOf(s)).toBe('disabled');
    expect(Object.values(s.components).every((c) => !c.active)).toBe(true);
  });
});
