import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FleetState, QueueState } from '../domain/fleet/fleet-state.js';
import type { FleetReader } from '../domain/fleet/ports.js';
import type { ExecutionRecord } from '../domain/meta-monitor/analyze-executions.js';
import { queueNames, type QueueName } from '../domain/queue-names.js';
import { pingLatencyMs } from '../redis.js';

export interface FleetReaderOptions {
  connection: Redis;
  prefix: string;
  /** The queues, made by the job factory (`src/queues/fleet.ts`). */
  queues: Readonly<Record<QueueName, Queue>>;
}

/** Reads the fleet's state from Redis through BullMQ. */
export function createFleetReader(options: FleetReaderOptions): FleetReader {
  const { queues } = options;

  const queueState = async (name: QueueName): Promise<QueueState> => {
    const q = queues[name];
    const [counts, paused, workers] = await Promise.all([
      q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed'),
      q.isPaused(),
      q.getWorkers(),
    ]);
    return {
      name,
      paused,
      counts: {
        waiting: counts.waiting ?? 0,
        prioritized: counts.prioritized ?? 0,
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
      },
      workers: { count: workers.length },
    };
  };

  const stalledJobs = async (queue: QueueName): Promise<string[]> => {
    const active = await queues[queue].getActive(0, 499);
    const locks = await Promise.all(active.map((j) => options.connection.exists(`${options.prefix}:${queue}:${j.id}:lock`)));
    return active.filter((_, i) => locks[i] === 0).map((j) => j.id as string);
  };

  const lastCompletedAt = async (queue: QueueName): Promise<Date | null> => {
    const [job] = await queues[queue].getJobs(['completed'], 0, 0, false);
    return job?.finishedOn === undefined ? null : new Date(job.finishedOn);
  };

  const metricTotals = async (queue: QueueName, minutes: number) => {
    const sum = async (type: 'completed' | 'failed') => {
      const m = await queues[queue].getMetrics(type, 0, minutes - 1);
      // Data points are flushed per minute; jobs since the last flush are still in the counter.
      const pending = Math.max(0, m.meta.count - m.meta.prevCount);
      return m.data.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) + pending;
    };
    const [completed, failed] = await Promise.all([sum('completed'), sum('failed')]);
    return { completed, failed };
  };

  return {
    ping: () => pingLatencyMs(options.connection),
    async snapshot(): Promise<FleetState> {
      const [latencyMs, ...states] = await Promise.all([pingLatencyMs(options.connection), ...queueNames.map(queueState)]);
      return {
        at: new Date().toISOString(),
        redis: { latencyMs: Math.round(latencyMs * 1000) / 1000 },
        queues: Object.fromEntries(states.map((s) => [s.name, s])) as Record<QueueName, QueueState>,
      };
    },
    async signals(queue, windowMinutes) {
      const [state, recent, stalled, last] = await Promise.all([queueState(queue), metricTotals(queue, windowMinutes), stalledJobs(queue), lastCompletedAt(queue)]);
      return {
        name: queue,
        paused: state.paused,
        workers: state.workers.count,
        waiting: state.counts.waiting + state.counts.prioritized,
        active: state.counts.active,
        failedKept: state.counts.failed,
        recent: { windowMinutes, ...recent },
        stalled: stalled.length,
        lastCompletedAt: last?.toISOString() ?? null,
      };
    },
    async finishedJobs(queue, since, limit = 5_000) {
      const out: ExecutionRecord[] = [];
      let truncated = false;
      for (const state of ['completed', 'failed'] as const) {
        const jobs = await queues[queue].getJobs([state], 0, limit - 1, false);
        const oldest = jobs.at(-1);
        truncated ||= jobs.length >= limit && oldest?.finishedOn !== undefined && oldest.finishedOn >= since.getTime();
        for (const job of jobs) {
          if (job.finishedOn === undefined || job.finishedOn < since.getTime()) {
            continue;
          }
          out.push({
            queue,
            name: job.name,
            state,
            enqueuedAt: job.timestamp,
            startedAt: job.processedOn,
            finishedAt: job.finishedOn,
            attemptsMade: job.attemptsMade,
            failedReason: state === 'failed' ? job.failedReason : undefined,
          });
        }
      }
      return { records: out.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0)), truncated };
    },
    metricTotals,
  };
}
