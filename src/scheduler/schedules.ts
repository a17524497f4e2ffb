import type { Config } from '../config.js';
import type { PriorityName, QueueName } from '../queues/names.js';

/** One declared recurring job. Patterns are 5-field cron, evaluated in UTC. */
export interface ScheduleDeclaration {
  /** The BullMQ job-scheduler id; stable across releases. */
  id: string;
  queue: QueueName;
  job: string;
  pattern: string;
  data: Record<string, unknown>;
  priority: PriorityName;
  description: string;
}

/** The recurring jobs of the fleet, from configuration. */
export function declaredSchedules(config: Config): ScheduleDeclaration[] {
  return [
    {
      id: 'daily-support-check',
      queue: 'bedrock-support',
      job: 'daily-check',
      pattern: config.BSM_SCHEDULE_DAILY_CHECK,
      data: { reason: 'Morning Support Mode Check' },
      priority: 'high',
      description: 'Morning Support Mode Check',
    },
    {
      id: 'weekly-support-review',
      queue: 'bedrock-support',
      job: 'weekly-review',
      pattern: config.BSM_SCHEDULE_WEEKLY_REVIEW,
      data: { reason: 'Weekly Support Mode Review' },
      priority: 'medium',
      description: 'Weekly Support Mode Review',
    },
    {
      id: 'alert-evaluation',
      queue: 'bedrock-support',
      job: 'alert-evaluation',
      pattern: config.BSM_SCHEDULE_ALERTS,
      data: {},
      priority: 'high',
      description: 'Alert evaluation',
    },
    {
      id: 'infrastructure-audit',
      queue: 'infrastructure-auditor',
      job: 'audit',
      pattern: config.BSM_SCHEDULE_INFRA_AUDIT,
      data: { type: 'incremental', reason: 'scheduled' },
      priority: 'medium',
      description: 'Incremental infrastructure audit',
    },
    {
      id: 'meta-monitor-analysis',
      queue: 'meta-monitor',
      job: 'analyze-executions',
      pattern: config.BSM_SCHEDULE_META_MONITOR,
      data: { timeframe: 'last-1h', focus: 'all' },
      priority: 'low',
      description: 'Meta-monitor execution analysis',
    },
    {
      id: 'daily-compliance-check',
      queue: 'compliance',
      job: 'compliance-check',
      pattern: config.BSM_SCHEDULE_COMPLIANCE_CHECK,
      data: {},
      priority: 'medium',
      description: 'Daily compliance check',
    },
    {
      id: 'audit-trail-archive',
      queue: 'compliance',
      job: 'archive-audit-trail',
      pattern: config.BSM_SCHEDULE_ARCHIVE,
      data: { olderThanDays: config.BSM_ARCHIVE_AFTER_DAYS },
      priority: 'low',
      description: `Archive audit-trail records older than ${config.BSM_ARCHIVE_AFTER_DAYS} days`,
    },
  ];
}
