import type { FleetState } from '../fleet/fleet-state.js';
import { redisSlowMs } from '../fleet/thresholds.js';
import { queueNames, type QueueName } from '../queue-names.js';
import { desiredQueueStates, statusOf, type SupportModeState } from './state.js';

/** What health is derived from, per queue, all read from Redis/BullMQ. */
export interface QueueSignals {
  name: string;
  /** Whether support mode wants this queue running. */
  expectedRunning: boolean;
  /** When it does not: how much that matters and why it is so ({@link inactivityOf}). */
  inactive?: Inactivity;
  paused: boolean;
  workers: number;
  waiting: number;
  active: number;
  failedKept: number;
  /** Completed and failed jobs over the recent window (BullMQ per-minute metrics). */
  recent: { windowMinutes: number; completed: number; failed: number };
  stalled: number;
  lastCompletedAt: string | null;
}

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

/** Why support mode keeps a queue paused, as a code a monitor can match on. */
export type InactivityCode = 'emergency_shutdown' | 'support_mode_disabled' | 'component_inactive';

export interface Inactivity {
  status: HealthStatus;
  code: InactivityCode;
  /** Names no one and quotes nothing a caller wrote: health is public. */
  reason: string;
}

export interface ComponentHealth {
  status: HealthStatus;
  active: boolean;
  reasons: string[];
  signals: QueueSignals & { failedRatio: number | null; lastCompletedAgeSeconds: number | null };
}

export const healthThresholds = {
  failedRatioDegraded: 0.1,
  failedRatioUnhealthy: 0.5,
  /** Fewer finished jobs than this in the window say too little to judge a ratio. */
  minSamples: 4,
  /** Work waiting but nothing completed for this long: the queue is not moving. */
  stuckAfterSeconds: 15 * 60,
  /** Window of the recent completed/failed figures the failed ratio is taken over (BullMQ per-minute metrics). */
  windowMinutes: 15,
  /** The one slow-Redis threshold (`domain/fleet/thresholds.ts`), shared with the audit and the alert rules. */
  redisSlowMs,
};

const rank: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

export function worst(statuses: HealthStatus[]): HealthStatus {
  return statuses.reduce<HealthStatus>((w, s) => (rank[s] > rank[w] ? s : w), 'healthy');
}

/**
 * Why a queue that support mode keeps paused is not running, and what that does to its health:
 * not doing its work is never `healthy` (the runbook's morning check lists everything that is not),
 * an emergency shutdown is `unhealthy`, a component left inactive or support mode disabled `degraded`.
 * Null when the queue is meant to run. The reason is for public answers: an emergency's own reason
 * and who called it are free text, shown to authenticated callers only (`/status`).
 */
export function inactivityOf(queue: string, state: SupportModeState): Inactivity | null {
  if (desiredQueueStates(state)[queue as keyof ReturnType<typeof desiredQueueStates>] !== 'paused') {
    return null;
  }
  const status = statusOf(state);
  if (status === 'emergency' && state.emergency) {
    return {
      status: 'unhealthy',
      code: 'emergency_shutdown',
      reason: `stopped by the emergency shutdown at ${state.emergency.at} (why and by whom: GET /admin/bedrock-support/status); recover with POST /admin/feature-flags/bedrock-support/enable, then activate components one at a time`,
    };
  }
  if (status === 'disabled') {
    return { status: 'degraded', code: 'support_mode_disabled', reason: 'inactive: support mode is disabled, its jobs wait; enable it with POST /admin/bedrock-support/enable' };
  }
  return { status: 'degraded', code: 'component_inactive', reason: 'inactive: queue paused, its jobs wait; activate it with POST /admin/bedrock-support/activate-component' };
}

