/**
 * CloudWatch, wired: the SDK client, the publisher with its figures (the measuring adapter and the
 * state of support mode), and the dashboards. Built once per connection by the composition root,
 * and on its own by `bsm cloudwatch dashboards`.
 */
import { CronExpressionParser } from 'cron-parser';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { keyLayout } from '../key-layout.js';
import type { AuditTrail } from '../domain/audit-trail/ports.js';
import { applyDashboards, type DashboardOutcome } from '../domain/cloudwatch/dashboards.js';
import type { CloudWatchApi } from '../domain/cloudwatch/ports.js';
import { createMetricPublisher, type MetricPublisher } from '../domain/cloudwatch/publish.js';
import { createSupportStateSource, type SupportStateDeps } from '../domain/cloudwatch/support-state.js';
import type { FleetReader } from '../domain/fleet/ports.js';
import type { DecisionStore } from '../domain/llm/ports.js';
import type { QueueName } from '../domain/queue-names.js';
import { createCloudWatch } from '../observability/cloudwatch.js';
import type { Logger } from '../observability/logger.js';
import { UsageError, withoutPassword } from './invocation.js';
import { closeRedis, createRedis, waitReady } from '../redis.js';
import { resolveRedis } from '../redis-server.js';
import { createAuditTrail } from '../store/audit-trail.store.js';
import { createCloudWatchSource } from '../store/cloudwatch-source.js';
import { createPublishWindows } from '../store/cloudwatch-windows.store.js';

/** The longest window one publication covers, unless the schedule's interval is longer. */
const maxWindowMs = 60 * 60_000;

/** The time between two runs of a 5-field cron pattern (UTC), from its next two runs. */
export function scheduleIntervalMs(pattern: string, from = new Date()): number {
  const runs = CronExpressionParser.parse(pattern, { tz: 'UTC', currentDate: from });
  const first = runs.next().getTime();
  return runs.next().getTime() - first;
}

export interface CloudWatch {
  /** The region of the metrics and dashboards (`AWS_REGION`). */
  region: string;
  /** `CLOUDWATCH_ENABLED`: the publishing schedule is declared. */
  configured: boolean;
  /** The `cloudwatch-publishing` flag, read when asked. */
  flagOn(): Promise<boolean>;
  publishing(): Promise<{ cloudwatchEnabled: boolean; flag: boolean }>;
  api: CloudWatchApi & { close(): void };
  publisher: MetricPublisher;
  /** Creates or updates the runbook's two dashboards; the request is audited before anything is sent. */
  dashboards(actor: { by: string; requestId?: string }): Promise<DashboardOutcome[]>;
}

export interface CloudWatchParts extends Omit<SupportStateDeps, 'fleet'> {
  config: Pick<Config, 'AWS_REGION' | 'BSM_SCHEDULE_CLOUDWATCH' | 'BSM_PUBLIC_URL' | 'CLOUDWATCH_ENABLED'>;
  /** The `cloudwatch-publishing` feature flag. */
  flagOn: () => Promise<boolean>;
  redis: Redis;
  prefix: string;
  logger: Logger;
  queues: Readonly<Record<QueueName, Queue>>;
  fleetReader: Pick<FleetReader, 'snapshot'>;
  decisions: Pick<DecisionStore, 'range'>;
  auditTrail: Pick<AuditTrail, 'append'>;
  /** The queues whose workers run in this process. */
  processQueues: readonly QueueName[];
}

/** The CloudWatch client of `AWS_REGION` (endpoint and credentials as the SDK finds them), retries logged. */
export function cloudWatchClient(config: Pick<Config, 'AWS_REGION'>, logger: Logger): CloudWatchApi & { close(): void } {
  return createCloudWatch({ region: config.AWS_REGION, onThrottled: (e) => logger.warn({ cloudwatch: e }, 'CloudWatch throttled a request: sending it again after a wait') });
}

export function composeCloudWatch(parts: CloudWatchParts): CloudWatch {
  const { config, logger } = parts;
  const api = cloudWatchClient(config, logger);
  const interval = scheduleIntervalMs(config.BSM_SCHEDULE_CLOUDWATCH);
  const publisher = createMetricPublisher({
    source: createCloudWatchSource({
      queues: parts.queues,
      fleet: parts.fleetReader,
      decisions: parts.decisions,
      processQueues: parts.processQueues,
      onTruncated: (e) => logger.warn(e, 'more finished jobs in the window than are read: SuccessCount, ErrorCount and OperationLatency of this queue are a lower bound'),
    }),
    state: createSupportStateSource({ fleet: parts.fleetReader, reports: parts.reports, gaps: parts.gaps, remediations: parts.remediations }),
    api,
    windows: createPublishWindows(parts.redis, parts.prefix),
    clock: () => new Date(),
    firstWindowMs: interval,
    maxWindowMs: Math.max(interval, maxWindowMs),
  });
  return {
    region: config.AWS_REGION,
    configured: config.CLOUDWATCH_ENABLED,
    flagOn: parts.flagOn,
    publishing: async () => ({ cloudwatchEnabled: config.CLOUDWATCH_ENABLED, flag: await parts.flagOn() }),
    api,
    publisher,
    dashboards: (actor) => applyDashboards({ api, audit: parts.auditTrail }, actor, { region: config.AWS_REGION, publicUrl: config.BSM_PUBLIC_URL }),
  };
}

/**
 * `bsm cloudwatch dashboards`: creates or updates the two dashboards, as the API route does (the
 * request in the fleet's audit trail first, actor `cli`), and prints what CloudWatch took.
 * Needs the fleet's Redis (for the trail) and AWS credentials that may call PutDashboard.
 */
export async function dashboardsCommand(config: Config, logger: Logger, print: (text: string) => void): Promise<void> {
  const { url, cluster } = await resolveRedis({ redisUrl: config.REDIS_URL, clusterNodes: config.REDIS_CLUSTER_NODES, dataDir: `${config.BSM_DATA_DIR}/redis`, port: config.BSM_REDIS_PORT, mayStartOwn: false });
  const redis = createRedis(url, 'client', 'bsm:cli');
  redis.on('error', () => undefined); // waitReady says what matters, in one line
  const api = cloudWatchClient(config, logger);
  try {
    try {
      await waitReady(redis, 10_000);
    } catch {
      throw new UsageError(`Redis at ${withoutPassword(url)} did not answer within 10 s: the dashboards are recorded in its audit trail before they are sent`);
    }
    const dashboards = await applyDashboards({ api, audit: createAuditTrail(redis, keyLayout(config.BSM_PREFIX, cluster ? 'spread' : 'single').tag('audit-trail')) }, { by: 'cli' }, { region: config.AWS_REGION, publicUrl: config.BSM_PUBLIC_URL });
    print(`${JSON.stringify({ region: config.AWS_REGION, dashboards }, null, 2)}\n`);
  } finally {
    api.close();
    await closeRedis(redis);
  }
}
