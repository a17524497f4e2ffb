import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ZodType } from 'zod';
import type { QueueSignals } from '../domain/support-mode/health.js';
import type { ExecutionRecord } from '../domain/meta-monitor/job-executions.js';
import { pingLatencyMs } from '../redis.js';
import { defaultJobOptions, type JobInputOf, type JobNameOf, type JobOptionSettings } from './define.js';
import { queueNames, priorities, type PriorityName, type QueueName } from './names.js';
import { queueDefinitions, type QueueDefinitions } from './registry.js';

/** A job payload that does not match its schema. `field` is the path of the first bad field. */
export class JobPayloadError extends Error {
  override readonly name = 'JobPayloadError';
  constructor(
    message: string,
    readonly field: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(message);
  }
}

export interface AddOptions {
  /** Default `medium`. */
  priority?: PriorityName;
  jobId?: string;
  delayMs?: number;
}

/** Job counts of one queue, read from BullMQ. */
export interface QueueCounts {
  waiting: number;
  prioritized: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  'waiting-children': number;
}

export interface QueueSnapshot {
  name: QueueName;
  paused: boolean;
  counts: QueueCounts;
  /** Live worker connections (BullMQ `getWorkers`, i.e. Redis CLIENT LIST). */
  workers: { count: number; names: string[] };
}

export interface FleetSnapshot {
  at: string;
  redis: { latencyMs: number };
  queues: Record<QueueName, QueueSnapshot>;
}

/** The five queues and the one way to read the fleet's state. */
export interface Fleet {
  readonly prefix: string;
  queue(name: QueueName): Queue;
  add<Q extends QueueName, N extends JobNameOf<QueueDefinitions[Q]>>(
    queue: Q,
    name: N,
    data: JobInputOf<QueueDefinitions[Q], N>,
    options?: AddOptions,
  ): Promise<Job>;
  /** Validates a payload without enqueueing it; throws {@link JobPayloadError}. */
  validate(queue: QueueName, name: string, data: unknown): unknown;
  snapshot(): Promise<FleetSnapshot>;
  /** Round-trip time of one Redis PING, in ms. */
  ping(): Promise<number>;
  /** Polls until the job has finished (completed or failed) or `timeoutMs` passes; `null` on timeout. */
  waitForFinish(queue: QueueName, jobId: string, timeoutMs: number): Promise<Job | null>;
  /** Stops (or restarts) every worker of the queue from starting new jobs, in every process. */
  setPaused(queue: QueueName, paused: boolean): Promise<void>;
  /** Active jobs whose lock has expired: their worker is gone or stuck. */
  stalledJobs(queue: QueueName): Promise<string[]>;
  /** Everything health is derived from, for one queue (see `domain/support-mode/health.ts`). */
  signals(queue: QueueName, windowMinutes: number): Promise<Omit<QueueSignals, 'expectedRunning'>>;
  /** When the most recent completed job that BullMQ still keeps finished. */
  lastCompletedAt(queue: QueueName): Promise<Date | null>;
  /**
   * Completed and failed jobs kept by BullMQ that finished at or after `since`, newest first,
   * reading at most `limit` of each state; `truncated` says the limit was reached.
   */
  finishedJobs(queue: QueueName, since: Date, limit?: number): Promise<{ records: ExecutionRecord[]; truncated: boolean }>;
  /** Completed and failed job totals over the last `minutes` (BullMQ per-minute metrics). */
  metricTotals(queue: QueueName, minutes: number): Promise<{ completed: number; failed: number }>;
  queueSnapshot(name: QueueName): Promise<QueueSnapshot>;
  close(): Promise<void>;
}

export interface FleetOptions {
  connection: Redis;
  prefix: string;
  jobOptions: JobOptionSettings;
  /** Connection errors of the queues (logged once, at the top). */
  onError?: (queue: QueueName, err: Error) => void;
}

