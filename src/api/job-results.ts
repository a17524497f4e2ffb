import type { z } from 'zod';
import { jobIdOfPublic } from '../domain/public-ids.js';
import type { QueueName } from '../domain/queue-names.js';
import type { ApiDeps } from './deps.js';
import { ApiError } from './errors.js';

/** Where a job's public results live: its queue, its name (the report kind), its id prefix, and what to call it. */
export interface JobResultKind<S extends z.ZodType> {
  queue: QueueName;
  jobName: string;
  prefix: string;
  what: string;
  schema: S;
}

/**
 * A job's result by its public id (`analysis-…`, `spec-scan-…`): the stored result, or, while the
 * job is queued or running, its state and progress. An id that is not one, or names no job and
 * no result, is a 404 naming it; a failed job is a 409 with its reason; a result an earlier
 * version stored in another shape is a 409 saying so.
 */
export async function jobResult<S extends z.ZodType>(
  deps: Pick<ApiDeps, 'reports' | 'fleet'>,
  kind: JobResultKind<S>,
  id: string,
): Promise<{ done: true; body: z.output<S> } | { done: false; state: 'queued' | 'running'; progress: { percent: number } }> {
  const jobId = jobIdOfPublic(kind.prefix, id);
  if (jobId === null) {
    throw new ApiError(404, 'not_found', `unknown ${kind.what} "${id.slice(0, 80)}": ${kind.what} ids look like ${kind.prefix}-…`);
  }
  const stored = await deps.reports.get(kind.jobName, jobId, kind.schema).catch((err: unknown) => {
    // The store's StoredDataError: a result kept by an earlier version, in the shape it had then.
    if (err instanceof Error && err.name === 'StoredDataError') {
      throw new ApiError(409, 'conflict', `${kind.what} ${id} was stored by an earlier version in another shape and cannot be read by this one`);
    }
    throw err;
  });
  if (stored) {
    return { done: true, body: stored.body };
  }
  const job = await deps.fleet.queue(kind.queue).getJob(jobId);
  if (!job) {
    throw new ApiError(404, 'not_found', `unknown ${kind.what} "${id.slice(0, 80)}"`);
  }
  const state = await job.getState();
  if (state === 'failed') {
    throw new ApiError(409, 'conflict', `${kind.what} ${id} failed: ${job.failedReason}${await childReason(deps, kind.queue, job.failedReason)}`);
  }
  return { done: false, state: state === 'active' ? 'running' : 'queued', progress: { percent: typeof job.progress === 'number' ? job.progress : 0 } };
}

/**
 * A parent that a failed child failed (a flow, `failParentOnFailure`) says only `child <key>
 * failed`: the child's own reason, when the child is on the same queue and still kept.
 */
async function childReason(deps: Pick<ApiDeps, 'fleet'>, queue: QueueName, reason: string | undefined): Promise<string> {
  const key = /^child (\S+) failed$/.exec(reason ?? '')?.[1];
  const queuePrefix = `:${queue}:`;
  const at = key?.lastIndexOf(queuePrefix) ?? -1;
  if (key === undefined || at < 0) {
    return '';
  }
  const child = await deps.fleet.queue(queue).getJob(key.slice(at + queuePrefix.length));
  return child?.failedReason ? ` (${child.failedReason})` : '';
}
