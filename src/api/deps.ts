import type { SupportModeService } from '../domain/support-mode/service.js';
import type { Logger } from '../observability/logger.js';
import type { AuditTrail } from '../domain/audit-trail/ports.js';
import type { AuditTrailService } from '../domain/audit-trail/service.js';
import type { FeatureFlagService } from '../domain/feature-flags.service.js';
import type { PiiCounter } from '../domain/compliance/ports.js';
import type { FleetControl, FleetReader } from '../domain/fleet/ports.js';
import type { Budget } from '../domain/llm/budget.js';
import type { LlmRouter } from '../domain/llm/router.js';
import type { ScheduleState } from '../domain/schedules.js';
import type { QueueSettings } from '../config.js';
import type { QueueName } from '../domain/queue-names.js';
import type { RateLimiter } from '../domain/rate-limit.js';
import type { ReportStore } from '../domain/reports.js';
import type { InventoryInForce } from '../domain/audit/inventory-service.js';
import type { Fleet } from '../queues/fleet.js';
import type { ExecutionStore, Pseudonymize } from '../domain/meta-monitor/executions.js';
import type { MetaMonitorConfigStore } from '../domain/meta-monitor/config.js';
import type { OptimizationStore } from '../domain/meta-monitor/optimizations.js';
import type { ActionCatalog, ActionSpec } from '../domain/actions/index.js';
import type { GapStore } from '../domain/gaps/gap.js';
import type { RemediationService } from '../domain/implementation/remediation-service.js';
import type { BacklogStore } from '../domain/implementation/backlog.js';
import type { GuidanceNarrativeCache } from '../domain/implementation/guidance-narrative.js';
import type { LlmProvider } from '../domain/llm/types.js';
import type { MetricsReader } from '../domain/metrics/ports.js';
import type { PrometheusExporter } from '../observability/prometheus.js';
import type { AlertService } from '../domain/alerts/service.js';
import type { DashboardOutcome } from '../domain/cloudwatch/dashboards.js';
import type { Keyring } from './auth.js';

/** What the metrics routes serve from. */
export interface ApiMetrics {
  /** The Prometheus text of `GET /metrics`. */
  prometheus: PrometheusExporter;
  /** What every process of the fleet recorded (operation samples, heartbeats) and Redis' own figures. */
  reader: MetricsReader;
  /** `BSM_METRICS_TOKEN`: a bearer token that reads `GET /metrics` and nothing else. */
  scraperToken?: string;
}

