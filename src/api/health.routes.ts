import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { assessLlm, assessQueue, inactivityOf, worst, type ComponentHealth } from '../domain/support-mode/health.js';
import { desiredQueueStates, statusOf } from '../domain/support-mode/state.js';
import { queueNames, type QueueName } from '../domain/queue-names.js';
import { unknownComponent } from './component-test.routes.js';
import { defaultLimits, type ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { count, ErrorSchema, isoTime, jsonResponse, keyed, LlmPathSchema, notFound, QueueNameSchema, RemotePathSchema, SupportStatusSchema } from './openapi.js';

const HealthStatus = z.enum(['healthy', 'degraded', 'unhealthy']).openapi('HealthStatus');
const RedisUp = z.object({ status: z.literal('up'), latencyMs: z.number() }).openapi('RedisUp');

/** What a component's health is derived from (see `domain/support-mode/health.ts`). */
const QueueSignals = z
  .object({
    name: z.string().openapi({ example: 'meta-monitor' }),
    expectedRunning: z.boolean(),
    // Present only when support mode keeps the queue paused.
    inactive: z.object({ status: HealthStatus, reason: z.string() }).optional(),
    paused: z.boolean(),
    workers: count,
    waiting: count,
    active: count,
    failedKept: count,
    recent: z.object({ windowMinutes: count, completed: count, failed: count }),
    stalled: count,
    lastCompletedAt: isoTime.nullable(),
    failedRatio: z.number().nullable(),
    lastCompletedAgeSeconds: z.number().nullable(),
  })
  .openapi('QueueSignals');
const HealthSummary = z.object({ status: HealthStatus, active: z.boolean(), reasons: z.array(z.string()) }).openapi('ComponentHealthSummary');
const ComponentHealthSchema = HealthSummary.extend({ signals: QueueSignals }).openapi('ComponentHealth');

/** One LLM path as `/health/detailed` shows it. */
const PathStatus = z
  .object({
    path: LlmPathSchema,
    configured: z.boolean(),
    model: z.string().nullable(),
    breaker: z
      .object({
        path: RemotePathSchema,
        state: z.enum(['closed', 'open', 'half_open']),
        consecutiveFailures: count,
        openedAt: isoTime.nullable(),
        retryAt: isoTime.nullable(),
        lastSuccessAt: isoTime.nullable(),
        lastError: z.string().nullable(),
        lastErrorAt: isoTime.nullable(),
        changedAt: isoTime.nullable(),
      })
      .nullable()
      .openapi({ description: 'null for local (it has no breaker)' }),
    // One object rather than a union: OpenAPI 3.0 has no clean nullable oneOf.
    residency: z
      .object({ ok: z.boolean(), region: z.string(), basis: z.enum(['eu', 'extra_allowed', 'non_eu_allowed']).optional(), reason: z.string().optional() })
      .nullable()
      .openapi({ description: 'The residency verdict: `basis` when ok, `reason` when not; null when not checked (local, or mcp without MCP_REGION)' }),
    refusedBecause: z.string().nullable(),
    available: z.boolean(),
    lastSuccessAt: isoTime.nullable(),
    lastError: z.string().nullable(),
    lastErrorAt: isoTime.nullable(),
  })
  .openapi('LlmPathStatus');

export const HealthSchema = z
  .object({ status: HealthStatus, checkedAt: isoTime, mode: SupportStatusSchema, redis: RedisUp, components: keyed(queueNames, HealthSummary) })
  .openapi('Health');
export const HealthDetailedSchema = z
  .object({
    status: HealthStatus,
    checkedAt: isoTime,
    mode: SupportStatusSchema,
    redis: RedisUp,
    components: keyed(queueNames, ComponentHealthSchema),
    llm: z.object({
      status: HealthStatus,
      reasons: z.array(z.string()).openapi({ description: 'A configured remote path the router skips (breaker open, budget spent, region refused) degrades' }),
      paths: z.array(PathStatus),
    }),
  })
  .openapi('HealthDetailed');
export const SupportModeHealthSchema = z
  .object({ component: z.literal('bedrock-support'), status: HealthStatus, mode: SupportStatusSchema, checkedAt: isoTime, components: keyed(queueNames, HealthSummary) })
  .openapi('SupportModeHealth');
export const OneComponentHealthSchema = ComponentHealthSchema.extend({ component: QueueNameSchema, mode: SupportStatusSchema, redis: RedisUp, checkedAt: isoTime }).openapi(
  'OneComponentHealth',
);
/** The health 503: the error, with `status` at the top for `jq .status`. */
export const HealthUnavailableSchema = ErrorSchema.extend({ status: z.literal('unhealthy'), redis: z.object({ status: z.literal('down') }) }).openapi('HealthUnavailable');

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface FleetHealth {
  checkedAt: string;
  mode: ReturnType<typeof statusOf>;
  redis: { status: 'up'; latencyMs: number };
  components: Record<QueueName, ComponentHealth>;
}

/**
 * Bounds a health read by the health timeout; a Redis that does not answer (or fails) makes
 * it a 503 with `status: "unhealthy"` at the top, so `jq .status` still reads it.
 */
function guarded<T>(deps: ApiDeps, work: Promise<T>): Promise<T> {
  return withTimeout(work, { ...defaultLimits, ...deps.limits }.healthTimeoutMs).catch((err: unknown) => {
    if (err instanceof ApiError) {
      throw err;
    }
    throw new ApiError(503, 'unavailable', `unhealthy: ${(err as Error).message}`, undefined, undefined, { status: 'unhealthy', redis: { status: 'down' } });
  });
}

/** Reads every signal once and derives each component's health. */
function collect(deps: ApiDeps, only?: readonly QueueName[]): Promise<FleetHealth> {
  const windowMinutes = { ...defaultLimits, ...deps.limits }.healthWindowMinutes;
  const queues = only ?? queueNames;
  return guarded(
    deps,
    (async () => {
      const [latency, state, signals] = await Promise.all([
        deps.fleetReader.ping(),
        deps.supportMode.read(),
        Promise.all(queues.map((q) => deps.fleetReader.signals(q, windowMinutes))),
      ]);
      const desired = desiredQueueStates(state);
      const now = deps.clock();
      const redisLatencyMs = Math.round(latency * 1000) / 1000;
      const components = Object.fromEntries(
        signals.map((s) => [
          s.name,
          assessQueue({ ...s, expectedRunning: desired[s.name] === 'running', inactive: inactivityOf(s.name, state) ?? undefined }, now, redisLatencyMs),
        ]),
      ) as Record<QueueName, ComponentHealth>;
      return { checkedAt: now.toISOString(), mode: statusOf(state), redis: { status: 'up' as const, latencyMs: redisLatencyMs }, components };
    })(),
  );
}

const summary = (components: Record<QueueName, ComponentHealth>) =>
  Object.fromEntries(Object.entries(components).map(([n, h]) => [n, { status: h.status, active: h.active, reasons: h.reasons }])) as Record<QueueName, z.infer<typeof HealthSummary>>;

const publicGet = <T extends z.ZodType>(path: string, description: string, schema: T, params?: z.ZodObject) =>
  createRoute({
    method: 'get',
    path,
    summary: description,
    security: [],
    ...(params ? { request: { params } } : {}),
    responses: { 200: jsonResponse(schema, description), 503: jsonResponse(HealthUnavailableSchema, 'Redis is unreachable'), ...notFound },
  });

/** `/health…`: public, derived from live signals; 503 quickly when Redis does not answer. */
export function healthRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(publicGet('/', 'Overall health', HealthSchema), async (c) => {
    const h = await collect(deps);
    return c.json({ status: worst(Object.values(h.components).map((x) => x.status)), checkedAt: h.checkedAt, mode: h.mode, redis: h.redis, components: summary(h.components) }, 200);
  });

  // Both detailed views show the same: every queue with its signals, and the LLM paths.
  const detailed = async () => {
    const [h, paths] = await Promise.all([collect(deps), guarded(deps, deps.llm.router.pathStatus())]);
    const llm = assessLlm(paths);
    return { status: worst([...Object.values(h.components).map((x) => x.status), llm.status]), ...h, llm: { ...llm, paths } };
  };
  app.openapi(publicGet('/detailed', 'Health of Redis, every queue with its signals, and the LLM paths', HealthDetailedSchema), async (c) => c.json(await detailed(), 200));

  app.openapi(publicGet('/bedrock-support', 'Support mode health', SupportModeHealthSchema), async (c) => {
    const h = await collect(deps);
    return c.json({ component: 'bedrock-support' as const, status: worst(Object.values(h.components).map((x) => x.status)), mode: h.mode, checkedAt: h.checkedAt, components: summary(h.components) }, 200);
  });

  app.openapi(publicGet('/bedrock-support/detailed', 'Support mode health with every component in detail, and the LLM paths', HealthDetailedSchema), async (c) => c.json(await detailed(), 200));

  const component = async (name: string) => {
    if (!(queueNames as readonly string[]).includes(name)) {
      throw unknownComponent(name);
    }
    const queue = name as QueueName;
    const h = await collect(deps, [queue]);
    const one = h.components[queue];
    return { component: queue, ...one, mode: h.mode, redis: h.redis, checkedAt: h.checkedAt };
  };
  const Param = z.object({ component: z.string().openapi({ example: 'meta-monitor' }) });
  app.openapi(publicGet('/component/{component}', 'Health of one component', OneComponentHealthSchema, Param), async (c) => c.json(await component(c.req.param('component') ?? ''), 200));
  app.openapi(publicGet('/{component}', "Health of one component (the runbook's component health endpoints)", OneComponentHealthSchema, Param), async (c) =>
    c.json(await component(c.req.param('component') ?? ''), 200),
  );
  return app;
}
