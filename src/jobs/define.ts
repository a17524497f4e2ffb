import type { z } from 'zod';
import type { Config } from '../config.js';
import type { Logger } from '../observability/logger.js';
import type { PriorityName, QueueName } from '../domain/queue-names.js';
import type { JobDeps } from './deps.js';

/**
 * A job as its handler sees it: BullMQ's `Job` has this shape, and so does anything a test
 * builds. Handlers never touch BullMQ itself.
 */
export interface JobHandle<Data> {
  readonly id?: string | undefined;
  readonly name: string;
  data: Data;
  /** When it was enqueued and when a worker took it (epoch ms). */
  readonly timestamp: number;
  readonly processedOn?: number | undefined;
  readonly attemptsMade: number;
  updateProgress(progress: number): Promise<void>;
}

/** What a handler gets besides its job and the dependencies. */
export interface JobContext {
  /** Fires when the job is cancelled (shutdown past its grace period, emergency shutdown). */
  signal: AbortSignal;
  log: Logger;
  /** Child jobs on the job's own queue (a BullMQ flow); absent where the job runs outside a worker. */
  flow?: JobFlow;
}

/** A child job: its job name on the same queue, its id (the same id is the same child) and payload. */
export interface ChildJob {
  name: string;
  id: string;
  data: unknown;
}

/**
 * A BullMQ flow from inside a running job: the job becomes the parent of child jobs on its own
 * queue, is suspended while they run (other workers take them), and runs again once they all
 * completed; a child that fails fails the parent (`failParentOnFailure`).
 */
export interface JobFlow {
  /**
   * The values the children returned, in the order given, once they all completed. Until then it
   * adds them (ids already added are kept, not added twice), suspends this job and throws: the
   * handler lets that error through and runs again later from the start, when this call returns.
   * `progressWhileWaiting`: the job's progress once its children are added.
   */
  children(children: readonly ChildJob[], options?: { progressWhileWaiting?: number }): Promise<unknown[]>;
  /** For a child: sets its parent's progress (the parent itself is suspended while its children run). */
  parentProgress(progress: (childrenDone: number, children: number) => number): Promise<void>;
}

/** The settings that hold schedule patterns (`BSM_SCHEDULE_*`, 5-field cron, UTC). */
export type ScheduleSetting = Extract<keyof Config, `BSM_SCHEDULE_${string}`>;

/** When a job recurs. Its data is checked against the job's payload schema by the compiler. */
export interface ScheduleSpec<Input> {
  /** The BullMQ job-scheduler id; stable across releases (a public name). */
  id: string;
  /** The setting that holds the cron pattern. */
  setting: ScheduleSetting;
  /** The payload of every scheduled run, or a function of the configuration that gives it. */
  data: Input | ((config: Config) => Input);
  priority: PriorityName;
  description: string | ((config: Config) => string);
  /** Whether the schedule is declared under this configuration (default: always); a scheduler not declared is removed. */
  when?: (config: Config) => boolean;
}

/**
 * One job, declared once: the queue it runs on, its name, the schemas of its payload and
 * result, its handler, an optional schedule, and whether its result is kept as a report
 * (under the job's own name, with the job's id). Adding a job is one `defineJob` in
 * `src/jobs/<queue>/<name>.job.ts` and one line in the registry.
 */
export interface JobDeclaration<Q extends QueueName = QueueName, N extends string = string, P extends z.ZodType = z.ZodType, R extends z.ZodType = z.ZodType> {
  queue: Q;
  name: N;
  description: string;
  payload: P;
  result: R;
  /** Keep every result as a report of kind `name` (read back through `result`). */
  stored: boolean;
  schedule?: ScheduleSpec<z.input<P>>;
  /** A plain async function. Throw to retry; `UnrecoverableError` (BullMQ) for input no retry can fix. */
  handler: (job: JobHandle<z.output<P>>, ctx: JobContext, deps: JobDeps) => Promise<z.input<R>>;
}

/** Declares a job; the generic parameters carry its names and schemas to the registry's types. */
export function defineJob<Q extends QueueName, N extends string, P extends z.ZodType, R extends z.ZodType>(declaration: JobDeclaration<Q, N, P, R>): JobDeclaration<Q, N, P, R> {
  return declaration;
}

/** Input that no retry can fix: the job fails at once, without spending its other attempts. */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}
