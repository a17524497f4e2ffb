import type { OpenAPIHono } from '@hono/zod-openapi';
import { createApp } from '../../src/api/app.js';
import { createKeyring, type Role } from '../../src/api/auth.js';
import type { ApiLimits } from '../../src/api/deps.js';
import type { AppEnv } from '../../src/api/env.js';
import type { SupportModeService } from '../../src/domain/support-mode/service.js';
import type { QueueName } from '../../src/domain/queue-names.js';
import { createRedis } from '../../src/redis.js';
import { listSchedules } from '../../src/scheduler/reconcile.js';
import type { AuditTrail } from '../../src/domain/audit-trail/ports.js';
import { createControlChannel, fleetControlOver, type ControlChannel } from '../../src/store/control-channel.js';
import { controlHandler } from '../../src/runtime/control.js';
import type { Adapters } from '../../src/runtime/compose.js';
import { apiMetricsOf } from '../../src/runtime/metrics.js';
import type { Llm } from '../../src/runtime/llm.js';
import { hmacPseudonymizer } from '../../src/domain/meta-monitor/executions.js';
import type { Logger } from '../../src/observability/logger.js';
import { startWorkers, type Runner } from '../../src/workers/runner.js';
import { makeTestFleet, type TestFleet } from './fleet.js';
import { testRedisUrl } from './redis.js';

/** The HMAC key of user ids in test apps. */
export const testHmacKey = 'test-hmac-key-0123456789abcdef0123456789';

export const tokens: Record<Role, string> = {
  viewer: 'viewer-token-0123456789',
  ingest: 'ingest-token-0123456789',
  operator: 'operator-token-0123456789',
  approver: 'approver-token-0123456789',
  admin: 'admin-token-0123456789abc',
};

export interface TestApp extends TestFleet {
  app: OpenAPIHono<AppEnv>;
  supportMode: SupportModeService;
  auditTrail: AuditTrail;
  control: ControlChannel;
  llm: Llm;
  runner: Runner | null;
  /** `app.request` with a role's bearer token and a JSON body. */
  call(method: string, path: string, options?: { role?: Role | null; body?: unknown; rawBody?: string; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  workers?: QueueName[];
  env?: Record<string, string>;
  redisUrl?: string;
  /** On top of the API's defaults, and of a failed-login limit no test meets unless it sets one. */
  limits?: Partial<ApiLimits>;
  /** The API's logger (default: the silent one of the fleet). */
  logger?: Logger;
  /** The API's clock (default: the real one). */
  clock?: () => Date;
  /** The compliance status's bound on a full audit-trail verification (default the API's). */
  verifyBound?: { fullLimit: number; tailEntries: number };
}

/** The API on its own key prefix; with `workers`, in-process workers for those queues. */
export async function makeTestApp(label: string, options: TestAppOptions = {}): Promise<TestApp> {
  const t = await makeTestFleet(label, options.env, options.redisUrl);
  const subscriber = options.workers ? createRedis(options.redisUrl ?? testRedisUrl, 'blocking') : null;
  const control = createControlChannel(t.client, subscriber, t.prefix);
  const adapters: Adapters = t.adapters;
  const { auditTrail, supportMode, llm } = adapters;
  await supportMode.reconcileQueues();
  // As start-up does: the inventory in force is in Redis before the first request.
  await adapters.inventory.current();
  let runner: Runner | null = null;
  if (options.workers) {
    runner = startWorkers({
      queues: options.workers,
      deps: adapters.jobDeps,
      connection: t.blocking,
      fleet: t.fleet,
      prefix: t.prefix,
      settings: t.config.queues,
      graceMs: 1000,
      throttleBackoffMs: t.config.BSM_LLM_THROTTLE_BACKOFF_MS,
      throttleBackoffMaxMs: t.config.BSM_LLM_THROTTLE_BACKOFF_MAX_MS,
      logger: t.logger,
      metrics: adapters.metrics.recorder,
    });
    const r = runner;
    await control.subscribe(controlHandler({ runner: r, control, logger: t.logger }));
  }
  const app = createApp({
    fleet: t.fleet,
    fleetReader: t.reader,
    logger: options.logger ?? t.logger,
    supportMode,
    auditTrail,
    auditTrailService: adapters.auditTrailService,
    archiveAfterDays: t.config.BSM_ARCHIVE_AFTER_DAYS,
    llm,
    keyring: createKeyring((Object.keys(tokens) as Role[]).map((role) => ({ name: `${role}-key`, role, token: tokens[role] }))),
    featureFlags: adapters.featureFlags,
    schedules: () => listSchedules(t.fleet),
    queueSettings: t.config.queues,
    reports: adapters.reports,
    audit: { inventory: adapters.inventory },
    executions: { store: adapters.executions, pseudonymize: hmacPseudonymizer(testHmacKey), retentionDays: t.config.BSM_EXECUTION_RETENTION_DAYS, agentServices: t.config.BSM_OTEL_AGENT_SERVICES },
    metaMonitor: adapters.metaMonitor,
    gaps: adapters.gaps,
    backlog: adapters.backlog,
    guidanceNarratives: adapters.guidanceNarratives,
    actions: adapters.actions,
    remediations: adapters.remediations,
    metrics: apiMetricsOf(adapters, t.config.BSM_METRICS_TOKEN),
    alerts: adapters.alerts,
    cloudwatch: adapters.cloudwatch,
    compliance: { redisUrl: options.redisUrl ?? testRedisUrl, archiveUrl: t.config.BSM_ARCHIVE_URL, jobLimitHours: t.config.BSM_RETENTION_LIMIT_HOURS, verifyBound: options.verifyBound },
    control: fleetControlOver(control),
    clock: options.clock ?? (() => new Date()),
    publicUrl: t.config.BSM_PUBLIC_URL,
    // In-process requests all come from one (unknown) address, and many tests send wrong tokens on purpose.
    limits: { loginFailures: 1_000_000, ingestBodyLimitBytes: t.config.BSM_INGEST_BODY_LIMIT_BYTES, ...options.limits },
  });
  return {
    ...t,
    app,
    supportMode,
    auditTrail,
    control,
    runner,
    call(method, path, o = {}) {
      const headers: Record<string, string> = { ...o.headers };
      const role = o.role === undefined ? 'admin' : o.role;
      if (role) {
        headers.authorization = `Bearer ${tokens[role]}`;
      }
      let body: string | undefined;
      if (o.rawBody !== undefined) {
        body = o.rawBody;
      } else if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
      }
      return Promise.resolve(app.request(path, { method, headers, body }));
    },
    llm,
    async close() {
      await runner?.close();
      await control.close();
      await t.cleanup();
    },
  };
}
