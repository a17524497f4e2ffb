import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { perRead, withSnapshot } from '../domain/fleet/per-read.js';
import type { FleetSnapshot } from '../domain/fleet/ports.js';
import { assessLlm, componentHealth, worst, type ComponentHealth } from '../domain/support-mode/health.js';
import { statusOf } from '../domain/support-mode/state.js';
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
    inactive: z
      .object({
        status: HealthStatus,
        code: z.enum(['emergency_shutdown', 'support_mode_disabled', 'component_inactive']),
        reason: z.string().openapi({ description: "Names no one and quotes no caller's words; an emergency's reason and initiator are in GET /admin/bedrock-support/status" }),
      })
      .optional(),
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

/** How old the fleet figures an answer is derived from are: one read serves many requests for a moment (`BSM_FLEET_SNAPSHOT_MS`). */
const figures = {
  figuresAt: isoTime.openapi({ description: 'When the queue figures and the Redis latency were read' }),
  figuresAgeMs: count.openapi({ description: 'How old those figures were when this answer was made' }),
};

export const HealthSchema = z
  .object({ status: HealthStatus, checkedAt: isoTime, ...figures, mode: SupportStatusSchema, redis: RedisUp, components: keyed(queueNames, HealthSummary) })
  .openapi('Health');
export const HealthDetailedSchema = z
  .object({
    status: HealthStatus,
    checkedAt: isoTime,
    ...figures,
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
  .object({ component: z.literal('bedrock-support'), status: HealthStatus, mode: SupportStatusSchema, checkedAt: isoTime, ...figures, components: keyed(queueNames, HealthSummary) })
  .openapi('SupportModeHealth');
export const OneComponentHealthSchema = ComponentHealthSchema.extend({ component: QueueNameSchema, mode: SupportStatusSchema, redis: RedisUp, checkedAt: isoTime, ...figures }).openapi(
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

/** Health derived from one read of the fleet: the same for every request that read serves (within a second). */
interface DerivedHealth {
  status: z.infer<typeof HealthStatus>;
  mode: ReturnType<typeof statusOf>;
  redis: { status: 'up'; latencyMs: number };
  components: Record<QueueName, ComponentHealth>;
  summary: Record<QueueName, z.infer<typeof HealthSummary>>;
}

/** Each component's health from a snapshot's queue figures and support-mode state. */
function deriveHealth(fleet: FleetSnapshot, now: Date): DerivedHealth {
  const components = componentHealth(fleet, now);
  const summary = {} as DerivedHealth['summary'];
  for (const name of queueNames) {
    const h = components[name];
    summary[name] = { status: h.status, active: h.active, reasons: h.reasons };
  }
  return { status: worst(Object.values(components).map((x) => x.status)), mode: statusOf(fleet.mode), redis: { status: 'up', latencyMs: fleet.redis.latencyMs }, components, summary };
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

const publicGet = <T extends z.ZodType>(path: string, description: string, schema: T, params?: z.ZodObject) =>
  createRoute({
    method: 'get',
    path,
    summary: description,
    security: [],
    ...(params ? { request: { params } } : {}),
    responses: { 200: jsonResponse(schema, description), 503: jsonResponse(HealthUnavailableSchema, 'Redis is unreachable'), ...notFound },
  });

/** When an answer was made, and when and how old the figures it derives from are. */
interface Times {
  checkedAt: string;
  figuresAt: string;
  figuresAgeMs: number;
}

/** `/health…`: public, derived from one snapshot of the fleet; 503 quickly when Redis does not answer. */
export function healthRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();
  // Ages are in whole seconds: one derivation per read of the fleet and second.
  const derived = perRead(deriveHealth, 1_000);
  /**
   * Answers from the kept snapshot at once (the server's synchronous path), else once Redis
   * answered, within the health timeout. Each answer is built in one object literal: these are
   * the busiest paths of the API.
   */
  const withHealth = <R>(answer: (h: DerivedHealth, t: Times) => R): R | Promise<R> =>
    withSnapshot(
      deps.fleetReader,
      (fleet) => {
        const now = deps.clock();
        return answer(derived(fleet, now), { checkedAt: now.toISOString(), figuresAt: fleet.at, figuresAgeMs: fleet.ageMs });
      },
      () => guarded(deps, deps.fleetReader.snapshot()),
    );

  app.openapi(publicGet('/', 'Overall health', HealthSchema), (c) =>
    withHealth((h, t) => c.json({ status: h.status, checkedAt: t.checkedAt, figuresAt: t.figuresAt, figuresAgeMs: t.figuresAgeMs, mode: h.mode, redis: h.redis, components: h.summary }, 200)),
  );

  // Both detailed views show the same: every queue with its signals, and the LLM paths.
  const detailed = async () => {
    const [[h, t], paths] = await Promise.all([withHealth((x, y) => [x, y] as const), guarded(deps, deps.llm.router.pathStatus())]);
    const llm = assessLlm(paths);
    return { status: worst([h.status, llm.status]), ...t, mode: h.mode, redis: h.redis, components: h.components, llm: { ...llm, paths } };
  };
  app.openapi(publicGet('/detailed', 'Health of Redis, every queue with its signals, and the LLM paths', HealthDetailedSchema), async (c) => c.json(await detailed(), 200));

  app.openapi(publicGet('/bedrock-support', 'Support mode health', SupportModeHealthSchema), (c) =>
    withHealth((h, t) =>
      c.json({ component: 'bedrock-support' as const, status: h.status, mode: h.mode, checkedAt: t.checkedAt, figuresAt: t.figuresAt, figuresAgeMs: t.figuresAgeMs, components: h.summary }, 200),
    ),
  );

  app.openapi(publicGet('/bedrock-support/detailed', 'Support mode health with every component in detail, and the LLM paths', HealthDetailedSchema), async (c) => c.json(await detailed(), 200));

  const component = async (name: string) => {
    if (!(queueNames as readonly string[]).includes(name)) {
      throw unknownComponent(name);
    }
    const queue = name as QueueName;
    return withHealth((h, t) => ({ component: queue, ...h.components[queue], mode: h.mode, redis: h.redis, ...t }));
  };
  const Param = z.object({ component: z.string().openapi({ example: 'meta-monitor' }) });
  app.openapi(publicGet('/component/{component}', 'Health of one component', OneComponentHealthSchema, Param), async (c) => c.json(await component(c.req.param('component') ?? ''), 200));
  // The runbook's `/health/{component}`, documented as it is. At run time its parameter leaves out
  // the static paths beside it (`bedrock-support`, `detailed`), which answer those names anyway:
  // matched by two routes, every GET /health/bedrock-support went through Hono's composed (async)
  // chain instead of its one handler: 15-20 % of that request's CPU, measured with autocannon.
  app.openAPIRegistry.registerPath(publicGet('/{component}', "Health of one component (the runbook's component health endpoints)", OneComponentHealthSchema, Param));
  app.get('/:component{(?!(?:bedrock-support|detailed)$)[^/]+}', async (c) => c.json(await component(c.req.param('component')), 200));
  return app;
}
