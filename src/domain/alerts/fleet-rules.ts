import type { FleetState } from '../fleet/fleet-state.js';
import { redisSlowMs } from '../fleet/thresholds.js';
import type { AlertCondition } from './alert.js';

/**
 * Rules over the fleet's state. P0 `fleet.no-workers`: every queue without a worker. P1
 * `queue.no-worker`: a running queue with work waiting and no worker. P2 `redis.slow`: Redis
 * answers a PING in `redisSlowMs` or more.
 */
export function evaluateFleetRules(state: FleetState): AlertCondition[] {
  const alerts: AlertCondition[] = [];
  const queues = Object.values(state.queues);
  const without = queues.filter((q) => q.workers.count === 0);
  if (queues.length > 0 && without.length === queues.length) {
    alerts.push({ rule: 'fleet.no-workers', subject: 'fleet', level: 'P0', title: 'No worker on any queue', detail: `${queues.length} queues, 0 workers` });
  } else {
    for (const q of without) {
      const waiting = q.counts.waiting + q.counts.prioritized;
      if (waiting > 0 && !q.paused) {
        alerts.push({ rule: 'queue.no-worker', subject: q.name, level: 'P1', title: `${q.name} has work and no worker`, detail: `${waiting} waiting, 0 workers` });
      }
    }
  }
  if (state.redis.latencyMs >= redisSlowMs) {
    alerts.push({ rule: 'redis.slow', subject: 'redis', level: 'P2', title: 'Redis answers slowly', detail: `${state.redis.latencyMs} ms ping` });
  }
  return alerts;
}