/** Health of one component's queue from its signals. */
export function assessQueue(s: QueueSignals, now: Date, redisLatencyMs: number): ComponentHealth {
  const reasons: string[] = [];
  const verdicts: HealthStatus[] = [];
  const flag = (status: HealthStatus, reason: string) => {
    verdicts.push(status);
    reasons.push(reason);
  };
  const finished = s.recent.completed + s.recent.failed;
  const failedRatio = finished === 0 ? null : s.recent.failed / finished;
  const age = s.lastCompletedAt === null ? null : Math.round((now.getTime() - Date.parse(s.lastCompletedAt)) / 1000);

  if (s.workers === 0) {
    flag(s.expectedRunning ? 'unhealthy' : 'degraded', 'no live worker');
  }
  if (s.expectedRunning && s.paused) {
    flag('degraded', 'queue paused although the component is active');
  }
  if (!s.expectedRunning) {
    flag(s.inactive?.status ?? 'degraded', s.inactive?.reason ?? 'inactive: queue paused, jobs wait');
  }
  if (failedRatio !== null && finished >= healthThresholds.minSamples) {
    if (failedRatio >= healthThresholds.failedRatioUnhealthy) {
      flag('unhealthy', `${s.recent.failed} of ${finished} jobs failed in the last ${s.recent.windowMinutes} min`);
    } else if (failedRatio >= healthThresholds.failedRatioDegraded) {
      flag('degraded', `${s.recent.failed} of ${finished} jobs failed in the last ${s.recent.windowMinutes} min`);
    }
  }
  if (s.stalled > 0) {
    flag('degraded', `${s.stalled} stalled job(s)`);
  }
  if (s.expectedRunning && s.waiting > 0 && s.active === 0 && (age === null || age > healthThresholds.stuckAfterSeconds)) {
    flag('degraded', `${s.waiting} job(s) waiting and none completed ${age === null ? 'yet' : `for ${age} s`}`);
  }
  if (redisLatencyMs >= healthThresholds.redisSlowMs) {
    flag('degraded', `redis ping ${redisLatencyMs} ms`);
  }
  return {
    status: worst(verdicts),
    active: s.expectedRunning,
    reasons,
    signals: { ...s, failedRatio: failedRatio === null ? null : Math.round(failedRatio * 1000) / 1000, lastCompletedAgeSeconds: age },
  };
}

/** Each component's health from one read of the fleet: its queue's figures and support mode's state. */
export function componentHealth(fleet: FleetState & { mode: SupportModeState }, now: Date): Record<QueueName, ComponentHealth> {
  const state = fleet.mode;
  const desired = desiredQueueStates(state);
  const components = {} as Record<QueueName, ComponentHealth>;
  for (const name of queueNames) {
    const q = fleet.queues[name];
    components[name] = assessQueue(
      {
        name,
        expectedRunning: desired[name] === 'running',
        inactive: inactivityOf(name, state) ?? undefined,
        paused: q.paused,
        workers: q.workers.count,
        waiting: q.counts.waiting + q.counts.prioritized,
        active: q.counts.active,
        failedKept: q.counts.failed,
        recent: q.recent,
        stalled: q.stalled,
        lastCompletedAt: q.lastCompletedAt,
      },
      now,
      fleet.redis.latencyMs,
    );
  }
  return components;
}

/** What LLM health is judged from, per path (see the router's `pathStatus`). */
export interface LlmPathSignals {
  path: string;
  configured: boolean;
  available: boolean;
  refusedBecause: string | null;
  breaker: { state: string; retryAt: string | null } | null;
}

/**
 * The LLM paths' verdict: a configured remote path the router would skip (breaker open, budget
 * spent, region refused) degrades the service, since its calls go to a fallback or to the local
 * writer. An install with no remote path configured is healthy: local answers are its design.
 */
export function assessLlm(paths: readonly LlmPathSignals[]): { status: HealthStatus; reasons: string[] } {
  const reasons = paths
    .filter((p) => p.configured && !p.available && p.path !== 'local')
    .map((p) => {
      const until = p.breaker?.retryAt ? ` until ${p.breaker.retryAt}` : '';
      const why =
        p.refusedBecause ??
        (p.breaker?.state === 'open' ? `circuit breaker open${until}` : p.breaker?.state === 'half_open' ? `circuit breaker half-open, its one trial call in flight${until}` : 'not available');
      return `LLM path ${p.path} unavailable: ${why}`;
    });
  return { status: reasons.length > 0 ? 'degraded' : 'healthy', reasons };
}
