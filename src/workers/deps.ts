import type { LlmRouter } from '../ai/router.js';
import type { SupportModeState } from '../domain/support-mode/state.js';
import type { ArchiveSink } from '../domain/audit-trail/archive.js';
import type { RedisFacts } from '../domain/audit/fleet-audit.js';
import type { Fleet } from '../queues/fleet.js';
import type { AuditTrail } from '../store/audit-trail.store.js';
import type { ReportStore } from '../store/reports.store.js';

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
