import { Hono } from 'hono';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { supportOperations } from '../domain/metrics/operations.js';
import { performanceReport, performanceSeries, performanceWindows, windowBuckets } from '../domain/metrics/performance.js';
import { processRoles, staleAfterMs } from '../domain/metrics/resources.js';
import { queueNames, type QueueName } from '../domain/queue-names.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { bodyErrors, count, guard, isoTime, jsonResponse, keyed, noQuery, protectedErrors, QueueNameSchema } from './openapi.js';

const ms = z.number().nonnegative().nullable();

const OperationPerformance = z
  .object({
    count,
    success: count,
    errors: count,
    successRate: z.number().min(0).max(1).nullable().openapi({ description: 'success / count; null without samples' }),
    meanMs: ms,
    p50Ms: ms,
    p90Ms: ms,
    p95Ms: ms,
    p99Ms: ms,
  })
  .openapi('OperationPerformance');

export const PerformanceSchema = z
  .object({
    window: z.enum(performanceWindows),
    resolution: z.enum(['minute', 'hour']).openapi({ description: 'The buckets read: UTC minutes for 15m and 1h, UTC hours for 24h and 7d' }),
    from: isoTime.openapi({ description: 'The start of the first bucket read: the window covers every bucket that overlaps it, so up to one bucket more than asked' }),
    to: isoTime,
    computedAt: isoTime,
    relativeError: z.number().openapi({ description: 'Every percentile is within this share of a measured latency at that rank' }),
    operations: keyed(supportOperations, OperationPerformance),
  })
  .openapi('OperationsPerformance');

const SeriesSchema = z
  .object({
    window: z.enum(performanceWindows),
    resolution: z.enum(['minute', 'hour']),
    points: z.array(z.object({ at: isoTime, count, errors: count, errorRatePct: z.number().nullable(), p50Ms: ms, p95Ms: ms })),
  })
  .openapi('OperationsSeries');

const mb = z.number().nonnegative();

export const ResourcesSchema = z
  .object({
    computedAt: isoTime,
    staleAfterSeconds: count.openapi({ description: 'A process whose heartbeat is older is not listed' }),
    processes: z.array(
      z
        .object({
          id: z.string().openapi({ example: 'ip-10-0-1-7:4711:worker' }),
          host: z.string(),
          pid: count,
          role: z.enum(processRoles),
          queues: z.array(QueueNameSchema).openapi({ description: 'The queues whose workers it runs' }),
          startedAt: isoTime,
          heartbeatAt: isoTime,
          heartbeatAgeSeconds: z.number().nonnegative(),
          uptimeSeconds: z.number().nonnegative(),
          cpuPercent: z.number().nonnegative().openapi({ description: 'CPU time over wall time between its last two heartbeats (100 is one core)' }),
          cpuWindowSeconds: z.number().nonnegative(),
          rssMb: mb,
          heapUsedMb: mb,
          heapTotalMb: mb,
          eventLoopDelayP99Ms: z.number().nonnegative().nullable(),
        })
        .openapi('ProcessResources'),
    ),
    redis: z
      .object({
        latencyMs: z.number().nonnegative(),
        usedMemoryMb: mb.nullable(),
        maxmemoryMb: mb.nullable().openapi({ description: 'null: no maxmemory set (or not reported)' }),
        opsPerSecond: z.number().nonnegative().nullable(),
        connectedClients: count.nullable(),
      })
      .openapi('RedisResources'),
    queues: keyed(
      queueNames,
      z.object({ waiting: count, prioritized: count, active: count, delayed: count, failed: count, paused: z.boolean(), workers: count }).openapi('QueueDepth'),
    ),
    figuresAt: isoTime.openapi({ description: 'When the queue figures and the Redis latency were read' }),
  })
  .openapi('Resources');

const WindowQuery = {
  query: z
    .object({
      window: z
        .enum(performanceWindows)
        .default('1h')
        .openapi({ description: `One of ${performanceWindows.join(', ')}; default 1h` }),
    })
    .strict(),
};

interface QueueDepth {
  waiting: number;
  prioritized: number;
  active: number;
  delayed: number;
  failed: number;
  paused: boolean;
  workers: number;
}

