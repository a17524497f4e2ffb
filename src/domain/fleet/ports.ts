import type { ExecutionRecord } from '../meta-monitor/analyze-executions.js';
import type { QueueName } from '../queue-names.js';
import type { SupportModeState } from '../support-mode/state.js';
import type { FleetState } from './fleet-state.js';

/**
 * A snapshot as a caller gets it: the queue figures and the support-mode state, read together
 * (health compares what support mode wants with what the queues do), and how old they are.
 * Snapshots handed out from one read share its objects (`queues`, `mode`): read-only.
 */
export interface FleetSnapshot extends FleetState {
  /** The support-mode state as stored, read with the figures. */
  mode: SupportModeState;
  /** Milliseconds between the read being sent to Redis and this snapshot being handed over. */
  ageMs: number;
}

export interface SnapshotOptions {
  /**
   * The oldest figures the caller accepts, in ms. Unset: the reader's reuse window (a kept
   * snapshot, or a read already in flight, is shared). 0: figures read after this call.
   */
  maxAgeMs?: number;
}

/**
 * Reads the fleet's state (queues, workers, Redis): the port behind which the Redis/BullMQ
 * read model sits. Domain code and job handlers receive what it reads; they never read Redis.
 */
export interface FleetReader {
  /**
   * Every queue's counts, paused state, live workers and health signals, Redis' latency and the
   * support-mode state, read in one round trip. Concurrent callers share one read; a read is reused for a short
   * window; none is handed out while the connection is not ready, so an outage is never masked.
   */
  snapshot(options?: SnapshotOptions): Promise<FleetSnapshot>;
  /**
   * The snapshot `snapshot()` would hand over without going to Redis, or null: a kept read
   * within the reuse window, the connection ready. Lets a caller answer without waiting.
   */
  kept(): FleetSnapshot | null;
  /** Forgets what was read (and any read in flight): the next caller reads Redis. Call it after this process changed the fleet. */
  invalidate(): void;
  /**
   * Completed and failed jobs kept by BullMQ that finished at or after `since`, newest first,
   * reading at most `limit` of each state; `truncated` says the limit was reached.
   */
  finishedJobs(queue: QueueName, since: Date, limit?: number): Promise<{ records: ExecutionRecord[]; truncated: boolean }>;
  /**
   * The newest finished jobs of `queue`, newest first: at most `limit` of each of `states` (default
   * both) finished at or after `since` (default: any time), merged. A lean read: the finished sets
   * and each job's name and two timestamps, none of its data or result.
   */
  recentFinished(queue: QueueName, options: { limit: number; since?: Date; states?: readonly FinishedJob['state'][] }): Promise<FinishedJob[]>;
  /** Completed and failed job totals over the last `minutes` (BullMQ per-minute metrics). */
  metricTotals(queue: QueueName, minutes: number): Promise<{ completed: number; failed: number }>;
}

/** A finished job as the alert rules read it: when it finished, how long its last attempt ran, how it ended. */
export interface FinishedJob {
  /** The job's name (`audit`, `canary`, …). */
  name: string;
  /** Epoch ms. */
  finishedAt: number;
  /** `finishedOn - processedOn` as BullMQ recorded them; null when it never started (failed before a worker took it). */
  runMs: number | null;
  state: 'completed' | 'failed';
}

/** A worker process's answer to a restart of one queue's workers. */
export interface RestartAnswer {
  /** The process, as BullMQ names its workers (host:pid). */
  worker: string;
  /** False when the process does not run that queue, or the restart failed (`error`). */
  restarted: boolean;
  tookMs: number;
  error: string | null;
}

/** Commands to every worker process of the fleet (over Redis pub/sub). */
export interface FleetControl {
  /**
   * Asks every worker process to close its workers of `queue` and start them again; resolves when
   * every process that heard the request answered, or at `timeoutMs` with the answers so far.
   */
  restartQueue(queue: QueueName, requestId: string, timeoutMs: number): Promise<{ heard: number; answers: RestartAnswer[] }>;
}
