/**
 * The `queue` kind: a queue of the fleet has the workers it needs, does not fail too much of its
 * work, and does not leave work waiting too long. Figures are read for the probe (a fresh
 * snapshot, never a reused one).
 */
import type { TargetOf } from '../domain/audit/inventory.js';
import type { FleetReader } from '../domain/fleet/ports.js';
import type { QueueName } from '../domain/queue-names.js';
import { describeTarget, observation, type Findings } from './findings.js';

export interface QueueProbeDeps {
  fleetReader: Pick<FleetReader, 'snapshot'>;
  /**
   * Since when (epoch ms) the job that has waited longest to run on `queue` has been waiting
   * (waiting or prioritized, not delayed), or null when none waits.
   */
  oldestWaitingAt: (queue: QueueName) => Promise<number | null>;
  /** Wall clock, epoch ms. */
  now: () => number;
}

/** Fewer finished jobs than this in the window say nothing about a failure rate. */
export const minJobsForFailedRatio = 4;

export async function probeQueue(target: TargetOf<'queue'>, deps: QueueProbeDeps): Promise<Findings> {
  const [snapshot, oldestAt] = await Promise.all([deps.fleetReader.snapshot({ maxAgeMs: 0 }), deps.oldestWaitingAt(target.queue)]);
  const q = snapshot.queues[target.queue];
  const what = describeTarget(target);

  const workers = `${q.workers.count} worker${q.workers.count === 1 ? '' : 's'}${q.paused ? ' (queue paused)' : ''}`;

  const finished = q.recent.completed + q.recent.failed;
  const window = `in the last ${q.recent.windowMinutes} min`;
  const percent = Math.round(target.maxFailedRatio * 100);
  const ratio = finished === 0 ? 0 : q.recent.failed / finished;
  const judged = finished >= minJobsForFailedRatio;
  const failedObserved = judged
    ? `${Math.round(ratio * 100)}% (${q.recent.failed} of ${finished} ${window})`
    : `too few jobs: ${finished} finished ${window}, ${minJobsForFailedRatio} needed to judge`;

  const waitedS = oldestAt === null ? null : Math.max(0, Math.round((deps.now() - oldestAt) / 1000));
  const waitedObserved = waitedS === null ? 'no job waiting' : `${waitedS} s`;

  return {
    reach: { reachable: true },
    observations: [
      observation('workers', `${what} has at least ${target.minWorkers} live worker${target.minWorkers === 1 ? '' : 's'}`, `>= ${target.minWorkers}`, workers, q.workers.count >= target.minWorkers, 'broken_integration'),
      observation('failed-ratio', `${what} fails at most ${percent}% of its jobs`, `<= ${percent}% of finished jobs`, failedObserved, !judged || ratio <= target.maxFailedRatio, 'broken_integration'),
      observation(
        'oldest-waiting',
        `No job waits on ${what} longer than ${target.maxOldestWaitingSeconds} s`,
        `<= ${target.maxOldestWaitingSeconds} s`,
        waitedObserved,
        waitedS === null || waitedS <= target.maxOldestWaitingSeconds,
        'performance_issue',
      ),
    ],
  };
}
