import { afterAll, describe, expect, it } from 'vitest';
import { apply, initialState, isRecovering } from '../../src/domain/support-mode/state.js';
import { createSupportModeStore } from '../../src/store/support-mode.store.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

/** A state written by an earlier version, read back by this one. */
describe('support-mode state stored by an earlier version', () => {
  const redis = testRedis();
  const prefix = `{${uniquePrefix('sm-store')}}`;

  afterAll(async () => {
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  it('a last emergency without reactivatedAt counts as reactivated: "all" works and a no-op stays a no-op', async () => {
    const old = {
      ...initialState(),
      flag: { enabled: true, updatedAt: '2026-01-01T10:00:00.000Z', updatedBy: 'ops', reason: null },
      components: {
        'infrastructure-auditor': { active: true, since: '2026-01-01T10:05:00.000Z', by: 'ops' },
        'meta-monitor': { active: true, since: '2026-01-01T10:06:00.000Z', by: 'ops' },
        'implementation-support': { active: true, since: '2026-01-01T10:07:00.000Z', by: 'ops' },
      },
      lastEmergency: { at: '2026-01-01T09:00:00.000Z', reason: 'drill', initiatedBy: 'ops', requestedBy: 'ops', immediate: true, recoveredAt: '2026-01-01T10:00:00.000Z', recoveredBy: 'ops' },
      version: 9,
    };
    await redis.set(`${prefix}:support-mode`, JSON.stringify(old));
    const store = createSupportModeStore(redis, prefix);
    const state = await store.read();
    expect(state.lastEmergency).toMatchObject({ recoveredAt: '2026-01-01T10:00:00.000Z', reactivatedAt: '2026-01-01T10:00:00.000Z' });
    expect(isRecovering(state)).toBe(false);

    const at = new Date('2026-11-27T08:00:00Z');
    expect(apply(state, { type: 'activate', components: ['meta-monitor'] }, { by: 'ops' }, at)).toBe(state);
    const off = apply(state, { type: 'deactivate', components: ['meta-monitor', 'implementation-support'] }, { by: 'ops' }, at);
    expect(apply(off, { type: 'activate', components: ['meta-monitor', 'implementation-support'] }, { by: 'ops' }, at).version).toBe(11);
  });
});
