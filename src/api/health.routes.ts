import { Hono } from 'hono';
import type { ApiDeps } from './app.js';

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(deps: ApiDeps): Hono {
  const timeoutMs = deps.healthTimeoutMs ?? 2_000;
  return new Hono().get('/', async (c) => {
    try {
      const state = await withTimeout(deps.fleet.snapshot(), timeoutMs);
      const queues = Object.values(state.queues);
      const withoutWorkers = queues.filter((q) => q.workers.count === 0).map((q) => q.name);
      return c.json({
        status: withoutWorkers.length === 0 ? 'healthy' : 'degraded',
        checkedAt: state.at,
        redis: { status: 'up', latencyMs: state.redis.latencyMs },
        queues: Object.fromEntries(queues.map((q) => [q.name, { workers: q.workers.count, paused: q.paused }])),
        reasons: withoutWorkers.map((q) => `${q}: no live worker`),
      });
    } catch (err) {
      return c.json({ status: 'unhealthy', redis: { status: 'down', error: (err as Error).message }, reasons: ['redis unreachable'] }, 503);
    }
  });
}
