import type { ReportStore } from '../domain/reports.js';
import type { RedisFacts } from '../domain/audit/redis-facts.js';
import type { AuditTrailService } from '../domain/audit-trail/service.js';
import type { AuditTrail } from '../domain/audit-trail/ports.js';
import type { FleetReader } from '../domain/fleet/ports.js';
import type { LlmRouter } from '../domain/llm/router.js';
import type { LlmProvider } from '../domain/llm/types.js';
import type { PathResidency } from '../domain/llm/residency.js';
import type { SupportModeState } from '../domain/support-mode/state.js';
import type { InventoryVersion } from '../domain/audit/inventory.js';
import type { Prober } from '../domain/audit/probe.js';
import type { GapStore } from '../domain/gaps/gap.js';
import type { SpecFiles, SpecScanRequest } from '../domain/gaps/spec-scan.js';
import type { RemediationService } from '../domain/implementation/remediation-service.js';
import type { QueueLimits } from '../domain/meta-monitor/analysis.js';
import type { MetaMonitorConfigVersion } from '../domain/meta-monitor/config.js';
import type { ExecutionStore } from '../domain/meta-monitor/executions.js';
import type { QueueName } from '../domain/queue-names.js';
import type { RoutingView } from '../domain/meta-monitor/routing-advice.js';
import type { AlertThresholds } from '../domain/alerts/rules.js';
import type { AlertService } from '../domain/alerts/service.js';
import type { AutoShutdownTrigger } from '../domain/alerts/auto-shutdown.js';
import type { SupportModeService } from '../domain/support-mode/service.js';
import type { MetricPublisher } from '../domain/cloudwatch/publish.js';
import type { RetentionMeasure } from '../domain/compliance/gdpr-status.js';
import type { PiiCounter } from '../domain/compliance/ports.js';
import type { DaySpend, RoutingDecision } from '../domain/llm/ports.js';
import type { RegionOf } from '../domain/llm/call-audit.js';
import type { Activities } from '../domain/implementation/remediation-service.js';
import type { CostReport } from '../domain/llm/budget.js';
import type { RoutingEfficiency } from '../domain/llm/routing-metrics.js';
import type { Optimization } from '../domain/meta-monitor/optimizations.js';
import type { PerformanceReport, PerformanceWindow } from '../domain/metrics/performance.js';
import type { LlmGate } from '../domain/compliance/llm-gate.js';

/** Everything the job handlers need, built once per process in the composition root. */
export interface JobDeps {
  fleet: FleetReader;
  reports: ReportStore;
  auditTrail: AuditTrail;
  redisFacts: () => Promise<RedisFacts>;
  /** The audit trail's verification, signed checkpoints, archive and cleanup. */
  auditTrailService: AuditTrailService;
  /** EU residency of every configured LLM path, decided as the router decides it. */
  residency: () => PathResidency[];
  settings: {
    archiveAfterDays: number;
    retention: { completedJobHours: number; failedJobHours: number; limitHours: number };
  };
  /** Support mode as stored in Redis. */
  supportMode: () => Promise<SupportModeState>;
  /** The one LLM router (narratives). */
  llm: Pick<LlmRouter, 'ask'>;
  /**
   * Who writes job narratives: `llm` while a model may (the `llm-narratives` flag, read on every
   * narrative), else the local template writer, without any model being called.
   */
  narratives: { modelAllowed: () => Promise<boolean>; local: Pick<LlmProvider, 'complete'> };
  /** The infrastructure auditor's inventory in force, its probes, and the gap store it shares with the other components. */
  audit: { inventory: () => Promise<InventoryVersion>; prober: Prober };
  gaps: GapStore;
  /**
   * Implementation support: the spec folders as the worker reads them, and how another job (a
   * comprehensive audit) asks for a spec scan, under a job id that makes asking twice one scan.
   */
  implementation: { specFiles: SpecFiles; enqueueSpecScan: (request: SpecScanRequest, jobId: string) => Promise<void>; remediations: Pick<RemediationService, 'run'> };
  /** The meta-monitor's execution records, its settings in force, and a queue's limits as BullMQ holds them. */
  metaMonitor: {
    executions: Pick<ExecutionStore, 'window'>;
    settings: () => Promise<MetaMonitorConfigVersion>;
    queueLimits: (queue: QueueName) => Promise<QueueLimits>;
    /** The LLM router's figures over the last `windowMs` and the routes in force. */
    routing: (windowMs: number) => Promise<RoutingView>;
    /** Parts an analysis of the agent's executions is split into, as a flow of child jobs (`BSM_ANALYSIS_PARTS`); default 1, no split. */
    analysisParts?: number;
  };
  /** Alerts: the service that keeps them, the rules' thresholds, what the evaluation measures besides the fleet, and the automatic shutdown. */
  alerts: {
    service: AlertService;
    thresholds: AlertThresholds;
    /** Audit-trail entries whose chain each evaluation verifies (`BSM_ALERT_AUDIT_TAIL`). */
    auditTail: number;
    /** The critical compliance violations that block LLM calls; the evaluation records a break in the newest entries there. */
    llmGate: Pick<LlmGate, 'violations' | 'recordChain'>;
    /** The LLM router's decisions, efficiency and spend over the last `windowMs` (its decisions' tally). */
    llm: (windowMs: number) => Promise<{ decisions: number; efficiency: number | null; costUsd: number }>;
    autoShutdown: {
      /** `BSM_AUTO_SHUTDOWN_TRIGGERS`. */
      triggers: readonly AutoShutdownTrigger[];
      /** The `auto-emergency-shutdown` flag, read on every evaluation. */
      enabled: () => Promise<boolean>;
      /** The support-mode service's emergency shutdown: the command an operator's shutdown runs. */
      shutdown: SupportModeService['emergencyShutdown'];
    };
  };
  /**
   * CloudWatch publishing: whether `CLOUDWATCH_ENABLED` is on, the `cloudwatch-publishing` flag
   * (read on every run), and the publisher.
   */
  cloudwatch: { configured: boolean; flagOn: () => Promise<boolean>; publisher: Pick<MetricPublisher, 'publish'> };
  /** What the compliance report measures besides the trail and residency above. */
  compliance: {
    /** `BSM_ARCHIVE_URL`. */
    archiveUrl: string;
    /** The oldest execution, finished job per queue and audit-trail entry, against their limits. */
    retention: () => Promise<RetentionMeasure[]>;
    pii: Pick<PiiCounter, 'read'>;
    /** The routing decisions with `from <= at <= to` (epoch ms). */
    decisions: (from: number, to: number) => Promise<RoutingDecision[]>;
    /** The spend of the last `days` UTC days, newest first. */
    spend: (days: number) => Promise<DaySpend[]>;
    regionOf: RegionOf;
  };
  /** What the daily check and the weekly review read besides the fleet and the stored reports. */
  review: {
    /** The support operations' figures over a window (what every process recorded). */
    performance: (window: PerformanceWindow) => Promise<PerformanceReport>;
    routingEfficiency: (windowMs: number) => Promise<RoutingEfficiency>;
    /** Implementation support's activities since then, and its auto-resolution rates. */
    activities: (since: Date) => Promise<Activities>;
    optimizations: () => Promise<Optimization[]>;
    /** LLM spend of the last `days` UTC days and the budgets. */
    costs: (days: number) => Promise<CostReport>;
  };
  clock: () => Date;
}
