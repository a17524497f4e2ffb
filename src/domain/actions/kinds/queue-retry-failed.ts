import { z } from 'zod';
import { failureText } from '../../meta-monitor/analysis.js';
import { fleetExecutionOf } from '../../meta-monitor/analyze-executions.js';
import { clusterIdOf, TemplateMiner } from '../../meta-monitor/template-miner.js';
import { queueNames } from '../../queue-names.js';
import type { ActionKind } from '../kind.js';
import type { QueueJob, QueueJobsOf } from '../ports.js';
import type { ActionChange } from '../types.js';

/** Failed jobs one action retries at most: a bigger backlog takes more actions, each one approved. */
export const maxRetriedPerAction = 1_000;
/** Failed jobs read (the newest first) to find the ones of a failure cluster. */
export const maxScannedForCluster = 10_000;
const page = 1_000;

export const queueRetryFailedSpecSchema = z.strictObject({
  kind: z.literal('queue.retry-failed'),
  queue: z.enum(queueNames),
  /** Only the failed jobs of this failure cluster (a meta-monitor analysis' `clusters[].id`); left out: any failed job. */
  clusterId: z
    .string()
    .regex(/^cl-[0-9a-f]{12}$/, 'must be a failure cluster id as an analysis gives it: cl- and 12 hex digits')
    .optional(),
});
export type QueueRetryFailedSpec = z.infer<typeof queueRetryFailedSpecSchema>;

const clusterSchema = z.object({ id: z.string(), template: z.string(), jobs: z.int().nonnegative() });

const stateSchema = z.object({
  /** Failed jobs in the queue. */
  failed: z.int().nonnegative(),
  /** Failed jobs read, the newest first (all of them, up to {@link maxScannedForCluster}, when a cluster is asked for). */
  scanned: z.int().nonnegative(),
  /** Of those read, how many the spec selects (every one without a cluster). */
  matching: z.int().nonnegative(),
  /** The ids of the failed jobs the spec selects, the newest first, at most {@link maxRetriedPerAction}. */
  selected: z.array(z.string()),
  /** With a cluster: the clusters the failed jobs read fall in, the largest first (at most 10). */
  clusters: z.array(clusterSchema),
  /** After an application: the state of each job it retried, read back by id (`unknown`: removed since). */
  retried: z.array(z.object({ id: z.string(), state: z.string() })),
});
type State = z.infer<typeof stateSchema>;

/** The text the meta-monitor's analysis clusters a failed fleet job by (`failureText` of the job as an execution). */
function clusterTextOf(queue: string, job: QueueJob): string {
  const execution = fleetExecutionOf({
    queue,
    name: job.name,
    jobId: job.id,
    state: 'failed',
    enqueuedAt: job.timestamp,
    finishedAt: job.finishedOn ?? job.timestamp,
    attemptsMade: job.attemptsMade,
    failedReason: job.failedReason,
  });
  return execution === null ? (job.failedReason ?? 'failed without a reason') : failureText(execution);
}

/**
 * Retries a queue's failed jobs through BullMQ (`Job.retry('failed')`, one job at a time by id):
 * all of them, or those of one failure cluster, found by running the meta-monitor's template
 * miner over the queue's failure reasons as its analysis does. Not reversible.
 */
