import { z } from 'zod';
import type { FleetState } from '../fleet/fleet-state.js';
import { componentNames, desiredQueueStates, statusOf, supportStatuses, type SupportModeState } from './state.js';

export const dailyCheckQueueSchema = z.object({
  name: z.string(),
  state: z.enum(['running', 'paused']),
  workers: z.number(),
  waiting: z.number(),
  active: z.number(),
  delayed: z.number(),
  failed: z.number(),
  completed: z.number(),
});
export type DailyCheckQueue = z.infer<typeof dailyCheckQueueSchema>;

export const dailyCheckResultSchema = z.object({
  checkedAt: z.string(),
  status: z.enum(['healthy', 'degraded']),
  redisLatencyMs: z.number(),
  queues: z.array(dailyCheckQueueSchema),
  auditTrail: z.object({ entries: z.number(), headSeq: z.number() }),
  /** Support mode as stored, and each component's state. */
  supportMode: z.object({ status: z.enum(supportStatuses), featureFlag: z.boolean(), components: z.record(z.string(), z.enum(['active', 'inactive'])) }),
  /** What needs a look, each naming the queue and the measured value. */
  problems: z.array(z.string()),
});
export type DailyCheckResult = z.infer<typeof dailyCheckResultSchema>;

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
