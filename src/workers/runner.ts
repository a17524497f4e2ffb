import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Job as BullJob, MetricsTime, RateLimitError, UnrecoverableError, WaitingChildrenError, WaitingError, Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { LlmThrottledError } from '../domain/llm/types.js';
import type { QueueSettings } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { JobPayloadError, validatePayload, type Fleet } from '../queues/fleet.js';
import type { QueueName } from '../domain/queue-names.js';
import { PermanentJobError, type JobContext, type JobDeclaration, type JobFlow } from '../jobs/define.js';
import type { JobDeps } from '../jobs/deps.js';
import { operationOfJob } from '../jobs/operations.js';
import { jobsOf } from '../jobs/registry.js';
import type { MetricsRecorder } from '../domain/metrics/ports.js';
import type { JobOutcome } from '../domain/metrics/totals.js';

export interface RunnerOptions {
  queues: readonly QueueName[];
  /** What the job handlers get (see the job registry, `src/jobs/registry.ts`). */
  deps: JobDeps;
  /** The job declarations to run. Default: the registry's (tests pass variants of them). */
  jobs?: readonly JobDeclaration[];
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
  /** BullMQ's lock duration and stalled-check interval (`BSM_LOCK_DURATION_MS`, `BSM_STALLED_INTERVAL_MS`). Default 30 s each. */
  lock?: { durationMs: number; stalledIntervalMs: number };
  logger: Logger;
  /** Back-off applied to the whole queue when a provider throttles without saying how long. */
  throttleBackoffMs?: number;
  /**
   * The longest such back-off: each throttle in a row doubles it up to this, a job that completes
   * brings it back to `throttleBackoffMs`. Default `throttleBackoffMs` (no doubling).
   */
  throttleBackoffMaxMs?: number;
  /** Where a worker's own errors go (connection errors among them). Default: logged as errors. */
  onWorkerError?: (queue: QueueName, err: Error) => void;
  /** Where each attempt's outcome, wait and run time are recorded (job counters, histograms, operation latency). Default: not recorded. */
  metrics?: MetricsRecorder;
}

export interface Runner {
  workers: ReadonlyMap<QueueName, Worker>;
  /** Cancels the running jobs of this process; they go back to waiting. */
  cancelAll(reason: string): void;
  /**
   * Closes this process's worker of `queue` as `close` does (grace, then cancel) and starts a new
   * one; false when this process does not run that queue.
   */
  restart(queue: QueueName): Promise<boolean>;
  /** Stops taking work, lets running jobs finish within the grace period, then cancels them. */
  close(): Promise<void>;
}

/**
 * Runs one job through its declaration: the payload is parsed by its schema (defaults applied;
 * a bad payload fails at once, no retry can fix it), the handler runs, its result is checked
 * against the result schema and, for a stored job, kept as a report under the job's name.
 */
async function runDeclared(declaration: JobDeclaration, job: Job, ctx: JobContext, deps: JobDeps): Promise<unknown> {
  try {
    job.data = validatePayload(declaration.queue, declaration.name, job.data);
  } catch (err) {
    if (err instanceof JobPayloadError) {
      throw new UnrecoverableError(`invalid payload: ${err.message}`);
    }
    throw err;
  }
  let returned: unknown;
  try {
    returned = await declaration.handler(job as Job<never>, ctx, deps);
  } catch (err) {
    throw err instanceof PermanentJobError ? new UnrecoverableError(err.message) : err;
  }
  const result = declaration.result.safeParse(returned);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UnrecoverableError(`${declaration.name} returned a result that does not match its schema: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`);
  }
  if (declaration.stored && job.id !== undefined) {
    await deps.reports.save(declaration.name, job.id, result.data);
  }
  return result.data;
}

/**
 * How an attempt that threw ended: handed back (cancelled, throttled), or failed for good or
 * retried, by BullMQ's own rule (no attempt left, or an unrecoverable error; the queues set no
 * `maxStartedAttempts`).
 */
function outcomeOf(err: unknown, job: Job): JobOutcome {
  if (err instanceof WaitingError || err instanceof WaitingChildrenError) {
    return 'cancelled';
  }
  if (err instanceof RateLimitError) {
    return 'throttled';
  }
  const unrecoverable = err instanceof UnrecoverableError || (err instanceof Error && err.name === 'UnrecoverableError');
  return unrecoverable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ? 'failed' : 'retried';
}

/**
 * From when a job was due (enqueued, plus the delay it was given) to its first start, in ms; null
 * for a later start (a retry, a job handed back), whose wait this cannot tell.
 */
function firstWaitMs(job: Job): number | null {
  if (job.attemptsStarted !== 1 || job.processedOn === undefined) {
    return null;
  }
  return Math.max(0, job.processedOn - job.timestamp - (job.opts.delay ?? 0));
}

