import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config, QueueSettings } from '../config.js';
import type { AuditTrail } from '../domain/audit-trail/ports.js';
import { AuditArchiveBusyError, createAuditTrailService, type AuditTrailService } from '../domain/audit-trail/service.js';
import type { AuditSigner } from '../domain/audit-trail/signing.js';
import type { ArchiveDestinations } from '../domain/audit-trail/sink.js';
import { createFeatureFlagService, type FeatureFlagService } from '../domain/feature-flags.service.js';
import type { FleetReader } from '../domain/fleet/ports.js';
import type { QueueName } from '../domain/queue-names.js';
import { healthThresholds } from '../domain/support-mode/health.js';
import type { SupportModeService } from '../domain/support-mode/service.js';
import type { JobDeps } from '../jobs/deps.js';
import type { Logger } from '../observability/logger.js';
import { createFleet, type Fleet } from '../queues/fleet.js';
import { jobOptionSettings } from '../queues/define.js';
import { createArchiveRegistry } from '../store/audit-archive.store.js';
import { redisLock } from '../store/lock.js';
import { createAuditTrail } from '../store/audit-trail.store.js';
import { createFeatureFlagStore } from '../store/feature-flags.store.js';
import type { ControlChannel } from '../store/control-channel.js';
import { createFleetReader } from '../store/fleet-reader.js';
import { readRedisFacts } from '../store/redis-facts.js';
import { createReportStore } from '../store/reports.store.js';
import { createGapStore } from '../store/gaps.store.js';
import { createBacklogStore } from '../store/backlog.store.js';
import { createGuidanceNarrativeCache } from '../store/guidance.store.js';
import type { GuidanceNarrativeCache } from '../domain/implementation/guidance-narrative.js';
import { createExecutionStore } from '../store/executions.store.js';
import type { ExecutionStore } from '../domain/meta-monitor/executions.js';
import { createInventoryStore } from '../store/inventory.store.js';
import { createMetaMonitorConfigStore, createOptimizationStore } from '../store/meta-monitor.store.js';
import type { MetaMonitorConfigStore } from '../domain/meta-monitor/config.js';
import type { QueueLimits } from '../domain/meta-monitor/analysis.js';
import type { OptimizationStore } from '../domain/meta-monitor/optimizations.js';
import { createHttpHooks } from '../probes/http-hooks.js';
import { createProber } from '../probes/index.js';
import { createSpecFiles } from '../probes/spec-files.js';
import { inventoryInForce, type InventoryInForce } from '../domain/audit/inventory-service.js';
import type { InventoryStore } from '../domain/audit/inventory.js';
import type { GapStore } from '../domain/gaps/gap.js';
import type { BacklogStore } from '../domain/implementation/backlog.js';
import type { ReportStore } from '../domain/reports.js';
import { createBuiltinActionCatalog, type ActionCatalog, type ActionSpec } from '../domain/actions/index.js';
import type { MetricsRecorder } from '../domain/metrics/ports.js';
import { createMetricsStore, type MetricsStore } from '../store/metrics.store.js';
import { createActionRecordStore } from '../store/actions.store.js';
import { createRemediationService, type RemediationService } from '../domain/implementation/remediation-service.js';
import { createRemediationStore } from '../store/remediations.store.js';
import { auditedGapStore } from '../domain/gaps/audited.js';
import { effectiveRoute } from '../domain/llm/routing-overrides.js';
import type { RouteSpec } from '../domain/llm/routing-matrix.js';
import { operationTypes, type OperationType } from '../domain/llm/types.js';
import { createAlertService, type AlertService } from '../domain/alerts/service.js';
import { emergencyCondition, type AlertThresholds } from '../domain/alerts/rules.js';
import { createAlertStore } from '../store/alerts.store.js';
import { createWebhookSender } from '../providers/alert-webhook.provider.js';
import { queueNames } from '../domain/queue-names.js';
import { performanceReport, windowBuckets } from '../domain/metrics/performance.js';
import type { KeyLayout } from '../key-layout.js';
import { composeCloudWatch, type CloudWatch } from './cloudwatch.js';
import { createLlm, type Llm } from './llm.js';
import { measureRetention } from '../domain/compliance/retention.js';
import { regionsOf } from '../domain/llm/call-audit.js';
import type { LlmGate } from '../domain/compliance/llm-gate.js';
import { configuredArchiveDestinations, measureArchiveLocations } from './archive.js';
import type { ArchiveLocation } from '../domain/compliance/gdpr-status.js';
import { supportModeFor } from './support-mode.js';

