import { canonicalJson } from '../domain/audit-trail/chain.js';
import type { Fleet } from '../queues/fleet.js';
import { priorities, queueNames } from '../domain/queue-names.js';
import type { ScheduleDeclaration } from '../jobs/registry.js';
import type { ScheduleState } from '../domain/schedules.js';

export type { ScheduleState } from '../domain/schedules.js';

export interface ReconcileResult {
  upserted: string[];
  /** Declared as they already were, with their pending job: left alone. */
  unchanged: string[];
  removed: string[];
}

/**
 * Whether the scheduler in Redis is the declared one and still has its pending job. Upserting
 * it anyway would replace that job, and a run that is due but waiting in a paused queue would
 * be dropped at every start-up.
 */
async function isCurrent(fleet: Fleet, d: ScheduleDeclaration): Promise<boolean> {
  const queue = fleet.queue(d.queue);
  const existing = await queue.getJobScheduler(d.id);
  if (
    existing?.next === undefined ||
    existing.name !== d.job ||
    existing.pattern !== d.pattern ||
    existing.tz !== 'UTC' ||
    existing.every !== undefined ||
    canonicalJson(existing.template?.data ?? {}) !== canonicalJson(d.data)
  ) {
    return false;
  }
  // The template carries the queue's job options too (attempts, backoff, retention from BSM_*):
  // a changed setting must reach the scheduled jobs.
  const wanted: Record<string, unknown> = { ...queue.defaultJobOptions, priority: priorities[d.priority] };
  const stored = (existing.template?.opts ?? {}) as Record<string, unknown>;
  if (Object.keys(wanted).some((k) => canonicalJson(stored[k] ?? null) !== canonicalJson(wanted[k] ?? null))) {
    return false;
  }
  const pending = await queue.getJobState(`repeat:${d.id}:${existing.next}`);
  return pending === 'delayed' || pending === 'waiting' || pending === 'prioritized' || pending === 'active';
}

/**
 * Applies the declared schedulers (idempotent: any number of processes may run this at
 * once; BullMQ keeps one scheduler per id and one job per slot) and removes the ones
 * no longer declared. A scheduler already as declared, with its pending job, is left alone.
 */
export async function reconcileSchedules(fleet: Fleet, declared: ScheduleDeclaration[]): Promise<ReconcileResult> {
  for (const d of declared) {
    fleet.validate(d.queue, d.job, d.data);
  }
  const upserted: string[] = [];
  const unchanged: string[] = [];
  const removed: string[] = [];
  for (const d of declared) {
    if (await isCurrent(fleet, d)) {
      unchanged.push(`${d.queue}/${d.id}`);
      continue;
    }
    await fleet.queue(d.queue).upsertJobScheduler(
      d.id,
      { pattern: d.pattern, tz: 'UTC' },
      { name: d.job, data: d.data, opts: { priority: priorities[d.priority] } },
    );
    upserted.push(`${d.queue}/${d.id}`);
  }
  for (const queue of queueNames) {
    const wanted = new Set(declared.filter((d) => d.queue === queue).map((d) => d.id));
    for (const existing of await fleet.queue(queue).getJobSchedulers(0, -1)) {
      if (!wanted.has(existing.key)) {
        await fleet.queue(queue).removeJobScheduler(existing.key);
        removed.push(`${queue}/${existing.key}`);
      }
    }
  }
  return { upserted, unchanged, removed };
}

/** Every scheduler of the fleet with its next run time. */
export async function listSchedules(fleet: Fleet): Promise<ScheduleState[]> {
  const out: ScheduleState[] = [];
  for (const queue of queueNames) {
    const queuePaused = await fleet.queue(queue).isPaused();
    for (const s of await fleet.queue(queue).getJobSchedulers(0, -1, true)) {
      out.push({
        id: s.key,
        queue,
        job: s.name,
        pattern: s.pattern ?? null,
        tz: s.tz ?? null,
        nextRunAt: s.next === undefined ? null : new Date(s.next).toISOString(),
        queuePaused,
      });
    }
  }
  return out;
}
