import type { SupportModeService } from '../domain/support-mode/service.js';
import type { Logger } from '../observability/logger.js';
import type { Fleet } from '../queues/fleet.js';
import type { ScheduleState } from '../scheduler/reconcile.js';
import type { AuditTrail } from '../store/audit-trail.store.js';
import type { Llm } from '../llm.js';
import type { Keyring } from './auth.js';

/** Everything the HTTP layer needs, built once in the composition root. */
export interface ApiDeps {
  fleet: Fleet;
  supportMode: SupportModeService;
  auditTrail: AuditTrail;
  keyring: Keyring;
  /** The LLM router, budget and PII counts. */
  llm: Pick<Llm, 'router' | 'budget' | 'pii' | 'configured'>;
  logger: Logger;
  schedules: () => Promise<ScheduleState[]>;
  clock: () => Date;
  limits?: Partial<ApiLimits>;
}

export interface ApiLimits {
  /** Bound on how long a health probe waits for Redis. */
  healthTimeoutMs: number;
  /** Largest request body accepted. */
  bodyLimitBytes: number;
  /** How long a component test waits for its canary job. */
  canaryTimeoutMs: number;
  /** Window of the failed-ratio signal. */
  healthWindowMinutes: number;
}

export const defaultLimits: ApiLimits = { healthTimeoutMs: 2_000, bodyLimitBytes: 64 * 1024, canaryTimeoutMs: 15_000, healthWindowMinutes: 15 };
