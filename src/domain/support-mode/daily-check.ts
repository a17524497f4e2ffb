import type { FleetState } from '../fleet-state.js';
import { componentNames, desiredQueueStates, statusOf, type SupportModeState, type SupportStatus } from './state.js';

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
  /** Support mode as stored, and each component's state. */
  supportMode: { status: SupportStatus; featureFlag: boolean; components: Record<string, 'active' | 'inactive'> };
  /** What needs a look, each naming the queue and the measured value. */
  problems: string[];
}

/** Morning Support Mode Check: what the fleet looks like right now, and what is off. */
export function buildDailyCheck(state: FleetState, auditTrail: { entries: number; headSeq: number }, mode: SupportModeState): DailyCheckResult {
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
  const desired = desiredQueueStates(mode);
  for (const q of queues) {
    const want = desired[q.name as keyof typeof desired];
    if (want === 'running' && q.state === 'paused') {
      problems.push(`${q.name}: queue paused although support mode wants it running`);
    }
    if (want === 'paused' && q.state === 'running') {
      problems.push(`${q.name}: queue running although support mode wants it paused`);
    }
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
    supportMode: {
      status: statusOf(mode),
      featureFlag: mode.flag.enabled,
      components: Object.fromEntries(componentNames.map((c) => [c, mode.components[c].active ? 'active' : 'inactive'])),
    },
    problems,
  };
}