/** Every adapter of the service on one Redis connection, and the job handlers' view of them. */
export interface Adapters {
  fleet: Fleet;
  fleetReader: FleetReader;
  auditTrail: AuditTrail;
  /** The audit trail's verification, signed checkpoints, archive and cleanup. */
  auditTrailService: AuditTrailService;
  /** Every configured archive destination and where it is, measured when called (an S3 bucket's region from HeadBucket). */
  archiveLocations: () => Promise<ArchiveLocation[]>;
  llm: Llm;
  supportMode: SupportModeService;
  featureFlags: FeatureFlagService;
  /** The stored job results (audit reports among them). */
  reports: ReportStore;
  /** The auditor's inventory in force (seeded from `BSM_INVENTORY` at start-up, else the built-in one). */
  inventory: InventoryInForce & { seed: InventoryStore['seed'] };
  gaps: GapStore;
  /** Implementation support's backlog: hand-posted items and priority overrides. */
  backlog: BacklogStore;
  /** The narratives of gap guidance, an hour each. */
  guidanceNarratives: GuidanceNarrativeCache;
  /** The meta-monitor's execution records (`BSM_EXECUTION_RETENTION_DAYS`). */
  executions: ExecutionStore;
  /** The meta-monitor's settings and the optimizations applied. */
  metaMonitor: { config: MetaMonitorConfigStore; optimizations: OptimizationStore };
  /** Alerts: kept, acknowledged, notified. */
  alerts: AlertService;
  /** The action catalog: queue limits, feature flags, LLM routes and the remediation kinds (retry, clean, promote, component, breaker, audit re-run, HTTP action), each audited and verified, revertible where it can be. */
  actions: ActionCatalog<ActionSpec>;
  remediations: RemediationService;
  /** CloudWatch: the publisher (the `cloudwatch-publish` job) and the dashboards. */
  cloudwatch: CloudWatch;
  /** What the job handlers get. */
  jobDeps: JobDeps;
  /** The metrics: this process's recorder and the reader of what the whole fleet recorded. */
  metrics: MetricsStore;
  close(): Promise<void>;
}

export interface ComposeOptions {
  config: Config;
  redis: Redis;
  prefix: string;
  /**
   * Which hash tag each store and queue writes under (`src/key-layout.ts`); default: all under
   * `prefix` (one slot, the single-server layout).
   */
  layout?: KeyLayout;
  logger: Logger;
  control: ControlChannel;
  /** Connection errors of the queues. */
  onQueueError?: (queue: QueueName, err: Error) => void;
  /** The archive destinations; default: `default` at `BSM_ARCHIVE_URL`, then those of `BSM_ARCHIVE_DESTINATIONS`. */
  archiveDestinations?: ArchiveDestinations;
  /** The key that signs checkpoints and manifests, where this process has one (`BSM_AUDIT_SIGNING_KEY`, or the `all` role's key file). */
  auditSigner?: AuditSigner | null;
  /** Wall clock of the LLM layer (epoch ms). */
  clock?: () => number;
  /**
   * The process's metrics store. A process composes adapters twice (API and workers) and records
   * through one recorder: the program passes the one it made. Default: one on this connection.
   */
  metrics?: MetricsStore;
  /** The queues whose workers run in this process (CloudWatch reports its CPU and memory for them). Default: all, as `bsm all`. */
  workerQueues?: readonly QueueName[];
}

/**
 * The remediation service, with each run of a request recorded as a `remediation` operation: its
 * latency (apply, read-back and the gap's check), and success when it verified.
 */
function measuredRemediations(service: RemediationService, metrics: MetricsRecorder): RemediationService {
  return {
    ...service,
    async run(id, progress) {
      const started = performance.now();
      let ok = false;
      try {
        const request = await service.run(id, progress);
        ok = request.status === 'verified';
        return request;
      } finally {
        metrics.operation('remediation', performance.now() - started, ok);
      }
    },
  };
}

