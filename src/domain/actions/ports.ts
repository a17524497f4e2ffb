/**
 * What the built-in action kinds act on. The folder that uses an interface owns it: the adapters
 * are BullMQ's own `Queue` (it has these methods), the flag service and the routing-override store.
 */
import type { QueueName } from '../queue-names.js';

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
