/**
 * The metrics' ports: what a process records while it works (its recorder) and what the API
 * reads back for the whole fleet (the reader). The Redis store (`src/store/metrics.store.ts`)
 * implements both.
 */
import type { SupportOperation } from './operations.js';
import type { BucketResolution, OperationBucket } from './performance.js';
import type { ProcessSample, RedisUsage } from './resources.js';
import type { FleetTotals, JobAttemptSample, LlmCallSample } from './totals.js';

/**
 * Records measured values. Recording is synchronous and never throws: the values are kept in the
 * process and written to Redis in the background (at most a second later, one round trip for
 * everything recorded meanwhile), so a job or a request never waits on its metrics.
 */
export interface MetricsRecorder {
  /** One attempt of a job: the job counters and histograms, and its operation's latency when it is one and the attempt ended (completed, failed or retried). */
  jobAttempt(sample: JobAttemptSample): void;
  /** One LLM request: the call, token and cost counters, and the `llm_call` operation (aborted requests are not an operation's sample). */
  llmCall(sample: LlmCallSample): void;
  /** One sample of an operation measured outside a job (a remediation applied through the action catalog). */
  operation(operation: SupportOperation, latencyMs: number, ok: boolean): void;
}

/** Reads what every process recorded. */
export interface MetricsReader {
  /** The running totals of the whole fleet. */
  totals(): Promise<FleetTotals>;
  /** Each bucket's samples per operation, one entry per start given (empty when nothing was recorded then). */
  operationBuckets(resolution: BucketResolution, starts: readonly number[]): Promise<Partial<Record<SupportOperation, OperationBucket>>[]>;
  /** The heartbeats no older than the staleness bound. */
  processes(now: number): Promise<ProcessSample[]>;
  /** Redis' memory, load and clients, from `INFO`. */
  redisUsage(): Promise<RedisUsage>;
  /** A PING's round trip, in ms. */
  redisLatencyMs(): Promise<number>;
}
