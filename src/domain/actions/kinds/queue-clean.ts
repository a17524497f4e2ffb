import { z } from 'zod';
import { queueNames } from '../../queue-names.js';
import type { ActionKind } from '../kind.js';
import type { FinishedJobState, QueueJobs, QueueJobsOf } from '../ports.js';

const minuteMs = 60_000;
/** The youngest age a clean may remove: a job that just finished is still being looked at. */
export const minCleanAgeMs = minuteMs;
const maxCleanAgeMs = 365 * 24 * 60 * minuteMs;

export const queueCleanSpecSchema = z.strictObject({
  kind: z.literal('queue.clean'),
  queue: z.enum(queueNames),
  /** Which finished jobs: `completed` or `failed`. */
  state: z.enum(['completed', 'failed'] satisfies FinishedJobState[]),
  /** Removes the jobs of that state that finished at least this long ago (at least one minute). */
  olderThanMs: z.int().min(minCleanAgeMs, 'must be at least 60000 (one minute)').max(maxCleanAgeMs),
});
export type QueueCleanSpec = z.infer<typeof queueCleanSpecSchema>;

const stateSchema = z.object({
  /** Epoch ms: jobs that finished at or before it are older than the spec's age (BullMQ's `clean` criterion). */
  cutoff: z.number(),
  /** Jobs of the state in the queue. */
  total: z.int().nonnegative(),
  /** Of those, the ones that finished at or before `cutoff`. */
  older: z.int().nonnegative(),
  /** When the oldest job of the state finished; null when there is none. */
  oldestFinishedAt: z.number().nullable(),
});
type State = z.infer<typeof stateSchema>;

/** When the job at `rank` of the finished set (oldest first) finished; null past the end. A job whose hash is gone counts as old (clean removes it too). */
async function finishedAtRank(queue: QueueJobs, state: FinishedJobState, rank: number): Promise<number | null> {
  const [job] = await queue.getJobs([state], rank, rank, true);
  return job === undefined ? null : (job.finishedOn ?? job.timestamp);
}

/**
 * How many jobs of a finished set finished at or before `cutoff`. The set is ordered by finish
 * time (its score), so a binary search over ranks reads about log2(total) jobs, not all of them.
 */
async function countOlder(queue: QueueJobs, state: FinishedJobState, total: number, cutoff: number): Promise<number> {
  let lo = 0;
  let hi = total;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const at = await finishedAtRank(queue, state, mid);
    if (at === null || at <= cutoff) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

const ageOf = (ms: number) => (ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms % minuteMs === 0 ? `${ms / minuteMs} min` : `${ms} ms`);

/**
 * Removes a queue's completed or failed jobs older than an age through BullMQ's `queue.clean`
 * (every such job, in BullMQ's batches of 10,000). BullMQ's clock is the wall clock, so this
 * kind reads it too. Not reversible: the jobs are gone.
 */
export function queueCleanKind(queues: QueueJobsOf): ActionKind<QueueCleanSpec, State> {
  return {
    kind: 'queue.clean',
    risk: 'medium',
    description:
      "Removes a queue's completed or failed jobs that finished at least olderThanMs ago (one minute at least) through BullMQ's queue.clean: their data, results and failure reasons are gone (the audit trail and the meta-monitor's own records stay). The dry run counts them. Verified by reading the oldest job of that state left: none may be older than the age. Not reversible.",
    reversible: false,
    schema: queueCleanSpecSchema,
    stateSchema,
    async read(spec) {
      const queue = queues(spec.queue);
      const cutoff = Date.now() - spec.olderThanMs;
      const total = (await queue.getJobCounts(spec.state))[spec.state] ?? 0;
      const older = await countOlder(queue, spec.state, total, cutoff);
      const oldestFinishedAt = total === 0 ? null : await finishedAtRank(queue, spec.state, 0);
      return { cutoff, total, older, oldestFinishedAt };
    },
    desired: (_spec, before) => ({ cutoff: before.cutoff, total: before.total - before.older, older: 0, oldestFinishedAt: null }),
    /** No job of the state that finished at or before the cutoff the application used is left. */
    matches: (expected, read) => read.oldestFinishedAt === null || read.oldestFinishedAt > expected.cutoff,
    changes: (spec, from, to) => (from.older === 0 ? [] : [{ target: `queue:${spec.queue}:${spec.state}`, from: from.total, to: to.total }]),
    describe(spec, before) {
      const when = new Date(before.cutoff).toISOString();
      return before.older === 0
        ? `Queue ${spec.queue} has no ${spec.state} job older than ${ageOf(spec.olderThanMs)} (finished at or before ${when}): nothing would change.`
        : `Removes ${before.older} of queue ${spec.queue}'s ${before.total} ${spec.state} jobs: those older than ${ageOf(spec.olderThanMs)} (finished at or before ${when}); ${before.total - before.older} newer ones stay. Not reversible.`;
    },
    async write(spec, from) {
      // The cutoff the dry run counted against, not a later one: grace is measured from now.
      await queues(spec.queue).clean(Math.max(0, Date.now() - from.cutoff), 0, spec.state);
    },
  };
}
