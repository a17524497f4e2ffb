import { z } from 'zod';
import { queueNames } from '../../queue-names.js';
import type { ActionKind } from '../kind.js';
import type { QueueJobsOf } from '../ports.js';

export const queuePromoteDelayedSpecSchema = z.strictObject({
  kind: z.literal('queue.promote-delayed'),
  queue: z.enum(queueNames),
});
export type QueuePromoteDelayedSpec = z.infer<typeof queuePromoteDelayedSpecSchema>;

const stateSchema = z.object({ delayed: z.int().nonnegative() });
type State = z.infer<typeof stateSchema>;

/**
 * Promotes every delayed job of a queue to waiting through BullMQ (`queue.promoteJobs`). Not
 * reversible: BullMQ cannot put a job back to its old delay.
 */
export function queuePromoteDelayedKind(queues: QueueJobsOf): ActionKind<QueuePromoteDelayedSpec, State> {
  return {
    kind: 'queue.promote-delayed',
    risk: 'low',
    description:
      "Promotes every delayed job of a queue to waiting through BullMQ's queue.promoteJobs, so it runs as soon as a worker is free: jobs waiting out a retry backoff, and the next run of a recurring job (a job scheduler's), which then runs now. Verified by reading the delayed count: it drops by what was promoted, to 0 unless jobs were delayed again since. Not reversible.",
    reversible: false,
    schema: queuePromoteDelayedSpecSchema,
    stateSchema,
    async read(spec) {
      return { delayed: (await queues(spec.queue).getJobCounts('delayed')).delayed ?? 0 };
    },
    desired: () => ({ delayed: 0 }),
    matches: (expected, read) => read.delayed <= expected.delayed,
    changes: (spec, from, to) => (from.delayed === to.delayed ? [] : [{ target: `queue:${spec.queue}:delayed`, from: from.delayed, to: to.delayed }]),
    describe: (spec, before) =>
      before.delayed === 0
        ? `Queue ${spec.queue} has no delayed job: nothing would change.`
        : `Promotes queue ${spec.queue}'s ${before.delayed} delayed jobs to waiting: they run as soon as a worker is free, the next run of a recurring job among them.`,
    async write(spec) {
      await queues(spec.queue).promoteJobs({ count: 1_000 });
    },
  };
}