/**
 * The flow of a running job: children are added to its own queue with `parent` set (what a
 * FlowProducer writes; the parent exists already, under the id its caller gave it), the job moves
 * to waiting-children, and BullMQ runs it again once they completed.
 */
function flowOf(job: Job, queue: Queue, token: string | undefined): JobFlow {
  return {
    children: async (children, opts) => {
      const values = async (): Promise<unknown[] | null> => {
        const got = await job.getChildrenValues<unknown>();
        const keys = children.map((c) => `${job.queueQualifiedName}:${c.id}`);
        return keys.every((k) => k in got) ? keys.map((k) => got[k]) : null;
      };
      const done = await values();
      if (done) {
        return done;
      }
      if (job.id === undefined || token === undefined) {
        throw new Error(`job ${job.name} cannot wait for child jobs outside a worker`);
      }
      const parent = { id: job.id, queue: job.queueQualifiedName };
      await queue.addBulk(children.map((c) => ({ name: c.name, data: c.data, opts: { jobId: c.id, parent, failParentOnFailure: true } })));
      if (opts?.progressWhileWaiting !== undefined) {
        await job.updateProgress(opts.progressWhileWaiting);
      }
      if (await job.moveToWaitingChildren(token)) {
        throw new WaitingChildrenError();
      }
      // Every child had completed already.
      const now = await values();
      if (!now) {
        throw new Error(`job ${job.id} has no child left to wait for, yet not every child's value`);
      }
      return now;
    },
    parentProgress: async (progress) => {
      const parentId = job.parent?.id;
      if (parentId === undefined) {
        return;
      }
      const parent = await BullJob.fromId(queue, parentId);
      if (!parent) {
        return;
      }
      const counts = await parent.getDependenciesCount({ processed: true, unprocessed: true });
      const processed = counts.processed ?? 0;
      const total = processed + (counts.unprocessed ?? 0);
      // This child's own value is recorded once it returns: it counts itself as done.
      await parent.updateProgress(progress(Math.min(total, processed + 1), total));
    },
  };
}