/**
 * The audit-trail service, with every verification's verdict handed to the LLM gate: a failing one
 * blocks LLM calls across the fleet, a full one that passes lifts the block.
 */
function recordingChainVerdicts(service: AuditTrailService, gate: LlmGate): AuditTrailService {
  return {
    ...service,
    async verify(scope, options) {
      const report = await service.verify(scope, options);
      const first = report.firstProblem;
      await gate.recordChain({
        ok: report.ok,
        full: scope === 'all',
        detail: first ? `${report.problemCount} problem(s), first ${first.seq === null ? '' : `at seq ${first.seq} `}${first.code}: ${first.detail}` : 'verified',
        source: `audit-trail verification (${scope})`,
      });
      return report;
    },
  };
}

/**
 * The support-mode service, with the fleet reader told after every transition (and queue
 * re-application) of this process, so `/status` right after one shows the queues as it left them.
 */
function invalidatingFleet(service: SupportModeService, reader: FleetReader): SupportModeService {
  const after = <T>(work: Promise<T>) => work.finally(() => reader.invalidate());
  return {
    read: () => service.read(),
    execute: (command, actor) => after(service.execute(command, actor)),
    emergencyShutdown: (input, actor) => after(service.emergencyShutdown(input, actor)),
    reconcileQueues: () => after(service.reconcileQueues()),
  };
}

/**
 * Since when the job that has waited longest on `queue` waits (epoch ms), or null: the oldest of
 * the waiting list (its tail) and of the first 100 prioritized jobs (a bounded read).
 */
async function oldestWaitingAt(queue: Queue): Promise<number | null> {
  const [waiting, prioritized] = await Promise.all([queue.getJobs(['wait'], 0, 0, true), queue.getJobs(['prioritized'], 0, 99, true)]);
  const times = [...waiting, ...prioritized].map((j) => j.timestamp).filter((t) => Number.isFinite(t));
  return times.length === 0 ? null : Math.min(...times);
}

/** A queue's limits as BullMQ holds them (global concurrency and rate limit), with its workers' concurrency setting. */
async function queueLimitsOf(queue: Queue, settings: QueueSettings): Promise<QueueLimits> {
  const [globalConcurrency, rate] = await Promise.all([queue.getGlobalConcurrency(), queue.getGlobalRateLimit()]);
  return { globalConcurrency, workerConcurrency: settings.concurrency, globalRateLimit: rate ? { max: rate.max, durationMs: rate.duration } : null, workerRateLimit: settings.rateLimit };
}

/** The alert rules' thresholds, from the settings. */
export function alertThresholds(config: Config): AlertThresholds {
  return {
    minSamples: config.BSM_ALERT_MIN_SAMPLES,
    errorRatePct: config.BSM_ALERT_ERROR_RATE_PCT,
    consecutiveFailures: config.BSM_ALERT_CONSECUTIVE_FAILURES,
    degradation: { p1Pct: config.BSM_ALERT_DEGRADATION_P1_PCT, p2Pct: config.BSM_ALERT_DEGRADATION_P2_PCT, minP95Ms: config.BSM_ALERT_DEGRADATION_MIN_P95_MS },
    routing: { p1Pct: config.BSM_ALERT_ROUTING_P1_PCT, p2Pct: config.BSM_ALERT_ROUTING_P2_PCT },
    llmHourlySpendUsd: config.BSM_LLM_HOURLY_SPEND_LIMIT_USD ?? null,
  };
}

/** Where and how alerts are notified and escalated, from the settings. */
function alertSettings(config: Config) {
  return {
    webhooks: { main: config.ALERT_WEBHOOK_URL ?? null, escalation: config.ALERT_ESCALATION_WEBHOOK_URL ?? null, format: config.BSM_ALERT_WEBHOOK_FORMAT },
    escalateAfterMs: { P0: config.BSM_ALERT_ESCALATE_P0_MS, P1: config.BSM_ALERT_ESCALATE_P1_MS, P2: config.BSM_ALERT_ESCALATE_P2_MS },
    directRetry: { attempts: config.BSM_ALERT_NOTIFY_ATTEMPTS, backoffMs: config.BSM_ALERT_NOTIFY_BACKOFF_MS },
  };
}

