import type { QueueName } from '../queue-names.js';

/**
 * The fleet's state as the domain sees it: plain data read from Redis/BullMQ by the
 * fleet reader (`src/store/fleet-reader.ts`). Domain code receives it; it never reads it itself.
 */
export interface QueueState {
  name: string;
  paused: boolean;
  counts: { waiting: number; prioritized: number; active: number; delayed: number; completed: number; failed: number };
  workers: { count: number };
  /** Completed and failed jobs over the last `windowMinutes` (BullMQ per-minute metrics). */
  recent: { windowMinutes: number; completed: number; failed: number };
  /** Active jobs whose lock is gone: no worker holds them any more. */
  stalled: number;
  /** When the newest completed job kept by BullMQ finished. */
  lastCompletedAt: string | null;
}

export interface FleetState {
  /** When the figures were read (the read was sent to Redis). */
  at: string;
  redis: { latencyMs: number };
  queues: Record<QueueName, QueueState>;
}
