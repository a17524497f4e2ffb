import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { desiredQueueStates } from '../../src/domain/support-mode/state.js';
import { createRedis } from '../../src/redis.js';
import { createAuditTrail } from '../../src/store/audit-trail.store.js';
import { createSupportModeService } from '../../src/domain/support-mode/service.js';
import { createSupportModeStore } from '../../src/store/support-mode.store.js';
import { componentNames } from '../../src/domain/support-mode/state.js';
import { createFleet } from '../../src/queues/fleet.js';
import { makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { testRedisUrl } from '../helpers/redis.js';

describe('support-mode transitions from two processes at once', () => {
  let t: TestFleet;

  beforeAll(async () => {
    t = await makeTestFleet('sm-race');
  });

  afterAll(async () => {
    await t.cleanup();
  });

  it('the stored state and every queue agree after racing activations, deactivations and an emergency', async () => {
    // A second, independent set of connections and objects, as another API process would have.
    const otherClient = createRedis(testRedisUrl, 'client');
    const otherFleet = createFleet({ connection: otherClient, prefix: t.prefix, jobOptions: { attempts: 1, backoffMs: 1, keepCompletedHours: 1, keepCompletedCount: 1, keepFailedHours: 1, keepFailedCount: 1 } });
    // Process `a` is slow to apply queue changes (a busy event loop, a slow network):
    // without mutual exclusion its stale pause/resume lands after `b`'s newer one.
    const mk = (client: typeof t.client, fleet: typeof t.fleet, applyDelayMs: number) =>
      createSupportModeService({
        store: createSupportModeStore(client, t.prefix),
        setPaused: async (q, paused) => {
          await new Promise((r) => setTimeout(r, applyDelayMs));
          await fleet.setPaused(q, paused);
        },
        cancelRunning: () => Promise.resolve(0),
        activeJobs: () => Promise.resolve(0),
        audit: (e) => createAuditTrail(client, t.prefix).append(e),
        clock: () => new Date(),
      });
    const a = mk(t.client, t.fleet, 40);
    const b = mk(otherClient, otherFleet, 0);
    try {
      await a.execute({ type: 'enable', activate: false }, { by: 'a' });
      for (let round = 0; round < 12; round++) {
        const c = componentNames[round % 3] ?? 'meta-monitor';
        await Promise.all([
          a.execute({ type: round % 2 === 0 ? 'activate' : 'deactivate', components: [c] }, { by: 'a' }),
          new Promise((r) => setTimeout(r, 10)).then(() => b.execute({ type: round % 2 === 0 ? 'deactivate' : 'activate', components: [c] }, { by: 'b' })),
        ]);
        const state = await a.read();
        const desired = desiredQueueStates(state);
        for (const [queue, want] of Object.entries(desired)) {
          expect(await t.fleet.queue(queue as 'meta-monitor').isPaused(), `round ${round}: ${queue}`).toBe(want === 'paused');
        }
      }
      await Promise.all([
        a.execute({ type: 'activate', components: [...componentNames] }, { by: 'a' }),
        b.emergencyShutdown({ reason: 'race', initiatedBy: 'b', immediate: false }, { by: 'b' }),
      ]);
      const final = await a.read();
      for (const [queue, want] of Object.entries(desiredQueueStates(final))) {
        expect(await t.fleet.queue(queue as 'meta-monitor').isPaused(), queue).toBe(want === 'paused');
      }
      // Every transition was chained into the audit trail exactly once.
      expect(await createAuditTrail(t.client, t.prefix).length()).toBe(1 + 12 * 2 + 2);
    } finally {
      await otherFleet.close();
      otherClient.disconnect();
    }
  });
});
