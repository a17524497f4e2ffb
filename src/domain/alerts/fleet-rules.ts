import { z } from 'zod';
import type { FleetState } from '../fleet/fleet-state.js';
import { redisSlowMs } from '../fleet/thresholds.js';

export const alertPriorities = ['P0', 'P1', 'P2'] as const;
export type AlertPriority = (typeof alertPriorities)[number];

export const firingAlertSchema = z.object({
  /** Stable id, so the same condition is one alert across evaluations. */
  id: z.string(),
  priority: z.enum(alertPriorities),
  title: z.string(),
  detail: z.string(),
});
export type FiringAlert = z.infer<typeof firingAlertSchema>;

/**
 * Rules over the fleet's state. P0: every queue without a worker (support mode is
 * unavailable). P1: one queue with work waiting and no worker. P2: slow Redis (`redisSlowMs`).
 */
export function evaluateFleetRules(state: FleetState): FiringAlert[] {
  const alerts: FiringAlert[] = [];
  const queues = Object.values(state.queues);
  const without = queues.filter((q) => q.workers.count === 0);
  if (queues.length > 0 && without.length === queues.length) {
    alerts.push({ id: 'fleet.no-workers', priority: 'P0', title: 'No worker on any queue', detail: `${queues.length} queues, 0 workers` });
  } else {
    for (const q of without) {
      const waiting = q.counts.waiting + q.counts.prioritized;
      if (waiting > 0 && !q.paused) {
        alerts.push({ id: `queue.${q.name}.no-worker`, priority: 'P1', title: `${q.name} has work and no worker`, detail: `${waiting} waiting, 0 workers` });
      }
    }
  }
  if (state.redis.latencyMs >= redisSlowMs) {
    alerts.push({ id: 'redis.slow', priority: 'P2', title: 'Redis answers slowly', detail: `${state.redis.latencyMs} ms ping` });
  }
  return alerts;
}
