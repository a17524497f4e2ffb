import type { Fleet } from '../queues/fleet.js';
import { priorities, queueNames, type QueueName } from '../queues/names.js';
import type { ScheduleDeclaration } from './schedules.js';

/** A scheduler as BullMQ has it, with its next run. */
export interface ScheduleState {
  id: string;
  queue: QueueName;
  job: string;
  pattern: string | null;
  tz: string | null;
  nextRunAt: string | null;
}

export interface ReconcileResult {
  upserted: string[];
  removed: string[];
}

/**
 * Applies the declared schedulers (idempotent: any number of processes may run this at
 * once; BullMQ keeps one scheduler per id and one job per slot) and removes the ones
 * no longer declared.
 */
export async function reconcileSchedules(fleet: Fleet, declared: ScheduleDeclaration[]): Promise<ReconcileResult> {
  for (const d of declared) {
    fleet.validate(d.queue, d.job, d.data);
  }
  const upserted: string[] = [];
  const removed: string[] = [];
  for (const d of declared) {
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
  return { upserted, removed };
}

/** Every scheduler of the fleet with its next run time. */
export async function listSchedules(fleet: Fleet): Promise<ScheduleState[]> {
  const out: ScheduleState[] = [];
  for (const queue of queueNames) {
    for (const s of await fleet.queue(queue).getJobSchedulers(0, -1, true)) {
      out.push({
        id: s.key,
        queue,
        job: s.name,
        pattern: s.pattern ?? null,
        tz: s.tz ?? null,
        nextRunAt: s.next === undefined ? null : new Date(s.next).toISOString(),
      });
    }
  }
  return out;
}