export function queueRetryFailedKind(queues: QueueJobsOf): ActionKind<QueueRetryFailedSpec, State> {
  /**
   * The jobs an application retried, for its verification to read back by id. Keyed by the spec
   * object: the catalog binds a spec once per application, and its write and its read-back go
   * through that one binding (a dry run or another application has a spec object of its own).
   */
  const retriedBy = new WeakMap<QueueRetryFailedSpec, string[]>();

  async function failedJobs(spec: QueueRetryFailedSpec, limit: number): Promise<QueueJob[]> {
    const queue = queues(spec.queue);
    const jobs: QueueJob[] = [];
    for (let start = 0; start < limit; start += page) {
      const batch = await queue.getJobs(['failed'], start, Math.min(start + page, limit) - 1, false);
      jobs.push(...batch);
      if (batch.length < Math.min(page, limit - start)) {
        break;
      }
    }
    return jobs;
  }

  const idsOf = (jobs: QueueJob[]) => jobs.flatMap((j) => (j.id === undefined ? [] : [j.id]));

  return {
    kind: 'queue.retry-failed',
    risk: 'low',
    description: `Retries a queue's failed jobs: each moves back to waiting and runs once more (the attempts it already made stand). All failed jobs, or with clusterId (cl-…, from a meta-monitor analysis) only those whose failure reason falls in that failure cluster, clustered by the analysis' own template miner over the newest ${maxScannedForCluster.toLocaleString('en')} failed jobs of the queue. At most ${maxRetriedPerAction.toLocaleString('en')} jobs per action, the newest failures first: apply again for the rest. Verified by reading each retried job back by id: none may be failed. Not reversible: a job that ran cannot be un-run.`,
    reversible: false,
    schema: queueRetryFailedSpecSchema,
    stateSchema,
    async read(spec) {
      const queue = queues(spec.queue);
      const failed = (await queue.getJobCounts('failed')).failed ?? 0;
      const retried = retriedBy.get(spec) ?? [];
      const states = await Promise.all(retried.map(async (id) => ({ id, state: await queue.getJobState(id) })));
      if (spec.clusterId === undefined) {
        const jobs = await failedJobs(spec, maxRetriedPerAction);
        return { failed, scanned: jobs.length, matching: failed, selected: idsOf(jobs), clusters: [], retried: states };
      }
      const jobs = await failedJobs(spec, maxScannedForCluster);
      const miner = new TemplateMiner();
      const handles = jobs.map((job) => miner.add(clusterTextOf(spec.queue, job)));
      // Clusters merge as messages arrive: a job's cluster is the one its handle resolves to after the last.
      const idOfRoot = new Map<number, string>();
      const clusterOf = handles.map((h) => {
        const root = miner.resolve(h);
        let id = idOfRoot.get(root);
        if (id === undefined) {
          id = clusterIdOf(miner.template(root));
          idOfRoot.set(root, id);
        }
        return id;
      });
      const matched = jobs.filter((_, i) => clusterOf[i] === spec.clusterId);
      const clusters = miner
        .clusters()
        .map((c) => ({ id: clusterIdOf(c.template), template: c.template, jobs: c.count }))
        .sort((a, b) => b.jobs - a.jobs || a.id.localeCompare(b.id))
        .slice(0, 10);
      return { failed, scanned: jobs.length, matching: matched.length, selected: idsOf(matched.slice(0, maxRetriedPerAction)), clusters, retried: states };
    },
    desired: (_spec, before) => ({
      ...before,
      failed: before.failed - before.selected.length,
      matching: before.matching - before.selected.length,
      selected: [],
      retried: before.selected.map((id) => ({ id, state: 'waiting' })),
    }),
    /** Every job the application retried is out of the failed set (waiting, active, completed, or removed since). */
    matches(expected, read) {
      const now = new Map(read.retried.map((r) => [r.id, r.state]));
      return expected.retried.every((r) => {
        const state = now.get(r.id);
        return state !== undefined && state !== 'failed';
      });
    },
    changes(spec, from, to): ActionChange[] {
      const staying = new Set(to.selected);
      return from.selected.filter((id) => !staying.has(id)).map((id) => ({ target: `queue:${spec.queue}:job:${id}`, from: 'failed', to: 'waiting' }));
    },
    describe(spec, before) {
      const n = before.selected.length;
      const more = before.matching > n ? ` ${before.matching - n} more stay failed: apply again for them (at most ${maxRetriedPerAction} per action).` : '';
      if (spec.clusterId === undefined) {
        return n === 0
          ? `Queue ${spec.queue} has no failed job: nothing would change.`
          : `Retries ${n} of queue ${spec.queue}'s ${before.failed} failed jobs, the newest first: each moves back to waiting and runs once more.${more}`;
      }
      const template = before.clusters.find((c) => c.id === spec.clusterId)?.template;
      if (n === 0) {
        const found = before.clusters.map((c) => `${c.id} "${c.template}" (${c.jobs})`).join('; ');
        return `No failed job of queue ${spec.queue} (the newest ${before.scanned} read) falls in failure cluster ${spec.clusterId}: nothing would change. ${found === '' ? 'The queue has no failed job.' : `Its failed jobs fall in: ${found}.`}`;
      }
      return `Retries the ${n} failed jobs of queue ${spec.queue} in failure cluster ${spec.clusterId} "${template ?? '?'}" (of the newest ${before.scanned} of its ${before.failed} failed jobs): each moves back to waiting and runs once more.${more}`;
    },
    async write(spec, from) {
      const queue = queues(spec.queue);
      retriedBy.set(spec, from.selected);
      for (let i = 0; i < from.selected.length; i += 50) {
        await Promise.all(
          from.selected.slice(i, i + 50).map(async (id) => {
            const job = await queue.getJob(id);
            if (job === undefined) {
              return; // removed since it was read: nothing left to retry
            }
            try {
              await job.retry('failed');
            } catch (err) {
              // Someone else retried or removed it meanwhile: it is no longer failed, which is what was asked.
              if ((await queue.getJobState(id)) === 'failed') {
                throw err;
              }
            }
          }),
        );
      }
    },
  };
}
