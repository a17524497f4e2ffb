import type { ExecutionRecord } from '../meta-monitor/analyze-executions.js';
import type { QueueName } from '../queue-names.js';
import type { FleetState } from './fleet-state.js';

/** Health signals of one queue, read from Redis/BullMQ (see `domain/support-mode/health.ts`). */
export interface QueueSignalsRead {
  name: QueueName;
  paused: boolean;
  workers: number;
  waiting: number;
  active: number;
  failedKept: number;
  recent: { windowMinutes: number; completed: number; failed: number };
  stalled: number;
  lastCompletedAt: string | null;
}

/**
 * Reads the fleet's state (queues, workers, Redis): the port behind which the Redis/BullMQ
 * read model sits. Domain code and job handlers receive what it reads; they never read Redis.
 */
export interface FleetReader {
  /** Every queue's counts, paused state and live workers, and Redis' latency. */
  snapshot(): Promise<FleetState>;
  /** Everything health is derived from, for one queue. */
  signals(queue: QueueName, windowMinutes: number): Promise<QueueSignalsRead>;
  /** Round-trip time of one Redis PING, in ms. */
  ping(): Promise<number>;
  /**
   * Completed and failed jobs kept by BullMQ that finished at or after `since`, newest first,
   * reading at most `limit` of each state; `truncated` says the limit was reached.
   */
  finishedJobs(queue: QueueName, since: Date, limit?: number): Promise<{ records: ExecutionRecord[]; truncated: boolean }>;
  /** Completed and failed job totals over the last `minutes` (BullMQ per-minute metrics). */
  metricTotals(queue: QueueName, minutes: number): Promise<{ completed: number; failed: number }>;
}
