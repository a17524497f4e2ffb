/**
 * The fleet's running totals: counters and histograms every process adds to in one Redis hash,
 * so any API process reports the same figures for the whole fleet. Each family is declared once
 * here with its labels (bounded sets only: queue and job names, operations, paths, outcomes;
 * never an id) and, for a histogram, its bucket bounds.
 */
import type { QueueName } from '../queue-names.js';
import type { DecisionOutcome } from '../llm/ports.js';
import type { LlmPath } from '../llm/types.js';
import type { SupportOperation } from './operations.js';

/** How one attempt of a job ended, as the runner saw it. */
export const jobOutcomes = [
  /** It returned a result. */
  'completed',
  /** It threw and has no attempt left (or its error is unrecoverable): the job is failed. */
  'failed',
  /** It threw and BullMQ retries it (another attempt follows after the back-off). */
  'retried',
  /** Cancelled (shutdown past its grace, emergency shutdown) and handed back to waiting; no attempt spent. */
  'cancelled',
  /** The LLM provider throttled: the queue backs off, the job waits again; no attempt spent. */
  'throttled',
] as const;
export type JobOutcome = (typeof jobOutcomes)[number];

/** Seconds: from a few milliseconds (an idle queue) to an hour (a backlog). */
export const jobWaitBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] as const;
/** Seconds: from a few milliseconds (a canary) to half an hour (a large audit or analysis). */
export const durationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800] as const;

interface FamilySpec {
  labels: readonly string[];
  /** Bucket upper bounds in seconds for a histogram; null for a counter. */
  buckets: readonly number[] | null;
}

/** Every family of the totals, with its label names in the order they are stored. */
export const totalsFamilies = {
  jobs: { labels: ['queue', 'job_name', 'outcome'], buckets: null },
  jobWait: { labels: ['queue', 'job_name'], buckets: jobWaitBuckets },
  jobRun: { labels: ['queue', 'job_name'], buckets: durationBuckets },
  operations: { labels: ['operation', 'outcome'], buckets: null },
  operationLatency: { labels: ['operation'], buckets: durationBuckets },
  llmCalls: { labels: ['path', 'outcome'], buckets: null },
  llmTokens: { labels: ['path', 'direction'], buckets: null },
  /** In nano-dollars (integers add up exactly in Redis). */
  llmCostNanoUsd: { labels: ['path'], buckets: null },
} as const satisfies Record<string, FamilySpec>;
export type TotalsFamily = keyof typeof totalsFamilies;
export const totalsFamilyNames = Object.keys(totalsFamilies) as TotalsFamily[];

/** One labelled counter of a family. */
export interface CounterTotal {
  labels: Record<string, string>;
  value: number;
}

/** One labelled histogram: counts per bucket (not cumulative; `le` Infinity is the overflow) and the sum of what was observed. */
export interface HistogramTotal {
  labels: Record<string, string>;
  buckets: { le: number; count: number }[];
  sum: number;
}

/** The totals as read: every labelled series of every family that has one. */
export interface FleetTotals {
  counters: Record<TotalsFamily, CounterTotal[]>;
  histograms: Record<TotalsFamily, HistogramTotal[]>;
}

/** The upper bound of the bucket `seconds` falls in (`le`): the smallest bound >= it, else Infinity. */
export function bucketOf(bounds: readonly number[], seconds: number): number {
  for (const bound of bounds) {
    if (seconds <= bound) {
      return bound;
    }
  }
  return Number.POSITIVE_INFINITY;
}

/** The label a path takes: the path that answered, `none` when none did. */
export type LlmPathLabel = LlmPath | 'none';

/** One attempt of a job, as the runner measured it. */
export interface JobAttemptSample {
  queue: QueueName;
  /** The job's name as declared; `undeclared` for a name the queue does not declare (never the raw name: it is not bounded). */
  name: string;
  outcome: JobOutcome;
  /** From when the job was due (enqueued, plus any delay it was given) to its first start; null for later starts. */
  waitMs: number | null;
  /** From the start of the attempt to its end. */
  runMs: number;
  /** The support operation the job is, if it is one (`src/jobs/operations.ts`). */
  operation: SupportOperation | null;
}

/** One request through the LLM router, as its decision records it. */
export interface LlmCallSample {
  /** The path that answered; null when none did (throttled, aborted, error). */
  path: LlmPath | null;
  outcome: DecisionOutcome;
  latencyMs: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}