/** Everything the HTTP layer needs, built once in the composition root. */
export interface ApiDeps {
  fleet: Fleet;
  /** The fleet's state (queues, workers, Redis). */
  fleetReader: FleetReader;
  supportMode: SupportModeService;
  auditTrail: AuditTrail;
  /** The audit trail's verification, public key, archive destinations and cleanup. */
  auditTrailService: Pick<AuditTrailService, 'verify' | 'publicKey' | 'cleanup' | 'destinations' | 'destinationUrl'>;
  /** `BSM_ARCHIVE_AFTER_DAYS`: what an archive request without `older_than` archives. */
  archiveAfterDays: number;
  keyring: Keyring;
  /** The feature-flag registry: reads every flag, changes all but the master switch (that is `supportMode`'s). */
  featureFlags: FeatureFlagService;
  /** The LLM router, budget and PII counts; the local template writer for narratives while the `llm-narratives` flag is off. */
  llm: { router: LlmRouter; budget: Budget; pii: PiiCounter; configured: { direct: boolean; mcp: boolean }; assistLimit: RateLimiter; local: Pick<LlmProvider, 'complete'> };
  logger: Logger;
  schedules: () => Promise<ScheduleState[]>;
  /** Each queue's settings (`config.queues`): the board reads the rate limit, to tell a reached limit from a used window. */
  queueSettings: Record<QueueName, QueueSettings>;
  /** Stored job results (audit reports). */
  reports: ReportStore;
  /** Commands to every worker process (restarting a component's workers). */
  control: FleetControl;
  /** The infrastructure auditor's inventory in force. */
  audit: { inventory: InventoryInForce };
  /**
   * The meta-monitor's execution records, the HMAC that replaces user ids in them, how long they
   * are kept, and the services whose root spans the OTLP ingest stores as executions (`BSM_OTEL_AGENT_SERVICES`).
   */
  executions: { store: ExecutionStore; pseudonymize: Pseudonymize; retentionDays: number; agentServices?: readonly string[] };
  /** The gap store the auditor, the meta-monitor and implementation support share. */
  gaps: GapStore;
  /** Implementation support's backlog: hand-posted items and priority overrides, apart from the gaps. */
  backlog: BacklogStore;
  /** The narratives of gap guidance, kept an hour by gap and request hash. */
  guidanceNarratives: GuidanceNarrativeCache;
  /** The meta-monitor's settings and the optimizations applied. */
  metaMonitor: { config: MetaMonitorConfigStore; optimizations: OptimizationStore };
  /** The action catalog (queue limits, feature flags, LLM routes): what optimizations and remediations apply and roll back. */
  actions: ActionCatalog<ActionSpec>;
  /** Implementation support's remediation requests: suggestions, approvals, runs, rollbacks, activities. */
  remediations: RemediationService;
  /** `/metrics` and the performance and resources views. */
  metrics: ApiMetrics;
  /** The alerts the evaluation keeps: listed, read, acknowledged. */
  alerts: AlertService;
  /** CloudWatch: the region of its metrics, the dashboards (audited, then PutDashboard), and whether publishing is on (`CLOUDWATCH_ENABLED` and the flag). */
  cloudwatch: {
    region: string;
    dashboards(actor: { by: string; requestId?: string }): Promise<DashboardOutcome[]>;
    publishing(): Promise<{ cloudwatchEnabled: boolean; flag: boolean }>;
  };
  /** What the compliance status measures against: where Redis and the archive are, and how long data may be kept. */
  compliance: ComplianceSettings;
  clock: () => Date;
  /**
   * The address browsers reach the service at (`BSM_PUBLIC_URL`), when a proxy in front makes it
   * differ from the request's own (https outside, http inside): its origin passes the cross-site check.
   */
  publicUrl?: string;
  limits?: Partial<ApiLimits>;
}

/** The settings the compliance status reads (the values it checks are measured per request). */
export interface ComplianceSettings {
  /** The Redis the service uses (`REDIS_URL`, or the local one it resolved to). */
  redisUrl: string;
  /** `BSM_ARCHIVE_URL`. */
  archiveUrl: string;
  /** `BSM_RETENTION_LIMIT_HOURS`: the longest a finished job may be kept. */
  jobLimitHours: number;
  /** Above this many audit-trail entries in Redis the status verifies the newest `tailEntries` only (default 100,000 and 10,000). */
  verifyBound?: { fullLimit: number; tailEntries: number };
}

export interface ApiLimits {
  /** Bound on how long a health probe waits for Redis. */
  healthTimeoutMs: number;
  /** Largest request body accepted. */
  bodyLimitBytes: number;
  /** Largest body of the execution ingest route (`BSM_INGEST_BODY_LIMIT_BYTES`). */
  ingestBodyLimitBytes: number;
  /** How long a component test waits for its canary job. */
  canaryTimeoutMs: number;
  /** Failed logins per client address and window before its credentials are refused (429) until the window ends. */
  loginFailures: number;
  /** The failed-login window, from a client's first failure. */
  loginWindowMs: number;
  /** Log lines about one client's failed logins per window (the rest are counted). */
  loginLogLines: number;
  /** Client addresses whose failed logins are tracked at once. */
  loginClients: number;
}

export const defaultLimits: ApiLimits = {
  healthTimeoutMs: 2_000,
  bodyLimitBytes: 64 * 1024,
  ingestBodyLimitBytes: 16 * 1024 * 1024,
  canaryTimeoutMs: 15_000,
  loginFailures: 10,
  loginWindowMs: 60_000,
  loginLogLines: 3,
  loginClients: 10_000,
};
