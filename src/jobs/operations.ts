import type { SupportOperation } from '../domain/metrics/operations.js';
import type { QueueName } from '../domain/queue-names.js';
import type { JobName } from './registry.js';

/**
 * The one table of which jobs are support operations (`OperationLatency`): a job's run is a
 * sample of its operation. Job names are checked against the registry by the compiler. Jobs left
 * out (canaries, reachability, alert evaluation, the archive) are counted as jobs, not as
 * operations. The other operations are measured where they happen: `remediation` in the remediation
 * service (a run verified or not: the `remediate` job completes either way), `llm_call` in the LLM
 * router (see `src/domain/metrics/operations.ts`).
 */
export const jobOperations: { [Q in QueueName]: Partial<Record<JobName<Q>, SupportOperation>> } = {
  'bedrock-support': { 'daily-check': 'daily_check', 'weekly-review': 'weekly_review' },
  'infrastructure-auditor': { audit: 'audit' },
  'meta-monitor': { 'analyze-executions': 'analysis' },
  'implementation-support': { 'spec-scan': 'spec_scan' },
  compliance: { 'compliance-check': 'compliance_check' },
};

/** The operation job `name` of `queue` is, or null. */
export function operationOfJob(queue: QueueName, name: string): SupportOperation | null {
  const table: Partial<Record<string, SupportOperation>> = jobOperations[queue];
  return table[name] ?? null;
}
