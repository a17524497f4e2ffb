/**
 * The support operations whose latency is measured (`OperationLatency`, runbook "Performance
 * Validation"), and where each is measured:
 *
 * | operation | measured as |
 * |---|---|
 * | `audit` | the run of an `audit` job (infrastructure-auditor) |
 * | `analysis` | the run of an `analyze-executions` job (meta-monitor) |
 * | `spec_scan` | the run of a `spec-scan` job (implementation-support) |
 * | `compliance_check` | the run of a `compliance-check` job (compliance) |
 * | `daily_check` | the run of a `daily-check` job (bedrock-support) |
 * | `weekly_review` | the run of a `weekly-review` job (bedrock-support) |
 * | `remediation` | applying an action of a remediation kind through the action catalog |
 * | `llm_call` | one request through the LLM router, fallbacks included |
 *
 * The job names are mapped in one table, `src/jobs/operations.ts`, checked by the compiler
 * against the job registry.
 */
export const supportOperations = ['audit', 'analysis', 'remediation', 'spec_scan', 'compliance_check', 'daily_check', 'weekly_review', 'llm_call'] as const;
export type SupportOperation = (typeof supportOperations)[number];

export function isSupportOperation(value: string): value is SupportOperation {
  return (supportOperations as readonly string[]).includes(value);
}
