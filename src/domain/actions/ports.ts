/**
 * What the built-in action kinds act on. The folder that uses an interface owns it: the adapters
 * are BullMQ's own `Queue` (it has these methods), the flag service, the routing-override store,
 * the support-mode service, the LLM breaker store, the auditor's inventory, prober and gap store,
 * and the HTTP caller of the inventory's actions (`probes/http-hooks.ts`).
 */
import type { HookAction, InventoryVersion } from '../audit/inventory.js';
import type { Prober } from '../audit/probe.js';
import type { GapStore } from '../gaps/gap.js';
import type { BreakerStore } from '../llm/ports.js';
import type { QueueName } from '../queue-names.js';
import type { SupportModeService } from '../support-mode/service.js';

/**
 * A queue's fleet-wide limits, held in Redis in the queue's meta key so every worker follows
 * them. BullMQ's `Queue` implements this as it is.
 */
export interface QueueGlobalLimits {
  /** Null when no global concurrency is set. */
  getGlobalConcurrency(): Promise<number | null>;
  setGlobalConcurrency(concurrency: number): Promise<unknown>;
  removeGlobalConcurrency(): Promise<unknown>;
  /** Null when no global rate limit is set. */
  getGlobalRateLimit(): Promise<{ max: number; duration: number } | null>;
  setGlobalRateLimit(max: number, duration: number): Promise<unknown>;
  removeGlobalRateLimit(): Promise<unknown>;
}

/** The queue of each name (the fleet's). */
export type QueueLimitsOf = (queue: QueueName) => QueueGlobalLimits;

/** The states of a job the remediation kinds read or act on. */
export type FinishedJobState = 'completed' | 'failed';

/** One job as the remediation kinds read it; BullMQ's `Job` has these fields. Times are epoch ms. */
export interface QueueJob {
  id?: string | undefined;
  name: string;
  /** When the job was added. */
  timestamp: number;
  /** When it last finished (completed or failed); the score of the completed and failed sets. */
  finishedOn?: number | undefined;
  attemptsMade: number;
  /** Why it last failed (BullMQ's `failedReason`). */
  failedReason?: string | undefined;
  /** Moves a failed job back to waiting (BullMQ's `Job.retry('failed')`). */
  retry(state?: 'failed'): Promise<void>;
}

/**
 * A queue's jobs, as the remediation kinds (retry failed jobs, clean finished ones, promote
 * delayed ones) need them. BullMQ's `Queue` implements this as it is.
 */
export interface QueueJobs {
  /** Jobs in a state by rank: the finished sets ordered by `finishedOn`, the delayed set by due time; `asc` oldest first. */
  getJobs(types: ['failed'] | ['completed'] | ['delayed'], start: number, end: number, asc: boolean): Promise<QueueJob[]>;
  getJob(id: string): Promise<QueueJob | undefined>;
  getJobCounts(...types: ('failed' | 'completed' | 'delayed')[]): Promise<Record<string, number>>;
  /** `unknown` when no job has the id (removed). */
  getJobState(id: string): Promise<string>;
  /** Removes up to `limit` (0: all) jobs of `type` that finished at or before now - `grace`; returns their ids. */
  clean(grace: number, limit: number, type: FinishedJobState): Promise<string[]>;
  /** Moves every delayed job to waiting, `count` per script call. */
  promoteJobs(opts?: { count?: number }): Promise<void>;
}

/** The queue of each name (the fleet's), for its jobs. */
export type QueueJobsOf = (queue: QueueName) => QueueJobs;

/**
 * The support-mode lifecycle as the `component.active` kind drives it: it reads the state and
 * executes the lifecycle's own commands (audited by the service, queues paused and resumed by it).
 */
export type SupportModeControl = Pick<SupportModeService, 'read' | 'execute'>;

/** The LLM router's circuit-breaker store (the one the router's breaker reads and writes). */
export type LlmBreakers = Pick<BreakerStore, 'read' | 'reset'>;

/**
 * The auditor's own machinery, as the `audit.rerun` kind drives it: the inventory in force, the
 * prober audits probe with, and the gap store they record in.
 */
export interface AuditTargets {
  /** The inventory in force (`InventoryInForce.current`). */
  inventory(): Promise<InventoryVersion>;
  prober: Prober;
  gaps: Pick<GapStore, 'observe'>;
  /** When the targets were probed: the time of the run recorded. */
  clock: () => Date;
}

/** The answer an HTTP action received. */
export interface HookResponse {
  status: number;
  /** From sending the request to the answer's last byte. */
  latencyMs: number;
  /** The body as text (UTF-8), at most its first MiB. */
  body: string;
  /** True when the body was longer than what `body` holds. */
  truncated: boolean;
}

/** Makes the HTTP calls an inventory's `actions` declare (for the `http.hook` kind). */
export interface HttpHooks {
  /**
   * Calls `action` as it is declared, within its `timeoutMs`. Resolves with any answer, whatever
   * its status; rejects when no answer came (a network error, the timeout, `signal`) or the call
   * cannot be made as declared (an unset environment variable, an unreadable CA file).
   */
  call(action: HookAction, signal?: AbortSignal): Promise<HookResponse>;
}
