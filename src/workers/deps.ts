import type { Redis } from 'ioredis';
import { checkResidency } from '../ai/residency.js';
import type { LlmRouter } from '../ai/router.js';
import type { Config } from '../config.js';
import type { SupportModeState } from '../domain/support-mode/state.js';
import type { ArchiveSink } from '../domain/audit-trail/archive.js';
import type { RedisFacts } from '../domain/audit/fleet-audit.js';
import type { Fleet } from '../queues/fleet.js';
import { archiveSinkFor } from '../store/archive-sink.js';
import type { AuditTrail } from '../store/audit-trail.store.js';
import { readRedisFacts } from '../store/redis-facts.js';
import { createReportStore, type ReportStore } from '../store/reports.store.js';

/** Everything the processors need, built once in the composition root. */
export interface WorkerDeps {
  fleet: Fleet;
  reports: ReportStore;
  auditTrail: AuditTrail;
  redisFacts: () => Promise<RedisFacts>;
  /** The audit-trail archive; throws when the configured destination cannot be used. */
  archiveSink: () => ArchiveSink;
  /** Whether LLM calls to `region` are allowed (EU data residency). */
  residency: (region: string) => { allowed: boolean; reason?: string };
  settings: {
    region: string;
    archiveAfterDays: number;
    retention: { completedJobHours: number; failedJobHours: number; limitHours: number };
  };
  /** Support mode as stored in Redis. */
  supportMode: () => Promise<SupportModeState>;
  /** The one LLM router (narratives). */
  llm: Pick<LlmRouter, 'ask'>;
  clock: () => Date;
}

/** The settings the processors read. */
export type WorkerSettingsConfig = Pick<
  Config,
  'AWS_REGION' | 'BSM_ALLOW_NON_EU_REGION' | 'BSM_EXTRA_ALLOWED_REGIONS' | 'BSM_ARCHIVE_URL' | 'BSM_ARCHIVE_AFTER_DAYS' | 'BSM_KEEP_COMPLETED_HOURS' | 'BSM_KEEP_FAILED_HOURS' | 'BSM_RETENTION_LIMIT_HOURS'
>;

/** Builds the processors' dependencies from configuration and the shared objects. */
export function createWorkerDeps(parts: {
  config: WorkerSettingsConfig;
  redis: Redis;
  prefix: string;
  fleet: Fleet;
  auditTrail: AuditTrail;
  llm: Pick<LlmRouter, 'ask'>;
  supportMode: () => Promise<SupportModeState>;
  /** Default: the sink for `BSM_ARCHIVE_URL`. */
  archiveSink?: () => ArchiveSink;
}): WorkerDeps {
  const { config } = parts;
  return {
    fleet: parts.fleet,
    reports: createReportStore(parts.redis, parts.prefix),
    auditTrail: parts.auditTrail,
    redisFacts: () => readRedisFacts(parts.redis),
    archiveSink: parts.archiveSink ?? (() => archiveSinkFor(config.BSM_ARCHIVE_URL)),
    residency: (region) => {
      const r = checkResidency(region, { allowNonEu: config.BSM_ALLOW_NON_EU_REGION, extraAllowed: config.BSM_EXTRA_ALLOWED_REGIONS ?? [] });
      return r.ok ? { allowed: true } : { allowed: false, reason: r.reason };
    },
    settings: {
      region: config.AWS_REGION,
      archiveAfterDays: config.BSM_ARCHIVE_AFTER_DAYS,
      retention: { completedJobHours: config.BSM_KEEP_COMPLETED_HOURS, failedJobHours: config.BSM_KEEP_FAILED_HOURS, limitHours: config.BSM_RETENTION_LIMIT_HOURS },
    },
    llm: parts.llm,
    supportMode: parts.supportMode,
    clock: () => new Date(),
  };
}
