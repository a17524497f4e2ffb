import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { MetricsTime, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { LlmThrottledError } from '../ai/types.js';
import type { QueueSettings } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { JobPayloadError, type Fleet } from '../queues/fleet.js';
import type { QueueName } from '../queues/names.js';
import { queueDefinitions, type QueueDefinitions } from '../queues/registry.js';
import type { HandlerTable, JobContext } from './types.js';

type AnyHandler = (job: Job, ctx: JobContext) => Promise<unknown>;

/** The handler table of every queue: the compiler checks that none is missing. */
export type AllHandlerTables = { [Q in QueueName]: HandlerTable<QueueDefinitions[Q]> };

/** The handler tables of the queues this process works on. */
export type HandlerTables = Partial<AllHandlerTables>;

export interface RunnerOptions {
  queues: readonly QueueName[];
  handlers: HandlerTables;
  connection: Redis;
  fleet: Fleet;
  prefix: string;
  settings: Record<QueueName, QueueSettings>;
  /** How long running jobs may take to finish on shutdown before they are cancelled. */
  graceMs: number;
  /**
   * How long cancelled jobs may take to be handed back to waiting (which needs Redis) before the
   * workers are closed by force. Default 10 s. A job not handed back is returned by BullMQ's
   * stalled-job check of any other worker.
   */
  cancelWaitMs?: number;
  logger: Logger;
  /** Back-off applied to the whole queue when a provider throttles without saying how long. */
  throttleBackoffMs?: number;
  /** Where a worker's own errors go (connection errors among them). Default: logged as errors. */
  onWorkerError?: (queue: QueueName, err: Error) => void;
}

export interface Runner {
  workers: ReadonlyMap<QueueName, Worker>;
  /** Cancels the running jobs of this process; they go back to waiting. */
  cancelAll(reason: string): void;
  /** Stops taking work, lets running jobs finish within the grace period, then cancels them. */
  close(): Promise<void>;
}

/** Thrown at start-up when a queue's handler table does not match its declared job names. */
export class HandlerTableError extends Error {
  override readonly name = 'HandlerTableError';
}

function checkTable(queue: QueueName, table: object | undefined): Record<string, AnyHandler> {
  if (!table) {
    throw new HandlerTableError(`no handlers for queue ${queue}`);
  }
  const declared = Object.keys(queueDefinitions[queue].jobs).sort();
  const handled = Object.keys(table).sort();
  const missing = declared.filter((n) => !handled.includes(n));
  const extra = handled.filter((n) => !declared.includes(n));
  if (missing.length || extra.length) {
    throw new HandlerTableError(`queue ${queue}: handlers missing for [${missing.join(', ')}], undeclared handlers [${extra.join(', ')}]`);
  }
  return table as Record<string, AnyHandler>;
}

export function startWorkers(options: RunnerOptions): Runner {
  const workers = new Map<QueueName, Worker>();
  const workerName = `${hostname()}:${process.pid}`;

  for (const queue of options.queues) {
    const table = checkTable(queue, options.handlers[queue]);
    const log = options.logger.child({ component: queue, queue });

    const processor = async (job: Job, token?: string, signal?: AbortSignal): Promise<unknown> => {
      const handler = table[job.name];
      if (!handler) {
        throw new UnrecoverableError(`no handler for job "${job.name}" on ${queue}`);
      }
      try {
        job.data = options.fleet.validate(queue, job.name, job.data);
      } catch (err) {
        if (err instanceof JobPayloadError) {
          throw new UnrecoverableError(`invalid payload: ${err.message}`);
        }
        throw err;
      }
      const ctx: JobContext = { signal: signal ?? new AbortController().signal, log: log.child({ jobId: job.id, job: job.name }) };
      try {
        return await handler(job, ctx);
      } catch (err) {
        if (ctx.signal.aborted && token) {
          // Cancelled (shutdown, emergency): back to waiting, no attempt spent.
          await job.moveToWait(token);
          throw new WaitingError();
        }
        if (err instanceof LlmThrottledError) {
          // The provider is throttling: hold the whole queue back and retry this job later.
          const backoffMs = err.retryAfterMs ?? options.throttleBackoffMs ?? 5_000;
          log.warn({ jobId: job.id, job: job.name, backoffMs, err: err.message }, 'LLM throttled: the queue backs off, the job retries without spending an attempt');
          await options.fleet.queue(queue).rateLimit(backoffMs);
          throw Worker.RateLimitError();
        }
        throw err;
      }
    };

    const s = options.settings[queue];
    const worker = new Worker(queue, processor, {
      connection: options.connection,
      prefix: options.prefix,
      name: workerName,
      concurrency: s.concurrency,
      limiter: { max: s.rateLimit.max, duration: s.rateLimit.durationMs },
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
    });
    worker.on('failed', (job, err) => {
      log.warn({ jobId: job?.id, job: job?.name, attemptsMade: job?.attemptsMade, err: err.message }, 'job failed');
    });
    worker.on('error', (err) => {
      if (options.onWorkerError) {
        options.onWorkerError(queue, err);
      } else {
        log.error({ err: err.message }, 'worker error');
      }
    });
    workers.set(queue, worker);
  }

  const cancelAll = (reason: string) => {
    for (const w of workers.values()) {
      w.cancelAllJobs(reason);
    }
  };

  return {
    workers,
    cancelAll,
    async close() {
      const closing = Promise.all([...workers.values()].map((w) => w.close())).then(() => true);
      const stop = new AbortController();
      const after = (ms: number) => delay(ms, false, { signal: stop.signal }).catch(() => false);
      try {
        if (await Promise.race([closing, after(options.graceMs)])) {
          return;
        }
        options.logger.warn({ graceMs: options.graceMs }, 'jobs still running after the grace period: cancelling them');
        cancelAll('shutdown');
        const cancelWaitMs = options.cancelWaitMs ?? 10_000;
        if (await Promise.race([closing, after(cancelWaitMs)])) {
          return;
        }
        options.logger.error(
          { cancelWaitMs },
          'cancelled jobs could not be handed back to waiting (is Redis reachable?): closing by force; the stalled-job check of the next worker returns them',
        );
        await Promise.race([Promise.all([...workers.values()].map((w) => w.close(true))), after(cancelWaitMs)]);
      } finally {
        stop.abort();
      }
    },
  };
}
