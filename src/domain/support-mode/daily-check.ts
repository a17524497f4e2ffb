import type { FleetState } from '../fleet-state.js';

export interface DailyCheckQueue {
  name: string;
  state: 'running' | 'paused';
  workers: number;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export interface DailyCheckResult {
  checkedAt: string;
  status: 'healthy' | 'degraded';
  redisLatencyMs: number;
  queues: DailyCheckQueue[];
  auditTrail: { entries: number; headSeq: number };
  /** What needs a look, each naming the queue and the measured value. */
  problems: string[];
}

/** Morning Support Mode Check: what the fleet looks like right now, and what is off. */
export function buildDailyCheck(state: FleetState, auditTrail: { entries: number; headSeq: number }): DailyCheckResult {
  const queues: DailyCheckQueue[] = Object.values(state.queues).map((q) => ({
    name: q.name,
    state: q.paused ? 'paused' : 'running',
    workers: q.workers.count,
    waiting: q.counts.waiting + q.counts.prioritized,
    active: q.counts.active,
    delayed: q.counts.delayed,
    failed: q.counts.failed,
    completed: q.counts.completed,
  }));
  const problems: string[] = [];
  for (const q of queues) {
    if (q.workers === 0) {
      problems.push(`${q.name}: no live worker`);
    }
    if (q.state === 'paused' && q.waiting > 0) {
      problems.push(`${q.name}: paused with ${q.waiting} waiting job(s)`);
    }
    if (q.failed > 0) {
      problems.push(`${q.name}: ${q.failed} failed job(s) kept`);
    }
  }
  return {
    checkedAt: state.at,
    status: problems.length === 0 ? 'healthy' : 'degraded',
    redisLatencyMs: state.redis.latencyMs,
    queues,
    auditTrail,
    problems,
  };
}
