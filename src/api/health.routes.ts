import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { assessQueue, inactivityOf, worst, type ComponentHealth } from '../domain/support-mode/health.js';
import { desiredQueueStates, statusOf } from '../domain/support-mode/state.js';
import { queueNames, type QueueName } from '../queues/names.js';
import { unknownComponent } from './component-test.routes.js';
import { defaultLimits, type ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { AnyJson, jsonResponse, notFound } from './openapi.js';

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
        deps.fleet.ping(),
        deps.supportMode.read(),
        Promise.all(queues.map((q) => deps.fleet.signals(q, windowMinutes))),
      ]);
      const desired = desiredQueueStates(state);
      const now = deps.clock();
      const redisLatencyMs = Math.round(latency * 1000) / 1000;
      const components = Object.fromEntries(
        signals.map((s) => [
          s.name,
          assessQueue({ ...s, expectedRunning: desired[s.name as QueueName] === 'running', inactive: inactivityOf(s.name, state) ?? undefined }, now, redisLatencyMs),
        ]),
      ) as Record<QueueName, ComponentHealth>;
      return { checkedAt: now.toISOString(), mode: statusOf(state), redis: { status: 'up' as const, latencyMs: redisLatencyMs }, components };
    })(),
  );
}

const summary = (components: Partial<Record<QueueName, ComponentHealth>>) =>
  Object.fromEntries(Object.entries(components).map(([n, h]) => [n, { status: h.status, active: h.active, reasons: h.reasons }]));

const publicGet = (path: string, description: string, params?: z.ZodObject) =>
  createRoute({
    method: 'get',
    path,
    summary: description,
    security: [],
    ...(params ? { request: { params } } : {}),
    responses: { 200: jsonResponse(AnyJson, description), 503: jsonResponse(AnyJson, 'Redis is unreachable'), ...notFound },
  });

/** `/health…`: public, derived from live signals; 503 quickly when Redis does not answer. */
export function healthRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(publicGet('/', 'Overall health'), async (c) => {
    const h = await collect(deps);
    return c.json({ status: worst(Object.values(h.components).map((x) => x.status)), checkedAt: h.checkedAt, mode: h.mode, redis: h.redis, components: summary(h.components) }, 200);
  });

  // Both detailed views show the same: every queue with its signals, and the LLM paths.
  const detailed = async () => {
    const [h, llm] = await Promise.all([collect(deps), guarded(deps, deps.llm.router.pathStatus())]);
    return { status: worst(Object.values(h.components).map((x) => x.status)), ...h, llm: { paths: llm } };
  };
  app.openapi(publicGet('/detailed', 'Health of Redis, every queue with its signals, and the LLM paths'), async (c) => c.json(await detailed(), 200));

  app.openapi(publicGet('/bedrock-support', 'Support mode health'), async (c) => {
    const h = await collect(deps);
    return c.json({ component: 'bedrock-support', status: worst(Object.values(h.components).map((x) => x.status)), mode: h.mode, checkedAt: h.checkedAt, components: summary(h.components) }, 200);
  });

  app.openapi(publicGet('/bedrock-support/detailed', 'Support mode health with every component in detail, and the LLM paths'), async (c) => c.json(await detailed(), 200));

  const component = async (name: string) => {
    if (!(queueNames as readonly string[]).includes(name)) {
      throw unknownComponent(name);
    }
    const h = await collect(deps, [name as QueueName]);
    const one = h.components[name as QueueName];
    return { component: name, ...one, mode: h.mode, redis: h.redis, checkedAt: h.checkedAt };
  };
  const Param = z.object({ component: z.string().openapi({ example: 'meta-monitor' }) });
  app.openapi(publicGet('/component/{component}', 'Health of one component', Param), async (c) => c.json(await component(c.req.param('component') ?? ''), 200));
  app.openapi(publicGet('/{component}', "Health of one component (the runbook's component health endpoints)", Param), async (c) =>
    c.json(await component(c.req.param('component') ?? ''), 200),
  );
  return app;
}