/**
 * The composition root: builds every store, queue and provider once for a connection. The
 * program calls it once for the connection the API and schedulers use (commands fail fast
 * while Redis is down) and, in a process that runs workers, once for the job handlers'
 * connection (commands wait through a Redis restart): the two differ only in that.
 */
export function composeAdapters(options: ComposeOptions): Adapters {
  const { config, redis, prefix, logger, layout } = options;
  // Each store under the tag of its part: one slot per store on a cluster, `prefix` on one server.
  const tag = (part: string) => layout?.tag(part) ?? prefix;
  const fleet = createFleet({ connection: redis, prefix, queuePrefix: layout?.queuePrefix, onError: options.onQueueError, jobOptions: jobOptionSettings(config) });
  const auditTrail = createAuditTrail(redis, tag('audit-trail'));
  const metrics = options.metrics ?? createMetricsStore(redis, tag('metrics'));
  const llm = createLlm(
    config,
    redis,
    tag('llm'),
    logger,
    options.clock,
    (d) => metrics.recorder.llmCall({ path: d.path, outcome: d.outcome, latencyMs: d.latencyMs, inputTokens: d.inputTokens, outputTokens: d.outputTokens, costUsd: d.costUsd }),
    // Every LLM call is an `llm.call` entry (path, model, region, tokens, outcome, latency; never text).
    auditTrail,
  );
  const destinations = options.archiveDestinations ?? configuredArchiveDestinations(config);
  const auditTrailService = recordingChainVerdicts(
    createAuditTrailService({
      trail: auditTrail,
      registry: createArchiveRegistry(redis, tag('audit-trail')),
      destinations,
      signer: options.auditSigner ?? null,
      // Checkpoints, archive runs and cleanups take turns across the fleet.
      exclusive: redisLock(redis, `${tag('audit-trail')}:audit-trail:archive-lock`, {
        ttlMs: 30_000,
        waitMs: 15_000,
        busy: () => new AuditArchiveBusyError('another checkpoint, archive run or cleanup of the audit trail is under way: try again when it is done'),
      }),
      clock: () => new Date(),
    }),
    llm.gate,
  );
  const alerts = createAlertService({
    store: createAlertStore(redis, tag('alerts')),
    queue: {
      async enqueue(request, delayMs) {
        // One job per event of a firing: asking again while it waits, runs or is kept changes nothing.
        const jobId = `alert-notify.${request.alertId}.${request.firing}.${request.event}`;
        await fleet.add('bedrock-support', 'alert-notify', request, {
          jobId,
          delayMs,
          priority: 'high',
          retry: { attempts: config.BSM_ALERT_NOTIFY_ATTEMPTS, backoffMs: config.BSM_ALERT_NOTIFY_BACKOFF_MS },
        });
      },
    },
    sender: createWebhookSender(),
    audit: auditTrail,
    settings: alertSettings(config),
    clock: () => new Date(),
    onAuditRetry: (e) => logger.error({ component: 'bedrock-support', ...e }, 'the alert stands, but its audit entry could not be written yet: retrying'),
    onDirectDeliveryFailed: (e) => logger.warn({ component: 'bedrock-support', ...e }, e.gaveUp ? 'alert notification could not be delivered; the queued delivery stays' : 'alert notification not delivered yet: retrying'),
  });
  const service = supportModeFor({
    redis,
    prefix: tag('support-mode'),
    fleet,
    control: options.control,
    auditTrail,
    logger,
    // An emergency pauses every queue: the P0 goes out from the process that shut down.
    onEmergency: async (emergency) => {
      await alerts.raise(emergencyCondition(emergency), emergency.requestedBy).catch((err: unknown) => {
        logger.error({ component: 'bedrock-support', err: (err as Error).message }, 'could not raise the alert of the emergency shutdown');
      });
    },
  });
  const fleetReader = createFleetReader({
    connection: redis,
    queues: fleet.queues,
    readMode: () => service.read(),
    reuseMs: config.BSM_FLEET_SNAPSHOT_MS,
    windowMinutes: healthThresholds.windowMinutes,
  });
  const supportMode = invalidatingFleet(service, fleetReader);
  const featureFlags = createFeatureFlagService({
    store: createFeatureFlagStore(redis, tag('feature-flags')),
    audit: (event) => auditTrail.append(event),
    masterSwitch: async () => (await supportMode.read()).flag,
    clock: () => new Date(),
    onChange: (e) => logger.info(e, `feature flag ${e.flag}: ${e.to ? 'enabled' : 'disabled'} by ${e.by}`),
  });
  const reports = createReportStore(redis, tag('reports'));
  const inventoryStore = createInventoryStore(redis, tag('inventory'));
  const inventory = { ...inventoryInForce(inventoryStore, () => new Date()), seed: inventoryStore.seed.bind(inventoryStore) };
  const gaps = createGapStore(redis, tag('gaps'));
  // The jobs' and the actions' runs of sightings are in the audit trail (people's changes are recorded by their routes).
  const auditedGaps = auditedGapStore(gaps, auditTrail);
  const executions = createExecutionStore(redis, layout?.executionTags() ?? prefix, { retentionDays: config.BSM_EXECUTION_RETENTION_DAYS });
  const metaMonitor = { config: createMetaMonitorConfigStore(redis, tag('meta-monitor')), optimizations: createOptimizationStore(redis, tag('meta-monitor')) };
  const prober = createProber({
    fleetReader,
    oldestWaitingAt: (queue) => oldestWaitingAt(fleet.queue(queue)),
    flag: async (name) => (name === 'bedrock-support' ? (await supportMode.read()).flag.enabled : featureFlags.enabled(name)),
    llm: { pathStatus: () => llm.router.pathStatus(), ping: (path, signal) => llm.ping(path, signal) },
    fleetRedis: redis,
    env: process.env,
    readFile: (path) => readFile(path),
  });
  const actions = createBuiltinActionCatalog({
    queues: (name) => fleet.queue(name),
    featureFlags,
    llm: { matrix: config.routingMatrix, overrides: llm.routeOverrides },
    remediation: {
      queueJobs: (name) => fleet.queue(name),
      supportMode,
      breakers: llm.breakers,
      audit: { inventory: () => inventory.current(), prober, gaps: auditedGaps, clock: () => new Date() },
      hooks: createHttpHooks({ env: process.env, readFile: (path) => readFile(path) }),
    },
    records: createActionRecordStore(redis, tag('actions')),
    audit: auditTrail,
    clock: () => new Date(),
  });
  const remediationStore = createRemediationStore(redis, tag('remediations'));
  const remediations = measuredRemediations(
    createRemediationService({
      gaps,
      actions,
      store: remediationStore,
      audit: auditTrail,
      inventory: () => inventory.current(),
      prober,
      autoRemediation: () => featureFlags.enabled('auto-remediation'),
      enqueue: async (id, priority) => {
        await fleet.add('implementation-support', 'remediate', { requestId: id }, { jobId: id, priority });
      },
      twoPersonRule: config.BSM_TWO_PERSON_RULE,
      clock: () => new Date(),
    }),
    metrics.recorder,
  );
  const cloudwatch = composeCloudWatch({
    config,
    redis,
    prefix: tag('cloudwatch'),
    logger,
    queues: fleet.queues,
    fleetReader,
    decisions: llm.decisions,
    reports,
    gaps,
    remediations: remediationStore,
    auditTrail,
    flagOn: () => featureFlags.enabled('cloudwatch-publishing'),
    processQueues: options.workerQueues ?? queueNames,
  });
  const jobDeps: JobDeps = {
    // Jobs record what the fleet is at the moment they run (the daily check, alerts, audits): never a reused snapshot.
    fleet: { ...fleetReader, snapshot: (o) => fleetReader.snapshot({ maxAgeMs: 0, ...o }), kept: () => null },
    reports,
    auditTrail,
    redisFacts: () => readRedisFacts(redis),
    auditTrailService,
    residency: () => llm.router.residency(),
    settings: {
      archiveAfterDays: config.BSM_ARCHIVE_AFTER_DAYS,
      retention: { completedJobHours: config.BSM_KEEP_COMPLETED_HOURS, failedJobHours: config.BSM_KEEP_FAILED_HOURS, limitHours: config.BSM_RETENTION_LIMIT_HOURS },
    },
    supportMode: () => supportMode.read(),
    llm: llm.router,
    narratives: { modelAllowed: () => featureFlags.enabled('llm-narratives'), local: llm.local },
    audit: { inventory: () => inventory.current(), prober },
    gaps: auditedGaps,
    implementation: {
      specFiles: createSpecFiles(),
      enqueueSpecScan: async (request, jobId) => {
        await fleet.add('implementation-support', 'spec-scan', request, { jobId, priority: request.priority });
      },
      remediations,
    },
    metaMonitor: {
      executions,
      settings: () => metaMonitor.config.current(),
      queueLimits: (queue) => queueLimitsOf(fleet.queue(queue), config.queues[queue]),
      analysisParts: config.BSM_ANALYSIS_PARTS,
      routing: async (windowMs) => {
        const [metrics, overrides] = await Promise.all([llm.router.routingMetrics(windowMs), llm.routeOverrides.read()]);
        const routes = Object.fromEntries(operationTypes.map((op) => [op, effectiveRoute(config.routingMatrix, overrides.routes, op)])) as Record<OperationType, RouteSpec>;
        return { metrics, routes };
      },
    },
    alerts: {
      service: alerts,
      thresholds: alertThresholds(config),
      auditTail: config.BSM_ALERT_AUDIT_TAIL,
      llmGate: llm.gate,
      llm: async (windowMs) => {
        const m = await llm.router.routingMetrics(windowMs);
        return { decisions: m.decisions, efficiency: m.efficiency, costUsd: m.costUsd };
      },
      autoShutdown: {
        triggers: config.BSM_AUTO_SHUTDOWN_TRIGGERS,
        enabled: () => featureFlags.enabled('auto-emergency-shutdown'),
        shutdown: (input, actor) => supportMode.emergencyShutdown(input, actor),
      },
    },
    cloudwatch,
    compliance: {
      archiveUrl: config.BSM_ARCHIVE_URL,
      retention: () =>
        measureRetention(
          {
            oldestExecution: () => executions.oldest(),
            oldestFinishedJob: async (queue, kind) => {
              const [job] = await fleet.queue(queue).getJobs([kind], 0, 0, true);
              const at = job?.finishedOn ?? job?.timestamp;
              return at === undefined ? null : new Date(at);
            },
            oldestTrailEntry: async () => {
              const [first] = await auditTrail.range({ count: 1 });
              return first?.event ? new Date(first.event.at) : null;
            },
          },
          { executionDays: config.BSM_EXECUTION_RETENTION_DAYS, jobHours: config.BSM_RETENTION_LIMIT_HOURS, archiveAfterDays: config.BSM_ARCHIVE_AFTER_DAYS },
        ),
      pii: llm.pii,
      decisions: (from, to) => llm.decisions.range(from, to),
      spend: async (days) => (await llm.budget.report({ days })).days,
      regionOf: regionsOf({ region: config.AWS_REGION, mcpRegion: config.MCP_REGION }),
    },
    review: {
      performance: async (window) => {
        const now = new Date();
        const span = windowBuckets(window, now.getTime());
        return performanceReport(window, span, await metrics.operationBuckets(span.resolution, span.starts), now);
      },
      routingEfficiency: (windowMs) => llm.router.routingEfficiency(windowMs),
      activities: (since) => remediations.activities(since, 1_000),
      optimizations: () => metaMonitor.optimizations.list(),
      costs: (days) => llm.budget.report({ days }),
    },
    clock: () => new Date(),
  };
  return {
    fleet,
    fleetReader,
    auditTrail,
    auditTrailService,
    archiveLocations: () => measureArchiveLocations(destinations),
    llm,
    supportMode,
    featureFlags,
    reports,
    inventory,
    gaps,
    backlog: createBacklogStore(redis, tag('backlog')),
    guidanceNarratives: createGuidanceNarrativeCache(redis, tag('guidance')),
    executions,
    metaMonitor,
    actions,
    remediations,
    alerts,
    cloudwatch,
    jobDeps,
    metrics,
    async close() {
      // A store of its own is this composition's to close; one passed in belongs to the program.
      if (!options.metrics) {
        await metrics.close();
      }
      cloudwatch.api.close();
      await llm.close();
      await fleet.close();
    },
  };
}