const toMb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
const iso = (epochMs: number) => new Date(epochMs).toISOString();

/**
 * `/admin/bedrock-support/metrics/performance` and `…/metrics/resources` (runbook "Monitoring &
 * Health Checks"): the support operations over a window, and each process's, Redis' and the
 * queues' resources; both read what every process wrote to Redis.
 */
export function metricsRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics/performance',
      summary: 'Each support operation over a window: count, successes, errors, success rate, p50/p90/p95/p99 and mean latency, all processes',
      ...guard('read'),
      request: WindowQuery,
      responses: { 200: jsonResponse(PerformanceSchema, 'Performance per operation'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => {
      const { window } = c.req.valid('query');
      const now = deps.clock();
      const span = windowBuckets(window, now.getTime());
      const buckets = await deps.metrics.reader.operationBuckets(span.resolution, span.starts);
      return c.json(performanceReport(window, span, buckets, now), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics/series',
      summary: 'The support operations bucket by bucket over a window (UTC minutes for 15m and 1h, hours for 24h and 7d): count, errors, error rate, p50 and p95 of all operations together',
      ...guard('read'),
      request: WindowQuery,
      responses: { 200: jsonResponse(SeriesSchema, 'One point per bucket, oldest first'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => {
      const { window } = c.req.valid('query');
      const span = windowBuckets(window, deps.clock().getTime());
      const buckets = await deps.metrics.reader.operationBuckets(span.resolution, span.starts);
      return c.json(performanceSeries(window, span, buckets), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics/resources',
      summary: 'CPU, memory and event-loop delay of every live process; Redis memory, load and clients; queue depths',
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(ResourcesSchema, 'Resources'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => {
      const now = deps.clock().getTime();
      const [processes, redis, snapshot] = await Promise.all([deps.metrics.reader.processes(now), deps.metrics.reader.redisUsage(), deps.fleetReader.snapshot()]);
      return c.json(
        {
          computedAt: iso(now),
          staleAfterSeconds: staleAfterMs / 1000,
          processes: processes.map((p) => ({
            id: p.id,
            host: p.host,
            pid: p.pid,
            role: p.role,
            queues: p.queues,
            startedAt: iso(p.startedAt),
            heartbeatAt: iso(p.at),
            heartbeatAgeSeconds: Math.max(0, Math.round(now - p.at) / 1000),
            uptimeSeconds: Math.max(0, Math.round((p.at - p.startedAt) / 1000)),
            cpuPercent: p.cpuPercent,
            cpuWindowSeconds: p.cpuWindowSeconds,
            rssMb: toMb(p.rssBytes),
            heapUsedMb: toMb(p.heapUsedBytes),
            heapTotalMb: toMb(p.heapTotalBytes),
            eventLoopDelayP99Ms: p.eventLoopDelayP99Ms,
          })),
          redis: {
            latencyMs: snapshot.redis.latencyMs,
            usedMemoryMb: redis.usedMemoryBytes === null ? null : toMb(redis.usedMemoryBytes),
            maxmemoryMb: redis.maxmemoryBytes === null ? null : toMb(redis.maxmemoryBytes),
            opsPerSecond: redis.opsPerSecond,
            connectedClients: redis.connectedClients,
          },
          queues: Object.fromEntries(
            queueNames.map((q): [QueueName, QueueDepth] => {
              const s = snapshot.queues[q];
              return [q, { waiting: s.counts.waiting, prioritized: s.counts.prioritized, active: s.counts.active, delayed: s.counts.delayed, failed: s.counts.failed, paused: s.paused, workers: s.workers.count }];
            }),
          ) as Record<QueueName, QueueDepth>,
          figuresAt: snapshot.at,
        },
        200,
      );
    },
  );

  return app;
}

/** `GET /metrics`: the Prometheus text (authentication is the app's, see `scraperOrReader`). */
export function prometheusRoute(deps: ApiDeps) {
  const app = new Hono<AppEnv>();
  app.get('/', async (c) => {
    const text = await deps.metrics.prometheus.render();
    return c.body(text, 200, { 'Content-Type': deps.metrics.prometheus.contentType, 'Cache-Control': 'no-store' });
  });
  return app;
}
