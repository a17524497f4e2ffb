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
}

export interface FleetState {
  at: string;
  redis: { latencyMs: number };
  queues: Record<QueueName, QueueState>;
}
