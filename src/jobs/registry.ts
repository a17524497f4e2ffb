import type { z } from 'zod';
import type { QueueName } from '../domain/queue-names.js';
import type { Config } from '../config.js';
import type { JobDeclaration, ScheduleSpec } from './define.js';
import { alertEvaluationJob } from './bedrock-support/alert-evaluation.job.js';
import { alertNotifyJob } from './bedrock-support/alert-notify.job.js';
import { cloudwatchPublishJob } from './bedrock-support/cloudwatch-publish.job.js';
import { dailyCheckJob } from './bedrock-support/daily-check.job.js';
import { weeklyReviewJob } from './bedrock-support/weekly-review.job.js';
import { canaryJob } from './canary.job.js';
import { archiveAuditTrailJob } from './compliance/archive-audit-trail.job.js';
import { checkpointAuditTrailJob } from './compliance/checkpoint-audit-trail.job.js';
import { complianceCheckJob } from './compliance/compliance-check.job.js';
import { complianceReportJob } from './compliance/compliance-report.job.js';
import { auditJob } from './infrastructure-auditor/audit.job.js';
import { reachabilityJob } from './infrastructure-auditor/reachability.job.js';
import { remediateJob } from './implementation-support/remediate.job.js';
import { specScanJob } from './implementation-support/spec-scan.job.js';
import { analyzeExecutionsJob, analyzeExecutionsPartJob } from './meta-monitor/analyze-executions.job.js';

/**
 * Every job of the fleet, one declaration each. A job is added here and in its own file under
 * `src/jobs/<queue>/`; the types below, the job factory, the runner, the schedulers and the
 * report store all follow from this list.
 */
export const jobs = [
  dailyCheckJob,
  weeklyReviewJob,
  alertEvaluationJob,
  alertNotifyJob,
  cloudwatchPublishJob,
  canaryJob('bedrock-support'),
  auditJob,
  reachabilityJob,
  canaryJob('infrastructure-auditor'),
  analyzeExecutionsJob,
  analyzeExecutionsPartJob,
  canaryJob('meta-monitor'),
  specScanJob,
  remediateJob,
  canaryJob('implementation-support'),
  complianceCheckJob,
  complianceReportJob,
  archiveAuditTrailJob,
  checkpointAuditTrailJob,
  canaryJob('compliance'),
] as const;

type AnyJob = (typeof jobs)[number];

/** The declaration of job `N` on queue `Q`. */
export type JobOf<Q extends QueueName, N extends string> = Extract<AnyJob, { queue: Q; name: N }>;
/** The job names of queue `Q`. */
export type JobName<Q extends QueueName> = Extract<AnyJob, { queue: Q }>['name'];
/** A job's payload as callers may pass it (before defaults). */
export type JobInput<Q extends QueueName, N extends string> = z.input<JobOf<Q, N>['payload']>;

/** Every queue has at least one job (a queue left out of the list does not compile). */
const everyQueueHasJobs: { [Q in QueueName]: JobName<Q> } = {
  'bedrock-support': 'daily-check',
  'infrastructure-auditor': 'audit',
  'meta-monitor': 'analyze-executions',
  'implementation-support': 'canary',
  compliance: 'compliance-check',
};
void everyQueueHasJobs;

/** Thrown at start-up when the registry is inconsistent (a name declared twice on a queue). */
export class JobRegistryError extends Error {
  override readonly name = 'JobRegistryError';
}

/** The declarations of one queue, by name. Checks at start-up that no name is declared twice. */
export function jobsOf(queue: QueueName, declarations: readonly JobDeclaration[] = jobs): ReadonlyMap<string, JobDeclaration> {
  const byName = new Map<string, JobDeclaration>();
  for (const job of declarations) {
    if (job.queue !== queue) {
      continue;
    }
    if (byName.has(job.name)) {
      throw new JobRegistryError(`job "${job.name}" is declared twice on queue ${queue}`);
    }
    byName.set(job.name, job);
  }
  return byName;
}

/** Looks a job up; undefined when the queue has no job of that name. */
export function findJob(queue: QueueName, name: string): JobDeclaration | undefined {
  return (jobs as readonly JobDeclaration[]).find((j) => j.queue === queue && j.name === name);
}

/** One declared recurring job, resolved against the configuration. Patterns are 5-field cron, UTC. */
export interface ScheduleDeclaration {
  id: string;
  queue: QueueName;
  job: string;
  pattern: string;
  /** The setting that holds the pattern. */
  setting: ScheduleSpec<unknown>['setting'];
  data: Record<string, unknown>;
  priority: ScheduleSpec<unknown>['priority'];
  description: string;
}

/** The recurring jobs of the fleet, from the registry and the configuration. */
export function declaredSchedules(config: Config): ScheduleDeclaration[] {
  return (jobs as readonly JobDeclaration[]).flatMap((job) => {
    const s = job.schedule;
    if (!s || (s.when !== undefined && !s.when(config))) {
      return [];
    }
    return [
      {
        id: s.id,
        queue: job.queue,
        job: job.name,
        pattern: config[s.setting],
        setting: s.setting,
        data: (typeof s.data === 'function' ? (s.data as (c: Config) => unknown)(config) : s.data) as Record<string, unknown>,
        priority: s.priority,
        description: typeof s.description === 'function' ? s.description(config) : s.description,
      },
    ];
  });
}