export function startWorkers(options: RunnerOptions): Runner {
  const workers = new Map<QueueName, Worker>();
  /** Jobs this process is running now, per queue. */
  const running = new Map<QueueName, number>();
  /**
   * Throttles in a row per queue, since the last job that completed, and when the back-off in
   * force ends: calls that were in flight together and are throttled together count once.
   */
  const throttled = new Map<QueueName, { inARow: number; until: number }>();
  const throttleBackoff = (queue: QueueName): number => {
    const first = options.throttleBackoffMs ?? 1_000;
    const now = Date.now();
    const state = throttled.get(queue) ?? { inARow: 0, until: 0 };
    if (now < state.until) {
      return state.until - now;
    }
    const backoffMs = Math.min(first * 2 ** Math.min(state.inARow, 30), Math.max(first, options.throttleBackoffMaxMs ?? first));
    throttled.set(queue, { inARow: state.inARow + 1, until: now + backoffMs });
    return backoffMs;
  };
  const runningIn = (queues: readonly QueueName[]) => queues.reduce((n, q) => n + (running.get(q) ?? 0), 0);
  const workerName = `${hostname()}:${process.pid}`;

  const startWorker = (queue: QueueName): Worker => {
    const declared = jobsOf(queue, options.jobs);
    const log = options.logger.child({ component: queue, queue });

    const processor = async (job: Job, token?: string, signal?: AbortSignal): Promise<unknown> => {
      const declaration = declared.get(job.name);
      if (!declaration) {
        throw new UnrecoverableError(`no job "${job.name}" is declared on ${queue}`);
      }
      const ctx: JobContext = { signal: signal ?? new AbortController().signal, log: log.child({ jobId: job.id, job: job.name }), flow: flowOf(job, options.fleet.queue(queue), token) };
      running.set(queue, (running.get(queue) ?? 0) + 1);
      try {
        const result = await runDeclared(declaration, job, ctx, options.deps);
        throttled.delete(queue);
        return result;
      } catch (err) {
        if (err instanceof WaitingChildrenError) {
          // Suspended until its children completed (a flow): not an attempt, nothing failed.
          throw err;
        }
        if (ctx.signal.aborted && token) {
          // Cancelled (shutdown, emergency): back to waiting, no attempt spent.
          await job.moveToWait(token);
          throw new WaitingError();
        }
        if (err instanceof LlmThrottledError) {
          // The provider is throttling: hold the whole queue back and retry this job later.
          const backoffMs = err.retryAfterMs ?? throttleBackoff(queue);
          log.warn({ jobId: job.id, job: job.name, backoffMs, err: err.message }, 'LLM throttled: the queue backs off, the job retries without spending an attempt');
          await options.fleet.queue(queue).rateLimit(backoffMs);
          throw Worker.RateLimitError();
        }
        throw err;
      } finally {
        running.set(queue, (running.get(queue) ?? 1) - 1);
      }
    };

    const metrics = options.metrics;
    /** The processor, with each attempt recorded: one buffered call, no Redis round trip of its own. */
    const measured = metrics
      ? async (job: Job, token?: string, signal?: AbortSignal): Promise<unknown> => {
          const started = performance.now();
          let outcome: JobOutcome = 'completed';
          try {
            return await processor(job, token, signal);
          } catch (err) {
            outcome = outcomeOf(err, job);
            throw err;
          } finally {
            const name = declared.has(job.name) ? job.name : 'undeclared';
            metrics.jobAttempt({ queue, name, outcome, waitMs: firstWaitMs(job), runMs: performance.now() - started, operation: operationOfJob(queue, name) });
          }
        }
      : processor;

    const s = options.settings[queue];
    const worker = new Worker(queue, measured, {
      connection: options.connection,
      // The queue's own prefix: on a cluster each queue has a hash tag of its own.
      prefix: options.fleet.queue(queue).opts.prefix ?? options.prefix,
      name: workerName,
      concurrency: s.concurrency,
      limiter: { max: s.rateLimit.max, duration: s.rateLimit.durationMs },
      metrics: { maxDataPoints: MetricsTime.ONE_WEEK },
      lockDuration: options.lock?.durationMs ?? 30_000,
      stalledInterval: options.lock?.stalledIntervalMs ?? 30_000,
    });
    worker.on('failed', (job, err) => {
      log.warn({ jobId: job?.id, job: job?.name, attemptsMade: job?.attemptsMade, err: err.message }, 'job failed');
    });
    worker.on('error', (err) => {
      // BullMQ's answer about a job (its key or lock missing, as after Redis lost its data) carries a
      // numeric code: Redis answered, so it is no outage, even while another connection still reconnects.
      if (options.onWorkerError && !('code' in err && typeof err.code === 'number')) {
        options.onWorkerError(queue, err);
      } else {
        log.error({ err: err.message }, 'worker error');
      }
    });
    return worker;
  };
  for (const queue of options.queues) {
    workers.set(queue, startWorker(queue));
  }

  const cancelAll = (reason: string) => {
    for (const w of workers.values()) {
      w.cancelAllJobs(reason);
    }
  };

  /**
   * Closes the workers of `queues`: running jobs may finish within the grace period, are then
   * cancelled back to waiting, and the workers closed by force if that cannot happen either.
   */
  const closeGracefully = async (queues: readonly QueueName[]) => {
    const closingWorkers = queues.flatMap((q) => workers.get(q) ?? []);
    const closing = Promise.all(closingWorkers.map((w) => w.close())).then(() => true);
    const stop = new AbortController();
    const after = (ms: number) => delay(ms, false, { signal: stop.signal }).catch(() => false);
    const cancelWaitMs = options.cancelWaitMs ?? 10_000;
    // Bounded whatever Redis does: a worker that cannot close cleanly is closed by force, and
    // what it could not hand back is returned by the stalled-job check of another worker.
    const forceClose = async (why: string) => {
      options.logger.error({ cancelWaitMs, running: runningIn(queues) }, why);
      await Promise.race([Promise.all(closingWorkers.map((w) => w.close(true))), after(1_000)]);
    };
    try {
      if (await Promise.race([closing, after(options.graceMs)])) {
        return;
      }
      if (runningIn(queues) === 0) {
        // Nothing to cancel: the workers are waiting on Redis to close.
        if (!(await Promise.race([closing, after(Math.min(cancelWaitMs, 1_000))]))) {
          await forceClose('workers could not close cleanly (is Redis reachable?): closing by force');
        }
        return;
      }
      options.logger.warn({ graceMs: options.graceMs, running: runningIn(queues) }, 'jobs still running after the grace period: cancelling them');
      for (const w of closingWorkers) {
        w.cancelAllJobs('shutdown');
      }
      if (await Promise.race([closing, after(cancelWaitMs)])) {
        return;
      }
      await forceClose('cancelled jobs could not be handed back to waiting (is Redis reachable?): closing by force; the stalled-job check of the next worker returns them');
    } finally {
      stop.abort();
    }
  };

  return {
    workers,
    cancelAll,
    async restart(queue) {
      if (!workers.has(queue)) {
        return false;
      }
      await closeGracefully([queue]);
      workers.set(queue, startWorker(queue));
      options.logger.info({ queue }, 'workers of the queue restarted');
      return true;
    },
    close: () => closeGracefully([...workers.keys()]),
  };
}
