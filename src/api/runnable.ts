import { inactivityOf } from '../domain/support-mode/health.js';
import type { QueueName } from '../domain/queue-names.js';
import type { ApiDeps } from './deps.js';
import { ApiError } from './errors.js';

/**
 * Refuses work a request would wait for on `queue` when nothing would run it now: 409 naming why
 * the queue is paused and the call that changes it, 503 when no worker listens.
 */
export async function assertRunnable(deps: Pick<ApiDeps, 'fleetReader'>, queue: QueueName, what: string): Promise<void> {
  // Whether it can run now decides the answer: figures read for this request, not reused ones.
  const fresh = await deps.fleetReader.snapshot({ maxAgeMs: 0 });
  const snap = fresh.queues[queue];
  if (snap.paused) {
    // Why it is paused decides the fix: a component to activate, support mode to enable, an emergency to recover from.
    const inactive = inactivityOf(queue, fresh.mode);
    const why = inactive?.reason ?? 'its queue is paused although support mode wants it running; support mode re-applies queue states on its next transition';
    throw new ApiError(409, 'conflict', `cannot ${what}: ${why}`, { paused: true });
  }
  if (snap.workers.count === 0) {
    throw new ApiError(503, 'unavailable', `no live worker on queue ${queue}: start one with bsm worker --queues ${queue}`, { workers: 0 });
  }
}