export function createFleet(options: FleetOptions): Fleet {
  const jobDefaults = defaultJobOptions(options.jobOptions);
  const queues = Object.fromEntries(
    queueNames.map((name) => [name, new Queue(name, { connection: options.connection, prefix: options.prefix, defaultJobOptions: jobDefaults })]),
  ) as Record<QueueName, Queue>;

  for (const name of queueNames) {
    queues[name].on('error', (err) => options.onError?.(name, err));
  }

  const validate = (queue: QueueName, name: string, data: unknown): unknown => {
    const schema = (queueDefinitions[queue].jobs as Record<string, ZodType>)[name];
    if (!schema) {
      throw new JobPayloadError(`unknown job "${name}" on queue ${queue}`, 'name', [{ path: 'name', message: 'unknown job name' }]);
    }
    const parsed = schema.safeParse(data ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
      const first = issues[0] ?? { path: '(root)', message: 'invalid' };
      throw new JobPayloadError(`${first.path}: ${first.message}`, first.path, issues);
    }
    return parsed.data;
  };

  const queueSnapshot = async (name: QueueName): Promise<QueueSnapshot> => {
    const q = queues[name];
    const [counts, paused, workers] = await Promise.all([
      q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'waiting-children'),
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
        'waiting-children': counts['waiting-children'] ?? 0,
      },
      workers: { count: workers.length, names: workers.map((w) => w.name).filter((n): n is string => typeof n === 'string') },
    };
  };

  const fleet: Fleet = {
    prefix: options.prefix,
    queue: (name) => queues[name],
    validate,
    async add(queue, name, data, addOptions = {}) {
      const payload = validate(queue, name, data);
      // Always a priority: BullMQ runs a job without one before every prioritized job, `high` included.
      const opts: JobsOptions = { priority: priorities[addOptions.priority ?? 'medium'] };
      if (addOptions.jobId) {
        opts.jobId = addOptions.jobId;
      }
      if (addOptions.delayMs) {
        opts.delay = addOptions.delayMs;
      }
      return queues[queue].add(name, payload, opts);
    },
    queueSnapshot,
    ping: () => pingLatencyMs(options.connection),
    async snapshot() {
      const [latencyMs, ...snaps] = await Promise.all([pingLatencyMs(options.connection), ...queueNames.map(queueSnapshot)]);
      return {
        at: new Date().toISOString(),
        redis: { latencyMs: Math.round(latencyMs * 1000) / 1000 },
        queues: Object.fromEntries(snaps.map((s) => [s.name, s])) as Record<QueueName, QueueSnapshot>,
      };
    },
    async signals(queue, windowMinutes) {
      const [snap, recent, stalled, last] = await Promise.all([
        queueSnapshot(queue),
        fleet.metricTotals(queue, windowMinutes),
        fleet.stalledJobs(queue),
        fleet.lastCompletedAt(queue),
      ]);
      return {
        name: queue,
        paused: snap.paused,
        workers: snap.workers.count,
        waiting: snap.counts.waiting + snap.counts.prioritized,
        active: snap.counts.active,
        failedKept: snap.counts.failed,
        recent: { windowMinutes, ...recent },
        stalled: stalled.length,
        lastCompletedAt: last?.toISOString() ?? null,
      };
    },
    async waitForFinish(queue, jobId, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let pause = 2;
      for (;;) {
        const job = await queues[queue].getJob(jobId);
        if (job?.finishedOn !== undefined) {
          return job;
        }
        if (Date.now() >= deadline) {
          return null;
        }
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(pause * 2, 20);
      }
    },
    async setPaused(queue, paused) {
      await (paused ? queues[queue].pause() : queues[queue].resume());
    },
    async stalledJobs(queue) {
      const active = await queues[queue].getActive(0, 499);
      const locks = await Promise.all(active.map((j) => options.connection.exists(`${options.prefix}:${queue}:${j.id}:lock`)));
      return active.filter((_, i) => locks[i] === 0).map((j) => j.id as string);
    },
    async lastCompletedAt(queue) {
      const [job] = await queues[queue].getJobs(['completed'], 0, 0, false);
      return job?.finishedOn === undefined ? null : new Date(job.finishedOn);
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
    async metricTotals(queue, minutes) {
      const sum = async (type: 'completed' | 'failed') => {
        const m = await queues[queue].getMetrics(type, 0, minutes - 1);
        // Data points are flushed per minute; jobs since the last flush are still in the counter.
        const pending = Math.max(0, m.meta.count - m.meta.prevCount);
        return m.data.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) + pending;
      };
      const [completed, failed] = await Promise.all([sum('completed'), sum('failed')]);
      return { completed, failed };
    },
    async close() {
      await Promise.all(queueNames.map((n) => queues[n].close()));
    },
  };
  return fleet;
}
