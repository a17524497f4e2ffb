import { Queue, type Job, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { priorities, queueNames, type PriorityName, type QueueName } from '../domain/queue-names.js';
import { findJob, type JobInput, type JobName } from '../jobs/registry.js';
import { defaultJobOptions, type JobOptionSettings } from './define.js';

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
  /** Attempts and first retry delay (doubling) of this job, instead of the queue's (`BSM_ATTEMPTS`, `BSM_BACKOFF_MS`). */
  retry?: { attempts: number; backoffMs: number };
}

/** The five queues and the job factory: the only place `Queue` objects are made. */
export interface Fleet {
  readonly prefix: string;
  queue(name: QueueName): Queue;
  /** Every queue, by name (the fleet reader and Bull Board read them). */
  readonly queues: Readonly<Record<QueueName, Queue>>;
  /** Validates the payload against the job's schema (registry), then enqueues it with its priority. */
  add<Q extends QueueName, N extends JobName<Q>>(queue: Q, name: N, data: JobInput<Q, N>, options?: AddOptions): Promise<Job>;
  /** Validates a payload without enqueueing it; throws {@link JobPayloadError}. */
  validate(queue: QueueName, name: string, data: unknown): unknown;
  /** Polls until the job has finished (completed or failed) or `timeoutMs` passes; `null` on timeout. */
  waitForFinish(queue: QueueName, jobId: string, timeoutMs: number): Promise<Job | null>;
  /** Stops (or restarts) every worker of the queue from starting new jobs, in every process. */
  setPaused(queue: QueueName, paused: boolean): Promise<void>;
  /** Jobs running now, across all queues. */
  activeCount(): Promise<number>;
  close(): Promise<void>;
}

export interface FleetOptions {
  connection: Redis;
  prefix: string;
  /** Each queue's BullMQ prefix (on a cluster a hash tag per queue, `src/key-layout.ts`); default: `prefix` for all. */
  queuePrefix?: (queue: QueueName) => string;
  jobOptions: JobOptionSettings;
  /** Connection errors of the queues (logged once, at the top). */
  onError?: (queue: QueueName, err: Error) => void;
}

/** Checks `data` against the payload schema of job `name` on `queue`; the parsed payload (defaults applied). */
export function validatePayload(queue: QueueName, name: string, data: unknown): unknown {
  const job = findJob(queue, name);
  if (!job) {
    throw new JobPayloadError(`unknown job "${name}" on queue ${queue}`, 'name', [{ path: 'name', message: 'unknown job name' }]);
  }
  const parsed = job.payload.safeParse(data ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
    const first = issues[0] ?? { path: '(root)', message: 'invalid' };
    throw new JobPayloadError(`${first.path}: ${first.message}`, first.path, issues);
  }
  return parsed.data;
}

export function createFleet(options: FleetOptions): Fleet {
  const jobDefaults = defaultJobOptions(options.jobOptions);
  const queues = Object.fromEntries(
    queueNames.map((name) => [name, new Queue(name, { connection: options.connection, prefix: options.queuePrefix?.(name) ?? options.prefix, defaultJobOptions: jobDefaults })]),
  ) as Record<QueueName, Queue>;

  for (const name of queueNames) {
    queues[name].on('error', (err) => options.onError?.(name, err));
  }

  return {
    prefix: options.prefix,
    queues,
    queue: (name) => queues[name],
    validate: validatePayload,
    async add(queue, name, data, addOptions = {}) {
      const payload = validatePayload(queue, name, data);
      // Always a priority: BullMQ runs a job without one before every prioritized job, `high` included.
      const opts: JobsOptions = { priority: priorities[addOptions.priority ?? 'medium'] };
      if (addOptions.jobId) {
        opts.jobId = addOptions.jobId;
      }
      if (addOptions.delayMs) {
        opts.delay = addOptions.delayMs;
      }
      if (addOptions.retry) {
        opts.attempts = addOptions.retry.attempts;
        opts.backoff = { type: 'exponential', delay: addOptions.retry.backoffMs };
      }
      return queues[queue].add(name, payload, opts);
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
    async activeCount() {
      return (await Promise.all(queueNames.map((q) => queues[q].getActiveCount()))).reduce((a, b) => a + b, 0);
    },
    async close() {
      await Promise.all(queueNames.map((n) => queues[n].close()));
    },
  };
}
