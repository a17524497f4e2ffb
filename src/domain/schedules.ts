import type { QueueName } from './queue-names.js';

/** A scheduler as BullMQ has it, with its next run. */
export interface ScheduleState {
  id: string;
  queue: QueueName;
  job: string;
  pattern: string | null;
  tz: string | null;
  /**
   * The slot of the scheduler's pending run. In the past while its queue is paused: the run is
   * due and waits for the queue to resume (the next slot is scheduled once it starts).
   */
  nextRunAt: string | null;
  /** Whether the queue is paused (support mode keeps it so), holding a due run back. */
  queuePaused: boolean;
}
