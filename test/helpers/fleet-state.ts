import type { QueueState } from '../../src/domain/fleet/fleet-state.js';

/** A queue with one worker, nothing waiting and nothing wrong, as the fleet reader reports one; `overrides` change that. */
export function quietQueue(name: string, overrides: Partial<QueueState> = {}): QueueState {
  return {
    name,
    paused: false,
    counts: { waiting: 0, prioritized: 0, active: 0, delayed: 0, completed: 0, failed: 0 },
    workers: { count: 1 },
    recent: { windowMinutes: 15, completed: 0, failed: 0 },
    stalled: 0,
    lastCompletedAt: null,
    ...overrides,
  };
}
